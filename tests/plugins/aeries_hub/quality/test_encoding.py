"""A vendor file narrower than Unicode (latin-1, ascii): the rows it cannot hold are rejected, naming the column.

Every shipped mapping writes utf-8 (tests/dags/test_bad_inputs.py proves those names arrive byte for byte); these
checks are for a mapping whose vendor wants latin-1 or ascii. Without them the whole file fails when it is written
(aeries_hub.mapping.render names each value it cannot encode); with them only those rows are rejected.
"""

from __future__ import annotations

import pandas as pd
import pytest

from aeries_hub.quality import REJECT_REASON, parse_checks, validate_frame
from aeries_hub.quality.column_rules import encoding_checks

PATRONS = pd.DataFrame({
    "field_districtID": ["700001", "700002", "700003", "700004", "700005"],
    "field_firstName": ["Mỹ Linh", "小明", "Zoë", "Linh 🌸", "Ana"],
    "field_lastName": ["Trần", "王", "O'Brien", "Smith", "Ortega"],
})
COLUMNS = ["field_districtID", "field_firstName", "field_lastName"]


def reason(column: str, encoding: str) -> str:
    return (
        f"{column} has a character that {encoding} cannot encode (patrons.csv is written in {encoding}); "
        f"correct the value in Aeries, or set format.encoding to utf-8 if the vendor accepts it"
    )


def check(frame: pd.DataFrame, encoding: str):
    checks = parse_checks(encoding_checks(COLUMNS, encoding, "patrons.csv"), where="test.yml: outputs[0]")
    return validate_frame(frame, checks, name="patrons", id_columns=["field_districtID"])


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig", "utf-16"])
def test_a_unicode_file_needs_no_encoding_checks(encoding):
    assert encoding_checks(COLUMNS, encoding, "patrons.csv") == []


def test_a_latin1_file_rejects_only_the_rows_latin1_cannot_hold_and_names_the_columns():
    outcome = check(PATRONS, "latin-1")

    assert not outcome.has_errors
    assert outcome.accepted["field_districtID"].tolist() == ["700003", "700005"]  # Zoë is latin-1
    assert dict(zip(outcome.rejected["field_districtID"], outcome.rejected[REJECT_REASON])) == {
        "700001": reason("field_firstName", "latin-1") + "; " + reason("field_lastName", "latin-1"),
        "700002": reason("field_firstName", "latin-1") + "; " + reason("field_lastName", "latin-1"),
        "700004": reason("field_firstName", "latin-1"),
    }


def test_an_ascii_file_also_rejects_latin1_accents():
    outcome = check(PATRONS, "ascii")

    assert outcome.accepted["field_districtID"].tolist() == ["700005"]
    assert dict(zip(outcome.rejected["field_districtID"], outcome.rejected[REJECT_REASON]))["700003"] == (
        reason("field_firstName", "ascii")
    )


def test_cp1252_accepts_its_own_characters_beyond_latin1_and_rejects_the_rest():
    frame = pd.DataFrame({
        "field_districtID": ["1", "2"],
        "field_firstName": ["Œdipe €", "Ŧ"],  # Œ and € are in cp1252, Ŧ (U+0166) is not
        "field_lastName": ["“Quoted”", "x"],
    })
    outcome = check(frame, "cp1252")

    assert outcome.accepted["field_districtID"].tolist() == ["1"]
    assert outcome.rejected[REJECT_REASON].tolist() == [reason("field_firstName", "cp1252")]


def test_output_checks_of_a_latin1_file_reject_the_rows_it_cannot_hold():
    from aeries_hub.mapping.models import Column, FileFormat, Output
    from aeries_hub.quality.column_rules import output_checks

    output = Output(file="patrons.csv", format=FileFormat(encoding="latin-1"), key=("field_districtID",),
                    columns=tuple(Column(c) for c in COLUMNS), records=())
    checks = output_checks(output)
    for wanted in encoding_checks(COLUMNS, "latin-1", "patrons.csv"):
        assert wanted in checks
