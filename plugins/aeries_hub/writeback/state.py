"""What a write-back remembers between runs, beside the outbound DAGs' delivered state (``_last_delivered/``):
``inbound/`` the export files it wrote into Aeries and the students it created; ``quarantine/`` the export files
it refused, by sha256, so that later runs skip them."""

from __future__ import annotations

from datetime import datetime, timezone

from aeries_hub.changes import DeliveredState
from aeries_hub.staging import staging_base
from aeries_hub.writeback.spec import WriteBack


def processed_state(writeback: WriteBack) -> DeliveredState:
    """Where the export files written and the students created by earlier runs are remembered."""
    return DeliveredState(staging_base(), writeback.dag_id, "inbound")


def quarantine_state(writeback: WriteBack) -> DeliveredState:
    """Where the export files quarantined by earlier runs are remembered (by sha256)."""
    return DeliveredState(staging_base(), writeback.dag_id, "quarantine")


def created_students(writeback: WriteBack) -> set[str]:
    """The StudentIDs this write-back inserted (kept with the files it wrote, ``_last_delivered/inbound/``)."""
    return set((processed_state(writeback).manifest() or {}).get("students_created", {}))


def remember_written(writeback: WriteBack, run_id: str, *, files: list[dict], created: list[str]) -> None:
    """Add the export ``files`` written and the students ``created`` by this run to the write-back's state."""
    state = processed_state(writeback)
    manifest = state.manifest() or {}
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    done = manifest.get("files", {})
    done.update({f["sha256"]: {"file": f["file"], "run_id": run_id, "written_at": stamp} for f in files})
    students = manifest.get("students_created", {})
    students.update({student_id: run_id for student_id in created})
    state.save({}, {"run_id": run_id, "delivered_at": stamp, "files": done, "students_created": students})


def remember_quarantined(writeback: WriteBack, quarantined: list[dict], run_id: str) -> None:
    """Add the export files kept in ``quarantine/`` by this run (those with a sha256) to the files quarantined
    before."""
    state = quarantine_state(writeback)
    poisoned = (state.manifest() or {}).get("files", {})
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    poisoned = {**poisoned, **{item["sha256"]: {"file": item["file"], "run_id": run_id, "quarantined_at": stamp,
                                                "reason": item["reason"]}
                               for item in quarantined if "sha256" in item}}
    state.save({}, {"run_id": run_id, "delivered_at": stamp, "files": poisoned})
