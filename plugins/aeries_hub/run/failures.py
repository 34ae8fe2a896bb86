"""Why a task of a run failed, for the run report and the alert: ``failures/<task_id>.json`` in the run's staging
folder, written by the task itself as it fails (:func:`aeries_hub.resources.measured` calls :func:`record_failure`)
and read back by the report through :func:`~aeries_hub.run.summary.read_run`.

The record is written inside the failing task, before Airflow marks it failed, so the report task (``all_done``)
always finds it; a task-level ``on_failure_callback`` runs after the state is sent and could race the report.
It holds the exception's type and first line, bounded, with Airflow's secrets masker applied (every connection
password and sensitive extra the task read is registered there) and e-mail addresses and dates taken out (they
may be a student's), and the connection id and what to check when the error names them.
"""

from __future__ import annotations

import re

from aeries_hub.run.summary import FAILURES_DIR, TaskFailure
from aeries_hub.staging import RunFolder

#: The longest first line of an exception the report keeps, and the longest "what to check".
MESSAGE_CHARS = 400
CHECK_CHARS = 240

#: The first words of the sentence in which the hub's errors say what to do (``check the login and the key_file
#: extra``, ``Grant it in Aeries under Security > API Security``, ``Try again; if it keeps happening, ...``).
_ADVICE = re.compile(
    r"(?:^|(?<=[.:;]) )((?:check|grant|create|fix|set|put|add|remove|ask|give|pass|read|try again|use|turn)\b.*)",
    re.IGNORECASE,
)
#: Where the sentence that says what to do ends (what the server said comes next).
_SENTENCE_END = re.compile(r"(?<=\.) (?=[A-Z])")
_CONNECTION = re.compile(r"connection '([^']+)'")
#: Values that may be a person's: an e-mail address or a date (``02/10/2010``, ``2010-02-10``; not a timestamp
#: such as a run id's ``2026-12-03T23:00:00``).
_PERSONAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b\d{1,2}/\d{1,2}/\d{4}\b|\b\d{4}-\d{2}-\d{2}\b(?!T)")


def describe_failure(task_id: str, exc: BaseException) -> TaskFailure:
    """The record of ``exc`` raised by ``task_id``: of the error it wraps when it only adds to that one's text (the
    deliver task's ``AirflowFailException`` around a ``DeliveryError``), not when it explains it (the
    ``DeliveryError`` that says what paramiko's error means)."""
    cause = exc.__cause__
    while cause is not None and str(cause) and str(exc).startswith(str(cause)):
        exc, cause = cause, cause.__cause__
    first_line = _safe((str(exc).strip().splitlines() or [""])[0])
    message = _bounded(first_line, MESSAGE_CHARS)
    advice = _ADVICE.search(first_line)
    conn_id = getattr(exc, "conn_id", None) or (found[1] if (found := _CONNECTION.search(message)) else None)
    return TaskFailure(task_id=task_id, error=type(exc).__name__, message=message or "(no message)",
                       conn_id=str(conn_id) if conn_id else None,
                       check=_bounded(_SENTENCE_END.split(advice[1], 1)[0], CHECK_CHARS) if advice else None)


def record_failure(run: RunFolder, task_id: str, exc: BaseException) -> None:
    run.write_json(f"{FAILURES_DIR}/{task_id}.json", describe_failure(task_id, exc).to_json())


def forget_failure(run: RunFolder, task_id: str) -> None:
    """Drop what an earlier attempt of ``task_id`` recorded (a retry, or a cleared task, runs again)."""
    recorded = run.root.joinpath(FAILURES_DIR, f"{task_id}.json")
    if recorded.exists():
        recorded.unlink()


def _safe(text: str) -> str:
    """``text`` without the secrets Airflow masks in logs, nor e-mail addresses and dates, on one line."""
    from airflow.sdk._shared.secrets_masker import redact  # what airflow.sdk.log's masking uses

    return " ".join(_PERSONAL.sub("<value>", str(redact(text))).split())


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
