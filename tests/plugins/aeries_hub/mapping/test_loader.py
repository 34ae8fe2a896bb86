"""Bad mapping files give one clear line per problem: file, key path, what is wrong."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import Guard, MappingError
from aeries_hub.paths import MAPPINGS_DIR
from tests.plugins.aeries_hub.mapping.mapping_files import (
    DESTINY,
    destiny_with,
    edited_error,
    output_named,
    stemscopes_with,
)


def test_every_shipped_mapping_loads():
    files = sorted(MAPPINGS_DIR.glob("*.yml"))
    assert files, "include/mappings/ holds no mapping file"
    for path in files:
        mapping = load_mapping(path)
        assert mapping.dag_id == f"aeries_to_{path.stem}"


# A mapping that loads; each case below edits one line of it (the file's first line is "name:").
LINED = """\
name: lined
description: Load errors name the file and the line of the key.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source:
  tables: [students]
settings:
  prefix: S-
outputs:
  - file: people.csv
    format: {}
    key: [id]
    columns:
      - name: id
      - name: grade
        max_length: 2
    records:
      - name: students
        from: students
        values:
          id: {template: "{settings.prefix}{StudentID}"}
          grade: {source: Grade}
"""


def lined_error(tmp_path, old: str, new: str) -> str | None:
    return edited_error(tmp_path, LINED, old, new)


def test_load_errors_name_the_file_and_the_line_of_the_key(tmp_path):
    assert lined_error(tmp_path, "max_length: 2", "max_length: 2") is None
    # Schema errors; an unknown key is named on its own line, with the key it was meant to be.
    assert lined_error(tmp_path, "max_length: 2", "max_lenght: 2") == (
        "lined.yml:17: outputs[0].columns[1]: unknown key 'max_lenght' (did you mean 'max_length'?); allowed keys: "
        "allowed, description, do_not_map, escape_formulas, max_length, name, overwrite, pattern, required, severity")
    assert lined_error(tmp_path, "max_length: 2", "max_length: two") == (
        "lined.yml:17: outputs[0].columns[1].max_length: 'two' is not of type 'integer'")
    # A check of the loaded mapping (rules.py).
    assert lined_error(tmp_path, "key: [id]", "key: [ID]") == (
        "lined.yml:13: outputs[0].key: 'ID' is not a delivered column of people.csv (did you mean 'id'?); its "
        "delivered columns: id, grade")
    # An Aeries column the table registry does not know (references.py).
    assert lined_error(tmp_path, "{source: Grade}", "{source: grade}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.source: 'grade' is not a column of the Aeries table "
        "students; did you mean 'Grade'?")
    # Settings and run values, checked before the mapping is built.
    assert lined_error(tmp_path, "{settings.prefix}", "{settings.prefx}") == (
        "lined.yml:22: outputs[0].records[0].values.id.template: unknown setting 'prefx' (did you mean 'prefix'?); "
        "settings: prefix")
    assert lined_error(tmp_path, "{StudentID}", "{StudentID}{run.year}") == (
        "lined.yml:22: outputs[0].records[0].values.id.template: unknown run value {run.year}; run values: "
        "district_name, school_year, school_year_start_year, school_year_end_year, school_year_first_day, "
        "school_year_last_day")


def test_a_template_whose_braces_do_not_pair_names_its_key(tmp_path):
    grade = "{source: Grade}"
    assert lined_error(tmp_path, grade, '{source: Grade, transform: [{if_blank: "a}b"}]}') == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0].if_blank: 'a}b' is not a template: Single '}' "
        "encountered in format string (a brace in the text is written {{ or }})")
    assert lined_error(tmp_path, grade, '{template: "{Grade"}') == (
        "lined.yml:23: outputs[0].records[0].values.grade.template: '{Grade' is not a template: expected '}' before "
        "end of string (a brace in the text is written {{ or }})")
    assert lined_error(tmp_path, grade, '{source: Grade, transform: [{crosswalk: {name: g, else: "}"}}]}') == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0].crosswalk.else: '}' is not a template: Single "
        "'}' encountered in format string (a brace in the text is written {{ or }})")
    assert lined_error(tmp_path, grade, '{source: Grade, transform: [{if_blank: "{{a}}"}]}') is None


def test_unknown_key_lists_the_allowed_keys(tmp_path):
    def edit(d):
        d["outputs"][0]["columns"][0]["maxlength"] = 10

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].columns[0]: unknown key 'maxlength' (did you mean 'max_length'?); allowed keys: "
        "allowed, description, do_not_map, escape_formulas, max_length, name, overwrite, pattern, required, severity"
    )


def test_escape_formulas_is_a_switch_of_delimited_columns(tmp_path):
    def raw_phone(d):
        d["outputs"][0]["columns"][1]["escape_formulas"] = False

    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    raw_phone(document)
    (tmp_path / "destiny.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    mapping = load_mapping(tmp_path / "destiny.yml")
    assert mapping.outputs[0].raw_columns == [mapping.outputs[0].columns[1].name]
    assert load_mapping(MAPPINGS_DIR / "destiny.yml").outputs[0].raw_columns == []


def test_unknown_table(tmp_path):
    def edit(d):
        d["source"]["tables"].append("gradebooks")

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: source.tables[4]: 'gradebooks' is not one of schools, terms, students, contacts, staff, "
        "teachers, courses, sections, rosters, programs"
    )


def test_value_with_two_kinds(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "StudentID", "constant": "x"}

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode: give exactly one of: source, constant, template, "
        "first_of, first_in_group, expr, cases"
    )


def test_invalid_yaml_names_line_and_column(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\noutputs: [\n  - file: x\n")
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    assert str(err.value).startswith("broken.yml: line 3, column 3: not valid YAML: ")


def test_yes_no_and_on_stay_text(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_status"] = {"source": "InactiveStatusCode", "match": {"N": "no"}}

    path = tmp_path / "destiny.yml"
    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    edit(document)
    text = yaml.safe_dump(document, sort_keys=False).replace("N: 'no'", "N: no")
    path.write_text(text)
    mapping = load_mapping(path)
    assert mapping.outputs[0].records[0].values["field_status"].match == {"N": "no"}


def test_schema_names_exactly_the_tables_the_hook_can_extract():
    import json

    from aeries_hub.mapping.loader import MAPPING_SCHEMA

    schema = json.loads(MAPPING_SCHEMA.read_text())
    assert schema["properties"]["source"]["properties"]["tables"]["items"]["enum"] == list(TABLES)


def test_an_unknown_run_value_names_its_key_and_the_run_values(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["records"][0]["rows"][0]["name"] = "{run.district}"

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[1].records[0].rows[0].name: unknown run value {run.district} (did you mean "
        "'district_name'?); run values: district_name, school_year, school_year_start_year, school_year_end_year, "
        "school_year_first_day, school_year_last_day"
    )


def test_a_run_value_in_a_step_that_does_not_take_one(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["records"][1]["values"]["sourcedId"]["transform"].append({"prefix": "{run.school_year}-"})

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[1].records[1].values.sourcedId.transform[1].prefix: {run.school_year} can be used in "
        "literal rows, constant, template and if_blank only"
    )


def test_a_run_value_from_the_schools_table_needs_it_extracted(tmp_path):
    def edit(d):
        d["source"]["tables"].remove("schools")
        d["crosswalks"]["schools"].pop("check")
        d["outputs"] = [o for o in d["outputs"] if o["file"] in ("manifest.csv", "orgs.csv", "academicSessions.csv")]
        for output in d["outputs"][1:]:
            output["records"] = output["records"][:1]

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: source.tables: {run.district_name}, {run.school_year_first_day}, {run.school_year_last_day} "
        "come from Aeries' schools table; add schools to source.tables"
    )


def test_the_loader_reads_the_registry_without_importing_the_hook():
    """The loader runs at DAG parse time: the registries it checks columns and steps against are light modules."""
    import subprocess
    import sys

    code = (
        "import sys, aeries_hub.mapping.loader\n"
        "aeries_hub.mapping.loader.load_mapping('include/mappings/stemscopes.yml')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'requests', 'pandas', 'pyarrow', 'airflow'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=MAPPINGS_DIR.parent.parent, env={**__import__("os").environ, "PYTHONPATH": "plugins"})
    assert done.stdout.strip() == "[]"


def test_guard_defaults_and_a_bad_guard_value_names_its_key(tmp_path):
    assert load_mapping(DESTINY).guard == Guard(max_removed_percent=10, max_changed_percent=30, min_rows=10,
                                                 approval_timeout_hours=24)

    def edit(d):
        d["guard"] = {"max_removed_percent": 150}

    assert destiny_with(tmp_path, edit) == "destiny.yml: guard.max_removed_percent: 150 is greater than the maximum of 100"


def test_incremental_extraction_settings(tmp_path):
    def edit(d):
        d["source"]["incremental"] = {"full_every_hours": 0}

    assert destiny_with(tmp_path, edit) == "destiny.yml: source.incremental.full_every_hours: 0 is less than or equal to the minimum of 0"

    def unknown(d):
        d["source"]["incremental"] = {"full_every_days": 7}

    assert destiny_with(tmp_path, unknown) == (
        "destiny.yml: source.incremental: unknown key 'full_every_days' (did you mean 'full_every_hours'?); "
        "allowed keys: full_every_hours, max_changed_percent")

    def too_much(d):
        d["source"]["incremental"] = {"max_changed_percent": 150}

    assert destiny_with(tmp_path, too_much) == "destiny.yml: source.incremental.max_changed_percent: 150 is greater than the maximum of 100"
    stemscopes = load_mapping(MAPPINGS_DIR / "stemscopes.yml").incremental
    assert (stemscopes.full_every_hours, stemscopes.max_changed_percent) == (168, 5)
    assert load_mapping(DESTINY).incremental is None
