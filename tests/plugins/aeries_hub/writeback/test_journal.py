"""The write-ahead journal of write_to_aeries: what survives a kill, and what a new plan ignores."""

from __future__ import annotations

import json

from airflow.sdk import ObjectStoragePath

from aeries_hub.staging import RunFolder
from aeries_hub.writeback.journal import WriteJournal


def test_a_line_cut_off_by_a_kill_counts_as_no_answer_and_the_next_attempt_starts_a_new_line(tmp_path):
    run = RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "schoolmint_enroll_to_aeries", "manual__1")
    first = WriteJournal(run, "plan-a")
    first.sending(0, "InsertContact/501")
    first.answered(0, "InsertContact/501", "written", new_id=None)
    first.sending(1, "InsertContact/501")
    path = tmp_path / "schoolmint_enroll_to_aeries" / "manual__1" / "journal.jsonl"
    with path.open("a") as handle:
        handle.write('{"plan": "plan-a", "write": 1, "event": "answ')  # the kill came mid-line
    again = WriteJournal(run, "plan-a")
    assert again.written(0)["status"] == "written" and again.written(1) is None and again.unanswered(1)
    again.answered(1, "InsertContact/501", "written", new_id=None, verified=True)
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["verified"] is True and len(lines) == 5
    other_plan = WriteJournal(run, "plan-b")  # plan_writes ran again: the old journal does not apply
    assert other_plan.written(0) is None and not other_plan.unanswered(1)
