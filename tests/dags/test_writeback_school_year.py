"""End to end: a write-back writes into the school year Aeries serves, checked as an extraction checks it.

Aeries answers a request for a school year it does not offer with its default year, silently (emulator README,
"School years"): a write-back that asked for a year without checking would write into another one. Here the
SchoolMint Enroll write-back runs on 2027-08-02, whose school year 2027-2028 the district has not rolled Aeries
over to (the generated district offers 2026-2027 back to 2023-2024). With the connection extra
``unavailable_year: "fail"`` the run fails naming the years and writes nothing; with the default
(``newest_started``) it writes into 2026-2027, every request says so, and the report names the year and why.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from tests.dags.writebacks import enabled_include, report_of, successful_writes, writeback_dag

pytestmark = pytest.mark.e2e

DAG_ID = "schoolmint_enroll_to_aeries"
STACK = {"students": 120, "seed": 5}
ROLLOVER_DAY = datetime(2027, 8, 2, 15, 0, tzinfo=timezone.utc)  # 08:00 in Los Angeles, the schedule's zone
NEW = {
    "students": {"enroll_id": "E-3001", "state_id": "9900000031", "fname": "Mai", "lname": "Nguyen",
                 "DOB": "2019-04-02", "gender": "female"},
    "students_annual": {"grade": "1", "sis_entrydate": "2027-08-16"},
    "guardians": [{"fname": "Lan", "lname": "Nguyen", "relationship": "20", "mobile_phone": "8315550143"}],
}
OFFERED = "2026-2027, 2025-2026, 2024-2025, 2023-2024"


@pytest.fixture(scope="module")
def runs(stack, tmp_path_factory):
    """The same export, first with unavailable_year "fail", then with the default rule."""
    import os

    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    school = next(r["SchoolCode"] for r in students if r["SchoolCode"] and int(r["Grade"]) == 1)
    record = {**NEW, "students_annual": {**NEW["students_annual"], "sis_school_code": school}}
    (stack.sftp.root / "enroll_export" / "enroll_2027-08-02.jsonl").write_text(json.dumps(record) + "\n")
    include = enabled_include(tmp_path_factory, "schoolmint_enroll.yml")
    connection = os.environ["AIRFLOW_CONN_AERIES_WRITEBACK"]
    failing = json.loads(connection)
    failing["extra"]["unavailable_year"] = "fail"
    with writeback_dag(include, "schoolmint_enroll.yml") as dag:
        stack.emulator.clear_writes()
        os.environ["AIRFLOW_CONN_AERIES_WRITEBACK"] = json.dumps(failing)
        try:
            failed = dag.test(logical_date=ROLLOVER_DAY, run_conf={"dry_run": False})
        finally:
            os.environ["AIRFLOW_CONN_AERIES_WRITEBACK"] = connection
        after_failed = successful_writes(stack, bodies=False)
        log_start = len(stack.emulator.read_log().splitlines())
        written = dag.test(logical_date=ROLLOVER_DAY, run_conf={"dry_run": False})
        requests = stack.emulator.read_log().splitlines()[log_start:]
        after_written = successful_writes(stack, bodies=False)
    return {"failed": (failed, after_failed), "written": (written, after_written, requests), "school": school}


def test_with_unavailable_year_fail_the_run_fails_naming_the_years_and_writes_nothing(runs):
    dag_run, writes = runs["failed"]
    report = report_of(dag_run)
    assert dag_run.state == "failed" and writes == []
    assert (report["status"], report["planned"], report["written"]) == ("Error", {}, [])
    assert report["errors"] == [
        "Aeries connection 'aeries_writeback' does not offer the school year 2027-2028 (DatabaseYear 2027); it "
        f"offers {OFFERED}. The connection's extra unavailable_year is \"fail\": pin one of those years with the "
        "extra database_year, or set unavailable_year to \"newest_started\" to read the newest year that has started"
    ]
    assert (report["database_year"], report["school_year"]) == (None, None)


def test_by_default_the_writes_go_into_the_newest_year_that_has_started_and_the_report_says_so(runs):
    dag_run, writes, requests = runs["written"]
    report = report_of(dag_run)
    assert dag_run.state == "success" and report["status"] == "Completed"
    assert writes == [("POST", f"schools/{runs['school']}/InsertStudent"), ("POST", writes[1][1])]
    assert writes[1][1].startswith("InsertContact/")
    assert (report["database_year"], report["school_year"]) == (2026, "2026-2027")
    assert report["attention"] == [
        f"Aeries does not offer the school year 2027-2028 (it offers {OFFERED}); read 2026-2027, the newest that "
        "has started (connection extra unavailable_year: newest_started)"]
    # Every request with the certificate, the writes among them, names the year (systeminfo goes without one).
    api = [line for line in requests if re.search(r" /aeries/api/v5/(?!systeminfo)", line)]
    assert len([line for line in api if "POST " in line]) == 2, api
    assert all("DatabaseYear=2026" in line and "DatabaseYear=2027" not in line for line in api), api
