"""End to end: incremental extraction (``source.incremental``) of the STEMscopes DAG under dag.test().

A full run first; then about 1% of the district changes through the emulator (UpdateStudent: two new names,
a new grade, one student inactivated; one student's schedule; one teacher's staff record), and the next run
asks Aeries' DataChanges endpoints for what changed, fetches only those records and merges them into the
DAG's extract snapshot. Its delivered zip must be byte for byte the one a full extraction of the same data
builds (a third run with ``full_extract``). The emulator's request counts show what each run asked for. A snapshot
too old, or of another database year, is not used: those runs extract and build alone, on the third run's staging
(``tests/dags/single_tasks.py``).
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest
import requests

from aeries_hub.staging import staging_base
from tests.dags.single_tasks import extract_tasks, run_folder, run_tasks, tasks_from

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_stemscopes"
#: Small pages, so that a full extraction of students and schedules takes several pages per school.
STACK = {"students": 400, "seed": 3, "aeries_extra": {"page_size": 50}}
INCREMENTAL = ["rosters", "sections", "staff", "students"]
ZIP = "stemscopes_oneroster.zip"


def stemscopes():
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags

    return build_dags(paths.MAPPINGS_DIR)[DAG_ID]


def run_dag(**conf):
    started = time.monotonic()
    dag_run = stemscopes().test(run_conf=conf or None)
    assert dag_run.state == "success", dag_run.run_id
    return {"seconds": time.monotonic() - started, **staged(dag_run)}


def staged(dag_run) -> dict:
    """What the run staged: its extract summaries and extracts, and its zip and report when it built them."""
    run = run_folder(dag_run)
    return {
        "dag_run": dag_run,
        "summaries": {name[len("extract_"):-len(".json")]: run.read_json(f"summary/{name}")
                      for name in run.list("summary") if name.startswith("extract_")},
        "report": run.read_json("report.json") if run.exists("report.json") else None,
        "zip": run.path("output", ZIP).read_bytes() if run.exists(f"output/{ZIP}") else None,
        "extracts": {name[: -len(".parquet")]: pq.read_table(io.BytesIO(run.path("extract", name).read_bytes()))
                     for name in run.list("extract")},
    }


def run_stages(after, task_ids: list[str], **kwargs) -> dict:
    """Only ``task_ids`` (the extracts, say) in a new run, on the staged files of ``after``; they must succeed."""
    from airflow.utils.session import create_session

    dag_run = run_tasks(stemscopes(), after, task_ids, **kwargs)
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session) if ti.task_id in task_ids}
    assert states == dict.fromkeys(task_ids, "success"), states
    return staged(dag_run)


def write(stack, path: str, body) -> None:
    response = requests.post(f"{stack.emulator.url}/api/v5/{path}", json=body, timeout=10, proxies={"http": "", "https": ""},
                             headers={"AERIES-CERT": stack.writeback_certificate})
    assert response.status_code == 200, response.text


def student_requests(stats: dict) -> int:
    return stats["by_route"].get("students", 0)


@pytest.fixture(scope="module")
def history(stack):
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    students = [s for s in load("students") if not str(s["InactiveStatusCode"]).strip() and s["SchoolCode"] == 100]
    rosters = load("rosters")
    teacher = next(t for t in load("teachers") if t["SchoolCode"] == 100)
    runs = {}

    stack.emulator.reset_stats()
    runs["first"] = run_dag()
    runs["first"]["stats"] = stack.emulator.stats()

    # About 1% of 400 students: two renamed, one a grade up, one inactivated; one schedule; one teacher.
    renamed, regraded, leaving, rescheduled = students[0], students[1], students[2], students[3]
    write(stack, f"UpdateStudent/{renamed['StudentID']}", {"FirstName": "Renamed", "LastName": "Student"})
    write(stack, f"UpdateStudent/{students[4]['StudentID']}", {"LastName": "Changed-Name"})
    write(stack, f"UpdateStudent/{regraded['StudentID']}", {"Grade": min(regraded["Grade"] + 1, 5)
                                                             if regraded["Grade"] < 5 else 4})
    write(stack, f"UpdateStudent/{leaving['StudentID']}", {"InactiveStatusCode": "I"})
    classes = [r for r in rosters if r["StudentID"] == rescheduled["StudentID"] and r["SchoolCode"] == 100]
    stack.emulator.set_schedule(100, rescheduled["StudentID"], [
        {k: v for k, v in r.items() if k not in ("StudentID", "SchoolCode")} for r in classes[:-1]])
    stack.emulator.update_staff(teacher["StaffID1"], {"FirstName": "Renamedteacher"})
    runs["changes"] = {"students": [renamed, regraded, leaving, rescheduled, students[4]], "teacher": teacher}

    stack.emulator.reset_stats()
    runs["incremental"] = run_dag()
    runs["incremental"]["stats"] = stack.emulator.stats()

    stack.emulator.reset_stats()
    runs["forced"] = run_dag(full_extract=True)
    runs["forced"]["stats"] = stack.emulator.stats()
    return runs


def test_first_run_extracts_everything_and_keeps_a_snapshot(history):
    first = history["first"]
    assert {t: s["mode"] for t, s in first["summaries"].items()} == dict.fromkeys(first["summaries"], "full")
    assert first["summaries"]["students"]["reason"] == "no extract snapshot yet"
    assert first["summaries"]["schools"]["reason"] == "always full (a small table)"
    assert student_requests(first["stats"]) >= 8  # 400 students in pages of 50


def test_the_snapshot_keeps_only_the_columns_the_dag_reads(stack, history):
    from pathlib import Path

    (snapshot,) = (Path(staging_base().path) / DAG_ID / "_extract_snapshot").glob("*/students.parquet")
    kept = pq.read_schema(snapshot).names
    # what STEMscopes' OneRoster files, the source checks and the incremental merge read of a student
    assert sorted(kept) == [
        "Birthdate", "DistrictEnterDate", "EthnicityCode", "FirstName", "Gender", "Grade", "InactiveStatusCode",
        "LastName", "MiddleName", "NetworkLoginID", "ParentEmailAddress", "RaceCode1", "RaceCode2", "RaceCode3",
        "RaceCode4", "RaceCode5", "SchoolCode", "SchoolEnterDate", "SchoolLeaveDate", "StudentEmailAddress",
        "StudentID", "StudentNumber", "StudentPersonalEmailAddress",
    ]
    # Aeries answers with addresses, phones and guardians too: none of them is kept
    answered = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))[0]
    assert {"HomePhone", "MailingAddress", "ParentGuardianName", "StudentMobilePhone"} <= set(answered)
    assert kept == history["first"]["extracts"]["students"].column_names


def test_after_one_percent_changed_only_the_changes_are_fetched(history):
    run = history["incremental"]
    modes = {t: s["mode"] for t, s in run["summaries"].items()}
    assert sorted(t for t, m in modes.items() if m == "incremental") == INCREMENTAL
    students = run["summaries"]["students"]
    assert students["changed_keys"] == 4  # renamed twice, a new grade, inactivated
    assert run["summaries"]["rosters"]["changed_keys"] == 1  # the new schedule (its section's roster: the same student)
    assert run["summaries"]["staff"]["changed_keys"] == 1
    by_route = run["stats"]["by_route"]
    assert student_requests(run["stats"]) == 4, by_route  # one per changed student, no page per school
    assert by_route.get("classes", 0) == 1, by_route
    assert by_route.get("section_students", 0) == 1, by_route
    assert student_requests(run["stats"]) < student_requests(history["first"]["stats"])
    assert by_route.get("StudentDataChanges", 0) >= 3
    line = next(line for line in _report_lines(run["report"]) if line.startswith("extraction: "))
    assert line.startswith("extraction: incremental for rosters, sections, staff, students (")
    assert "full for courses, schools, teachers" in line
    # the changes reached the vendor's files
    users = _member(run["zip"], "users.csv")
    assert "Renamed" in users and "Changed-Name" in users and "Renamedteacher" in users
    assert str(history["changes"]["students"][2]["StudentID"]) not in users  # inactivated: no longer sent


def test_incremental_delivery_is_byte_identical_to_a_full_extraction(history):
    forced = history["forced"]
    assert {s["mode"] for s in forced["summaries"].values()} == {"full"}
    assert forced["summaries"]["students"]["reason"] == "the full_extract param is on"
    assert forced["zip"] == history["incremental"]["zip"]
    for table, extract in history["incremental"]["extracts"].items():  # the same rows, order, types and metadata
        assert extract.equals(forced["extracts"][table], check_metadata=True), table
    assert forced["zip"] != history["first"]["zip"]
    assert student_requests(forced["stats"]) > student_requests(history["incremental"]["stats"])


def test_a_snapshot_older_than_full_every_hours_leads_to_a_full_extraction(history):
    from aeries_hub.extract.incremental import ExtractSnapshot

    snapshot = ExtractSnapshot(staging_base(), DAG_ID, "aeries_default", history["forced"]["summaries"]["students"]["database_year"])
    state_file = snapshot.root / "students.json"
    state = json.loads(state_file.read_text())
    state["last_full_at"] = (datetime.fromisoformat(state["last_full_at"]) - timedelta(hours=200)).isoformat()
    state_file.write_text(json.dumps(state))

    dag = stemscopes()
    up_to_the_zip = [t for t in tasks_from(dag, *extract_tasks(dag)) if t == "validate_sources" or
                     t.startswith(("extract_", "build_"))]
    run = run_stages(history["forced"]["dag_run"], up_to_the_zip)

    assert run["summaries"]["students"]["mode"] == "full"
    assert run["summaries"]["students"]["reason"].startswith("the last full extraction was 200 h ago")
    assert run["summaries"]["rosters"]["mode"] == "incremental"
    assert run["zip"] == history["forced"]["zip"]


def test_another_database_year_does_not_use_the_snapshot(history):
    from aeries_hub.extract.incremental import ExtractSnapshot

    year = history["forced"]["summaries"]["students"]["database_year"]
    run = run_stages(history["forced"]["dag_run"], extract_tasks(stemscopes()),
                     logical_date=datetime.fromisoformat(f"{year - 1}-10-01T12:00:00+00:00"))

    assert run["summaries"]["students"]["database_year"] == year - 1
    assert {s["mode"] for s in run["summaries"].values()} == {"full"}
    assert run["summaries"]["students"]["reason"] == "no extract snapshot yet"
    assert (ExtractSnapshot(staging_base(), DAG_ID, "aeries_default", year - 1).root / "students.json").exists()


def _report_lines(report: dict) -> list[str]:
    from aeries_hub.run.report import report_lines

    return report_lines(report)


def _member(data: bytes, name: str) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()
