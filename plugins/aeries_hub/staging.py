"""Per-run staging folders.

Every task of a run reads and writes its files under one folder,
``<staging_url>/<dag_id>/<run_id>/``, so that tasks can run on different workers: nothing is passed
through a worker's local disk. The base comes from Airflow configuration::

    [aeries_hub]
    staging_url = file:///opt/airflow/staging      # or s3://bucket/prefix (with an object-storage conn)

(or the environment variable AIRFLOW__AERIES_HUB__STAGING_URL). The default is
``file://$AIRFLOW_HOME/staging``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from airflow.sdk import ObjectStoragePath


def staging_base() -> ObjectStoragePath:
    from airflow.sdk import conf

    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    url = conf.get("aeries_hub", "staging_url", fallback=None) or f"file://{airflow_home}/staging"
    return ObjectStoragePath(url)


def safe_segment(value: str) -> str:
    """A run id such as ``manual__2026-11-22T14:00:00+00:00`` as a portable folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("_")


class RunFolder:
    """The staging folder of one DAG run."""

    def __init__(self, base: ObjectStoragePath, dag_id: str, run_id: str):
        self.root = base / safe_segment(dag_id) / safe_segment(run_id)

    @classmethod
    def current(cls) -> RunFolder:
        from airflow.sdk import get_current_context

        context = get_current_context()
        return cls(staging_base(), context["dag"].dag_id, context["run_id"])

    def path(self, *parts: str) -> ObjectStoragePath:
        target = self.root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_bytes(self, relative: str, data: bytes) -> ObjectStoragePath:
        target = self.path(*relative.split("/"))
        with target.open("wb") as handle:
            handle.write(data)
        return target

    def write_json(self, relative: str, document: Any) -> ObjectStoragePath:
        return self.write_bytes(relative, json.dumps(document, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, relative: str) -> Any:
        with self.root.joinpath(*relative.split("/")).open("rb") as handle:
            return json.load(handle)

    def exists(self, relative: str) -> bool:
        return self.root.joinpath(*relative.split("/")).exists()

    def write_parquet(self, relative: str, frame) -> ObjectStoragePath:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return self.write_bytes(relative, buffer.getvalue())

    def read_parquet(self, relative: str, columns: set[str] | None = None):
        """A staged Parquet file as a data frame; only ``columns`` (those of them the file has) when given."""
        import pandas as pd
        import pyarrow.parquet as pq

        with self.root.joinpath(*relative.split("/")).open("rb") as handle:
            if columns is not None:
                names = pq.read_schema(handle).names
                handle.seek(0)
                columns = [name for name in names if name in columns]
            return pd.read_parquet(handle, columns=columns, dtype_backend="numpy_nullable")

    def list(self, relative: str) -> list[str]:
        folder = self.root.joinpath(*relative.split("/"))
        if not folder.exists():
            return []
        return sorted(p.name for p in folder.iterdir())

    @contextmanager
    def local_dir(self, relative: str) -> Iterator[Path]:
        """A local folder whose contents end up under ``relative`` (copied up when staging is remote)."""
        target = self.root.joinpath(*relative.split("/"))
        if target.protocol in ("file", "local", ""):
            local = Path(target.path)
            local.mkdir(parents=True, exist_ok=True)
            yield local
            return
        scratch = Path(tempfile.mkdtemp(prefix="aeries-hub-"))
        try:
            yield scratch
            for file in scratch.rglob("*"):
                if file.is_file():
                    self.write_bytes(f"{relative}/{file.relative_to(scratch).as_posix()}", file.read_bytes())
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
