"""An extracted table as one Parquet file: its schema metadata, the atomic write, and the extract's result."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aeries_hub.aeries.paging import RequestStats
from aeries_hub.aeries.settings import AeriesSettings
from aeries_hub.aeries.tables import AeriesTable

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


@dataclass
class ExtractResult:
    """What :func:`aeries_hub.aeries.collect.extract_to_parquet` did (small and JSON-friendly: fit for XCom)."""

    table: str
    rows: int
    pages: int
    requests: int
    retries: int
    seconds: float
    path: str
    retry_causes: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    #: What the server was found to do with paging, when it was not plain paging: ``ignored_by_server`` (the
    #: schools whose answers ignored StartingRecord/EndingRecord), ``row_cap`` (rows per request), ``probes``.
    paging: dict[str, Any] = field(default_factory=dict)
    #: teachers only: per school that schedules with section staff, how many teachers came from its section staff
    section_staff_teachers: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, table: str, arrow_table: pa.Table, stats: RequestStats, path: Any) -> ExtractResult:
        """The result of extracting ``arrow_table`` to ``path`` with the requests counted in ``stats``."""
        return cls(
            table=table,
            rows=arrow_table.num_rows,
            pages=stats.pages,
            requests=stats.requests,
            retries=stats.retries,
            seconds=round(stats.seconds, 3),
            path=str(path),
            retry_causes=dict(stats.retry_causes),
            columns=list(arrow_table.column_names),
            paging=dict(stats.paging),
            section_staff_teachers=dict(stats.section_staff_teachers),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "pages": self.pages,
            "requests": self.requests,
            "retries": self.retries,
            "seconds": self.seconds,
            "path": self.path,
            "retry_causes": dict(self.retry_causes),
            "columns": list(self.columns),
            "paging": dict(self.paging),
            **({"teachers_from_section_staff": dict(self.section_staff_teachers)} if self.section_staff_teachers else {}),
        }


def extract_metadata(spec: AeriesTable, settings: AeriesSettings) -> dict[bytes, bytes]:
    """The schema metadata of an extract: its table, key, API version and DatabaseYear."""
    return {
        b"aeries.table": spec.name.encode(),
        b"aeries.key": ",".join(spec.key).encode(),
        b"aeries.api_version": str(settings.api_version).encode(),
        b"aeries.database_year": str(settings.database_year or "").encode(),
    }


def write_parquet(arrow_table: pa.Table, path: Any) -> None:
    """Write ``arrow_table`` to ``path``: a local path (or ``file://`` URL) through a temporary file renamed into
    place, so that a reader never sees half a file; any other URL (``s3://`` etc.) through ObjectStoragePath."""
    import pyarrow.parquet as pq

    target = _write_target(path)
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            pq.write_table(arrow_table, partial)
            os.replace(partial, target)
        finally:
            if partial.exists():
                partial.unlink()
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except Exception:  # noqa: BLE001 - object stores have no folders
            pass
        with target.open("wb") as handle:
            pq.write_table(arrow_table, handle)


def _write_target(path: Any) -> Any:
    if isinstance(path, (str, os.PathLike)) and not hasattr(path, "protocol"):
        text = os.fspath(path)
        if "://" in text and not text.startswith("file://"):
            from airflow.sdk import ObjectStoragePath

            return ObjectStoragePath(text)
        if text.startswith("file://"):
            text = text[len("file://"):]
        return Path(text)
    return path
