"""Pages or records: an incremental extraction against the emulator over HTTP fetches a school with many changed
students by its pages and a school with a few by single records, and its extract is the one a full extraction of
the same data gives (a deleted student and a student who moved schools included)."""

from __future__ import annotations

import copy

import pyarrow.parquet as pq
import pytest

from aeries_hub.aeries.arrow import rows_to_arrow
from aeries_hub.aeries.collect import extract_to_parquet
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.paging import RequestStats
from aeries_hub.extract.fetch import fetch_groups, fetch_pages, page_cost_of, page_cost_setting, units_to_page
from aeries_hub.extract.incremental import ExtractSnapshot, extract_table
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer, generate_district
from aeries_sandbox.emulator.index import local_now

CERT = "IncrementalFetchCert000000000000"
CERTS = [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)}]
PAGE_SIZE = 40


def connect(monkeypatch, server, conn_id: str) -> AeriesHook:
    import json

    extra = {"allow_insecure": True, "page_size": PAGE_SIZE, "max_concurrency": 2, "prefetch_pages": 0,
             "backoff_base": 0.01}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                       json.dumps({"conn_type": "aeries", "host": server.url, "password": CERT, "extra": extra}))
    return AeriesHook(aeries_conn_id=conn_id)


def changed(district, student: dict, **fields) -> None:
    """``student`` changed in ``district`` as a school office would, and logged as a student change."""
    record = next(s for s in district.students if (s["SchoolCode"], s["StudentID"]) == (student["SchoolCode"], student["StudentID"]))
    record.update(fields)
    district.data_changes.append({"area": "student", "ChangedAt": local_now().strftime("%Y-%m-%dT%H:%M:%S"),
                                  "StudentID": record["StudentID"], "SchoolCode": record["SchoolCode"],
                                  "StudentNumber": record["StudentNumber"]})


@pytest.fixture(scope="module")
def before():
    district = generate_district(400, seed=5)
    district.data_changes = []
    return district


#: The columns a DAG keeps of students (``extract.incremental.kept_columns``): the snapshot's, and all a merge
#: converts of the pages and records it fetches.
KEPT = {"SchoolCode", "StudentID", "StudentNumber", "LastName", "FirstName", "InactiveStatusCode"}


@pytest.mark.parametrize("columns", [None, KEPT], ids=["every column", "the kept columns"])
def test_many_changes_at_a_school_are_paged_a_few_fetched_one_by_one(before, monkeypatch, tmp_path, columns):
    by_school: dict[int, list[dict]] = {}
    for student in before.students:
        by_school.setdefault(student["SchoolCode"], []).append(student)
    many, few, other = sorted(by_school)[:3]
    snapshot = ExtractSnapshot(tmp_path, "aeries_to_x", "aeries_fetch", 2026)
    with EmulatorServer(before, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, "aeries_fetch")
        first = extract_table(hook, "students", tmp_path / "first.parquet", snapshot=snapshot, school_codes=None,
                              full_every_hours=168, force_full=False, columns=columns)
    assert first["mode"] == "full"

    after = copy.deepcopy(before)
    for student in by_school[many][:20]:  # 20 changes at a school of 188 students (5 pages of 40)
        changed(after, student, LastName=f"Many-{student['StudentID']}")
    changed(after, by_school[few][0], FirstName="Few")
    deleted = by_school[few][1]
    changed(after, deleted)
    after.students.remove(next(s for s in after.students if s["StudentID"] == deleted["StudentID"]))
    mover = by_school[other][0]
    changed(after, mover, SchoolCode=few, StudentNumber=9999)  # enrolled at another school: logged with the new one

    incremental, asked = incremental_and_full(monkeypatch, after, "aeries_fetch", snapshot, tmp_path, columns)

    assert (incremental["mode"], incremental["changed_keys"]) == ("incremental", 24)  # the mover at both schools
    # the many-changes school: its 5 pages; the others: the renamed, the deleted, the mover (old and new school)
    assert asked["students"] == 5 + 4, asked
    extract = pq.read_table(tmp_path / "incremental.parquet")
    assert extract.equals(pq.read_table(tmp_path / "full.parquet"), check_metadata=True)
    assert columns is None or set(extract.column_names) == KEPT
    rows = extract.to_pylist()
    assert deleted["StudentID"] not in {r["StudentID"] for r in rows}
    assert [(r["SchoolCode"], r["StudentNumber"]) for r in rows if r["StudentID"] == mover["StudentID"]] == [(few, 9999)]
    assert sum(r["LastName"].startswith("Many-") for r in rows) == 20

    after.data_changes = []  # nothing changed since
    with EmulatorServer(after, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, "aeries_fetch")
        unchanged = extract_table(hook, "students", tmp_path / "unchanged.parquet", snapshot=snapshot,
                                  school_codes=None, full_every_hours=168, force_full=False, columns=columns)
        asked = server.stats()["by_route"]
    assert (unchanged["mode"], unchanged["changed_keys"], unchanged["rows"]) == ("incremental", 0, 403)
    assert asked == {"StudentDataChanges": 2, "systeminfo": 1}
    assert (tmp_path / "unchanged.parquet").read_bytes() == (tmp_path / "incremental.parquet").read_bytes()


@pytest.mark.parametrize(("keys", "expected"), [(5, set()), (6, set()), (7, {100})])
def test_a_school_is_paged_when_its_changes_cost_more_than_its_pages(keys, expected):
    # school 100: 80 rows in pages of 40 is 3 requests (the third, empty, ends the paging), at 2 each: 6
    snapshot = rows_to_arrow("students", [{"SchoolCode": 100, "StudentID": n} for n in range(80)]
                             + [{"SchoolCode": 200, "StudentID": 1000}])
    groups = {(100, n) for n in range(keys)} | {(200, 1000), (200, 1001)}
    assert units_to_page("students", snapshot, groups, 40, 2.0) == expected


def test_staff_is_one_list():
    snapshot = rows_to_arrow("staff", [{"ID": n} for n in range(10)])
    assert units_to_page("staff", snapshot, {(1,), (2,)}, 40, 1.0) == {None}
    assert units_to_page("staff", snapshot, {(1,)}, 40, 1.0) == set()


def test_the_page_cost_setting(monkeypatch):
    assert page_cost_setting() == 5.0
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__INCREMENTAL_PAGE_COST", "0")
    with pytest.raises(ValueError, match=r"^\[aeries_hub\] incremental_page_cost is '0'; give what one page costs "
                                         r"Aeries in single-record requests, e.g. 5$"):
        page_cost_setting()


def test_the_page_cost_measured_on_the_server_decides_and_the_snapshot_keeps_it(before, monkeypatch, tmp_path):
    by_school: dict[int, list[dict]] = {}
    for student in before.students:
        by_school.setdefault(student["SchoolCode"], []).append(student)
    many = sorted(by_school)[0]
    snapshot = ExtractSnapshot(tmp_path, "aeries_to_x", "aeries_fetch_measured", 2026)
    with EmulatorServer(before, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, "aeries_fetch_measured")
        extract_table(hook, "students", tmp_path / "first.parquet", snapshot=snapshot, school_codes=None,
                      full_every_hours=168, force_full=False)
    state = snapshot.state("students")
    assert "request_seconds" not in state  # fewer requests than MIN_TIMED_REQUESTS: not timed
    # as if this server had answered a page in 10 ms and a single record in 2 ms: a page costs 5 records
    snapshot.save("students", snapshot.read_bytes("students"), {**state, "request_seconds": {"page": 0.01, "record": 0.002}})

    after = copy.deepcopy(before)
    for student in by_school[many][:21]:  # 21 changes at a school of 188 students: 5 pages
        changed(after, student, LastName=f"Many-{student['StudentID']}")
    incremental, asked = incremental_and_full(monkeypatch, after, "aeries_fetch_measured", snapshot, tmp_path)

    # 21 changes cost less than 5 pages at 5 records each (the setting, 2.0, would have paged the school)
    assert (incremental["changed_keys"], asked["students"]) == (21, 21), asked
    assert pq.read_table(tmp_path / "incremental.parquet").equals(pq.read_table(tmp_path / "full.parquet"), check_metadata=True)
    measured = snapshot.state("students")["request_seconds"]
    assert measured["page"] == 0.01 and 0 < measured["record"] < 1  # the single records of this run, timed


@pytest.mark.parametrize(("request_seconds", "expected"), [
    (None, (2.0, "incremental_page_cost")),
    ({"page": 0.054}, (2.0, "incremental_page_cost")),
    ({"page": 0.054, "record": 0.002}, (27.0, "measured: 54.0 ms a page, 2.00 ms a record")),
    ({"page": 0.001, "record": 0.002}, (1.0, "measured: 1.0 ms a page, 2.00 ms a record")),  # a page is a request at least
    ({"page": 1.0, "record": 0.001}, (100.0, "measured: 1000.0 ms a page, 1.00 ms a record")),
])
def test_the_page_cost_is_measured_bounded_or_the_setting(request_seconds, expected):
    cost, source = page_cost_of(request_seconds, 2.0)
    assert (round(cost, 6), source) == expected


def test_students_moved_to_pseudo_schools_are_fetched_by_the_same_rule(before, monkeypatch, tmp_path):
    # The generated district's pseudo-schools (0, the district itself; 99 "Transfer School"; 900-902 "X ...") have no
    # students in the snapshot: one page each. Three transfers to 99 cost more one by one than that page (at 2.0
    # each), one to 900 does not.
    codes = {school["SchoolCode"] for school in before.schools}
    assert {0, 99, 900} <= codes and not {s["SchoolCode"] for s in before.students} & {0, 99, 900}
    snapshot = ExtractSnapshot(tmp_path, "aeries_to_x", "aeries_fetch_pseudo", 2026)
    with EmulatorServer(before, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, "aeries_fetch_pseudo")
        assert extract_table(hook, "students", tmp_path / "first.parquet", snapshot=snapshot, school_codes=None,
                             full_every_hours=168, force_full=False)["mode"] == "full"

    after = copy.deepcopy(before)
    movers = before.students[:4]
    for n, student in enumerate(movers):
        changed(after, student, SchoolCode=99 if n < 3 else 900, StudentNumber=9000 + n)
    incremental, asked = incremental_and_full(monkeypatch, after, "aeries_fetch_pseudo", snapshot, tmp_path)

    assert (incremental["mode"], incremental["changed_keys"]) == ("incremental", 8)  # each mover at both schools
    # school 99 paged as a full extraction pages it: the schools list, its page of 3 and the check that follows a
    # short page (the hook's); school 900: the one mover; the movers' old schools: one request each
    assert (asked["schools"], asked["students"]) == (1, 2 + 1 + 4), asked
    extract, full = pq.read_table(tmp_path / "incremental.parquet"), pq.read_table(tmp_path / "full.parquet")
    # The same rows and columns as a full extraction, but not yet in its order: the full one puts school 99 (sorted
    # before 100) first and takes its column order from 99's page; the incremental one appends 99's rows at the end.
    key = [("SchoolCode", "ascending"), ("StudentID", "ascending")]
    assert extract.sort_by(key).equals(full.select(extract.column_names).sort_by(key))
    moved = {r["StudentID"]: r["SchoolCode"] for r in extract.to_pylist() if r["StudentID"] in {s["StudentID"] for s in movers}}
    assert moved == {s["StudentID"]: 99 if n < 3 else 900 for n, s in enumerate(movers)}


def incremental_and_full(monkeypatch, district, conn_id: str, snapshot, tmp_path, columns=None):
    """The students of ``district`` extracted incrementally since ``snapshot`` (pages for a school of more than
    twice its pages' changes) into incremental.parquet, the requests that made by route, and a full extraction
    into full.parquet (both with only ``columns`` when given)."""
    with EmulatorServer(district, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, conn_id)
        incremental = extract_table(hook, "students", tmp_path / "incremental.parquet", snapshot=snapshot,
                                    school_codes=None, full_every_hours=168, force_full=False, max_changed_percent=50,
                                    page_cost=2.0, columns=columns)
        asked = server.stats()["by_route"]
        extract_to_parquet(hook, "students", tmp_path / "full.parquet", columns=columns)
    return incremental, asked


def test_what_an_incremental_extraction_fetches_holds_the_kept_columns_only(before, monkeypatch):
    """A district's student record has some hundred fields; a merge of the 88,000 rows of the schools it pages whole
    at 500,000 students held 1.1 GB when they were converted with every field."""
    student = before.students[0]
    with EmulatorServer(before, CERTS, access_log=False) as server:
        hook = connect(monkeypatch, server, "aeries_fetch")
        paged = fetch_pages(hook, "students", {student["SchoolCode"]}, RequestStats(), {}, columns=KEPT)
        records = fetch_groups(hook, "students", {(student["SchoolCode"], student["StudentID"])}, RequestStats(), {},
                               columns=KEPT)
    assert set(paged.column_names) == KEPT and paged.num_rows > 1
    assert [set(record) for record in records] == [KEPT]
