"""What a loaded write-back file is: the parts every kind shares (source, guard, schedule) and its kind's section.

Light on purpose: imported at DAG parse time (through :mod:`aeries_hub.writeback.loader`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aeries_hub.mapping.models import Schedule

#: Where the vendor's export files come from: exactly one of these (``source.sftp`` or ``source.http``).
SOURCES = ("sftp", "http")
#: The limits of one fetch from the vendor's server (source.<kind>.max_file_bytes, max_fetch_seconds): a larger
#: file is refused, a fetch (listing and every file) still running past the deadline is cut off.
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_MAX_FETCH_SECONDS = 1800.0


@dataclass(frozen=True)
class Field:
    """An Aeries field and where its value is in a vendor record."""

    name: str
    path: str
    values: dict[str, str] | None = None  # vendor value -> Aeries value; others are rejected
    required: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class Guard:
    """What a write-back may write (``allowed_fields`` per kind of record) and when a run needs approval."""

    allowed_fields: dict[str, tuple[str, ...]]
    max_students_changed: int = 50
    max_students_changed_percent: float = 10.0
    approval_timeout_hours: float = 24.0


@dataclass(frozen=True)
class WriteBack:
    name: str
    path: Path
    title: str
    description: str
    schedule: Schedule | None
    aeries_conn_id: str
    sftp_conn_id: str  # source.sftp ("" with source.http)
    remote_dir: str
    pattern: str
    #: What the file writes: the key of its section (``students``, ``course_requests``, ``scores``: see
    #: :mod:`aeries_hub.writeback.kinds`), and that section as its kind reads it.
    kind: str
    section: object
    format: str = "jsonl"  # of the export files: jsonl, or csv (delimited, with a header line)
    delimiter: str = ","
    quoting: str = "minimal"  # of a csv export: minimal (RFC 4180 quotes) or none (Xello's unquoted pipes)
    source: str = "sftp"  # sftp: a drop folder (sftp_conn_id, remote_dir, pattern); http: the vendor's HTTPS API
    http_conn_id: str = ""  # source.http: an http connection (as the vendor API deliveries use)
    endpoint: str = ""  # source.http: the path (after the connection's endpoint_prefix) that lists the exports
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # of each export file read from the source
    max_fetch_seconds: float = DEFAULT_MAX_FETCH_SECONDS  # the whole fetch: listing and every file
    enabled: bool = False
    guard: Guard = Guard(allowed_fields={})
    owner: str = "data-engineering"
    tags: tuple[str, ...] = ()

    @property
    def dag_id(self) -> str:
        return f"{self.name}_to_aeries"


def parse_fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    """The ``fields`` of a section: Aeries field name -> a path, or {path, values, required, pattern}."""
    result = []
    for name, value in spec.items():
        if isinstance(value, str):
            value = {"path": value}
        result.append(Field(name=name, path=value["path"], values=value.get("values"),
                            required=value.get("required", False), pattern=value.get("pattern")))
    return tuple(result)


def sftp_pattern(origin: dict[str, Any], source: str, format: str) -> str:
    """Which files of the SFTP folder to read ("" for source.http: every file the API lists)."""
    if source != "sftp":
        return ""
    return origin.get("pattern", "*.jsonl" if format == "jsonl" else "*.csv")


def source_problems(writeback: WriteBack) -> list[str]:
    """The source's options that do not go with its format (``<key path>: <problem>``)."""
    problems = []
    if writeback.format == "jsonl" and writeback.delimiter != ",":
        problems.append(f"source.{writeback.source}.delimiter: only for format csv")
    if writeback.format == "jsonl" and writeback.quoting != "minimal":
        problems.append(f"source.{writeback.source}.quoting: only for format csv")
    return problems
