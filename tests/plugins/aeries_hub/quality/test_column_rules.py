"""Output checks implied by a mapping's column rules (quality.column_rules), with real GX."""

from __future__ import annotations

import pandas as pd

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.render import render_delimited
from aeries_hub.paths import MAPPINGS_DIR
from aeries_hub.quality import parse_checks, validate_frame
from aeries_hub.quality.column_rules import output_checks

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
