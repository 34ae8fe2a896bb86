"""Per-run staging folders.

Every task of a run reads and writes its files under one folder,
``<staging_url>/<dag_id>/<run_id>/``, so that tasks can run on different workers: nothing is passed
through a worker's local disk. The base comes from Airflow configuration::

    [aeries_hub]
    staging_url = file:///opt/airflow/staging      # or s3://bucket/prefix (with an object-storage conn)

(or the environment variable AIRFLOW__AERIES_HUB__STAGING_URL). The default is
``file://$AIRFLOW_HOME/staging``.

Staged files hold student data: on local staging every folder the hub creates is 0700 and every file 0600,
set explicitly whatever the process umask is. Files are written whole (a temporary name beside them, then
renamed), so a killed task never leaves half a file under the real name.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from airflow.sdk import ObjectStoragePath


def staging_base() -> ObjectStoragePath:
    from airflow.sdk import conf

    airflow_home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    url = conf.get("aeries_hub", "staging_url", fallback=None) or f"file://{airflow_home}/staging"
    return ObjectStoragePath(url)


PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def is_local(path) -> bool:
    return getattr(path, "protocol", "file") in ("file", "local", "")


def local_path(path) -> Path:
    """The local path of a ``file://`` ObjectStoragePath (or a Path)."""
    return Path(path.path) if hasattr(path, "protocol") else Path(path)


def make_private_folder(folder) -> None:
    """Create ``folder`` and its missing parents; on local staging each folder created is 0700."""
    if not is_local(folder):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except Exception:  # noqa: BLE001 - object stores have no folders
            pass
        return
    local = local_path(folder)
    missing = []
    while not local.exists():
        missing.append(local)
        local = local.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:  # another task of the run made it first
            pass
        os.chmod(created, PRIVATE_FOLDER_MODE)


def write_private(target, data: bytes) -> None:
    """Write ``data`` to ``target`` whole: on local staging through a 0600 temporary file beside it that is
    flushed to disk and renamed over it; an object store stores an object whole anyway."""
    write_private_with(target, lambda handle: handle.write(data))


def write_private_with(target, produce: Callable[[BinaryIO], object]) -> None:
    """:func:`write_private` of what ``produce`` writes into a seekable binary file, without holding it in memory
    on local staging (an object store gets it from memory, whole)."""
    make_private_folder(target.parent)
    if not is_local(target):
        buffer = io.BytesIO()
        produce(buffer)
        with target.open("wb") as handle:
            handle.write(buffer.getvalue())
        return
    final = local_path(target)
    partial = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            produce(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


def copy_private(source, target) -> None:
    """A staged file copied to ``target`` whole, never held in memory: on local staging through a 0600 temporary
    file (:func:`write_private_with`), on object storage by the store itself (nothing passes through the worker)."""
    if is_local(source) and is_local(target):
        with open(local_path(source), "rb") as handle:
            write_private_with(target, lambda out: shutil.copyfileobj(handle, out))
        return
    make_private_folder(target.parent)
    source.fs.cp_file(source.path, target.path)


def make_private(path) -> None:
    """A file another library wrote into staging (an extract, a validation result) made 0600 on local staging."""
    if is_local(path):
        os.chmod(local_path(path), PRIVATE_FILE_MODE)


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
        make_private_folder(target.parent)
        return target

    def write_bytes(self, relative: str, data: bytes) -> ObjectStoragePath:
        target = self.path(*relative.split("/"))
        write_private(target, data)
        return target

    def write_json(self, relative: str, document: Any) -> ObjectStoragePath:
        return self.write_bytes(relative, json.dumps(document, indent=2, sort_keys=True, default=str).encode())

    def read_json(self, relative: str) -> Any:
        with self.root.joinpath(*relative.split("/")).open("rb") as handle:
            return json.load(handle)

    def exists(self, relative: str) -> bool:
        return self.root.joinpath(*relative.split("/")).exists()

    def write_parquet(self, relative: str, frame) -> ObjectStoragePath:
        """``frame`` as a Parquet file, written into it as it is encoded (a roster file's is tens of megabytes)."""
        target = self.path(*relative.split("/"))
        write_private_with(target, lambda handle: frame.to_parquet(handle, index=False))
        return target

    def read_parquet(self, relative: str, columns: set[str] | None = None):
        """A staged Parquet file as a data frame; only ``columns`` (those of them the file has) when given."""
        import pandas as pd
        import pyarrow.parquet as pq

        with self.root.joinpath(*relative.split("/")).open("rb") as handle:
            present = None
            if columns is not None:
                names = pq.read_schema(handle).names
                handle.seek(0)
                present = [name for name in names if name in columns]
            return pd.read_parquet(handle, columns=present, dtype_backend="numpy_nullable")

    def list(self, relative: str) -> list[str]:
        folder = self.root.joinpath(*relative.split("/"))
        if not folder.exists():
            return []
        return sorted(p.name for p in folder.iterdir())

    def files(self) -> builtins.list[str]:  # list: the method above
        """Every file of the run folder, at any depth, as its relative path (``validated/students.parquet``),
        sorted: one listing per folder (on object storage too)."""
        if not self.root.exists():
            return []
        root = self.root.path.rstrip("/")
        found: builtins.list[str] = []
        for folder, _, names in self.root.walk():
            inside = folder.path.rstrip("/")[len(root):].lstrip("/")
            found += [f"{inside}/{name}" if inside else name for name in names]
        return sorted(found)

    @contextmanager
    def local_dir(self, relative: str) -> Iterator[Path]:
        """A local folder whose contents end up under ``relative`` (copied up when staging is remote)."""
        target = self.root.joinpath(*relative.split("/"))
        if is_local(target):
            make_private_folder(target)
            local = Path(target.path)
            try:
                yield local
            finally:
                for item in local.rglob("*"):
                    os.chmod(item, PRIVATE_FOLDER_MODE if item.is_dir() else PRIVATE_FILE_MODE)
            return
        scratch = Path(tempfile.mkdtemp(prefix="aeries-hub-"))
        try:
            yield scratch
            for file in scratch.rglob("*"):
                if file.is_file():
                    self.write_bytes(f"{relative}/{file.relative_to(scratch).as_posix()}", file.read_bytes())
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
