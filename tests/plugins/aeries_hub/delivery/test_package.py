"""The package task's zip (delivery.package): every built file deflated at zlib's fastest level, with fixed dates."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib

from airflow.sdk import ObjectStoragePath

from aeries_hub.delivery.package import package_files
from aeries_hub.staging import RunFolder


def test_the_zip_holds_each_file_deflated_at_level_1_and_the_same_files_give_the_same_bytes(tmp_path):
    run = RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_stemscopes", "manual__1")
    files = {"users.csv": b"sourcedId,givenName\n" + b"".join(b"%d,Ann\n" % i for i in range(5000)),
             "orgs.csv": b"sourcedId,name\n1,North High\n"}
    for name, data in files.items():
        run.write_bytes(f"output/{name}", data)
    built = [{"file": name, "rows": data.count(b"\n") - 1} for name, data in files.items()]

    [item] = package_files(run, built, "oneroster.zip")
    first = run.path("output", "oneroster.zip").read_bytes()
    assert item == {"file": "oneroster.zip", "rows": 5001, "bytes": len(first), "sha256": hashlib.sha256(first).hexdigest()}
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.testzip() is None
        assert [(i.filename, i.date_time, i.external_attr >> 16) for i in archive.infolist()] == [
            ("users.csv", (1980, 1, 1, 0, 0, 0), 0o644), ("orgs.csv", (1980, 1, 1, 0, 0, 0), 0o644)]
        assert {name: archive.read(name) for name in archive.namelist()} == files
        users = archive.getinfo("users.csv")
    deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
    stored = first[users.header_offset + 30 + len("users.csv"):][:users.compress_size]
    assert stored == deflate.compress(files["users.csv"]) + deflate.flush()
    package_files(run, built, "oneroster.zip")
    assert run.path("output", "oneroster.zip").read_bytes() == first
