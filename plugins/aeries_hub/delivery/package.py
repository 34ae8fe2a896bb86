"""``delivery.package``: a run's built files in one zip, with fixed timestamps so that a re-run of the same data
gives the same bytes."""

from __future__ import annotations

import hashlib
import logging

from aeries_hub.staging import RunFolder, write_private_with

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: zlib's fastest level: a third of the default level's (6) CPU on a district's CSVs, for a zip about a fifth larger
#: (docs/benchmarks.md, "District scale: change tracking and the package of the 0% and 1% runs").
COMPRESS_LEVEL = 1


def package_files(run: RunFolder, built: list[dict], zip_name: str, folder: str = "output") -> list[dict]:
    """Every built file (``<folder>/<file>``) into ``<folder>/<zip_name>``; the zip as the one file to deliver (its
    ``folder`` named when it is not ``output``: held files, :mod:`aeries_hub.delivery.holds`).

    The files are copied into the zip a megabyte at a time (a district's enrollments are hundreds of megabytes),
    into the zip's file itself on local staging; the bytes are those of ``ZipFile.writestr`` of each file whole
    at :data:`COMPRESS_LEVEL`."""
    import shutil
    import zipfile

    def write_zip(handle) -> None:
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for item in built:
                source = run.path(folder, item["file"])
                info = zipfile.ZipInfo(item["file"], date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                # ZipFile's compresslevel reaches only members opened by name (with the time of day as their date),
                # and writestr's needs the file whole in memory: Python 3.11 has no public setter for a ZipInfo's.
                info._compresslevel = COMPRESS_LEVEL  # type: ignore[attr-defined]  # noqa: SLF001
                info.external_attr = 0o644 << 16
                info.file_size = source.stat().st_size  # as writestr sets it: the same zip64 decision and header
                with source.open("rb") as data, archive.open(info, "w") as entry:
                    shutil.copyfileobj(data, entry, CHUNK)

    target = run.path(folder, zip_name)
    write_private_with(target, write_zip)
    digest, size = hashlib.sha256(), 0
    with target.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    rows = sum(item["rows"] for item in built)
    log.info("Packaged %d files (%d rows) into %s, %d bytes", len(built), rows, zip_name, size)
    item = {"file": zip_name, "rows": rows, "bytes": size, "sha256": digest.hexdigest()}
    return [item | ({"folder": folder} if folder != "output" else {})]
