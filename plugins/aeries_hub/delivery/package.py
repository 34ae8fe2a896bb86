"""``delivery.package``: a run's built files in one zip, with fixed timestamps so that a re-run of the same data
gives the same bytes."""

from __future__ import annotations

import hashlib
import logging

from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def package_files(run: RunFolder, built: list[dict], zip_name: str, folder: str = "output") -> list[dict]:
    """Every built file (``<folder>/<file>``) into ``<folder>/<zip_name>``; the zip as the one file to deliver (its
    ``folder`` named when it is not ``output``: held files, :mod:`aeries_hub.delivery.holds`)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in built:
            with run.path(folder, item["file"]).open("rb") as handle:
                data = handle.read()
            info = zipfile.ZipInfo(item["file"], date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    run.write_bytes(f"{folder}/{zip_name}", data)
    rows = sum(item["rows"] for item in built)
    log.info("Packaged %d files (%d rows) into %s, %d bytes", len(built), rows, zip_name, len(data))
    item = {"file": zip_name, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return [item | ({"folder": folder} if folder != "output" else {})]

