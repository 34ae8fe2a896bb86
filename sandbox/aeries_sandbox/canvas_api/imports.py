"""Canvas LMS's SIS imports as the emulator keeps them: what an upload holds, and how its import advances.

Sources, cited per behaviour:

* SIS Imports API, https://canvas.instructure.com/doc/api/sis_imports.html: the upload (a multipart ``attachment``
  field, or a raw body with a ``Content-Type`` and the ``extension`` parameter), ``import_type`` (only
  ``instructure_csv``), the SisImport object (``id``, ``workflow_state`` created -> importing -> imported,
  imported_with_messages, failed, failed_with_messages or aborted; ``progress``; ``data.supplied_batches`` and
  ``data.counts``; ``processing_warnings`` and ``processing_errors`` as ``[file, message]`` pairs, the warnings only
  once the import is complete; ``errors_attachment`` when there are messages), and
  ``PUT .../sis_imports/:id/abort``.
* SIS CSV format, https://canvas.instructure.com/doc/api/file.sis_csv.html: the files a zip holds and the columns
  they require (users.csv: user_id, login_id, status).
* Canvas's importer (github.com/instructure/canvas-lms, lib/sis/csv/import_refactored.rb and user_importer.rb, and
  their specs): a CSV's header, not its name, chooses its importer (users: user_id and login_id); a CSV no importer
  recognises is the error "Couldn't find Canvas CSV import headers", a file that is not a CSV in the zip the
  warning "Skipping unknown file type", bad UTF-8 the error "Invalid UTF-8"; a user row without login_id is skipped
  with "No login_id given for user <user_id>", one whose status is not active or deleted with "Improper status for
  user <user_id>" (a captured import's processing_warnings show the first: ``[["users.csv", "No login_id given for
  user 67102976"]]``, workflow_state imported_with_messages).
* A zip that cannot be read ends ``failed`` with the docs' example error ("Error while importing CSV. Please contact
  support."); that exact wording for this case is our stand-in.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["CanvasImports", "Upload"]

#: The importers the emulator knows, by the columns whose presence in a header identifies them.
IMPORTERS = (
    ("account", ("account_id", "parent_account_id")),
    ("term", ("term_id", "name")),
    ("course", ("course_id", "short_name")),
    ("section", ("section_id", "name")),
    ("user", ("user_id", "login_id")),
    ("enrollment", ("user_id", "role")),
)
COUNTS = {"account": "accounts", "term": "terms", "course": "courses", "section": "sections", "user": "users",
          "enrollment": "enrollments"}
UNREADABLE = "Error while importing CSV. Please contact support."


@dataclass(frozen=True)
class Upload:
    """One accepted upload: the import it made and exactly what arrived."""

    import_id: int
    account: str
    body: bytes
    content_type: str
    params: dict[str, str]


@dataclass
class _Outcome:
    state: str
    batches: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[list[str]] = field(default_factory=list)
    errors: list[list[str]] = field(default_factory=list)


def outcome_of(data: bytes, name: str, is_zip: bool) -> _Outcome:
    """What Canvas makes of an upload: every CSV read by the importer its header names."""
    if is_zip:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                files = [(info.filename, archive.read(info)) for info in archive.infolist() if not info.is_dir()]
        except (zipfile.BadZipFile, OSError, EOFError):
            return _Outcome("failed", errors=[[name, UNREADABLE]])
    else:
        files = [(name, data)]
    outcome = _Outcome("imported")
    for file, content in files:
        if not file.lower().endswith(".csv"):
            outcome.warnings.append([file, "Skipping unknown file type"])
            continue
        _read_csv(file, content, outcome)
    if outcome.errors:
        outcome.state = "failed_with_messages"
    elif outcome.warnings:
        outcome.state = "imported_with_messages"
    return outcome


def _read_csv(file: str, content: bytes, outcome: _Outcome) -> None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        outcome.errors.append([file, "Invalid UTF-8"])
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    header = set(reader.fieldnames or ())
    kind = next((kind for kind, columns in IMPORTERS if set(columns) <= header), None)
    if kind is None:
        outcome.errors.append([file, "Couldn't find Canvas CSV import headers"])
        return
    if kind not in outcome.batches:
        outcome.batches.append(kind)
    taken = 0
    for row in rows:
        if kind == "user" and not (row.get("login_id") or "").strip():
            outcome.warnings.append([file, f"No login_id given for user {row.get('user_id')}"])
        elif kind == "user" and (row.get("status") or "").strip().lower() not in ("active", "deleted"):
            outcome.warnings.append([file, f"Improper status for user {row.get('user_id')}"])
        else:
            taken += 1
    outcome.counts[COUNTS[kind]] = outcome.counts.get(COUNTS[kind], 0) + taken


class CanvasImports:
    """Every account's imports and the uploads that made them; thread-safe. Each look at an import (GET) moves it
    one step: created, importing, then its outcome (never past importing while ``never_finish`` is set)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.uploads: list[Upload] = []
        self._imports: dict[int, dict[str, Any]] = {}
        self._outcomes: dict[int, _Outcome] = {}
        self.never_finish = False

    def create(self, account: str, body: bytes, content_type: str, params: dict[str, str], name: str,
               is_zip: bool) -> dict[str, Any]:
        outcome = outcome_of(body, name, is_zip)
        now = _now()
        with self._lock:
            import_id = len(self.uploads) + 1
            self.uploads.append(Upload(import_id, account, body, content_type, dict(params)))
            self._outcomes[import_id] = outcome
            self._imports[import_id] = {
                "id": import_id, "created_at": now, "started_at": None, "ended_at": None, "updated_at": now,
                "progress": 0, "workflow_state": "created",
                "data": {"import_type": "instructure_csv", "supplied_batches": [], "counts": None},
                "batch_mode": params.get("batch_mode") == "true",
                "batch_mode_term_id": params.get("batch_mode_term_id"),
                "override_sis_stickiness": params.get("override_sis_stickiness") == "true",
                "diffing_data_set_identifier": params.get("diffing_data_set_identifier"),
                "errors_attachment": None, "processing_errors": [], "account": account,
            }
            return self._shown(import_id)

    def look(self, account: str, import_id: int) -> dict[str, Any] | None:
        """The import as a GET shows it, one step further; None when the account has no such import."""
        with self._lock:
            job = self._job(account, import_id)
            if job is None:
                return None
            state = job["workflow_state"]
            if state == "created":
                job.update(workflow_state="importing", progress=50, started_at=_now(), updated_at=_now())
            elif state == "importing" and not self.never_finish:
                self._finish(job, self._outcomes[import_id])
            return self._shown(import_id)

    def abort(self, account: str, import_id: int) -> dict[str, Any] | None:
        with self._lock:
            job = self._job(account, import_id)
            if job is None:
                return None
            if job["workflow_state"] in ("created", "importing"):
                job.update(workflow_state="aborted", ended_at=_now(), updated_at=_now())
            return self._shown(import_id)

    def _job(self, account: str, import_id: int) -> dict[str, Any] | None:
        job = self._imports.get(import_id)
        return job if job is not None and job["account"] == account else None

    def _finish(self, job: dict[str, Any], outcome: _Outcome) -> None:
        job.update(workflow_state=outcome.state, progress=100, ended_at=_now(), updated_at=_now(),
                   processing_warnings=outcome.warnings, processing_errors=outcome.errors)
        job["data"] = {**job["data"], "supplied_batches": outcome.batches,
                       "counts": {**outcome.counts, "error_count": len(outcome.errors),
                                  "warning_count": len(outcome.warnings)}}
        if outcome.warnings or outcome.errors:
            job["errors_attachment"] = {"id": job["id"], "display_name": f"sis_errors_attachment_{job['id']}.csv"}

    def _shown(self, import_id: int) -> dict[str, Any]:
        job = self._imports[import_id]
        return {key: value for key, value in job.items() if key != "account"}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
