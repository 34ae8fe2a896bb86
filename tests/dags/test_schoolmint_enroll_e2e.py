"""End to end: the SchoolMint Enroll DAG under dag.test(), against the emulator and the vendor-API receiver.

The JSON records are computed here from the emulator's data files and seed 004's rules, independently of
the mapping engine, and compared byte for byte with the staged file whose checksum the delivery reports;
the receiver's own store shows what Enroll imported, batch by batch.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

from aeries_hub.staging import staging_base
from tests.dags.independent import contact_name, day, natural, primary_contacts, s
from tests.dags.single_tasks import run_folder, run_tasks, tasks_from

DAG_ID = "aeries_to_schoolmint_enroll"
STACK = {"students": 300, "seed": 5}
GUARDIAN_CODES = {"10": "Mother", "11": "Father", "12": "Stepparent", "13": "Grandparent", "14": "Guardian"}
OTHER_CODES = {"15": "Relative", "20": "Friend", "99": "Other"}
LANGUAGES = {"00": "English", "01": "Spanish", "02": "Vietnamese", "05": "Korean", "07": "Mandarin", "11": "Tagalog"}
FLUENCY = {"E": "English Only", "I": "Initially Fluent English Proficient", "L": "English Learner",
           "R": "Reclassified Fluent English Proficient", "T": "To Be Determined"}


def put(record: dict, path: str, value: str, overwrite: bool = False) -> None:
    """Enroll's Overwrite flag: a blank value is null with overwrite, left out without."""
    if not value:
        if not overwrite:
            return
        value = None
    *parents, leaf = path.split(".")
    for part in parents:
        record = record.setdefault(part, {})
    record[leaf] = value


def expected_records(data_dir: Path, run_date: str) -> list[dict]:
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    # The school year Aeries serves (the emulator's default year; it offers the years before it, not after).
    year = load("district")["DatabaseYear"]
    schools = {s(x["SchoolCode"]) for x in load("schools")}
    rank = {"": 0, "P": 1}
    chosen: dict[str, dict] = {}
    for r in sorted(load("students"), key=lambda r: (rank.get(s(r["InactiveStatusCode"]), 9), r["SchoolCode"])):
        if s(r["InactiveStatusCode"]) in rank and s(r["SchoolCode"]) in schools:
            chosen.setdefault(s(r["StudentID"]), r)
    guardians: dict[str, list] = {}
    emergency: dict[str, list] = {}
    contacts = sorted(load("contacts"), key=lambda c: natural(s(c["StudentID"]), s(c["SequenceNumber"])))
    primary = primary_contacts([c for c in contacts if s(c["RelationshipToStudentCode"]) in GUARDIAN_CODES
                                and s(c["SchoolCode"]) in schools])
    for c in contacts:
        if s(c["SchoolCode"]) not in schools:
            continue
        code = s(c["RelationshipToStudentCode"])
        if code in GUARDIAN_CODES:
            g: dict = {}
            put(g, "sequence", s(c["SequenceNumber"]))
            put(g, "fname", contact_name(c)[0])
            put(g, "lname", contact_name(c)[1])
            put(g, "relationship", GUARDIAN_CODES[code])
            put(g, "email", s(c.get("EmailAddress")).lower())
            put(g, "mobile_phone", re.sub(r"\D", "", s(c.get("CellPhone"))))
            put(g, "home_phone", re.sub(r"\D", "", s(c.get("HomePhone"))))
            put(g, "lives_with_student", {"Y": "true", "N": "false"}.get(s(c.get("LivesWithStudentIndicator")), ""))
            put(g, "primary_contact", "true" if (s(c["StudentID"]), s(c["SequenceNumber"])) in primary else "false")
            guardians.setdefault(s(c["StudentID"]), []).append(g)
        else:
            e: dict = {}
            put(e, "sequence", s(c["SequenceNumber"]))
            put(e, "fname", contact_name(c)[0])
            put(e, "lname", contact_name(c)[1])
            put(e, "relationship", OTHER_CODES.get(code, "Other"))
            put(e, "phone", re.sub(r"\D", "", s(c.get("CellPhone")) or s(c.get("HomePhone"))))
            emergency.setdefault(s(c["StudentID"]), []).append(e)
    records = []
    for sid in sorted(chosen, key=natural):
        r = chosen[sid]
        record: dict = {}
        put(record, "students.student_district_id", sid)
        put(record, "students.fname", s(r["FirstName"]))
        put(record, "students.mname", s(r.get("MiddleName")), overwrite=True)
        put(record, "students.lname", s(r["LastName"]))
        put(record, "students.DOB", day(r.get("Birthdate")))
        put(record, "students.gender", {"M": "male", "F": "female", "X": "nonbinary"}.get(s(r.get("Gender")), ""))
        put(record, "students.sis_school_year", f"{year}-{year + 1}")
        put(record, "students.address", s(r.get("MailingAddress")), overwrite=True)
        put(record, "students.city", s(r.get("MailingAddressCity")), overwrite=True)
        put(record, "students.state", s(r.get("MailingAddressState")).upper(), overwrite=True)
        put(record, "students.zip", s(r.get("MailingAddressZipCode")), overwrite=True)
        put(record, "students.home_phone", re.sub(r"\D", "", s(r.get("HomePhone"))))
        put(record, "students_annual.sis_entrydate", day(r.get("SchoolEnterDate")) or run_date)
        put(record, "students_annual.sis_school_code", s(r["SchoolCode"]))
        put(record, "students_annual.grade", {"-2": "PS", "-1": "TK", "0": "K"}.get(s(r["Grade"]), s(r["Grade"])))
        put(record, "custom.home_language", LANGUAGES.get(s(r.get("HomeLanguageCode")), "Other"))
        put(record, "custom.english_fluency", FLUENCY.get(s(r.get("LanguageFluencyCode")), ""))
        if guardians.get(sid):
            record["guardians"] = guardians[sid]
        if emergency.get(sid):
            record["emergency_contacts"] = emergency[sid]
        records.append(record)
    return records


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()


def enroll_dag(mappings_dir: Path | None = None):
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    return build_dags(mappings_dir or MAPPINGS_DIR)[DAG_ID]


def run_date(dag_run) -> str:
    from zoneinfo import ZoneInfo

    return (dag_run.logical_date or dag_run.run_after).astimezone(ZoneInfo("America/Los_Angeles")).date().isoformat()


def forget_deliveries(stack) -> None:
    """The vendor API emptied; the DAG forgets its last deliveries too (a new instance has none of them: no
    record in staging, no delivery events in the metadata database)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    from aeries_hub.changes import STATE_FOLDER

    stack.vendor_api.reset()
    shutil.rmtree(Path(staging_base().path) / DAG_ID / STATE_FOLDER, ignore_errors=True)
    with create_session() as session:
        session.query(AssetEvent).filter_by(source_dag_id=DAG_ID).delete()


@pytest.fixture
def receiver(stack):
    """The vendor API, emptied, and the DAG without a record of its last deliveries (``forget_deliveries``)."""
    forget_deliveries(stack)
    yield stack.vendor_api
    stack.vendor_api.clear_faults()


@pytest.fixture(scope="module")
def imported(stack):
    """The module's one plain run, into an empty vendor API, and what the API held right after it (sandbox,
    production). The variants that change only what the delivery meets run from track_changes on, on its files."""
    import copy

    forget_deliveries(stack)
    dag_run = enroll_dag().test()
    return dag_run, copy.deepcopy(stack.vendor_api.state("sandbox")), copy.deepcopy(stack.vendor_api.state("production"))


def delivery_tasks(dag) -> list[str]:
    return tasks_from(dag, "track_changes")


def states(dag_run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}


def ran_successfully(dag_run, task_ids: list[str]) -> bool:
    return {states(dag_run)[task_id] for task_id in task_ids} == {"success"}


def disclosed(dag_run) -> list[dict]:
    from aeries_hub.delivery.disclosures import read_disclosures

    return [entry for entry in read_disclosures(staging_base(), DAG_ID) if entry["run_id"] == dag_run.run_id]


@pytest.mark.e2e
def test_enroll_imports_every_student_with_guardians_and_emergency_contacts(stack, imported):
    dag_run, state, production = imported

    assert dag_run.state == "success"
    expected = expected_records(stack.data_dir, run_date(dag_run))
    data = jsonl(expected)
    run = run_folder(dag_run)
    with run.path("output", "students.jsonl").open("rb") as handle:
        assert handle.read() == data
    report = run.read_json("report.json")
    assert report["status"] == "Completed"
    assert (report["database_year"], report["school_year"], report["attention"]) == (2026, "2026-2027", [])
    (delivered,) = report["delivered"]
    assert delivered["target"] == "sandbox" and delivered["conn_id"] == "schoolmint_enroll_sandbox"
    assert delivered["records_sent"] == len(expected) and delivered["imported"] == len(expected)
    assert delivered["batches"] == math.ceil(len(expected) / 100)
    import hashlib

    assert delivered["sha256"] == hashlib.sha256(data).hexdigest()
    assert sorted(state["records"]) == sorted(r["students"]["student_district_id"] for r in expected)
    assert [b["received"] for b in state["batches"]] == [100, 100, len(expected) - 200]
    assert production["records"] == {}
    assert any("guardians" in r for r in expected) and any("emergency_contacts" in r for r in expected)
    # Overwrite: a blank middle name is sent as null; a blank home phone (no overwrite) is left out.
    assert any(r["students"].get("mname", "x") is None for r in expected)
    # Real contacts: a guardian known only by MailingName is delivered under it, and the primary guardian is the
    # one with the lowest ContactOrder, not sequence 1 (PrimaryContact is blank on every contact).
    contacts = json.loads((stack.data_dir / "contacts.json").read_text(encoding="utf-8"))
    assert {c["PrimaryContact"] for c in contacts} == {""}
    imported = {sid: record for sid, record in state["records"].items()}
    mailing_only = next(c for c in contacts if not c["FirstName"] and not c["LastName"]
                        and c["RelationshipToStudentCode"] in GUARDIAN_CODES and str(c["StudentID"]) in imported)
    first, last = mailing_only["MailingName"].split(" ", 1)
    (guardian,) = [g for g in imported[str(mailing_only["StudentID"])]["guardians"]
                   if g["sequence"] == str(mailing_only["SequenceNumber"])]
    assert (guardian["fname"], guardian["lname"]) == (first, last)
    called_first = {}
    for c in contacts:
        if c["RelationshipToStudentCode"] in GUARDIAN_CODES and str(c["StudentID"]) in imported:
            called_first.setdefault(str(c["StudentID"]), []).append(c)
    sid, family = next((sid, sorted(cs, key=lambda c: c["SequenceNumber"])) for sid, cs in called_first.items()
                       if len(cs) == 2 and cs[0]["ContactOrder"] > cs[1]["ContactOrder"])
    assert [(g["sequence"], g["primary_contact"]) for g in imported[sid]["guardians"]] == [
        (str(family[0]["SequenceNumber"]), "false"), (str(family[1]["SequenceNumber"]), "true")]


@pytest.mark.e2e
def test_through_the_july_rollover_records_carry_the_school_year_aeries_served(stack, receiver):
    """On 2027-08-02 the run's school year is 2027-2028, which the district has not rolled Aeries over to yet:
    the newest year Aeries offers that has started, 2026-2027, is read and labelled, and the report says so."""
    from datetime import datetime, timezone

    dag_run = enroll_dag().test(logical_date=datetime(2027, 8, 2, 15, 0, tzinfo=timezone.utc))

    assert dag_run.state == "success"
    run = run_folder(dag_run)
    expected = expected_records(stack.data_dir, "2027-08-02")
    assert {r["students"]["sis_school_year"] for r in expected} == {"2026-2027"}
    with run.path("output", "students.jsonl").open("rb") as handle:
        assert handle.read() == jsonl(expected)
    report = run.read_json("report.json")
    assert (report["status"], report["database_year"], report["school_year"]) == ("Completed", 2026, "2026-2027")
    assert report["attention"] == [
        "Aeries does not offer the school year 2027-2028 (it offers 2026-2027, 2025-2026, 2024-2025, 2023-2024); "
        "read 2026-2027, the newest that has started (connection extra unavailable_year: newest_started)"
    ]
    extract = run.read_json("summary/extract_students.json")
    assert (extract["requested_year"], extract["database_year"]) == (2027, 2026)


@pytest.mark.e2e
def test_unchanged_records_are_not_posted_again_to_the_same_target(stack, receiver, imported):
    """Two runs of the delivery tasks on the plain run's files: the first imports, the second finds them there."""
    dag = enroll_dag()
    first = run_tasks(dag, imported[0], delivery_tasks(dag))
    batches = len(receiver.state("sandbox")["batches"])

    again = run_tasks(dag, imported[0], delivery_tasks(dag))

    assert ran_successfully(first, delivery_tasks(dag)) and ran_successfully(again, delivery_tasks(dag))
    assert batches == 3
    assert len(receiver.state("sandbox")["batches"]) == batches  # nothing was posted
    delivered = run_folder(again).read_json("report.json")["delivered"][0]
    sent = run_folder(first).read_json("report.json")["delivered"][0]
    assert delivered["already_there"] is True
    assert (delivered["sha256"], delivered["previous_run_id"], delivered["records_sent"]) == (sent["sha256"], first.run_id, 0)
    # The disclosure log has the first delivery, with the guardians and emergency contacts nested in its records; the
    # second sent nothing.
    [entry] = disclosed(first)
    assert (entry["file"], entry["target"], entry["records"], entry["sha256"]) == (
        "students.jsonl", "sandbox", sent["records_sent"], sent["sha256"])
    assert sorted(entry["fields"]) == ["emergency_contacts.jsonl", "guardians.jsonl", "students.jsonl"]
    assert entry["fields"]["students.jsonl"]["students.DOB"] == ["students.Birthdate"]
    assert disclosed(again) == []


@pytest.mark.e2e
def test_send_test_record_posts_one_student_after_showing_it(stack, receiver, imported, caplog):
    """test_record and target are read from track_changes on: those tasks run on the plain run's files."""
    expected = {r["students"]["student_district_id"]: r for r in expected_records(stack.data_dir, "unused")}
    student = sorted(sid for sid, r in expected.items() if "guardians" in r)[3]
    dag = enroll_dag()

    with caplog.at_level("INFO"):
        dag_run = run_tasks(dag, imported[0], delivery_tasks(dag), run_conf={"test_record": student, "target": "production"})

    assert ran_successfully(dag_run, delivery_tasks(dag))
    state = receiver.state("production")
    assert list(state["records"]) == [student]
    assert [b["received"] for b in state["batches"]] == [1]
    assert receiver.state("sandbox")["records"] == {}
    assert f"test_record {student}: sending only this record" in caplog.text
    assert json.dumps(expected[student]["guardians"][0]["fname"], ensure_ascii=False) in caplog.text
    [entry] = disclosed(dag_run)
    assert (entry["target"], entry["conn_id"], entry["records"], entry["test_record"]) == (
        "production", "schoolmint_enroll", 1, True)


@pytest.mark.e2e
def test_faults_and_retries_never_import_a_batch_twice(stack, receiver, imported):
    """The delivery tasks run on the plain run's files, the vendor API losing one answer."""
    receiver.set_faults({"500_after_import": 1.0}, seed=3, max_faults=1)
    dag = enroll_dag()

    dag_run = run_tasks(dag, imported[0], delivery_tasks(dag))

    assert ran_successfully(dag_run, delivery_tasks(dag))
    state = receiver.state("sandbox")
    imports = [b for b in state["batches"] if not b["replayed"]]
    assert len(imports) == 3 and len({b["idempotency_key"] for b in imports}) == 3
    assert sum(b["replayed"] for b in state["batches"]) == 1  # the answer lost to the 500 was replayed, not re-imported
    assert run_folder(dag_run).read_json("report.json")["delivered"][0]["retries"] >= 1


@pytest.mark.e2e
def test_an_import_the_vendor_stops_halfway_discloses_the_batches_it_took(stack, receiver, imported):
    """The delivery tasks run on the plain run's files; Enroll takes two batches of 100, then refuses the rest."""
    receiver.fail_after(2, status=400)
    dag = enroll_dag()
    try:
        dag_run = run_tasks(dag, imported[0], delivery_tasks(dag))
    finally:
        receiver.fail_after(None)

    assert states(dag_run)["deliver"] == "failed"
    assert [b["received"] for b in receiver.state("sandbox")["batches"]] == [100, 100]
    # The two batches Enroll took are in the disclosure log (counts and fields, never a value), marked partial.
    (entry,) = disclosed(dag_run)
    assert (entry["file"], entry["records"], entry["partial"], entry["target"]) == ("students.jsonl", 200, True, "sandbox")
    assert sorted(entry["fields"]) == ["emergency_contacts.jsonl", "guardians.jsonl", "students.jsonl"]
    assert entry["fields"]["students.jsonl"]["students.DOB"] == ["students.Birthdate"]
    # Why the delivery stopped is the run's reason.
    report = run_folder(dag_run).read_json("report.json")
    (failure,) = report["failed_tasks"]
    assert (failure["task_id"], failure["conn_id"]) == ("deliver", "schoolmint_enroll_sandbox")
    assert failure["message"] == (
        f"http connection 'schoolmint_enroll_sandbox' ({receiver.import_url('sandbox')}) refused the batch with HTTP "
        "400: import limit reached: 2 batches taken, no more are imported")
    assert report["outcome"] == f"Error: deliver failed: DeliveryError: {failure['message']}"


@pytest.mark.e2e
def test_records_enroll_refuses_are_listed_with_its_reasons(stack, receiver, imported, tmp_path, monkeypatch, caplog):
    """The mapping's output is read from the build on: those tasks run on the plain run's validated tables."""
    from aeries_hub import paths

    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    mapping = include / "mappings" / "schoolmint_enroll.yml"
    # A district sends DOB as mm/dd/yyyy for the students born in the 2010s and drops the format rule: Enroll
    # refuses exactly those records.
    text = mapping.read_text().replace("      - {name: students.DOB, required: true, pattern: '^\\d{4}-\\d{2}-\\d{2}$'}",
                                       "      - {name: students.DOB, required: true}")
    text = text.replace('students.DOB: {source: Birthdate, transform: [{date: "%Y-%m-%d"}]}',
                        'students.DOB: {source: Birthdate, transform: [{date: "%Y-%m-%d"}, '
                        '{replace: {pattern: "^(201\\\\d)-(\\\\d\\\\d)-(\\\\d\\\\d)$", with: "\\\\2/\\\\3/\\\\1"}}]}')
    mapping.write_text(text)
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")

    dag = enroll_dag(include / "mappings")
    builds = [task.task_id for task in dag.tasks if task.task_id.startswith("build_")]

    with caplog.at_level("INFO"):
        dag_run = run_tasks(dag, imported[0], tasks_from(dag, *builds))

    assert ran_successfully(dag_run, tasks_from(dag, *builds))
    expected = expected_records(stack.data_dir, run_date(dag_run))
    refused = sorted(r["students"]["student_district_id"] for r in expected if r["students"].get("DOB", "").startswith("201"))
    assert refused
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Completed with errors"
    assert sorted(r["id"] for r in report["delivered"][0]["rejected"]) == refused
    assert report["rejected_by_vendor"] == len(refused)
    rejects = run.path("rejects", "delivery_students.csv").read_text()
    assert "is not a YYYY-MM-DD date" in rejects
    # The report groups the refusals by reason, with sample ids in file order, and leaves out the birth dates
    # Enroll quotes in its errors (the staged rejects CSV has them).
    in_file_order = [sid for sid in (r["students"]["student_district_id"] for r in expected) if sid in refused]
    reason = "students.DOB: <value> is not a YYYY-MM-DD date"
    assert report["files"]["students"]["vendor_reject_reasons"] == [
        {"reason": reason, "count": len(refused), "sample_ids": in_file_order[:5]}]
    line = (f"refused by the vendor from students.jsonl: {reason} ({len(refused)} records, "
            f"e.g. {', '.join(in_file_order[:5])})")
    assert line in [record.getMessage() for record in caplog.records if record.funcName == "report"]
    dates = {r["students"]["DOB"] for r in expected if r["students"]["student_district_id"] in refused}
    us_dates = {f"{d[5:7]}/{d[8:10]}/{d[:4]}" for d in dates}
    assert all(d in rejects for d in us_dates)
    assert [d for d in us_dates if d in json.dumps(report)] == []
    assert sorted(receiver.state("sandbox")["records"]) == sorted(
        r["students"]["student_district_id"] for r in expected if r["students"]["student_district_id"] not in refused)


@pytest.mark.e2e
def test_a_scheduled_import_to_sandbox_runs_once_then_scheduled_runs_skip(stack, receiver, monkeypatch):
    from airflow.models import Variable  # the metadata database's, as the UI sees it (tests run outside a task)
    from airflow.models import dagrun as dagrun_module
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    from aeries_hub.delivery.http_import import sandbox_latch

    def scheduled_run(*, dag, run_id, session, start_date, **kwargs):
        """What dag.test() would create, with the run type the scheduler gives a cron run."""
        return dag.create_dagrun(run_id=run_id.replace("manual__", "scheduled__"), run_type=DagRunType.SCHEDULED,
                                 state=DagRunState.RUNNING, start_date=start_date, session=session, **kwargs)

    dag = enroll_dag()
    latch = sandbox_latch(dag_mapping(), "sandbox")
    Variable.delete(latch)
    with monkeypatch.context() as patch:
        patch.setattr(dagrun_module, "get_or_create_dagrun", scheduled_run)
        first = dag.test()
        imported = len(receiver.state("sandbox")["batches"])
        second = dag.test()

    assert (first.state, second.state) == ("success", "success")
    assert imported == 3 and len(receiver.state("sandbox")["batches"]) == 3
    assert first.run_id in Variable.get(latch)
    report = run_folder(second).read_json("report.json")
    assert report["status"] == "Skipped"
    assert report["reason"].startswith("Scheduled imports to the sandbox target run once and already ran (run scheduled__")
    assert report["extracted"] == {} and report["delivered"] == []
    # A person can still run it by hand: it runs (the data is unchanged, so nothing needs posting again).
    by_hand = dag.test()
    assert by_hand.state == "success" and run_folder(by_hand).read_json("report.json")["status"] == "Completed"
    assert run_folder(by_hand).read_json("report.json")["delivered"][0]["already_there"] is True
    Variable.delete(latch)


def dag_mapping():
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR

    return load_mapping(MAPPINGS_DIR / "schoolmint_enroll.yml")
