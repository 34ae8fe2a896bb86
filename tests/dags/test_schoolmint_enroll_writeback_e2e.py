"""End to end: SchoolMint Enroll's exported students written into Aeries (include/writebacks/schoolmint_enroll.yml).

Enroll's export file lands in the SFTP drop folder of OpenSSH's sshd; the DAG runs under dag.test() against
the Aeries emulator, whose writes log (``GET /__emulator__/writes``) shows every write it received. The
records are written by hand here from the emulator's own data: one new student with two guardians, one
student Aeries already has (same state id) whose phone and a guardian's e-mail changed, and two bad records.
"""

from __future__ import annotations

import json

import pytest

from tests.dags import approvals
from tests.dags.independent import s
from tests.dags.writebacks import enabled_include, report_of, staged, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "schoolmint_enroll_to_aeries"
STACK = {"students": 300, "seed": 5}
NEW_STATE_ID = "9900000001"


@pytest.fixture(scope="module")
def enabled(tmp_path_factory):
    return enabled_include(tmp_path_factory, "schoolmint_enroll.yml")


@pytest.fixture(scope="module")
def district(stack):
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    students, contacts = load("students"), load("contacts")
    existing = next(r for r in students if s(r["StateStudentID"]) and not s(r["InactiveStatusCode"])
                    and [c for c in contacts if c["StudentID"] == r["StudentID"] and s(c["FirstName"])])
    guardian = next(c for c in contacts if c["StudentID"] == existing["StudentID"] and s(c["FirstName"]))
    return {"existing": existing, "guardian": guardian, "school": existing["SchoolCode"]}


def export_records(district) -> list[dict]:
    existing, guardian, school = district["existing"], district["guardian"], district["school"]
    new = {
        "students": {"enroll_id": "E-1001", "state_id": NEW_STATE_ID, "fname": "Mai", "mname": "", "lname": "Nguyen",
                     "DOB": "2019-04-02", "gender": "female", "home_phone": "(831) 555-0142", "address": "12 Elm St",
                     "city": "Mountain Vista", "state": "CA", "zip": "95060"},
        "students_annual": {"sis_school_code": school, "grade": "1", "sis_entrydate": "2026-12-01"},
        "guardians": [
            {"fname": "Lan", "lname": "Nguyen", "relationship": "20", "email": "lan.nguyen@example.org", "mobile_phone": "8315550143"},
            {"fname": "Minh", "lname": "Nguyen", "relationship": "21", "mobile_phone": "8315550144"},
        ],
    }
    known = {
        "students": {"enroll_id": "E-1002", "state_id": s(existing["StateStudentID"]), "fname": s(existing["FirstName"]),
                     "lname": s(existing["LastName"]), "DOB": s(existing["Birthdate"])[:10], "home_phone": "8315550199"},
        "students_annual": {"sis_school_code": school, "grade": s(existing["Grade"])},
        "guardians": [{"fname": s(guardian["FirstName"]), "lname": s(guardian["LastName"]), "email": "new.address@example.org"}],
    }
    no_birthdate = {"students": {"enroll_id": "E-1003", "state_id": "9900000003", "fname": "Ana", "lname": "Lopez"},
                    "students_annual": {"sis_school_code": school, "grade": "2"}, "guardians": []}
    bad_gender = {"students": {"enroll_id": "E-1004", "state_id": "9900000004", "fname": "Ben", "lname": "Ray",
                               "DOB": "2018-01-05", "gender": "unknown"},
                  "students_annual": {"sis_school_code": school, "grade": "2"}, "guardians": []}
    return [new, known, no_birthdate, bad_gender]


def drop(stack, name: str, records: list[dict]) -> None:
    folder = stack.sftp.root / "enroll_export"
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="module")
def runs(stack, district, enabled):
    """Dry run, real run, re-run of the same file, then Enroll exporting the new student once more."""
    with writeback_dag(enabled, "schoolmint_enroll.yml") as dag:
        stack.emulator.clear_writes()
        drop(stack, "enroll_2026-12-01.jsonl", export_records(district))
        dry = dag.test(run_conf={"dry_run": True})
        after_dry = successful_writes(stack, bodies=False)
        # dag.test() keeps the last run's conf in the DAG's params: each run says what it wants.
        # The known student's phone and its guardian's e-mail change: the guard asks, a person approves.
        answered: dict = {}
        approver = approvals.answer_when_waiting(DAG_ID, "approve_writes", "Approve", answered)
        first = dag.test(run_conf={"dry_run": False})
        approver.join(timeout=30)
        assert "error" not in answered, answered.get("error")
        after_first = successful_writes(stack, bodies=False)
        again = dag.test(run_conf={"dry_run": False})
        after_again = successful_writes(stack, bodies=False)
        drop(stack, "enroll_2026-12-02.jsonl", export_records(district)[:1])  # the new student, exported again
        re_exported = dag.test(run_conf={"dry_run": False})
        after_re_export = successful_writes(stack, bodies=False)
    return {
        "dry": (dry, after_dry), "first": (first, after_first), "again": (again, after_again), "answered": answered,
        "re_exported": (re_exported, after_re_export),
    }


@pytest.fixture(scope="module")
def http_dry_run(stack, district, tmp_path_factory):
    """A dry run with ``source.http`` (Enroll's export API: the vendor-API receiver's sandbox instance, connection
    schoolmint_enroll_sandbox) reading the same export file; before ``runs`` writes anything (see below)."""
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    path = include / "writebacks" / "schoolmint_enroll.yml"
    text = path.read_text()
    sftp = next(line for line in text.splitlines() if line.strip().startswith("sftp:"))
    path.write_text(text.replace(sftp, "  http: {conn_id: schoolmint_enroll_sandbox, endpoint: /api/v1/exports, format: jsonl}"))
    data = "".join(json.dumps(r) + "\n" for r in export_records(district)).encode("utf-8")
    stack.vendor_api.put_export("sandbox", "enroll_2026-12-01.jsonl", data)
    with writeback_dag(include, "schoolmint_enroll.yml") as dag:
        assert dag.dag_id == DAG_ID
        stack.emulator.clear_writes()
        dry = dag.test(run_conf={"dry_run": True})
        writes = successful_writes(stack, bodies=False)
    return dry, writes


# First in the module: the HTTP dry run must see the district before the SFTP runs write into it.
def test_http_source_reads_the_same_export_from_the_vendor_api_and_plans_the_same_writes(http_dry_run, runs):
    dag_run, writes = http_dry_run
    report, sftp_report = report_of(dag_run), report_of(runs["dry"][0])
    assert writes == []
    fetched = staged(dag_run, "summary/fetch_exports.json")
    assert [f["file"] for f in fetched["files"]] == ["enroll_2026-12-01.jsonl"]
    assert report["planned"] == sftp_report["planned"] == {
        "contact insert": 2, "contact update": 1, "student insert": 1, "student update": 1}
    assert staged(dag_run, "plan.json") == staged(runs["dry"][0], "plan.json")


def test_dry_run_plans_every_write_and_sends_none(runs):
    dag_run, writes = runs["dry"]
    report = report_of(dag_run)
    assert writes == []
    assert report["not_written_because"] == "dry_run is on"
    assert report["planned"] == {"contact insert": 2, "contact update": 1, "student insert": 1, "student update": 1}


def test_bad_records_are_rejected_with_their_reasons_and_nothing_of_them_is_written(runs):
    report = report_of(runs["first"][0])
    assert report["status"] == "Completed with errors"
    assert report["rejected"] == ["E-1003", "E-1004"]
    assert report["reject_reasons"] == [
        "the student's BirthDate is required",
        "the student's Gender is not one of female, male, nonbinary",
    ]
    assert not any(w["record"] in ("E-1003", "E-1004") for w in report["written"])


def test_new_student_is_inserted_with_its_contacts_and_a_known_one_is_updated_never_inserted(runs, district, stack):
    dag_run, writes = runs["first"]
    existing = district["existing"]
    inserted = [p for m, p in writes if p.startswith(f"schools/{district['school']}/InsertStudent")]
    assert len(inserted) == 1
    report = report_of(dag_run)
    new_id = next(w for w in report["written"] if w["action"] == "insert" and w["kind"] == "student")
    written = [(w["kind"], w["action"], w["path"]) for w in report["written"]]
    assert written[0] == ("student", "insert", f"schools/{district['school']}/InsertStudent")
    assert [k for k, a, p in written[1:3]] == ["contact", "contact"] and all(p.startswith("InsertContact/") for _, _, p in written[1:3])
    assert written[3] == ("student", "update", f"UpdateStudent/{existing['StudentID']}")
    assert written[4][2] == f"UpdateContact/{existing['StudentID']}/{district['guardian']['SequenceNumber']}"
    # The kept report names the fields; the values are only in the staged plan.json and writes.json.
    assert report["written"][3]["fields"] == ["HomePhone"] and report["written"][4]["fields"] == ["EmailAddress"]
    assert all("changes" not in w for w in report["written"])
    staged_writes = staged(dag_run, "writes.json")
    assert staged_writes[3]["changes"] == {"HomePhone": [s(existing["HomePhone"]) or None, "8315550199"]}
    assert staged_writes[4]["changes"] == {
        "EmailAddress": [s(district["guardian"]["EmailAddress"]) or None, "new.address@example.org"]}
    assert all(w["status"] == "written" for w in report["written"])
    assert new_id["student_id"] == int(staged_writes[0]["student_id"])
    assert staged_writes[0]["changes"]["StateStudentID"] == [None, NEW_STATE_ID]
    assert report["approval"]["decision"] == "approved"
    assert writes == [("POST", p) for _, _, p in written]


def test_the_new_student_reads_back_from_aeries_with_its_guardians(runs, stack):
    new = next(w for w in report_of(runs["first"][0])["written"] if w["path"].startswith("InsertContact/"))
    student_id = new["path"].split("/")[1]
    headers = {"AERIES-CERT": stack.certificate}
    found = [c for c in _all_contacts(stack, headers) if str(c["StudentID"]) == student_id]
    assert sorted((c["FirstName"], c["LastName"], c.get("EmailAddress") or "") for c in found) == [
        ("Lan", "Nguyen", "lan.nguyen@example.org"), ("Minh", "Nguyen", ""),
    ]


def _all_contacts(stack, headers) -> list[dict]:
    import requests

    schools = requests.get(f"{stack.emulator.url}/api/v5/schools", headers=headers, timeout=5).json()
    contacts = []
    for school in schools:
        if school["SchoolCode"]:
            contacts += requests.get(f"{stack.emulator.url}/api/v5/schools/{school['SchoolCode']}/contacts",
                                     headers=headers, timeout=5).json()
    return contacts


def test_a_rerun_of_the_same_file_writes_nothing(runs):
    dag_run, writes = runs["again"]
    assert writes == runs["first"][1]
    report = report_of(dag_run)
    assert report["files"] == [] and [f["file"] for f in report["skipped_files"]] == ["enroll_2026-12-01.jsonl"]
    assert report["written"] == []


def test_a_student_exported_again_is_recognised_by_state_id_and_not_inserted_twice(runs):
    dag_run, writes = runs["re_exported"]
    assert writes == runs["first"][1]  # not one more write
    report = report_of(dag_run)
    assert report["planned"] == {"contact unchanged": 2, "student unchanged": 1}
    assert report["status"] == "Completed"


@pytest.fixture(scope="module")
def mailing_name_runs(stack, district, enabled, runs):
    """Enroll exports, twice, a student Aeries has whose guardian Aeries knows only by its MailingName (first and
    last name blank, as on Aeries' demo server), named as the outbound Enroll mapping sent it: the first word of
    the MailingName and the rest. After ``runs``: the district already holds that run's writes."""
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    students = {r["StudentID"]: r for r in load("students")
                if s(r["StateStudentID"]) and not s(r["InactiveStatusCode"])
                and r["StudentID"] != district["existing"]["StudentID"]}
    guardian = next(c for c in load("contacts") if c["StudentID"] in students and not s(c["FirstName"])
                    and not s(c["LastName"]) and len(s(c["MailingName"]).split()) > 1)
    student = students[guardian["StudentID"]]
    first, last = s(guardian["MailingName"]).split(None, 1)
    record = {
        "students": {"enroll_id": "E-1101", "state_id": s(student["StateStudentID"]), "fname": s(student["FirstName"]),
                     "lname": s(student["LastName"]), "DOB": s(student["Birthdate"])[:10]},
        "students_annual": {"sis_school_code": student["SchoolCode"], "grade": s(student["Grade"])},
        "guardians": [{"fname": first, "lname": last}],
    }
    with writeback_dag(enabled, "schoolmint_enroll.yml") as dag:
        stack.emulator.clear_writes()
        drop(stack, "enroll_2026-12-03.jsonl", [record])
        dry = dag.test(run_conf={"dry_run": True})
        # A planned insert would wait for approval (a guardian added to a student Enroll did not create): stop here.
        assert report_of(dry)["planned"] == {"contact unchanged": 1, "student unchanged": 1}, report_of(dry)["planned"]
        first_run = dag.test(run_conf={"dry_run": False})
        # the family once more, in a new file (a file of the same bytes counts as read)
        again = {**record, "students": {**record["students"], "enroll_id": "E-1102"}}
        drop(stack, "enroll_2026-12-04.jsonl", [again])
        second_run = dag.test(run_conf={"dry_run": False})
        writes = successful_writes(stack, bodies=False)
    return {"runs": (first_run, second_run), "writes": writes, "student": student, "guardian": guardian}


def test_a_guardian_aeries_knows_only_by_its_mailing_name_is_found_by_it_and_never_inserted(mailing_name_runs, stack):
    first, second = mailing_name_runs["runs"]
    assert mailing_name_runs["writes"] == []
    for dag_run, file in ((first, "enroll_2026-12-03.jsonl"), (second, "enroll_2026-12-04.jsonl")):
        report = report_of(dag_run)
        assert (dag_run.state, report["status"]) == ("success", "Completed")
        assert [f["file"] for f in report["files"]] == [file]
        assert report["planned"] == {"contact unchanged": 1, "student unchanged": 1}
    plan = staged(second, "plan.json")
    guardian = mailing_name_runs["guardian"]
    assert plan[1]["target"] == f"student {guardian['StudentID']}, contact {guardian['SequenceNumber']}"
    # Aeries holds the student's contacts it had, and no new one
    student_id = mailing_name_runs["student"]["StudentID"]
    had = json.loads((stack.data_dir / "contacts.json").read_text(encoding="utf-8"))
    holds = _all_contacts(stack, {"AERIES-CERT": stack.certificate})
    assert {c["SequenceNumber"] for c in holds if c["StudentID"] == student_id} == {
        c["SequenceNumber"] for c in had if c["StudentID"] == student_id}
