"""End to end: the Xello write-back (include/writebacks/xello.yml) reading from a vendor server that attacks it.

The DAG runs under dag.test() against the Aeries emulator. First OpenSSH's sshd serves a good export file and a
poison one (a field past Python's csv field limit, which used to fail every later run): the good requests are
written, the poison file is quarantined with the reason and skipped by the next run, which completes. Then a
hostile SFTP server (paramiko's server side; sshd cannot list such a name) lists a name that climbs out of the
staging folder beside a good file: the good request is written, nothing lands outside the run's folder, and the
report names the refused name.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from aeries_hub.staging import staging_base
from tests.dags.independent import s
from tests.dags.single_tasks import run_folder
from tests.dags.writebacks import enabled_include, report_of, successful_writes, writeback_dag
from tests.plugins.aeries_hub.writeback.hostile_servers import HostileHttpServer, HostileSftpServer

pytestmark = pytest.mark.e2e

DAG_ID = "xello_to_aeries"
STACK = {"students": 300, "seed": 5}
HEADER = "StudentID|SchoolCode|CourseCode|CourseName|IsAlternate|SchoolYear"
GOOD, POISON = "CourseRequests_2027-03-01.txt", "CourseRequests_2027-03-02.txt"
CLIMBING, GOOD_BESIDE_IT = "CourseRequests/../../../dags/evil_dag.py", "CourseRequests_2027-03-03.txt"


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    return enabled_include(tmp_path_factory, "xello.yml")


@pytest.fixture(scope="module")
def district(stack):
    def load(name):
        return json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))

    active = [r for r in load("students") if not s(r["InactiveStatusCode"])]
    live = [c["ID"] for c in load("courses") if not s(c.get("InactiveStatusCode"))]
    return {"students": active[:3], "courses": live[:2]}


def export(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def line(student, course: str, name: str = "Any course") -> str:
    return f"{student['StudentID']}|{student['SchoolCode']}|{course}|{name}|0|2027-2028"


def post(student, course: str) -> tuple:
    return ("POST", f"schools/{student['SchoolCode']}/students/{student['StudentID']}/courserequests",
            {"CourseID": course})


@pytest.fixture(scope="module")
def poison_runs(stack, district, enabled):
    """sshd serves a good file and a poison one; the DAG runs twice."""
    first_student, second_student, _ = district["students"]
    course = district["courses"][0]
    folder = stack.sftp.root / "xello_export"
    (folder / GOOD).write_bytes(export(line(first_student, course)))
    poison = export(line(second_student, course, name="x" * 131_073))
    (folder / POISON).write_bytes(poison)
    with writeback_dag(enabled, "xello.yml") as dag:
        stack.emulator.clear_writes()
        first = dag.test(run_conf={"dry_run": False})
        after_first = successful_writes(stack)
        second = dag.test(run_conf={"dry_run": False})
        after_second = successful_writes(stack)
    for name in (GOOD, POISON):
        (folder / name).unlink()
    return {"first": (first, after_first), "second": (second, after_second), "poison": poison}


def test_the_good_file_beside_a_poison_one_is_written_and_the_poison_file_quarantined(poison_runs, district, stack):
    dag_run, writes = poison_runs["first"]
    assert writes == [post(district["students"][0], district["courses"][0])]
    report = report_of(dag_run)
    assert report["status"] == "Completed with errors"
    assert [f["file"] for f in report["files"]] == [GOOD]
    sha256 = hashlib.sha256(poison_runs["poison"]).hexdigest()
    assert report["quarantined_files"] == [{
        "file": POISON, "sha256": sha256, "bytes": len(poison_runs["poison"]), "kept": f"quarantine/{POISON}",
        "reason": (f"sftp connection 'xello_export_sftp' ({stack.sftp.host}:{stack.sftp.port}): "
                   f"xello_export/{POISON}: {POISON} line 2 has a field longer than 131072 characters; the file is "
                   "kept in quarantine/ and not read again")}]
    run = run_folder(dag_run)
    assert (run.root / "quarantine" / POISON).read_bytes() == poison_runs["poison"]


def test_the_next_run_skips_the_quarantined_file_and_completes(poison_runs):
    first, _ = poison_runs["first"]
    dag_run, writes = poison_runs["second"]
    assert writes == poison_runs["first"][1]
    report = report_of(dag_run)
    assert report["status"] == "Completed"
    assert report["files"] == [] and report["quarantined_files"] == []
    skipped = sorted((f["file"], "quarantined_by" in f) for f in report["skipped_files"])
    assert skipped == [(GOOD, False), (POISON, True)]
    assert next(f for f in report["skipped_files"] if f["file"] == POISON)["quarantined_by"] == first.run_id


@pytest.fixture(scope="module")
def hostile_name_run(stack, district, enabled, poison_runs):
    """A hostile SFTP server lists a name climbing out of staging (a DAG file) beside a good export file."""
    from aeries_hub import paths

    student, course = district["students"][2], district["courses"][1]
    files = {CLIMBING: b"raise SystemExit('this DAG file came from a vendor')\n",
             GOOD_BESIDE_IT: export(line(student, course))}
    saved = os.environ["AIRFLOW_CONN_XELLO_EXPORT_SFTP"]
    with HostileSftpServer(files, folder="xello_export") as server, writeback_dag(enabled, "xello.yml") as dag:
        os.environ["AIRFLOW_CONN_XELLO_EXPORT_SFTP"] = json.dumps(server.airflow_connection())
        try:
            stack.emulator.clear_writes()
            dag_run = dag.test(run_conf={"dry_run": False})
        finally:
            os.environ["AIRFLOW_CONN_XELLO_EXPORT_SFTP"] = saved
    workdir = Path(staging_base().path).parent  # the module's staging, sshd's root and the district
    evil = sorted(str(p) for root in (workdir, paths.INCLUDE_DIR.parent / "dags", enabled.parent)
                  for p in root.rglob("evil_dag.py"))
    return dag_run, successful_writes(stack), evil, post(student, course)


def test_a_listed_name_climbing_out_of_staging_is_refused_and_the_good_file_written(hostile_name_run):
    dag_run, writes, evil, expected = hostile_name_run
    assert evil == []
    assert writes == [expected]
    report = report_of(dag_run)
    assert report["status"] == "Completed with errors"
    assert [f["file"] for f in report["files"]] == [GOOD_BESIDE_IT]
    assert report["quarantined_files"] == [{"file": CLIMBING, "reason": (
        f"sftp connection 'xello_export_sftp' folder 'xello_export': export file name {CLIMBING!r} refused: not a "
        "plain file name (letters, digits, '_', '.', '-' and spaces, at most 255 characters, not hidden, no '/', "
        "'\\', '..' or NUL); it was not fetched (ask the vendor to rename it)")}]


ENROLL_DAG_ID = "schoolmint_enroll_to_aeries"
ENROLL_GOOD, ENROLL_DEEP = "enroll_2026-12-01.jsonl", "enroll_2026-12-02.jsonl"
ENROLL_CLIMBING = "../../../dags/evil_dag.py"


@pytest.fixture(scope="module")
def enroll_over_http(stack, district, tmp_path_factory):
    """SchoolMint Enroll's write-back reading its export API (``source.http``), here a hostile one: beside a good
    export it lists a name climbing out of staging and a file whose JSON is nested far too deep (RecursionError).
    Two dry runs."""
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    path = include / "writebacks" / "schoolmint_enroll.yml"
    text = path.read_text()
    sftp = next(line for line in text.splitlines() if line.strip().startswith("sftp:"))
    path.write_text(text.replace(sftp, "  http: {conn_id: hostile_enroll_api, endpoint: /api/v1/exports}"))
    school = district["students"][0]["SchoolCode"]
    good = {"students": {"enroll_id": "E-2001", "state_id": "9900002001", "fname": "Mai", "lname": "Nguyen",
                         "DOB": "2019-04-02", "gender": "female"},
            "students_annual": {"sis_school_code": school, "grade": "1"}, "guardians": []}
    deep = b'{"students": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    listing = [{"name": ENROLL_GOOD, "path": "/files/good"}, {"name": ENROLL_CLIMBING, "path": "/files/evil"},
               {"name": ENROLL_DEEP, "path": "/files/deep"}]
    files = {"/files/good": (json.dumps(good) + "\n").encode(), "/files/evil": b"raise SystemExit('owned')\n",
             "/files/deep": deep}
    with HostileHttpServer(listing, files) as server, writeback_dag(include, "schoolmint_enroll.yml") as dag:
        os.environ["AIRFLOW_CONN_HOSTILE_ENROLL_API"] = json.dumps(server.airflow_connection())
        try:
            first = dag.test(run_conf={"dry_run": True})
            second = dag.test(run_conf={"dry_run": True})
        finally:
            del os.environ["AIRFLOW_CONN_HOSTILE_ENROLL_API"]
    workdir = Path(staging_base().path).parent
    evil = sorted(str(p) for root in (workdir, include.parent) for p in root.rglob("evil_dag.py"))
    return {"first": first, "second": second, "server": server, "deep": deep, "evil": evil}


def test_a_hostile_export_api_gets_neither_a_path_outside_staging_nor_a_poison_file_through(enroll_over_http):
    first, server = enroll_over_http["first"], enroll_over_http["server"]
    assert enroll_over_http["evil"] == []
    assert "/files/evil" not in server.requests
    report = report_of(first)
    assert report["status"] == "Completed with errors"
    assert [f["file"] for f in report["files"]] == [ENROLL_GOOD]
    assert report["planned"] == {"student insert": 1}
    where = "http connection 'hostile_enroll_api'"
    assert report["quarantined_files"] == [
        {"file": ENROLL_CLIMBING, "reason": (
            f"{where} endpoint '/api/v1/exports': export file name {ENROLL_CLIMBING!r} refused: not a plain file "
            "name (letters, digits, '_', '.', '-' and spaces, at most 255 characters, not hidden, no '/', '\\', "
            "'..' or NUL); it was not fetched (ask the vendor to rename it)")},
        {"file": ENROLL_DEEP, "sha256": hashlib.sha256(enroll_over_http["deep"]).hexdigest(),
         "bytes": len(enroll_over_http["deep"]), "kept": f"quarantine/{ENROLL_DEEP}", "reason": (
            f"{where} ({server.url}/api/v1/exports): {server.url}/files/deep: {ENROLL_DEEP} line 1 is nested deeper "
            "than 32 levels; the file is kept in quarantine/ and not read again")},
    ]


def test_the_next_run_skips_the_deep_json_file_by_its_sha256(enroll_over_http):
    second = enroll_over_http["second"]
    report = report_of(second)
    assert [f["file"] for f in report["files"]] == [ENROLL_GOOD]  # a dry run wrote nothing: read again
    assert [(f["file"], f["quarantined_by"]) for f in report["skipped_files"]] == [
        (ENROLL_DEEP, enroll_over_http["first"].run_id)]
    assert [f["file"] for f in report["quarantined_files"]] == [ENROLL_CLIMBING]  # refused again, never read
