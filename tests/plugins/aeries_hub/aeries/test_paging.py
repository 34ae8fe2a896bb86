"""The hook against servers that page, ignore paging or cap the rows per request: the emulator over HTTP in each
mode (``aeries_sandbox/emulator/README.md``, "Paging"), and scripted answers (see conftest.py) for exact page
requests, prefetch and the error paths."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import time

import pyarrow.parquet as pq
import pytest
import requests

from aeries_hub.aeries.collect import extract_to_parquet, read_table
from aeries_hub.aeries.errors import AeriesConfigError, AeriesError
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.aeries.logs import LOGGER_NAME
from aeries_hub.aeries.parquet import ExtractResult
from aeries_hub.writeback.kinds.course_requests import read_course_requests
from aeries_sandbox.emulator import READ_AREAS, generate_district
from tests.plugins.aeries_hub.aeries import scripted
from tests.plugins.aeries_hub.aeries.scripted import hook_for, serve_pages, students

CERT = "Pag1ngTestCert000000000000000000"
CONN_ID = "aeries_paging"
COURSE_REQUESTS = 12  # at school 100, for the write-back's reader


@pytest.fixture(scope="module")
def district():
    district = generate_district(120, 5)  # contacts per school: 100: 87, 200: 58, 300: 78, 400: 10
    students = [s for s in district.students if s["SchoolCode"] == 100][:COURSE_REQUESTS]
    requests_ = [{"StudentID": s["StudentID"], "SchoolCode": 100, "SequenceNumber": 1, "CourseID": f"C{n:03d}",
                  "SectionNumber": 0, "AlternateTag": ""} for n, s in enumerate(students)]
    return dataclasses.replace(district, course_requests=requests_)


@pytest.fixture(scope="module")
def certificates():
    return [{"name": "paging", "certificate": CERT, "areas": list(READ_AREAS)}]


@pytest.fixture()
def connect(emu, monkeypatch):
    def make(**extra) -> AeriesHook:
        document = {"conn_type": "aeries", "host": emu.url, "password": CERT,
                    "extra": {"allow_insecure": True, "backoff_base": 0.01, "backoff_max": 0.05, **extra}}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(document))
        return AeriesHook(aeries_conn_id=CONN_ID)

    return make


def whole(emu, path: str) -> list[dict]:
    """What the emulator holds at ``path``: one request, all routes paging, no cap."""
    saved = emu.app.paging
    emu.set_paging([])
    try:
        return requests.get(f"{emu.url}/api/v5/{path}", headers={"AERIES-CERT": CERT}, timeout=10,
                            proxies={"http": "", "https": ""}).json()
    finally:
        emu.app.paging = saved


def expected_contacts(emu, schools=(100, 200, 300, 400)) -> list[dict]:
    return [row for school in schools for row in whole(emu, f"schools/{school}/contacts")]


def keys(rows: list[dict]) -> list[tuple]:
    return [(r["SchoolCode"], r["StudentID"], r["SequenceNumber"]) for r in rows]


def test_a_server_that_pages_every_route(emu, connect, tmp_path, caplog):
    emu.set_paging([])
    expected = expected_contacts(emu)
    hook = connect(page_size=20, max_concurrency=1)

    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        result = extract_to_parquet(hook, "contacts", tmp_path / "contacts.parquet")

    assert keys(pq.read_table(tmp_path / "contacts.parquet").to_pylist()) == keys(expected)
    # school 400's short first page (10 of 20) is probed once: empty, so it was the end; the pseudo-schools 99 and
    # 900-902 answer one empty page each
    assert (result.rows, result.pages, result.paging) == (233, 5 + 3 + 4 + 1 + 4, {"probes": 1})
    assert result.requests == 1 + 5 + 3 + 4 + 2 + 4
    assert "StartingRecord" not in caplog.text


def test_a_short_page_below_a_known_end_is_not_probed(emu, connect, tmp_path):
    emu.set_paging([])
    hook = connect(page_size=100, max_concurrency=1)

    result = extract_to_parquet(hook, "contacts", tmp_path / "contacts.parquet")

    assert keys(pq.read_table(tmp_path / "contacts.parquet").to_pylist()) == keys(expected_contacts(emu))
    # school 100's 87 rows are probed and found to be its end; 58, 78 and 10 rows are below it: never capped
    # (and the pseudo-schools 99 and 900-902 answer one empty page each)
    assert (result.requests, result.paging) == (1 + 2 + 1 + 1 + 1 + 4, {"probes": 1})


def test_a_server_that_ignores_paging_is_read_once_per_school(emu, connect, caplog):
    expected = expected_contacts(emu)  # the emulator's default: contacts ignore StartingRecord/EndingRecord
    hook = connect(page_size=20, max_concurrency=1)

    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        rows = read_table(hook, "contacts")

    assert rows == expected and len(set(keys(rows))) == len(rows) == 233
    assert [m for m in caplog.messages if not m.startswith("INSECURE")] == [
        f"Aeries connection {CONN_ID!r}: schools/{{sc}}/contacts at school(s) 100, 200, 300 ignores "
        "StartingRecord/EndingRecord (an answer longer than asked, or the same records again for the next range): "
        "each was read whole from one answer, kept once"]


def cut_message(school: int, count: int, route: str = "contacts") -> str:
    return (f"Aeries connection {CONN_ID!r}: schools/{school}/{route} (school {school}) ignores StartingRecord/"
            f"EndingRecord and answered exactly {count} records, as many as asked for: if it also returns at most "
            f"{count} rows per request, the records after them are missing, so none was kept. If the list holds "
            f"exactly {count} records, set the connection extra page_size above the largest list; else ask Aeries "
            "support how to read the whole list")


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_school_of_exactly_page_size_rows_is_an_error_when_paging_is_ignored(emu, connect, tmp_path, concurrency):
    # The same records again for the next range: the server ignores the range. Ten records for ten asked may be the
    # whole list, or the first ten of a longer one that a cap cut: the hook does not guess.
    expected = whole(emu, "schools/400/contacts")
    hook = connect(page_size=len(expected), max_concurrency=concurrency)  # 10: every page comes back full

    with pytest.raises(AeriesError) as failure:
        extract_to_parquet(hook, "contacts", tmp_path / "contacts.parquet", school_codes=[400])

    assert str(failure.value) == cut_message(400, 10)
    assert not (tmp_path / "contacts.parquet").exists()
    # what the message says to do: a page_size above the largest list reads it whole
    result = extract_to_parquet(connect(page_size=11, max_concurrency=concurrency),
        "contacts", tmp_path / "contacts.parquet", school_codes=[400])
    assert (result.rows, result.pages, result.paging) == (10, 1, {"ignored_by_server": [400], "probes": 1})


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_server_that_ignores_the_range_and_caps_at_the_page_size_is_an_error_not_a_silent_cut(emu, connect,
                                                                                               concurrency):
    emu.set_paging(max_rows_per_request=20)  # the default routes: contacts ignore the range; and a cap of 20
    hook = connect(page_size=20, max_concurrency=concurrency)

    with pytest.raises(AeriesError) as failure:
        read_table(hook, "contacts", school_codes=[200])  # 58 contacts: every answer is its first 20

    assert str(failure.value) == cut_message(200, 20)


def test_a_server_that_ignores_the_range_under_a_cap_no_list_reaches_is_read_whole(emu, connect):
    emu.set_paging(max_rows_per_request=100)  # contacts ignore the range; the largest school has 87
    hook = connect(page_size=20, max_concurrency=2)

    rows = read_table(hook, "contacts")

    assert rows == expected_contacts(emu) and len(rows) == 233


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_server_that_caps_rows_per_request_is_paged_by_its_cap(emu, connect, concurrency, caplog):
    emu.set_paging([], max_rows_per_request=6)
    expected = expected_contacts(emu)
    hook = connect(page_size=20, max_concurrency=concurrency)

    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        stats_before = emu.stats()["by_route"].get("contacts", 0)
        rows = read_table(hook, "contacts")

    assert rows == expected and len(rows) == 233
    assert f"Aeries connection {CONN_ID!r}: schools/{{sc}}/contacts returns at most 6 rows per request " \
           "(asked for 20): read in pages of 6 instead. Set the connection extra page_size to 6 to save the probe " \
           "requests" in caplog.messages
    if concurrency == 1:
        # school 100: 87 rows = 14 pages of 6 + 3, the first page asked as 20; the probe is its page 2 (and the
        # pseudo-schools 99 and 900-902 answer one empty page each)
        assert emu.stats()["by_route"]["contacts"] - stats_before == 15 + 10 + 14 + 2 + 4


def test_students_under_a_cap_with_paging_only_where_documented(emu, connect, tmp_path):
    emu.set_paging(max_rows_per_request=4)  # the default routes: students page, contacts do not
    expected = [row for school in (100, 200, 300, 400) for row in whole(emu, f"schools/{school}/students")]
    hook = connect(page_size=10, max_concurrency=4)

    result = extract_to_parquet(hook, "students", tmp_path / "students.parquet")

    ids = pq.read_table(tmp_path / "students.parquet").column("StudentID").to_pylist()
    assert ids == [row["StudentID"] for row in expected] and result.rows == 122
    assert result.paging["row_cap"] == 4


def test_probe_short_pages_false_trusts_a_short_page(emu, connect):
    emu.set_paging([], max_rows_per_request=6)
    hook = connect(page_size=20, max_concurrency=1, probe_short_pages=False)

    rows = read_table(hook, "contacts", school_codes=[400])

    assert keys(rows) == keys(whole(emu, "schools/400/contacts"))[:6]  # documented: the cap goes unnoticed


def test_probe_short_pages_must_be_true_or_false(connect):
    hook = connect(probe_short_pages="sometimes")
    with pytest.raises(AeriesConfigError,
                       match="connection 'aeries_paging': extra probe_short_pages must be true or false"):
        hook.settings  # noqa: B018


# -- the write-back's course requests ---------------------------------------------------------------------
@pytest.mark.parametrize(("page_size", "paging", "cap"), [
    (5, None, None),  # ignores paging: 12 rows for a page of 5
    (5, [], 4),  # pages, at most 4 rows per request
    (5, [], None),  # pages as asked
])
def test_course_requests_are_read_whole_from_any_server(emu, connect, page_size, paging, cap):
    emu.set_paging(paging, max_rows_per_request=cap)
    hook = connect(page_size=page_size, max_concurrency=2)

    rows = read_course_requests(hook, 100)

    assert [(r["StudentID"], r["CourseID"]) for r in rows] == [
        (r["StudentID"], r["CourseID"]) for r in whole(emu, "schools/100/scheduling/courserequests")]
    assert len(rows) == COURSE_REQUESTS


def test_course_requests_of_exactly_one_page_from_a_server_that_ignores_paging_are_an_error(emu, connect):
    emu.set_paging(None, max_rows_per_request=None)
    hook = connect(page_size=COURSE_REQUESTS, max_concurrency=2)

    with pytest.raises(AeriesError) as failure:
        read_course_requests(hook, 100)

    assert str(failure.value) == (
        f"Aeries connection {CONN_ID!r}: schools/100/scheduling/courserequests ignores StartingRecord/EndingRecord "
        f"and answered exactly {COURSE_REQUESTS} records, as many as asked for: if it also returns at most "
        f"{COURSE_REQUESTS} rows per request, the records after them are missing, so none was kept. If the list "
        f"holds exactly {COURSE_REQUESTS} records, set the connection extra page_size above the largest list; else "
        "ask Aeries support how to read the whole list")


# -- error paths (scripted answers) -----------------------------------------------------------------------
SCHOOLS = [{"SchoolCode": 994, "Name": "Demo High"}]


def test_a_later_page_longer_than_asked_is_an_error(server, make_conn):
    conn_id = make_conn(page_size=2, max_concurrency=1)
    server.json(server.api("schools"), SCHOOLS)
    rows = [{"SchoolCode": 994, "StudentID": n} for n in range(1, 6)]

    def handle(seen):
        start = int(seen.query["StartingRecord"])
        return server.reply(200, rows[start - 1:start + 1] if start == 1 else rows[1:])

    server.route(server.api("schools/994/students"), handle)
    with pytest.raises(AeriesError) as failure:
        read_table(AeriesHook(aeries_conn_id=conn_id), "students")
    assert str(failure.value) == (
        "Aeries connection 'aeries_test': schools/994/students (school 994) returned 4 records for records 3-4 (more "
        "than asked, and not the first page again): its paging is inconsistent. Set the connection extra page_size "
        "above the largest list, or ask Aeries support")


def test_endless_full_pages_stop_with_an_error(server, make_conn, monkeypatch):
    monkeypatch.setattr("aeries_hub.aeries.paging.MAX_PAGES_PER_UNIT", 4)
    conn_id = make_conn(page_size=2, max_concurrency=1)
    server.json(server.api("schools"), SCHOOLS)

    def handle(seen):  # a new pair of records for every range, forever
        start = int(seen.query["StartingRecord"])
        return server.reply(200, [{"SchoolCode": 994, "StudentID": start}, {"SchoolCode": 994, "StudentID": start + 1}])

    server.route(server.api("schools/994/students"), handle)
    with pytest.raises(AeriesError) as failure:
        read_table(AeriesHook(aeries_conn_id=conn_id), "students")
    assert str(failure.value) == (
        "Aeries connection 'aeries_test': schools/994/students (school 994) still returned full pages of 2 after 4 "
        "pages (8 records): stopped instead of paging on. Check that the server honours StartingRecord/EndingRecord")
    assert len(server.seen(server.api("schools/994/students"))) == 4


# ------------------------------------------------------------------------------------------------
# Paging and per-school iteration against scripted answers
# ------------------------------------------------------------------------------------------------
def test_paging_three_pages_exact_records(server, make_conn, tmp_path):
    conn_id = make_conn(page_size=3, max_concurrency=1)
    server.json(server.api("schools"), scripted.SCHOOLS)
    data = students(994, 7)
    serve_pages(server, server.api("schools/994/students"), data)
    hook, _ = hook_for(conn_id)

    result = extract_to_parquet(hook, "students", tmp_path / "students.parquet", school_codes=[994])

    pages = [(r.query["StartingRecord"], r.query["EndingRecord"]) for r in server.seen(server.api("schools/994/students"))]
    assert pages == [("1", "3"), ("4", "6"), ("7", "9")]
    assert isinstance(result, ExtractResult)
    assert (result.table, result.rows, result.pages, result.requests, result.retries) == ("students", 7, 3, 4, 0)
    assert result.path == str(tmp_path / "students.parquet")
    assert pq.read_table(tmp_path / "students.parquet").column("StudentID").to_pylist() == [r["StudentID"] for r in data]


def test_paging_with_prefetch_keeps_order_and_discards_pages_past_the_end(server, make_conn):
    conn_id = make_conn(page_size=4, max_concurrency=4)
    server.json(server.api("schools"), scripted.SCHOOLS)
    data = students(994, 10)  # pages of 4, 4, 2
    serve_pages(server, server.api("schools/994/students"), data)
    hook, _ = hook_for(conn_id)

    rows = read_table(hook, "students", school_codes=[994])

    assert rows == data
    starts = sorted(int(r.query["StartingRecord"]) for r in server.seen(server.api("schools/994/students")))
    assert starts[:3] == [1, 5, 9]
    # no page twice; speculation reaches at most prefetch_pages (3) past the first unconfirmed page (page 3)
    assert len(starts) == len(set(starts)) and max(starts) <= 1 + 4 * (3 + 3 - 1)
    assert server.max_in_flight <= 4


def test_many_schools_of_zero_to_three_pages_each_come_back_whole_in_school_order(server, make_conn):
    conn_id = make_conn(page_size=4, max_concurrency=4, probe_short_pages=False)
    codes = list(range(100, 130))
    server.json(server.api("schools"), [{"SchoolCode": 0, "Name": "District"}]
                + [{"SchoolCode": code, "Name": f"School {code}"} for code in codes])
    data = {code: students(code, code % 11) for code in codes}  # 0 to 10 records: 0 to 3 pages of 4
    for code in codes:
        serve_pages(server, server.api(f"schools/{code}/students"), data[code])
    hook, _ = hook_for(conn_id)

    rows = read_table(hook, "students")

    assert rows == [row for code in codes for row in data[code]]
    for code in codes:
        starts = [int(r.query["StartingRecord"]) for r in server.seen(server.api(f"schools/{code}/students"))]
        assert len(starts) == len(set(starts)) and set(range(1, len(data[code]) + 1, 4)) <= set(starts)
    assert server.max_in_flight <= 4


def test_failed_speculative_page_past_the_end_is_ignored(server, make_conn):
    conn_id = make_conn(page_size=2, max_concurrency=3, max_retries=3, backoff_base=5, backoff_max=5)
    server.json(server.api("schools"), scripted.SCHOOLS)
    data = students(994, 3)

    def handle(seen):
        start = int(seen.query["StartingRecord"])
        if start > len(data):
            return server.reply(500, {"Message": "beyond the end"}, delay=0.05)
        # the last page (2) comes late, so the speculative page 3 has failed and is backing off by then
        return server.reply(200, data[start - 1 : int(seen.query["EndingRecord"])], delay=0.15 if start == 3 else 0)

    server.route(server.api("schools/994/students"), handle)
    hook = AeriesHook(aeries_conn_id=conn_id)  # the real, interruptible sleep
    hook.get_conn()  # the connection lookup took a second once on a busy CI machine; it is not what is measured
    started = time.monotonic()
    assert read_table(hook, "students", school_codes=[994]) == data
    assert time.monotonic() - started < 0.5  # nobody waited for the failing speculative page
    assert "5" in {r.query["StartingRecord"] for r in server.seen(server.api("schools/994/students"))}


def test_per_school_tables_skip_the_district_office(server, make_conn):
    conn_id = make_conn(terms_from_schools=False)
    server.json(server.api("schools"), scripted.SCHOOLS)
    server.json(server.api("schools/990/teachers"), [{"SchoolCode": 990, "TeacherNumber": 1, "LastName": "Ames"}])
    server.json(server.api("schools/994/teachers"), [{"SchoolCode": 994, "TeacherNumber": 7, "LastName": "Boyd"}])
    server.json(server.api("schools/990/terms"), [{"TermCode": "1"}, {"TermCode": "Y"}])
    server.json(server.api("schools/994/terms"), [{"TermCode": "F"}])
    hook, _ = hook_for(conn_id)

    teachers = read_table(hook, "teachers")
    terms = read_table(hook, "terms")

    assert [(t["SchoolCode"], t["TeacherNumber"]) for t in teachers] == [(990, 1), (994, 7)]
    assert terms == [
        {"SchoolCode": 990, "TermCode": "1"},
        {"SchoolCode": 990, "TermCode": "Y"},
        {"SchoolCode": 994, "TermCode": "F"},
    ]
    assert not [r for r in server.seen() if r.path.startswith(server.api("schools/0/"))]


def test_terms_from_the_schools_list(server, make_conn):
    conn_id = make_conn()
    server.json(server.api("schools"), scripted.SCHOOLS)
    hook, _ = hook_for(conn_id)

    terms = read_table(hook, "terms", school_codes=[994])

    assert terms == [{"SchoolCode": 994, "TermCode": "F", "TermDescription": "Fall", "StartDate": "2025-07-06T00:00:00", "EndDate": "2025-12-23T00:00:00"}]
    assert [r.path for r in server.seen()] == [server.api("schools")]


def test_school_codes_filter(server, make_conn, caplog):
    conn_id = make_conn()
    server.json(server.api("schools"), scripted.SCHOOLS)
    server.json(server.api("schools/994/sections"), [{"SchoolCode": 994, "SectionNumber": 1}])
    hook, _ = hook_for(conn_id)

    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        rows = read_table(hook, "sections", school_codes=[994, 123])

    assert rows == [{"SchoolCode": 994, "SectionNumber": 1}]
    assert [r.path for r in server.seen()] == [server.api("schools"), server.api("schools/994/sections")]
    assert "school codes 123 are not in the schools list" in caplog.text
    assert [s["SchoolCode"] for s in read_table(hook, "schools", school_codes=[994])] == [994]
    assert [s["SchoolCode"] for s in read_table(hook, "schools")] == [0, 990, 994]


def test_district_wide_tables_and_database_year(server, make_conn):
    conn_id = make_conn(database_year=2024)
    server.json(server.api("staff"), [{"ID": 884616, "LastName": "Abbott"}])
    server.json(server.api("courses"), [{"ID": "0001", "Title": "English 9"}])
    server.json(server.api("systeminfo"), {"AeriesVersion": "10.1", "LocalTimeZoneName": "Pacific Standard Time"})

    assert read_table(AeriesHook(aeries_conn_id=conn_id), "staff") == [{"ID": 884616, "LastName": "Abbott"}]
    assert read_table(AeriesHook(aeries_conn_id=conn_id, database_year=2023), "courses") == [{"ID": "0001", "Title": "English 9"}]
    assert AeriesHook(aeries_conn_id=conn_id).get_system_info()["AeriesVersion"] == "10.1"

    assert server.seen(server.api("staff"))[0].query == {"DatabaseYear": "2024"}
    assert server.seen(server.api("courses"))[0].query == {"DatabaseYear": "2023"}  # the run's year wins
    info = server.seen(server.api("systeminfo"))[0]
    assert info.query == {} and info.cert is None  # systeminfo needs no certificate


def test_pre_v5_fields_are_renamed(server, make_conn):
    conn_id = make_conn(api_version=4)
    server.json(server.api("schools", version=4), scripted.SCHOOLS)
    server.json(
        server.api("schools/994/students", version=4),
        [{"PermanentID": 99400001, "SchoolCode": 994, "Sex": "F", "LastName": "Abbott"}],
    )
    hook, _ = hook_for(conn_id)

    rows = read_table(hook, "students", school_codes=[994])

    assert rows == [{"StudentID": 99400001, "SchoolCode": 994, "Gender": "F", "LastName": "Abbott"}]
    assert server.seen(server.api("schools/994/students", version=4))


def progress_lines(caplog) -> list[str]:
    return [re.sub(r"\d+\.\d s", "T s", m) for m in caplog.messages if " progress: " in m]


def test_a_long_extract_logs_its_progress_once_per_tenth_of_the_schools_done(emu, connect, tmp_path, caplog):
    emu.set_paging([])
    hook = connect(page_size=20, max_concurrency=1)

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        extract_to_parquet(hook, "contacts", tmp_path / "contacts.parquet")

    # Eight schools: each one done is another tenth. Counts only, never a record's values. In the schools list's
    # order: pseudo-school 99 (one empty page), 100 (87 rows in 5 pages), 200 (58 in 3), 300 (78 in 4), 400 (10, and
    # the probe of its short page), then pseudo-schools 900-902.
    done = [(1, 1, 0), (2, 6, 87), (3, 9, 145), (4, 13, 223), (5, 15, 233), (6, 16, 233), (7, 17, 233), (8, 18, 233)]
    assert progress_lines(caplog) == [
        f"Aeries contacts progress: {n} of 8 schools done ({n * 100 // 8}%), {pages} pages, {rows} rows so far, T s "
        f"(connection {CONN_ID!r})" for n, pages, rows in done
    ]


def test_one_school_of_many_pages_logs_its_progress_every_n_pages(emu, connect, tmp_path, caplog, monkeypatch):
    from aeries_hub.aeries import paging

    emu.set_paging([])
    monkeypatch.setattr(paging, "PROGRESS_EVERY_PAGES", 2)  # the default, 200, would take a district of 50,000 rows
    hook = connect(page_size=20, max_concurrency=1)

    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        extract_to_parquet(hook, "contacts", tmp_path / "contacts.parquet", school_codes=[100])

    assert progress_lines(caplog) == [
        f"Aeries contacts progress: 0 of 1 schools done (0%), 2 pages, 40 rows so far, T s (connection {CONN_ID!r})",
        f"Aeries contacts progress: 0 of 1 schools done (0%), 4 pages, 80 rows so far, T s (connection {CONN_ID!r})",
    ]


def test_small_unpaged_answers_take_a_thread_per_slot_and_pages_twice_as_many(emu, connect):
    # a page is parsed while the next is fetched; a school's one small answer gains nothing from more threads than
    # slots, which only take turns at the GIL (docs/benchmarks.md: teachers and sections at 500,000 students)
    import threading

    from aeries_hub.aeries.paging import RequestStats, fetch_units
    from aeries_hub.aeries.tables import TABLES

    emu.set_paging([])
    hook = connect(max_concurrency=4, page_size=5)

    def threads_of(spec, units) -> int:
        names = set()

        def prepare(unit, rows):
            names.add(threading.current_thread().name)
            time.sleep(0.05)  # busy: the pool starts another thread for the next request
            return rows

        fetch_units(hook, spec, units, RequestStats(), prepare, raw=True)
        return len(names)

    assert threads_of(TABLES["courses"], [None] * 16) == 4
    assert threads_of(TABLES["students"], [100, 200, 300, 400] * 2) == 8


@pytest.mark.parametrize("table", ["teachers", "terms"])
def test_small_answers_converted_together_make_the_table_each_answer_converted_alone_makes(emu, connect, tmp_path,
                                                                                            monkeypatch, table):
    from aeries_hub.aeries import collect

    emu.set_paging([])
    hook = connect(max_concurrency=2)

    def extracted(name: str, **options) -> pq.Table:
        extract_to_parquet(hook, table, tmp_path / f"{name}.parquet", **options)
        return pq.read_table(tmp_path / f"{name}.parquet").replace_schema_metadata(None)

    together = extracted("together")
    monkeypatch.setattr(collect, "SMALL_ANSWERS_BATCH_ROWS", 3)  # batches cut inside and between schools
    batched = extracted("batched")
    monkeypatch.setattr(collect, "SMALL_ANSWER_ROWS", 0)  # each school's answer converted as it comes
    alone = extracted("alone")
    records = extracted("records", via_records=True)  # json.loads and one conversion of every record
    assert alone.num_rows > 3 and len(set(alone.column("SchoolCode").to_pylist())) > 1
    assert together.equals(alone) and batched.equals(alone) and records.equals(alone)
