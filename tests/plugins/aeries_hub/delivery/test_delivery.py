"""What every delivery shares (:mod:`aeries_hub.delivery`)."""

from __future__ import annotations

import hashlib
import uuid

import fsspec
from airflow.sdk import ObjectStoragePath
from airflow.sdk.io import attach

from aeries_hub.delivery import CHUNK, size_and_sha256


def test_size_and_sha256_of_a_local_file_and_of_a_staged_object(tmp_path):
    data = b"0123456789" * (CHUNK // 4)  # more than two chunks
    local = tmp_path / "patrons.csv"
    local.write_bytes(data)
    attach("memory", fs=fsspec.filesystem("memory"))  # stands in for s3:// and friends
    staged = ObjectStoragePath(f"memory://delivery-test-{uuid.uuid4().hex}/patrons.csv")
    staged.write_bytes(data)

    expected = (len(data), hashlib.sha256(data).hexdigest())
    assert size_and_sha256(local) == expected
    assert size_and_sha256(staged) == expected
    assert size_and_sha256(ObjectStoragePath(f"file://{local}")) == expected
