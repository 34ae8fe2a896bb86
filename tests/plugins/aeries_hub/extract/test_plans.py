"""The incremental plan of student programs, against the emulator over HTTP: a full extraction, then a change of two
students' programs that Aeries lists under ``StudentDataChanges/program``; the incremental extraction fetches
those two students' programs only and gives the rows a full extraction gives, in Aeries' order."""

from __future__ import annotations

import json
from dataclasses import replace

import pyarrow.parquet as pq

from aeries_hub.aeries.collect import read_table
from aeries_hub.aeries.hook import AeriesHook
from aeries_hub.extract.incremental import ExtractSnapshot, extract_table
from aeries_sandbox.emulator import READ_AREAS, EmulatorServer
from aeries_sandbox.emulator.district import District

CERT = "Pr0gramPlanCert00000000000000000"
CONN_ID = "aeries_programs_plan"


def program(student: int, code: str, start: str, end: str | None = None) -> dict:
    return {"ExtendedProperties": [], "StudentID": student, "ProgramCode": code, "ProgramDescription": f"Program {code}",
            "EligibilityStartDate": start, "EligibilityEndDate": end, "ParticipationStartDate": None,
            "ParticipationEndDate": None}


STUDENTS = [{"StudentID": 99400000 + n, "SchoolCode": 994, "StudentNumber": n, "InactiveStatusCode": ""}
            for n in range(1, 21)]
BEFORE = District(
    info={"DatabaseYear": 2026},
    schools=[{"SchoolCode": code, "Name": f"School {code}", "Terms": []} for code in (0, 994)],
    students=STUDENTS,
    # in Aeries' order, which no column gives: GATE (127) before 504 (101) before special education (144)
    programs=[program(99400001, "127", "2017-01-11T00:00:00"), program(99400001, "101", "2020-07-15T00:00:00"),
              program(99400001, "144", "2013-11-22T00:00:00"), program(99400003, "181", "2026-07-01T00:00:00"),
              program(99400009, "182", "2026-07-01T00:00:00")],
)
#: 99400001's 504 plan ends; 99400005 gets free meals
AFTER = replace(BEFORE, programs=[
    program(99400001, "127", "2017-01-11T00:00:00"), program(99400001, "101", "2020-07-15T00:00:00", "2026-12-01T00:00:00"),
    program(99400001, "144", "2013-11-22T00:00:00"), program(99400003, "181", "2026-07-01T00:00:00"),
    program(99400005, "181", "2026-09-14T00:00:00"), program(99400009, "182", "2026-07-01T00:00:00")],
    data_changes=[{"area": "program", "ChangedAt": "2099-01-04T08:00:00", "StudentID": sid, "SchoolCode": 994,
                   "StudentNumber": sid - 99400000} for sid in (99400001, 99400005)])


def extract(district: District, tmp_path, monkeypatch) -> tuple[dict, list[dict], list[dict]]:
    """``extract_table`` of programs with the DAG's snapshot in ``tmp_path``; the summary, the rows it wrote and
    the rows a full extraction reads from the same server."""
    with EmulatorServer(district, [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)}],
                        access_log=False) as server:
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(
            {"conn_type": "aeries", "host": server.url, "password": CERT, "extra": {"allow_insecure": True}}))
        with AeriesHook(aeries_conn_id=CONN_ID) as hook:
            summary = extract_table(hook, "programs", tmp_path / "programs.parquet",
                                    snapshot=ExtractSnapshot(tmp_path, "dag", CONN_ID, None), school_codes=None,
                                    full_every_hours=168, force_full=False, max_changed_percent=80)
            full = read_table(hook, "programs")
    return summary, pq.read_table(tmp_path / "programs.parquet").to_pylist(), full


def test_changed_students_programs_are_fetched_and_merged_in_aeries_order(tmp_path, monkeypatch):
    first, rows, full = extract(BEFORE, tmp_path, monkeypatch)
    assert (first["mode"], first["reason"]) == ("full", "no extract snapshot yet")
    assert rows == full and len(rows) == 5

    second, rows, full = extract(AFTER, tmp_path, monkeypatch)

    assert (second["mode"], second["changed_keys"]) == ("incremental", 2)
    # systeminfo, the two DataChanges routes, then the two students' programs
    assert second["requests"] == 5
    assert rows == full
    assert [(r["StudentID"], r["ProgramCode"], r["EligibilityEndDate"]) for r in rows] == [
        (99400001, "127", None), (99400001, "101", "2026-12-01T00:00:00"), (99400001, "144", None),
        (99400003, "181", None), (99400005, "181", None), (99400009, "182", None)]
