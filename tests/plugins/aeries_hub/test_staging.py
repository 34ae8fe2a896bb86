"""Run folders (:mod:`aeries_hub.staging`): listing every file of a run and copying a staged file, on local staging
and on object storage (fsspec's memory store stands in for s3:// and friends)."""

from __future__ import annotations

import os
import stat
import uuid

import fsspec
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach

from aeries_hub.staging import RunFolder, copy_private


@pytest.fixture(params=["file", "memory"])
def base(request, tmp_path) -> ObjectStoragePath:
    if request.param == "file":
        return ObjectStoragePath(f"file://{tmp_path}")
    attach("memory", fs=fsspec.filesystem("memory"))
    return ObjectStoragePath(f"memory://staging-test-{uuid.uuid4().hex}/staging")


def test_files_are_every_file_of_the_run_at_any_depth_as_relative_paths(base):
    run = RunFolder(base, "aeries_to_destiny", "manual__2026-12-04T08:00:00+00:00")
    assert run.files() == []  # nothing written yet
    for relative in ("report.json", "quality/users/a/b.json", "validated/.students.parquet.1.part",
                     "validated/students.parquet", "output/patrons.csv"):
        run.write_bytes(relative, b"x")
    RunFolder(base, "aeries_to_destiny", "manual__2").write_bytes("report.json", b"{}")  # another run's

    assert run.files() == ["output/patrons.csv", "quality/users/a/b.json", "report.json",
                           "validated/.students.parquet.1.part", "validated/students.parquet"]


def test_a_copy_is_the_same_bytes_and_private_on_local_staging(base):
    source = RunFolder(base, "aeries_to_destiny", "manual__1").write_bytes("output/patrons.csv", b"id\n1\n" * 1000)
    target = RunFolder(base, "aeries_to_destiny", "manual__2").root / "output" / "patrons.csv"

    copy_private(source, target)

    assert target.read_bytes() == b"id\n1\n" * 1000
    if base.protocol == "file":
        assert stat.S_IMODE(os.stat(target.path).st_mode) == 0o600
        assert os.stat(target.path).st_ino != os.stat(source.path).st_ino
