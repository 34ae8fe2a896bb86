"""Delivery of generated files to vendors: ``sftp`` (a file, atomically), ``http`` (JSON records to an import API)
and ``http_upload`` (a file to an import API that runs it as a job: Canvas's SIS imports).

Both raise :class:`DeliveryError` (``retryable`` for trouble worth another attempt) and return a receipt whose
``to_dict()`` goes into the run report; secrets (keys, passwords, tokens) never appear in either.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

__all__ = ["CHUNK", "DeliveryError", "OneTarget", "Receipt", "local_file", "size_and_sha256"]

CHUNK = 1024 * 1024


class DeliveryError(Exception):
    """A delivery failed; ``retryable`` is True for network trouble worth another attempt. ``received``: the receipts
    of what the target took before the failure (an HTTP import's batches it answered), for the disclosure log."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable
        self.received: list[dict[str, Any]] = []


class Receipt:
    """Base of the delivery receipts (dataclasses): ``to_dict()`` is JSON-friendly."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


class OneTarget:
    """A delivery method whose runs always deliver to the same place: no target param, nothing to check before the
    run pulls (the part of :class:`aeries_hub.delivery.base.Delivery` such a method shares)."""

    def params(self) -> dict:
        return {}

    def needs_target_gate(self) -> bool:
        return False

    def skip_reason(self, context: Any) -> str | None:
        return None


@contextmanager
def local_file(local_path: Any) -> Iterator[Path]:
    """A local filesystem path for ``local_path``, copying remote object storage to a temp file."""
    if isinstance(local_path, (str, os.PathLike)) and not hasattr(local_path, "protocol"):
        path = Path(local_path)
        if not path.is_file():
            raise DeliveryError(f"local file {path} does not exist (nothing to deliver)")
        yield path
        return
    protocol = getattr(local_path, "protocol", None)
    if protocol in ("file", "local", ("file", "local")) and hasattr(local_path, "path"):
        path = Path(local_path.path)
        if path.is_file():
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="aeries-delivery-") as tmp_dir:
        tmp = Path(tmp_dir) / (getattr(local_path, "name", "") or "payload")
        try:
            with local_path.open("rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        except FileNotFoundError as exc:
            raise DeliveryError(f"local file {local_path} does not exist (nothing to deliver)") from exc
        yield tmp


def size_and_sha256(path: Any) -> tuple[int, str]:
    """The size and sha256 of a file, read in chunks: a local Path or a staged ObjectStoragePath (any ``.open()``)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
