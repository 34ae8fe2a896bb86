"""The transform step registry: every step's values on hand-written tables, its argument checks, and the
mapping schema's step definition kept equal to the registry."""

from __future__ import annotations

import json

import pandas as pd

from aeries_hub.mapping.engine import RECORD_SET_COLUMN, build_output
from aeries_hub.mapping.loader import MAPPING_SCHEMA
from aeries_hub.mapping.steps import STEPS, json_schema
from aeries_hub.mapping.values import RunValues
from tests.plugins.aeries_hub.mapping.mapping_files import allowing, load_error, mapping_with, one_output, rows


def test_transform_steps(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "first", "last", "born", "login", "padded", "email"], """
        id: {source: StudentID, transform: [{prefix: "S-"}]}
        first: {source: FirstName, transform: [trim, upper]}
        last: {source: LastName, transform: [lower, {truncate: 6}]}
        born: {source: Birthdate, transform: [{date: "%m/%d/%Y"}]}
        login: {source: NetworkLoginID, transform: [{if_blank: none}, title]}
        padded: {source: StudentID, transform: [{pad_left: {width: 6}}]}
        email: {source: StudentEmailAddress, transform: [{replace: {pattern: "@.*$", with: ""}}]}
    """) + allowing("students.Birthdate"))
    built = rows(m, tables)
    assert [built[0], built[2], built[3]] == [
        {"id": "S-101", "first": "ZOË", "last": "o'brie", "born": "03/04/2019", "login": "Zobrien", "padded": "000101", "email": "zoe"},
        {"id": "S-102", "first": "ANA", "last": "smith-", "born": "", "login": "None", "padded": "000102", "email": ""},
        {"id": "S-103", "first": "SEÁN", "last": "garcia", "born": "", "login": "Sgarcia", "padded": "000103", "email": ""},
    ]


def test_template_and_digits_only(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["key", "digits"], """
        key: {template: "{SchoolCode}-{StudentID}-G{Grade}"}
        digits: {template: "{FirstName}{StudentID}", transform: [digits_only]}
    """))
    # Key order compares the numbers inside keys as numbers.
    assert [(r["key"], r["digits"]) for r in rows(m, tables)] == [
        ("994-101-G-1", "101"),
        ("994-102-G0", "102"),
        ("995-101-G-1", "101"),
        ("995-103-G12", "103"),
    ]


def test_if_match_turns_a_pattern_into_two_values(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "is_tk", "teen"], """
        id: {source: StudentID}
        is_tk: {source: Grade, transform: [{if_match: {pattern: "^-1$", then: "true", else: "false"}}]}
        teen: {template: " {Grade} ", transform: [{if_match: {pattern: " 1[0-2] ", then: Y, else: N}}]}
    """))
    assert [(r["id"], r["is_tk"], r["teen"]) for r in rows(m, tables)] == [
        ("101", "true", "N"), ("101", "true", "N"), ("102", "false", "N"), ("103", "false", "Y"),
    ]


def test_crosswalk_step_translates_listed_values_and_passes_others_through(tmp_path, tables):
    (tmp_path / "crosswalks").mkdir()
    (tmp_path / "crosswalks" / "schools.csv").write_text(
        "aeries_code,vendor_id,vendor_name\n994,RIDGE-01,Ridge High\n,VALE-9,Vale Elementary\n"
    )
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    m = mapping_with(mappings, one_output(["id", "org"], """
        id: {source: StudentID}
        org: {source: SchoolCode, transform: [{crosswalk: schools}, {prefix: "org:"}]}
    """) + """
crosswalks:
  schools: {file: crosswalks/schools.csv, aeries: aeries_code, vendor: vendor_id}
""")
    assert [r["org"] for r in rows(m, tables)] == ["org:RIDGE-01", "org:995", "org:RIDGE-01", "org:995"]


def test_crosswalk_else_gives_the_value_of_codes_not_in_the_crosswalk(tmp_path, tables):
    m = mapping_with(tmp_path, """
crosswalks:
  sites: {file: sites.csv, aeries: code, vendor: site, optional: true}
""" + one_output(["id", "site"], """
        id: {source: StudentID}
        site:
          source: SchoolCode
          transform: [{crosswalk: {name: sites, else: "{school.ShortName}"}}, trim, {if_blank: "{SchoolCode}"}]
    """, extra="lookups: {school: {table: schools, on: {SchoolCode: SchoolCode}}}\n"))
    schools = tables["schools"].assign(ShortName=["RHS", "  ", "DO"])
    run = RunValues(crosswalks={"sites": {"994": "RIDGE"}})
    built = build_output(m, m.outputs[0], {**tables, "schools": schools}, run).frame
    assert built.drop(columns=[RECORD_SET_COLUMN]).to_dict("records") == [
        {"id": "101", "site": "RIDGE"}, {"id": "101", "site": "995"}, {"id": "102", "site": "RIDGE"},
        {"id": "103", "site": "995"},
    ]
    run = RunValues(crosswalks={"sites": {}})
    built = build_output(m, m.outputs[0], tables, run).frame
    assert built["site"].tolist() == ["RHS", "VES", "RHS", "VES"]


def test_blank_if_equal_to_another_column_and_settings_escaped_for_a_regex(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "other_school", "sso"], """
        id: {source: StudentID}
        other_school: {template: "994", transform: [{blank_if_equal_to: SchoolCode}]}
        sso: {source: StudentEmailAddress, transform: [{blank_unless: "@{settings.domain|regex}$"}]}
    """) + "settings:\n  domain: example.org\n")
    assert [(r["other_school"], r["sso"]) for r in rows(m, tables)] == [
        ("", "zoe@example.org"), ("994", "zoe@example.org"), ("", ""), ("994", ""),
    ]
    assert m.outputs[0].records[0].values["sso"].transform == ({"blank_unless": r"@example\.org$"},)


def test_aeries_null_dates_are_blank_in_every_date_format(tmp_path):
    m = mapping_with(tmp_path, one_output(["id", "us", "iso"], """
        id: {source: StudentID}
        us: {source: Birthdate, transform: [{date: "%m/%d/%Y"}]}
        iso: {source: Birthdate, transform: [{date: "%Y-%m-%d"}]}
    """) + allowing("students.Birthdate"))
    students = pd.DataFrame({
        "StudentID": pd.array([1, 2, 3, 4], dtype="Int64"),
        "Birthdate": ["0001-01-01T00:00:00", "1900-01-01T00:00:00", "2013-07-19T00:00:00", " 0001-01-01T00:00:00"],
    })
    assert rows(m, {"students": students}) == [
        {"id": "1", "us": "", "iso": ""},
        {"id": "2", "us": "", "iso": ""},
        {"id": "3", "us": "07/19/2013", "iso": "2013-07-19"},
        {"id": "4", "us": "", "iso": ""},
    ]


def test_split_name_takes_first_or_last(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "FirstName",
                                                                    "transform": [{"split_name": "middle"}]}

    assert "outputs[0].records[0].values.field_barcode" in load_error(tmp_path, edit)
    assert "'middle' is not one of first, last" in load_error(tmp_path, edit)


# ------------------------------------------------------------------------------------------ the registry


def test_the_mapping_schema_defines_exactly_the_steps_of_the_registry():
    """Editors validate with plugins/aeries_hub/schemas/mapping.schema.json; the loader with the registry. A step added to
    one and not the other fails here: ``make docs`` writes ``json_schema()`` into the schema's ``$defs.step``."""
    schema = json.loads(MAPPING_SCHEMA.read_text())
    assert schema["$defs"]["step"] == json_schema()
    assert set(STEPS) == {"trim", "upper", "lower", "title", "digits_only", "date", "truncate", "if_blank", "prefix",
                          "pad_left", "replace", "blank_unless", "crosswalk", "if_match", "blank_if_equal_to",
                          "split_name"}


def set_step(step):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "FirstName", "transform": ["trim", step]}

    return edit


def test_an_unknown_step_names_the_closest_step_and_every_step(tmp_path):
    every_step = ("steps: blank_if_equal_to, blank_unless, crosswalk, date, digits_only, if_blank, if_match, lower, "
                  "pad_left, prefix, replace, split_name, title, trim, truncate, upper")
    assert load_error(tmp_path, set_step("titlecase")) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode.transform[1]: unknown step 'titlecase' "
        f"(did you mean 'title'?); {every_step}"
    )
    assert load_error(tmp_path, set_step({"trunc": 10})) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode.transform[1]: unknown step 'trunc' "
        f"(did you mean 'truncate'?); {every_step}"
    )
    assert load_error(tmp_path, set_step({"Upper": None})) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode.transform[1]: unknown step 'Upper' "
        f"(did you mean 'upper'?); {every_step}"
    )
    assert load_error(tmp_path, set_step("reverse")) == (
        f"destiny.yml: outputs[0].records[0].values.field_barcode.transform[1]: unknown step 'reverse'; {every_step}"
    )


def test_a_step_written_with_or_without_the_argument_it_takes(tmp_path):
    at = "destiny.yml: outputs[0].records[0].values.field_barcode.transform[1]"
    assert load_error(tmp_path, set_step("date")) == f"{at}: step 'date' takes an argument: write it as {{date: ...}}"
    assert load_error(tmp_path, set_step({"upper": True})) == f"{at}: step 'upper' takes no argument: write it as upper"
    assert load_error(tmp_path, set_step({"truncate": "10"})) == f"{at}.truncate: '10' is not of type 'integer'"
    assert load_error(tmp_path, set_step({"pad_left": {"width": 3, "chr": "0"}})) == (
        f"{at}.pad_left: unknown key 'chr' (did you mean 'char'?); allowed keys: char, width")
    assert load_error(tmp_path, set_step({"pad_left": {"width": 3}})) is None


def test_every_step_has_an_example_and_does_what_it_shows():
    """docs/mapping-reference.md shows each step's example (value -> result): the step does it."""
    from aeries_hub.mapping.steps import apply_step
    from aeries_hub.mapping.text import text
    from aeries_hub.mapping.values import Rows

    missing = [name for name, registered in STEPS.items() if registered.example is None]
    assert missing == [], f"give these steps an example (step(..., example=Example(...)), mapping/steps.py): {missing}"
    for name, registered in STEPS.items():
        example = registered.example
        assert (example.written if isinstance(example.written, str) else next(iter(example.written))) == name
        frame = pd.DataFrame({column: [value] for column, value in example.row.items()}, index=[0])
        rows_of = Rows(frame, RunValues(crosswalks=example.crosswalks), f"example of {name}")
        done = apply_step(example.written, text(pd.Series([example.value])), rows_of)
        assert done.tolist() == [example.result], name
