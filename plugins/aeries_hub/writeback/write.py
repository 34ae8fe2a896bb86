"""Writing a plan into Aeries, in order, through the run's write-ahead journal.

Every write goes through :mod:`aeries_hub.writeback.journal`: run again after a crash or a kill, a write Aeries
already took is not sent again, and an insert whose answer was lost is sent again only when Aeries does not have
the record (its kind looks for it: :meth:`WriteBackKind.inserted`).
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from aeries_hub.aeries.collect import read_table
from aeries_hub.staging import RunFolder
from aeries_hub.writeback.guard import WRITE_ACTIONS
from aeries_hub.writeback.kinds.base import WriteBackKind, kind_of
from aeries_hub.writeback.spec import WriteBack

if TYPE_CHECKING:
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.writeback.journal import WriteJournal

log = logging.getLogger(__name__)


def hook_on_planned_year(writeback: WriteBack, run: RunFolder) -> AeriesHook:
    """The Aeries hook that writes the plan, on the school year the plan was made against, once Aeries still serves
    it (the approval may have waited through the July rollover): else nothing is written."""
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.aeries.school_year import school_year_label

    planned = run.read_json("summary/school_year.json")["database_year"]
    hook = AeriesHook(aeries_conn_id=writeback.aeries_conn_id, database_year=planned)
    served = hook.check_database_year().served
    if planned is not None and served != planned:
        raise AirflowFailException(
            f"{writeback.dag_id}: the plan was made against the Aeries school year {school_year_label(planned)}, "
            f"which Aeries no longer serves (it serves {school_year_label(served) if served else 'no year it names'}): "
            "nothing was sent; run the DAG again to plan against the year Aeries serves now")
    return hook


def apply_plan(writeback: WriteBack, hook: AeriesHook, journal: WriteJournal, plan: list[dict]
               ) -> tuple[list[dict], set[str]]:
    """Send the planned writes, in order; a refused record is reported and its later writes are not sent. Each
    write's result, and the records whose writes failed."""
    kind = kind_of(writeback)
    rows_of = functools.cache(functools.partial(read_table, hook))  # what inserted() reads, once per task
    results: list[dict] = []
    new_ids: dict[str, Any] = {}
    failed_records: set[str] = set()
    for index, write in enumerate(plan):
        if write["action"] not in WRITE_ACTIONS:
            continue
        if write["record"] in failed_records:
            results.append({**write, "status": "not sent", "reason": "an earlier write of this record failed"})
            continue
        path = write["path"].replace("{student}", str(new_ids.get(write["record"], "")))
        path = path.replace("{assignment}", str(new_ids.get(write["record"], "")))
        outcome = journal.written(index)
        if outcome is None and write["action"] == "insert" and journal.unanswered(index):
            new_id = kind.inserted(writeback, write, path, hook, rows_of)
            if new_id is not None:
                log.info("%s %s %s (record %s): sent by an earlier attempt whose answer was lost; Aeries has it, "
                         "not sent again", write["action"], write["kind"], path, write["record"])
                journal.answered(index, path, "written", verified=True,
                                 new_id=new_id if kind.id_field(write) else None)
                outcome = journal.written(index)
        if outcome is None:
            outcome = _send(kind, hook, journal, index, write, path)
        elif not outcome.get("verified"):
            log.info("%s %s %s (record %s): written by an earlier attempt, not sent again", write["action"],
                     write["kind"], path, write["record"])
        if outcome["status"] != "written":
            failed_records.add(write["record"])
            results.append({**write, "path": path, "status": outcome["status"], "reason": outcome["reason"]})
            continue
        if outcome.get("new_id") is not None:
            new_ids[write["record"]] = outcome["new_id"]
        extra = {kind.new_id_name: new_ids[write["record"]]} if write["record"] in new_ids else {}
        results.append({**write, "path": path, **extra, **_stored(kind, write, outcome.get("not_stored"))})
    return results, failed_records


def _send(kind: WriteBackKind, hook: AeriesHook, journal: WriteJournal, index: int, write: dict, path: str) -> dict:
    """Send one planned write, journalled before it goes and once Aeries answered; the journal entry."""
    from aeries_hub.aeries.errors import AeriesValidationError, AeriesWriteUnknownError

    journal.sending(index, path)
    try:
        answer = hook.write(path, write["body"], security_area=kind.security_areas[write["kind"]],
                            idempotent=write["action"] == "update")
    except (AeriesValidationError, AeriesWriteUnknownError) as exc:
        status = "refused" if isinstance(exc, AeriesValidationError) else "unknown"
        journal.answered(index, path, status, reason=exc.cause)
        log.error("%s %s for record %s: %s", write["action"], write["kind"], write["record"], exc)
        return journal.last[index]
    id_field = kind.id_field(write)
    new_id = (answer[0] if isinstance(answer, list) else answer)[id_field] if id_field else None
    not_stored = kind.not_stored(write, answer)
    journal.answered(index, path, "written", new_id=new_id, **({"not_stored": not_stored} if not_stored else {}))
    if not_stored:
        log.error("%s %s %s (record %s): Aeries answered without %s", write["action"], write["kind"], path,
                  write["record"], ", ".join(not_stored))
    else:
        log.info("%s %s %s (record %s)", write["action"], write["kind"], path, write["record"])
    return journal.last[index]


def _stored(kind: WriteBackKind, write: dict, not_stored: list[str] | None) -> dict:
    """A written record's status: ``written``, or ``incomplete`` with what to do when Aeries dropped fields."""
    if not not_stored:
        return {"status": "written"}
    fields = ", ".join(not_stored)
    return {"status": "incomplete", "not_stored": not_stored, "reason": (
        f"Aeries took the {write['kind']} {write['action']} on {write['path']} but did not store {fields}: field "
        f"level security denies the API certificate {fields} in {kind.security_areas[write['kind']]}. Grant its group "
        f"Update on these fields (Aeries: Security, field level security) and set them on that record in Aeries by hand; "
        f"this export counts as processed, and until the fields are set a later export may not find the record by "
        f"them")}
