"""Reading a vendor's answer within a byte limit and a deadline: the vendor API's GETs
(:meth:`aeries_hub.delivery.vendor_api.VendorApiHook.get_bytes`) and the write-back's SFTP export files
(:func:`aeries_hub.writeback.sources.sftp_exports`)."""

from __future__ import annotations

from collections.abc import Callable

#: Bytes asked of the stream at a time.
READ_CHUNK = 64 * 1024


def read_bounded(read_some: Callable[[int], bytes], limit: int, *, check_deadline: Callable[[], None],
                 too_large: Callable[[], Exception] | None = None) -> bytes:
    """Everything ``read_some(n)`` (at most ``n`` bytes, ``b""`` at the end) gives, up to ``limit`` bytes.

    ``check_deadline()`` runs before each chunk is asked for and raises once the deadline has passed. Past
    ``limit``, ``too_large()`` is raised and nothing more is read; without ``too_large`` the bytes are cut at
    ``limit`` instead. No more than ``limit + 1`` bytes are ever asked for."""
    chunks: list[bytes] = []
    size = 0
    while True:
        check_deadline()
        chunk = read_some(min(READ_CHUNK, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            if too_large is None:
                return b"".join(chunks) + chunk[: limit - size]
            raise too_large()
        chunks.append(chunk)
