"""End to end: the Destiny DAG under dag.test(), against the Aeries emulator and OpenSSH's sshd.

The expected patrons file is computed here, independently of the mapping engine, from the emulator's own
data files and the rules of seed 002 and Destiny's patron format (vendor_formats.md), then compared byte
for byte with what landed on the SFTP server.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest

from aeries_hub.staging import staging_base
from tests.dags.independent import natural, one_line, s, section_staff_teachers
from tests.dags.single_tasks import extract_tasks, run_folder, run_tasks, tasks_from

DAG_ID = "aeries_to_destiny"
TIMEZONE = "America/Los_Angeles"  # the mapping's schedule.timezone: the run's date is taken there
STACK = {"students": 300, "seed": 7, "aeries_extra": {"backoff_base": 0.05, "backoff_max": 0.5}}
COLUMNS = [
    "field_siteShortName", "field_barcode", "field_districtID", "field_lastName", "field_firstName",
    "field_middleName", "field_nickname", "field_patronType", "field_accessLevel", "field_status",
    "field_gender", "field_gradeLevel", "field_isTeacher", "field_birthdate", "field_username",
    "field_emailPrimary", "field_addressPrimaryLine1", "field_addressPrimaryCity", "field_addressPrimaryState",
    "field_addressPrimaryZipCode", "field_addressPrimaryPhoneNumberPrimary",
]
MAX_LENGTH = {
    "field_siteShortName": 10, "field_barcode": 14, "field_districtID": 40, "field_username": 50,
    "field_emailPrimary": 200, "field_addressPrimaryLine1": 100, "field_addressPrimaryCity": 50,
    "field_addressPrimaryState": 2, "field_addressPrimaryZipCode": 10, "field_addressPrimaryPhoneNumberPrimary": 20,
}
REQUIRED = ["field_siteShortName", "field_barcode", "field_districtID", "field_lastName", "field_patronType",
            "field_status", "field_gender", "field_isTeacher"]


def us_date(value) -> str:
    day = s(value)[:10]
    if not day or day.startswith("0001-"):
        return ""
    year, month, dom = day.split("-")
    return f"{month}/{dom}/{year}"


def expected_patrons(data_dir: Path, sites: dict[str, str] | None = None, today: str | None = None) -> tuple[bytes, list[str]]:
    """The patrons file and the rejected districtIDs; ``sites`` is the district's crosswalk (SchoolCode -> site);
    ``today`` the run's date (default: today in the mapping's time zone), which says which section staff teach."""
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    today = today or datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    schools = {s(x["SchoolCode"]): x for x in load("schools")}  # every school: Destiny keeps pseudo-schools
    rank = {"": 0, "P": 1, "I": 2}

    def site(code: str) -> str:  # the crosswalk's site, else the ShortName, else the SchoolCode
        return (sites or {}).get(code) or s(schools.get(code, {}).get("ShortName")) or code

    # One patron per student: the active record first, then pre-enrolled, then the lowest school code.
    chosen: dict[str, dict] = {}
    for stu in sorted(load("students"), key=lambda r: (rank.get(s(r["InactiveStatusCode"]), 3), r["SchoolCode"])):
        if s(stu["SchoolCode"]) in schools:
            chosen.setdefault(s(stu["StudentID"]), stu)
    students = []
    for sid in sorted(chosen, key=natural):
        stu = chosen[sid]
        students.append({
            "field_siteShortName": site(s(stu["SchoolCode"])),
            "field_barcode": sid,
            "field_districtID": sid,
            "field_lastName": s(stu["LastName"])[:42],
            "field_firstName": s(stu["FirstName"])[:42],
            "field_middleName": s(stu.get("MiddleName"))[:42],
            "field_nickname": s(stu.get("FirstNameAlias"))[:30],
            "field_patronType": "Student",
            "field_accessLevel": "Student",
            "field_status": "A" if s(stu["InactiveStatusCode"]) in ("", "P") else "I",
            "field_gender": s(stu.get("Gender")) if s(stu.get("Gender")) in ("M", "F") else "U",
            "field_gradeLevel": {"-2": "PS", "-1": "TK", "0": "K"}.get(s(stu["Grade"]), s(stu["Grade"])),
            "field_isTeacher": "F",
            "field_birthdate": us_date(stu.get("Birthdate")),
            "field_username": s(stu.get("NetworkLoginID")),
            "field_emailPrimary": s(stu.get("StudentEmailAddress")),
            "field_addressPrimaryLine1": s(stu.get("MailingAddress")),
            "field_addressPrimaryCity": s(stu.get("MailingAddressCity")),
            "field_addressPrimaryState": s(stu.get("MailingAddressState")).upper(),
            "field_addressPrimaryZipCode": s(stu.get("MailingAddressZipCode")),
            "field_addressPrimaryPhoneNumberPrimary": s(stu.get("HomePhone")),
        })

    # A staff member's teacher record: the first active one in (SchoolCode, TeacherNumber) order; a Flex school's
    # teachers (it has no teacher records) are its sections' staff members teaching on the run's date.
    teacher_of: dict[str, dict] = {}
    teachers = load("teachers")
    teachers += section_staff_teachers(load("schools"), load("sections"), load("staff"), teachers, today)
    for tch in sorted(teachers, key=lambda t: (t["SchoolCode"], t["TeacherNumber"] or 0)):
        if s(tch["SchoolCode"]) in schools and not s(tch.get("InactiveStatusCode")):
            teacher_of.setdefault(s(tch.get("StaffID1")), tch)
    staff = []
    for stf in sorted(load("staff"), key=lambda r: natural(f"STAFF-{r['ID']}")):
        tch = teacher_of.get(s(stf["ID"]), {})
        staff.append({
            "field_siteShortName": site(s(stf.get("PrimaryAeriesSchool"))),
            "field_barcode": f"T{stf['ID']}",
            "field_districtID": f"STAFF-{stf['ID']}",
            "field_lastName": (s(stf.get("LastName")) or s(tch.get("LastName")))[:42],
            "field_firstName": (s(stf.get("FirstName")) or s(tch.get("FirstName")))[:42],
            "field_middleName": s(stf.get("MiddleName"))[:42],
            "field_patronType": "Staff",
            "field_accessLevel": "Staff",
            "field_status": "A" if not s(stf.get("InactiveStatusCode")) else "I",
            "field_gender": s(stf.get("Gender")) if s(stf.get("Gender")) in ("M", "F") else "U",
            "field_isTeacher": "T" if tch else "F",
            "field_username": s(stf.get("UserName")),
            "field_emailPrimary": s(stf.get("EmailAddress")) or s(tch.get("EmailAddress")),
        })

    kept, rejected = [], []
    for row in students + staff:
        row = {c: one_line(row.get(c, "")) for c in COLUMNS}  # what the file holds: one line per value
        bad = any(not row[c] for c in REQUIRED) or any(len(row[c]) > n for c, n in MAX_LENGTH.items())
        (rejected if bad else kept).append(row)
    out = io.StringIO(newline="")
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[c] for c in COLUMNS] for row in kept)
    return out.getvalue().encode("utf-8"), [r["field_districtID"] for r in rejected]


@pytest.fixture(scope="module")
def destiny_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[DAG_ID]


@contextmanager
def printed() -> Iterator[list[str]]:
    """What the process prints while the block runs (file descriptors 1 and 2, sys.stdout and sys.stderr), as
    ``capfd`` captures it, for a fixture wider than a test: the text is in the list once the block ends."""
    text: list[str] = []
    with tempfile.TemporaryFile() as sink:
        sys.stdout.flush()
        sys.stderr.flush()
        saved_fds, saved_streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        stream = os.fdopen(os.dup(sink.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
        sys.stdout = sys.stderr = stream
        try:
            yield text
        finally:
            stream.close()
            sys.stdout, sys.stderr = saved_streams
            for fd, saved in zip((1, 2), saved_fds):
                os.dup2(saved, fd)
                os.close(saved)
            sink.seek(0)
            text.append(sink.read().decode("utf-8", errors="replace"))


@pytest.fixture(scope="module")
def delivered_run(stack, destiny_dag):
    """One plain run of the DAG and what its tasks printed. The tests of a plain run read it; a variant that changes
    what one stage sees (a param, a crosswalk, Aeries failing) runs that stage alone on its staged files."""
    with printed() as output:
        dag_run = destiny_dag.test()
    return dag_run, output[0]


def delivered_file(stack) -> Path:
    return stack.sftp.root / "patrons" / "patrons.csv"


def run_report(dag_run) -> dict:
    return run_folder(dag_run).read_json("report.json")


def staged(dag_run, *parts: str) -> Path:
    return Path(run_folder(dag_run).root.path).joinpath(*parts)


@pytest.mark.e2e
def test_destiny_delivers_the_expected_patrons_file(stack, delivered_run):
    expected, expected_rejects = expected_patrons(stack.data_dir)

    dag_run, task_output = delivered_run

    assert dag_run.state == "success"
    assert delivered_file(stack).read_bytes() == expected
    report = run_report(dag_run)
    assert report["status"] == ("Completed with errors" if expected_rejects else "Completed")
    assert sorted(report["files"]["patrons"]["rejected_ids"]) == sorted(expected_rejects)
    assert report["delivered"][0]["sha256"] == hashlib.sha256(expected).hexdigest()
    assert report["delivered"][0]["rows"] == expected.count(b"\r\n") - 1
    assert not list((stack.sftp.root / "patrons").glob(".*.part"))
    # The Aeries certificate is in no task log line and no staged file.
    assert "Running <TaskInstance" in task_output or "extract_students" in task_output
    assert stack.certificate not in task_output
    leaks = [p for p in staged(dag_run).rglob("*") if p.is_file() and stack.certificate.encode() in p.read_bytes()]
    assert leaks == []


@pytest.mark.e2e
def test_the_delivery_is_one_line_of_the_disclosure_log_with_fields_and_no_values(stack, delivered_run):
    from aeries_hub.delivery.disclosures import DISCLOSURE_FOLDER, LOG_FILE, read_disclosures

    expected, _ = expected_patrons(stack.data_dir)
    dag_run, _ = delivered_run

    [entry] = [e for e in read_disclosures(staging_base(), DAG_ID) if e["run_id"] == dag_run.run_id]
    assert datetime.fromisoformat(entry.pop("at")) >= dag_run.start_date
    assert entry == {
        "dag_id": DAG_ID, "vendor": "Follett Destiny patrons", "run_id": dag_run.run_id, "target": "sftp",
        "conn_id": "destiny_sftp", "location": "patrons/patrons.csv", "file": "patrons.csv",
        "sha256": hashlib.sha256(expected).hexdigest(), "records": expected.count(b"\r\n") - 1, "test_record": False,
        "fields": {"patrons.csv": {
            "field_siteShortName": ["schools.ShortName", "staff.PrimaryAeriesSchool", "students.SchoolCode"],
            "field_barcode": ["staff.ID", "students.StudentID"],
            "field_districtID": ["staff.ID", "students.StudentID"],
            "field_lastName": ["staff.LastName", "students.LastName", "teachers.LastName"],
            "field_firstName": ["staff.FirstName", "students.FirstName", "teachers.FirstName"],
            "field_middleName": ["staff.MiddleName", "students.MiddleName"],
            "field_nickname": ["students.FirstNameAlias"],
            "field_patronType": [],
            "field_accessLevel": [],
            "field_status": ["staff.InactiveStatusCode", "students.InactiveStatusCode"],
            "field_gender": ["staff.Gender", "students.Gender"],
            "field_gradeLevel": ["students.Grade"],
            "field_isTeacher": ["teachers.StaffID1"],
            "field_birthdate": ["students.Birthdate"],
            "field_username": ["staff.UserName", "students.NetworkLoginID"],
            "field_emailPrimary": ["staff.EmailAddress", "students.StudentEmailAddress", "teachers.EmailAddress"],
            "field_addressPrimaryLine1": ["students.MailingAddress"],
            "field_addressPrimaryCity": ["students.MailingAddressCity"],
            "field_addressPrimaryState": ["students.MailingAddressState"],
            "field_addressPrimaryZipCode": ["students.MailingAddressZipCode"],
            "field_addressPrimaryPhoneNumberPrimary": ["students.HomePhone"],
            # who is in the file: active students and teachers, current section staff, schools not left out
            "(which rows)": ["students.InactiveStatusCode", "students.SchoolCode", "teachers.InactiveStatusCode",
                             "teachers.SectionStaffEndDate", "teachers.SectionStaffStartDate"],
        }},
    }
    # Outside the run's folder (retention deletes those), and never a value: no birth date, address or e-mail.
    log = Path(staging_base().path) / DISCLOSURE_FOLDER / LOG_FILE
    text = log.read_text()
    patrons = list(csv.DictReader(io.StringIO(expected.decode())))
    values = {p[c] for p in patrons for c in ("field_birthdate", "field_addressPrimaryLine1", "field_emailPrimary")}
    assert len(values) > 100 and not [value for value in values if value and value in text]


@pytest.mark.e2e
def test_the_hub_shows_what_destiny_received_to_whoever_may_read_the_dag_and_no_one_else(stack, delivered_run,
                                                                                         monkeypatch):
    from aeries_hub.delivery.disclosures import read_disclosures
    from aeries_hub.hub_view.render import url_segment
    from tests.plugins.aeries_hub.hub_view.client import ONE_DAG_READER, airflow_client, token_of

    expected, _ = expected_patrons(stack.data_dir)
    dag_run, _ = delivered_run
    [entry] = [e for e in read_disclosures(staging_base(), DAG_ID) if e["run_id"] == dag_run.run_id]
    records = expected.count(b"\r\n") - 1
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.plugins.aeries_hub.hub_view.client.OneDagAuthManager")
    with airflow_client() as client:
        reader = {"_token": token_of(ONE_DAG_READER)}  # may read aeries_to_destiny only
        hub = client.get("/aeries-hub/", cookies=reader)
        assert f'<a class="disclosures-link" href="/aeries-hub/disclosures/{DAG_ID}">what this vendor received</a>' \
            in hub.text
        page = client.get(f"/aeries-hub/disclosures/{DAG_ID}", cookies=reader)
        assert page.status_code == 200
        assert (f'<tr class="disclosure">\n  <td>{entry["at"]}</td>\n  <td><a href="/aeries-hub/runs/{DAG_ID}/'
                f'{url_segment(dag_run.run_id)}">{dag_run.run_id}</a></td>\n  <td>sftp over destiny_sftp: '
                f"patrons/patrons.csv</td>\n  <td>patrons.csv</td>\n  <td>{records}</td>\n  <td>"
                '<div class="fields"><b>patrons.csv</b>: (which rows) (students.InactiveStatusCode, '
                "students.SchoolCode, teachers.InactiveStatusCode, teachers.SectionStaffEndDate, "
                "teachers.SectionStaffStartDate); field_accessLevel; field_addressPrimaryCity "
                "(students.MailingAddressCity); field_addressPrimaryLine1 (students.MailingAddress); ") in page.text
        # the columns in name order (the log's), each with the Aeries fields its values came from
        assert ("; field_patronType; field_siteShortName (schools.ShortName, staff.PrimaryAeriesSchool, "
                "students.SchoolCode); field_status (staff.InactiveStatusCode, students.InactiveStatusCode); "
                "field_username (staff.UserName, students.NetworkLoginID)</div></td>\n</tr>") in page.text
        # the fields, never a value: no birth date, address or e-mail of the file
        patrons = list(csv.DictReader(io.StringIO(expected.decode())))
        values = {p[c] for p in patrons for c in ("field_birthdate", "field_addressPrimaryLine1", "field_emailPrimary")}
        assert len(values) > 100 and not [value for value in values if value and value in page.text]
        # a DAG the user may not read: refused, as its runs are
        refused = client.get("/aeries-hub/disclosures/aeries_to_xello", cookies=reader)
        assert refused.status_code == 403 and "You may not read the DAG aeries_to_xello." in refused.text
        assert "<table" not in refused.text


@pytest.mark.e2e
def test_a_blank_short_name_gives_the_school_code_as_site_and_the_report_names_each_school(stack, delivered_run):
    """Aeries leaves ShortName blank at every school (the emulator does too): no patron is rejected for it."""
    schools = json.loads((stack.data_dir / "schools.json").read_text(encoding="utf-8"))
    assert {s(x["ShortName"]) for x in schools} == {""}
    expected, expected_rejects = expected_patrons(stack.data_dir)

    dag_run, _ = delivered_run

    assert dag_run.state == "success"
    delivered = staged(dag_run, "output", "patrons.csv").read_bytes()  # what the run sent (its report's sha256)
    assert delivered == expected
    report = run_report(dag_run)
    assert report["delivered"][0]["sha256"] == hashlib.sha256(delivered).hexdigest()
    patrons = list(csv.DictReader(io.StringIO(delivered.decode())))
    assert {p["field_siteShortName"] for p in patrons} == {s(x["SchoolCode"]) for x in schools} - {"99", "900", "901", "902"}
    assert sorted(report["files"]["patrons"]["rejected_ids"]) == sorted(expected_rejects)
    for school in schools:
        code, name = s(school["SchoolCode"]), s(school["Name"])
        assert f"crosswalk sites: {code} {name!r} is not in the file; it is sent as {code}; no vendor record has a similar name" in report["attention"]
    assert report["left_out_schools"] == []  # Destiny keeps the pseudo-schools: district-office staff are patrons


def states(dag_run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


@pytest.mark.e2e
def test_a_district_crosswalk_gives_the_destiny_site(stack, delivered_run, tmp_path, monkeypatch):
    """The crosswalk is read from validate_sources on: those tasks run on the plain run's extracts."""
    import shutil

    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags

    schools = json.loads((stack.data_dir / "schools.json").read_text(encoding="utf-8"))
    names = {s(x["SchoolCode"]): s(x["Name"]) for x in schools}
    # The district office's staff get the district's Destiny site (few patrons: under the mass-change guard);
    # Destiny also lists a site whose name is close to a school the district has not matched yet.
    sites = {"0": "DISTRICT"}
    high = next(code for code, name in names.items() if name.endswith(" High School") and "Continuation" not in name)
    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    (include / "crosswalks" / "destiny_sites.csv").write_text(
        "aeries_school_code,destiny_site_short_name,destiny_site_name\n"
        f"0,DISTRICT,{names['0']}\n,HIGHLIB,{names[high].replace(' School', '')} Library\n"
    )
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
    expected, _ = expected_patrons(stack.data_dir, sites)
    assert b'"DISTRICT","T' in expected  # district-office staff are in the file
    dag = build_dags(include / "mappings")[DAG_ID]

    dag_run = run_tasks(dag, delivered_run[0], tasks_from(dag, "validate_sources"))

    assert set(states(dag_run).values()) == {"success"}
    assert delivered_file(stack).read_bytes() == expected
    unmapped = {u["aeries"]: u for u in run_report(dag_run)["crosswalks"]["sites"]["unmapped"]}
    assert sorted(unmapped, key=natural) == sorted(set(names) - {"0"}, key=natural)
    assert unmapped[high]["proposal"]["vendor"] == "HIGHLIB"


@pytest.mark.e2e
def test_emulator_faults_change_nothing_in_the_delivered_file(stack, destiny_dag, delivered_run):
    """The extracts, validation and build run again with the emulator failing now and then: the file built (which
    the deliver task sends as it is, see the first test) is the expected one."""
    expected, _ = expected_patrons(stack.data_dir)
    stack.emulator.set_faults({"429": 0.08, "500": 0.05, "503": 0.05, "drop": 0.04, "truncate": 0.04, "html": 0.04}, seed=11)
    try:
        dag_run = run_tasks(destiny_dag, delivered_run[0], [*extract_tasks(destiny_dag), "validate_sources", "build_patrons"])
        faults = stack.emulator.stats()
    finally:
        stack.emulator.clear_faults()

    ran = {task_id: state for task_id, state in states(dag_run).items() if task_id.startswith(("extract_", "validate", "build"))}
    assert set(ran.values()) == {"success"}, ran
    assert staged(dag_run, "output", "patrons.csv").read_bytes() == expected
    assert sum(faults.get("faults", {}).values()) > 0, faults
    extracted = run_folder(dag_run).read_json("summary/extract_students.json")
    assert extracted["rows"] > 300


@pytest.mark.e2e
def test_dry_run_builds_everything_and_delivers_nothing(stack, destiny_dag, delivered_run):
    """dry_run is read by the deliver task alone: it and the report run on the plain run's built files."""
    delivered_file(stack).unlink(missing_ok=True)

    dag_run = run_tasks(destiny_dag, delivered_run[0], ["deliver", "report"], run_conf={"dry_run": True})

    assert (states(dag_run)["deliver"], states(dag_run)["report"]) == ("skipped", "success")
    assert not delivered_file(stack).exists()
    report = run_report(dag_run)
    assert report["dry_run"] is True and report["delivered"] == []
    assert run_folder(dag_run).exists("output/patrons.csv")
    from aeries_hub.delivery.disclosures import read_disclosures

    assert [e for e in read_disclosures(staging_base(), DAG_ID) if e["run_id"] == dag_run.run_id] == []


@pytest.mark.e2e
def test_the_validate_task_log_at_info_holds_our_lines_and_no_great_expectations_records(
        stack, destiny_dag, delivered_run, caplog):
    """Great Expectations runs for real in the task (Airflow's task runner, this process), and says nothing at INFO."""
    with caplog.at_level(logging.INFO):  # full_extract: validated again, not taken from the last run (run.reuse)
        dag_run = run_tasks(destiny_dag, delivered_run[0], ["validate_sources"], run_conf={"full_extract": True})

    assert states(dag_run)["validate_sources"] == "success"
    names = {record.name for record in caplog.records}
    assert "aeries_hub.quality.aeries_sources" in names  # the crosswalk's warnings, the schools left out
    assert sorted(name for name in names if name.startswith("great_expectations")) == []


@pytest.mark.e2e
def test_a_run_dated_in_an_earlier_school_year_reads_that_years_aeries_database(stack, destiny_dag, delivered_run):
    """The run's date decides the year its extracts read: they run alone, in a run dated as a backfill would be.
    (Before the tests that slow Aeries down: the emulator logs a request it answers late after the client gave up.)"""
    from datetime import datetime, timezone

    log_before = stack.emulator.log_path.read_text(errors="replace")
    dag_run = run_tasks(destiny_dag, delivered_run[0], extract_tasks(destiny_dag),
                        logical_date=datetime(2025, 3, 2, 13, 0, tzinfo=timezone.utc))

    run = run_folder(dag_run)
    for task_id in extract_tasks(destiny_dag):
        assert states(dag_run)[task_id] == "success"
        assert run.read_json(f"summary/{task_id}.json")["database_year"] == 2024  # 2024-25 (it starts on 07-01)
    requests = stack.emulator.log_path.read_text(errors="replace")[len(log_before):]
    years = set(re.findall(r"DatabaseYear=(\d+)", requests))
    assert years == {"2024"}, years


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("faults", "last_cause"),
    [
        ({"html": 1.0}, re.escape("HTTP 200 with an HTML page instead of JSON (a login or error page?)")),
        ({"500": 1.0}, r"HTTP 500(: .*)?"),
        ({"latency": 1.0}, re.escape("timed out after 0.3 s (ReadTimeout)")),
    ],
    ids=["html_login_page", "http_500", "timeout"],
)
def test_aeries_failing_every_request_fails_the_run_naming_the_cause(
    stack, destiny_dag, delivered_run, monkeypatch, capfd, faults, last_cause
):
    """The students extract and the report run (a failed extract delivers nothing: the deliver task needs every
    task before it; test_a_failed_run_alerts_by_email_and_webhook_with_its_report runs such a run whole)."""
    connection = json.loads(os.environ["AIRFLOW_CONN_AERIES_DEFAULT"])
    connection["extra"].update(timeout=0.3, max_retries=1)
    monkeypatch.setenv("AIRFLOW_CONN_AERIES_DEFAULT", json.dumps(connection))
    monkeypatch.setattr(destiny_dag.get_task("extract_students"), "retries", 0)  # Airflow's own would wait 30 s
    stack.emulator.set_faults(faults, seed=1, path_pattern="students")
    try:
        dag_run = run_tasks(destiny_dag, delivered_run[0], ["extract_students", "report"])
    finally:
        stack.emulator.clear_faults()
    output = "".join(capfd.readouterr())

    assert (states(dag_run)["extract_students"], states(dag_run)["report"]) == ("failed", "failed")
    assert re.search(
        r"Aeries request failed for connection 'aeries_default' at /api/v5/schools/\d+/students after 2 attempts; "
        r"last cause: " + last_cause, output
    ), output[-3000:]
    assert connection["password"] not in output
    assert run_report(dag_run)["status"] == "Error"


@pytest.mark.e2e
def test_a_failed_run_alerts_by_email_and_webhook_with_its_report(stack, destiny_dag, monkeypatch, alerts):
    mailbox, webhook = alerts
    connection = json.loads(os.environ["AIRFLOW_CONN_AERIES_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_AERIES_DEFAULT", json.dumps({**connection, "password": "A" * 32}))  # revoked
    delivered_file(stack).write_bytes(b"previous delivery")

    dag_run = destiny_dag.test()

    assert dag_run.state == "failed"
    assert delivered_file(stack).read_bytes() == b"previous delivery"
    assert run_report(dag_run)["status"] == "Error"
    ((recipients, mail),) = mailbox.messages
    assert mail["Subject"] == f"[Aeries hub] {DAG_ID} run {dag_run.run_id} ended in Error"
    body = mail.get_body(("html",)).get_content()
    assert "destiny: Error" in body and f"report: {run_report(dag_run)['staging']}/report.json" in body
    ((_, posted),) = webhook.received
    assert (posted["dag_id"], posted["run_id"], posted["status"]) == (DAG_ID, dag_run.run_id, "Error")
    for secret in ("A" * 32, connection["password"]):
        assert secret not in body and secret not in json.dumps(posted)
