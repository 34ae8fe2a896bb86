"""Output checks implied by a mapping's column rules, with real GX, and the run status they lead to."""

from __future__ import annotations

import pandas as pd
import pytest

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.render import render_delimited
from aeries_hub.paths import MAPPINGS_DIR
from aeries_hub.pipeline import output_checks, report_lines, summarize_run
from aeries_hub.quality import parse_checks, validate_frame

DESTINY = load_mapping(MAPPINGS_DIR / "destiny.yml")
PATRONS = DESTINY.outputs[0]


def patron(**values) -> dict:
    row = {c: "" for c in PATRONS.delivered_columns}
    row.update(
        field_siteShortName="RHS", field_barcode="101", field_districtID="101", field_lastName="O'Brien",
        field_patronType="Student", field_status="A", field_gender="F", field_isTeacher="F",
    )
    row.update(values)
    return row


def check_patrons(rows: list[dict]):
    checks = parse_checks(output_checks(PATRONS), where="destiny.yml: outputs[0]")
    return validate_frame(pd.DataFrame(rows), checks, name="patrons", id_columns=PATRONS.key)


def test_column_rules_reject_rows_with_reasons_and_keep_the_rest():
    outcome = check_patrons(
        [
            patron(),
            patron(field_barcode="102", field_districtID="102", field_siteShortName=""),
            patron(field_barcode="103", field_districtID="103", field_siteShortName="VERYLONGSITE"),
            patron(field_barcode="104", field_districtID="104", field_status="X"),
            patron(field_barcode="105", field_districtID="105", field_birthdate="2019-03-04"),
        ]
    )
    assert not outcome.has_errors
    assert outcome.accepted["field_districtID"].tolist() == ["101"]
    assert dict(zip(outcome.rejected["field_districtID"], outcome.rejected["_reject_reason"])) == {
        "102": "field_siteShortName is required",
        "103": "field_siteShortName is at most 10 characters",
        "104": "field_status is one of A, I, R",
        "105": r"field_birthdate matches ^\d{2}/\d{2}/\d{4}$",
    }


def test_a_duplicate_key_stops_the_run():
    outcome = check_patrons([patron(), patron(field_barcode="999")])
    assert outcome.has_errors
    assert "field_districtID is unique in patrons.csv" in outcome.error_message()


def test_an_empty_file_stops_the_run():
    outcome = check_patrons([])
    assert outcome.has_errors
    assert "patrons.csv has at least 1 rows" in outcome.error_message()


def test_destiny_format_is_quoted_crlf_utf8():
    frame = pd.DataFrame([patron(field_firstName="Zoë", field_lastName='Garcia, "Jr."')])
    data = render_delimited(frame, PATRONS.delivered_columns, PATRONS.format)
    header, row, end = data.split(b"\r\n")
    assert header.startswith(b'"field_siteShortName","field_barcode",')
    assert row.startswith('"RHS","101","101","Garcia, ""Jr.""","Zoë",'.encode())
    assert end == b""


def test_run_status_follows_rejects_failures_and_unfinished_stages():
    stages = {
        "extract_schools": {"table": "schools", "rows": 3},
        "extract_students": {"table": "students", "rows": 9},
        "extract_staff": {"table": "staff", "rows": 2},
        "extract_teachers": {"table": "teachers", "rows": 2},
        "validate_sources": {"tables": {"students": {"rejected": 0, "checks": {"passed": 5, "warned": 1, "failed": 0}}}},
        "build_patrons": {"file": "patrons.csv", "rows": 10, "rejected": 1, "sha256": "ab", "checks": {"passed": 9, "warned": 1, "failed": 0}},
        "deliver": {"dry_run": False, "files": [{"remote_path": "patrons/patrons.csv"}]},
    }
    assert summarize_run(DESTINY, stages)["status"] == "Completed with errors"
    assert summarize_run(DESTINY, {**stages, "build_patrons": {**stages["build_patrons"], "rejected": 0}})["status"] == "Completed"
    assert summarize_run(DESTINY, {k: v for k, v in stages.items() if k != "deliver"})["status"] == "Error"
    assert summarize_run(DESTINY, {k: v for k, v in stages.items() if k != "extract_staff"})["status"] == "Error"


def test_the_report_names_failed_checks_with_counts_and_ids_but_no_other_student_data():
    failed = {"outcome": "failed", "expectation": "expect_column_values_to_match_regex", "columns": ["field_lastName"],
              "description": "field_lastName is required", "unexpected_count": 2, "element_count": 9, "exception": None,
              "sample": [{"row": 3, "field_districtID": "102", "field_lastName": "Zoë Q"},
                         {"row": 5, "field_districtID": "STAFF-7", "field_lastName": " "}]}
    stages = {
        "validate_sources": {"tables": {"students": {"rejected": 0, "checks": {"results": [{**failed, "columns": ["LastName"],
            "sample": [{"row": 1, "SchoolCode": 994, "StudentID": 101, "LastName": "O'Brien"}]}]}}}},
        "build_patrons": {"file": "patrons.csv", "rows": 0, "rejected": 0, "checks": {"results": [failed]}},
    }

    errors = summarize_run(DESTINY, stages)["errors"]

    assert errors == [
        "students: field_lastName is required [LastName]: 2 of 9 rows fail, e.g. 994/101",
        "patrons.csv: field_lastName is required [field_lastName]: 2 of 9 rows fail, e.g. 102, STAFF-7",
    ]


def test_the_report_says_which_school_year_aeries_served_and_why_it_is_not_the_runs():
    note = ("Aeries does not offer the school year 2027-2028 (it offers 2026-2027, 2025-2026); read 2026-2027, the "
            "newest that has started (connection extra unavailable_year: newest_started)")
    served = {"database_year": 2026, "school_year": "2026-2027", "requested_year": 2027,
              "available_years": ["2026-2027", "2025-2026"], "year_note": note}
    stages = {f"extract_{t}": {"table": t, "rows": 1, **served} for t in ("schools", "students", "staff", "teachers")}

    document = summarize_run(DESTINY, stages)

    assert (document["database_year"], document["school_year"], document["attention"]) == (2026, "2026-2027", [note])
    assert report_lines(document)[1:4] == [
        "extracted (Aeries DatabaseYear 2026, school year 2026-2027): schools 1, staff 1, students 1, teachers 1",
        "checks: 0 passed, 0 warned, 0 failed; 0 rows rejected",
        note,
    ]


def test_a_school_year_aeries_does_not_offer_is_an_error_of_the_report():
    error = ("Aeries connection 'aeries_default' does not offer the school year 2027-2028 (DatabaseYear 2027); it "
             "offers 2026-2027, 2025-2026. The connection's extra unavailable_year is \"fail\": ...")
    document = summarize_run(DESTINY, {"school_year": {"error": error}})
    assert (document["status"], document["errors"], document["school_year"]) == ("Error", [error], None)


def test_school_year_of_a_date_starts_on_the_configured_first_day(monkeypatch):
    from datetime import date

    from aeries_hub.pipeline import school_year_of

    assert [school_year_of(d) for d in (date(2025, 6, 30), date(2025, 7, 1), date(2026, 3, 2))] == [2024, 2025, 2025]
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__SCHOOL_YEAR_START", "08-15")
    assert [school_year_of(d) for d in (date(2025, 8, 14), date(2025, 8, 15))] == [2024, 2025]
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__SCHOOL_YEAR_START", "August")
    with pytest.raises(Exception, match=r"school_year_start is 'August'; give the first day of the school year as MM-DD"):
        school_year_of(date(2025, 8, 15))


def test_an_unreachable_target_gives_no_sign_of_an_earlier_delivery(monkeypatch, caplog):
    """The state-loss check looks for delivered files at the SFTP target; a server that does not answer is
    no sign either way (deliver then fails with the connection error) and the warning names the connection."""
    import json
    import socket

    from aeries_hub.pipeline import _files_at_target

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxpc3RlbmluZy1uby1tb3JlLWhvc3Qta2V5LTAwMDA="
    monkeypatch.setenv(f"AIRFLOW_CONN_{DESTINY.sftp_conn_id.upper()}", json.dumps(
        {"conn_type": "sftp", "host": "127.0.0.1", "port": closed_port, "login": "hub",
         "extra": {"host_key": host_key}}))
    assert _files_at_target(DESTINY) == ("", [])
    assert f"sftp connection '{DESTINY.sftp_conn_id}' (127.0.0.1:{closed_port})" in caplog.text
    assert "Could not look for earlier deliveries in the target folder" in caplog.text
