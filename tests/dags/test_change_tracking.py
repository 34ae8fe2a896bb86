"""End to end: change tracking, the mass-change guard with its approval, and the extract-volume check.

The Destiny DAG runs under dag.test() against a sequence of districts, each a hand-made change of a
generated one (students removed, renamed or added in the emulator's data files), with OpenSSH's sshd as
the vendor. The expected added, changed and removed ids are the ids this module changed, so they do not
come from the code under test. A run over the guard parks its approve_changes task in AWAITING_INPUT; a
thread here answers it through Airflow's own REST API (PATCH .../hitlDetails, the call the UI's Required
actions page makes) or lets it time out with the scheduler's own timeout sweep.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from aeries_hub.staging import RunFolder, staging_base
from tests.dags import approvals
from tests.dags.single_tasks import run_folder

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_destiny"
PATRONS = "patrons/patrons.csv"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, airflow_db):
    folder = tmp_path_factory.mktemp("change_tracking")
    saved = os.environ.get("AIRFLOW__AERIES_HUB__STAGING_URL")
    os.environ["AIRFLOW__AERIES_HUB__STAGING_URL"] = f"file://{folder}/staging"
    yield folder
    os.environ["AIRFLOW__AERIES_HUB__STAGING_URL"] = saved


@pytest.fixture(scope="module")
def destiny_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[DAG_ID]


@pytest.fixture(scope="module")
def base_district(workdir) -> Path:
    from aeries_sandbox.emulator.generator import generate_district

    folder = workdir / "district-0"
    generate_district(300, 11).write(folder)
    return folder


@contextmanager
def serving(workdir: Path, data_dir: Path):
    """The emulator on ``data_dir`` and sshd on ``workdir/sftp`` (kept across districts), with connections."""
    from aeries_sandbox.stack import sandbox_stack

    saved = dict(os.environ)
    with sandbox_stack(workdir, data_dir=data_dir) as running:
        os.environ.update(running.connection_env())
        try:
            yield running
        finally:
            os.environ.clear()
            os.environ.update(saved)


def changed_district(source: Path, target: Path, edit) -> Path:
    shutil.copytree(source, target)
    students = json.loads((target / "students.json").read_text(encoding="utf-8"))
    students = edit(students)
    (target / "students.json").write_text(json.dumps(students), encoding="utf-8")
    return target


def report_of(dag_run) -> dict:
    return run_folder(dag_run).read_json("report.json")


def patron_ids(students: list[dict]) -> list[str]:
    return sorted({str(s["StudentID"]) for s in students})


def answer_when_waiting(decision: str | None, answered: dict, dag_id: str = DAG_ID) -> threading.Thread:
    return approvals.answer_when_waiting(dag_id, "approve_changes", decision, answered)


@pytest.fixture(scope="module")
def history(workdir, base_district, destiny_dag):
    """Seven runs, one after the other, each over its own district; what each produced."""
    students = json.loads((base_district / "students.json").read_text(encoding="utf-8"))
    ids = patron_ids(students)
    runs: dict[str, dict] = {}

    def run(name: str, data_dir: Path, decision: str | None = "", **conf) -> None:
        answered: dict = {}
        with serving(workdir, data_dir) as stack:
            responder = answer_when_waiting(decision or None, answered) if decision != "" else None
            dag_run = destiny_dag.test(run_conf=conf or None)
            if responder:
                responder.join(timeout=30)
            landed = stack.sftp.root / PATRONS
            runs[name] = {
                "run": dag_run,
                "report": report_of(dag_run),
                "answered": answered,
                "delivered": landed.read_bytes() if landed.exists() else None,
                "mtime": landed.stat().st_mtime_ns if landed.exists() else None,
            }

    # 1. the first delivery, 2. the same data again
    run("first", base_district)
    run("again", base_district)
    # 3. within the guard: 5 students leave, 3 change their last name, 2 arrive
    gone, renamed = ids[:5], ids[5:8]
    template = next(r for r in students if str(r["StudentID"]) == ids[8])
    arrivals = [{**template, "StudentID": 990000 + n, "StudentNumber": 9900 + n} for n in (1, 2)]

    def small_change(rows):
        kept = [r for r in rows if str(r["StudentID"]) not in gone]
        for r in kept:
            if str(r["StudentID"]) in renamed:
                r["LastName"] = f"{r['LastName']}-Renamed"
        return kept + arrivals

    small = changed_district(base_district, workdir / "district-1", small_change)
    run("small", small)
    expected = {
        "added": sorted(str(a["StudentID"]) for a in arrivals),
        "changed": sorted(renamed),
        "removed": sorted(gone),
    }
    # 4-6. over the guard: a third of the remaining students leave; approved, then rejected, then no answer
    small_ids = patron_ids(json.loads((small / "students.json").read_text(encoding="utf-8")))
    leaving = set(small_ids[::3])
    large = changed_district(small, workdir / "district-2", lambda rows: [r for r in rows if str(r["StudentID"]) not in leaving])
    run("approved", large, decision="Approve")
    smaller_ids = patron_ids(json.loads((large / "students.json").read_text(encoding="utf-8")))
    leaving_again = set(smaller_ids[::2])
    larger = changed_district(large, workdir / "district-3", lambda rows: [r for r in rows if str(r["StudentID"]) not in leaving_again])
    run("rejected", larger, decision="Reject")
    run("timed_out", larger, decision=None)
    # 7. one school returns no students at all (a partial answer from Aeries)
    school = sorted({r["SchoolCode"] for r in students})[0]
    empty_school = changed_district(large, workdir / "district-4", lambda rows: [r for r in rows if r["SchoolCode"] != school])
    run("school_missing", empty_school)
    return {"runs": runs, "expected_small": expected, "leaving": sorted(leaving), "school": school, "large": large}


def test_first_delivery_reports_every_row_added_and_needs_no_approval_with_approve_first_delivery_off(history):
    report = history["runs"]["first"]["report"]
    assert report["status"] == "Completed"
    patrons = report["changes"]["files"]["patrons.csv"]
    assert report["changes"]["last_delivery"] is None
    assert (patrons["rows_before"], patrons["added"], patrons["changed"], patrons["removed"]) == (0, patrons["rows_after"], 0, 0)
    assert report["approval"] == {"needed": False, "why": "first delivery (approve_first_delivery is off)"}


def test_rerun_of_the_same_data_changes_nothing_and_does_not_upload_again(history):
    first, again = history["runs"]["first"], history["runs"]["again"]
    patrons = again["report"]["changes"]["files"]["patrons.csv"]
    assert (patrons["added"], patrons["changed"], patrons["removed"]) == (0, 0, 0)
    assert again["report"]["changes"]["last_delivery"]["run_id"] == first["run"].run_id
    assert again["delivered"] == first["delivered"]
    assert again["report"]["delivered"][0]["already_there"] is True
    assert again["mtime"] == first["mtime"]


def test_small_change_reports_exactly_the_added_changed_and_removed_ids_and_delivers(history):
    small = history["runs"]["small"]
    expected = history["expected_small"]
    patrons = small["report"]["changes"]["files"]["patrons.csv"]
    assert patrons["sample_added"] == expected["added"]
    assert patrons["sample_changed"] == expected["changed"]
    assert patrons["sample_removed"] == expected["removed"]
    assert (patrons["added"], patrons["changed"], patrons["removed"]) == (2, 3, 5)
    assert small["report"]["status"] == "Completed"
    assert small["report"]["changes"]["exceeded"] == []
    staged = RunFolder(staging_base(), DAG_ID, small["run"].run_id).read_json("summary/track_changes.json")
    assert staged["files"]["patrons.csv"]["removed"] == 5
    for student in expected["removed"]:
        assert f'"{student}"'.encode() not in small["delivered"]
    assert b"-Renamed" in small["delivered"]


def test_change_over_the_guard_waits_for_approval_and_approved_delivers(history):
    approved = history["runs"]["approved"]
    report = approved["report"]
    patrons = report["changes"]["files"]["patrons.csv"]
    assert patrons["removed"] == len(history["leaving"])
    rows_before = patrons["rows_before"]
    percent = 100 * len(history["leaving"]) / rows_before
    reason = f"patrons.csv: {len(history['leaving'])} of {rows_before} rows removed ({percent:.1f}%, guard.max_removed_percent is 10)"
    assert report["changes"]["exceeded"] == [reason]
    body = approved["answered"]["body"]
    assert reason in body
    assert f"| patrons.csv | {rows_before} | {patrons['rows_after']} | 0 | 0 | {patrons['removed']} |" in body
    assert ", ".join(f"`{i}`" for i in history["leaving"][:20]) in body
    assert approved["answered"]["status"] == 200
    assert report["approval"]["decision"] == "approved"
    assert report["status"] == "Completed"
    assert approved["run"].state == "success"
    for student in history["leaving"]:
        assert f'"{student}"'.encode() not in approved["delivered"]


def test_rejected_change_delivers_nothing_and_the_run_fails_with_who_rejected_it(history):
    approved, rejected = history["runs"]["approved"], history["runs"]["rejected"]
    report = rejected["report"]
    assert rejected["run"].state == "failed"
    assert report["status"] == "Error"
    assert report["reason"].startswith("Not delivered: ")
    assert " rejected the changes at " in report["reason"]
    assert report["delivered"] == []
    assert rejected["delivered"] == approved["delivered"]
    assert rejected["mtime"] == approved["mtime"]


def test_unanswered_approval_times_out_delivers_nothing_and_names_the_timeout(history):
    approved, timed_out = history["runs"]["approved"], history["runs"]["timed_out"]
    report = timed_out["report"]
    assert timed_out["run"].state == "failed"
    assert report["status"] == "Error"
    assert report["reason"] == "Not delivered: nobody approved the changes within 24 hours (guard.approval_timeout_hours)"
    assert timed_out["delivered"] == approved["delivered"]
    # the snapshot is still the approved delivery's: the next run is compared with what the vendor has
    assert report["changes"]["last_delivery"]["run_id"] == approved["run"].run_id


def test_school_with_no_students_is_a_failed_check_before_any_change_tracking(history):
    missing = history["runs"]["school_missing"]
    report = missing["report"]
    assert missing["run"].state == "failed"
    assert report["status"] == "Error"
    assert report["changes"] is None
    school = history["school"]
    drop = [e for e in report["errors"] if e.startswith("Aeries returned far fewer rows than at the last delivery")]
    assert len(drop) == 1
    assert f"students: school {school} has 0 rows, " in drop[0]
    assert drop[0].endswith("trigger the DAG with allow_extract_drop on.")
    assert missing["delivered"] == history["runs"]["approved"]["delivered"]


def test_each_delivery_adds_an_asset_event_carrying_the_run_report(history):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == f"aeries-hub://{DAG_ID}/patrons.csv", AssetEvent.source_run_id.isnot(None))
            .order_by(AssetEvent.id)
            .all()
        )
        by_run = {e.source_run_id: e.extra for e in events}
    runs = history["runs"]
    delivered = [name for name in ("first", "again", "small", "approved")]
    assert [runs[n]["run"].run_id for n in delivered] == [r for r in by_run if r in {runs[n]["run"].run_id for n in runs}]
    extra = by_run[runs["small"]["run"].run_id]
    assert extra["status"] == "Completed"
    assert extra["delivered"]["sha256"] == runs["small"]["report"]["delivered"][0]["sha256"]
    assert extra["changes"]["files"]["patrons.csv"]["removed"] == 5
    assert runs["rejected"]["run"].run_id not in by_run
