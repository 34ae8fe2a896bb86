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


def test_cells_forbid_texts_in_every_delivered_column_and_a_reference_may_name_a_subset(tmp_path):
    from aeries_hub.quality.column_rules import reference_table, reference_tables
    from tests.plugins.aeries_hub.mapping.mapping_files import mapping_with

    mapping = mapping_with(tmp_path, """
outputs:
  - file: orgs.csv
    format: {}
    key: [id]
    columns: [{name: id}, {name: type}]
    records: [{name: orgs, rows: [{id: "0", type: district}, {id: "994", type: school}]}]
  - file: users.csv
    format: {}
    key: [id]
    columns: [{name: id}, {name: school}, {name: note, do_not_map: true}]
    records: [{name: users, rows: [{id: "1", school: "994"}]}]
    references: [{column: school, file: orgs.csv, where: [{column: type, in: [school]}], severity: reject}]
    cells: {forbid: ["\\n", "|"], severity: warning}
""")
    users = mapping.outputs[1]
    checks = output_checks(users)
    assert checks[2] == {
        "expectation": "expect_column_values_to_be_in_set", "column": "school",
        "value_set_from": {"table": "orgs.csv where type in [school]", "column": "id"}, "ignore_blank": True,
        "severity": "reject", "description": "every school of users.csv is a id in orgs.csv where type in [school]"}
    assert checks[3:5] == [
        {"expectation": "expect_column_values_to_not_match_regex", "column": column, "regex": "\\\n|\\|",
         "severity": "warning", "description": f"{column} holds a line break (\\n) or '|', which no cell of users.csv may hold"}
        for column in ("id", "school")]
    orgs = pd.DataFrame({"id": ["0", "994"], "type": ["district", "school"]})
    subset = reference_tables(users, {"orgs.csv": orgs})[reference_table(users.references[0])]
    assert subset.to_dict("records") == [{"id": "994", "type": "school"}]
