"""Bad mapping files give one clear line per problem: file, key path, what is wrong."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import MappingError, load_mapping
from aeries_hub.paths import MAPPINGS_DIR

DESTINY = MAPPINGS_DIR / "destiny.yml"


def destiny_with(tmp_path, edit) -> str:
    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    edit(document)
    path = tmp_path / "destiny.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    return str(err.value)


def test_every_shipped_mapping_loads():
    files = sorted(MAPPINGS_DIR.glob("*.yml"))
    assert files, "include/mappings/ holds no mapping file"
    for path in files:
        mapping = load_mapping(path)
        assert mapping.dag_id == f"aeries_to_{path.stem}"


def test_unknown_key_lists_the_allowed_keys(tmp_path):
    def edit(d):
        d["outputs"][0]["columns"][0]["maxlength"] = 10

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].columns[0]: unknown key 'maxlength'; allowed keys: allowed, description, "
        "do_not_map, max_length, name, overwrite, pattern, required, severity"
    )


def test_unknown_table(tmp_path):
    def edit(d):
        d["source"]["tables"].append("gradebooks")

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: source.tables[4]: 'gradebooks' is not one of schools, terms, students, contacts, staff, "
        "teachers, courses, sections, rosters"
    )


def test_record_set_from_a_table_not_extracted(tmp_path):
    def edit(d):
        d["source"]["tables"].remove("teachers")

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[1].lookups.teacher.table: table 'teachers' is not in source.tables "
        "(schools, students, staff)"
    )


def test_value_for_a_column_the_file_does_not_have(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_shoeSize"] = {"constant": "9"}

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_shoeSize: not a column of patrons.csv; "
        "add it to outputs[0].columns"
    )


def test_undefined_lookup_alias(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_homeroom"] = {"source": "homeroom.Room"}
        d["outputs"][0]["columns"].append({"name": "field_homeroom"})

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_homeroom: 'homeroom.Room' uses lookup 'homeroom', "
        "which outputs[0].records[0].lookups does not define"
    )


def test_value_with_two_kinds(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "StudentID", "constant": "x"}

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode: give exactly one of: source, constant, template, first_of"
    )


def test_bad_schedule(tmp_path):
    def edit(d):
        d["schedule"] = {"cron": "0 25 * * *", "timezone": "Pacific Time"}

    assert destiny_with(tmp_path, edit) == (
        "destiny.yml: schedule.timezone: 'Pacific Time' is not an IANA time zone (e.g. America/Los_Angeles)\n"
        "destiny.yml: schedule.cron: '0 25 * * *' is not a valid cron expression"
    )


def test_key_must_be_a_delivered_column(tmp_path):
    def edit(d):
        d["outputs"][0]["key"] = ["field_password"]

    assert destiny_with(tmp_path, edit) == "destiny.yml: outputs[0].key: 'field_password' is not a delivered column of patrons.csv"


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

    from aeries_hub.hooks.aeries import TABLES
    from aeries_hub.mapping.loader import MAPPING_SCHEMA

    schema = json.loads(MAPPING_SCHEMA.read_text())
    assert schema["properties"]["source"]["properties"]["tables"]["items"]["enum"] == list(TABLES)


STEMSCOPES = MAPPINGS_DIR / "stemscopes.yml"


def stemscopes_with(tmp_path, edit) -> str:
    """Load an edited copy of stemscopes.yml (with the crosswalks it names) and return the error."""
    import shutil

    (tmp_path / "mappings").mkdir()
    shutil.copytree(MAPPINGS_DIR.parent / "crosswalks", tmp_path / "crosswalks")
    document = read_yaml(STEMSCOPES, shown="stemscopes.yml", error=ValueError)
    edit(document)
    path = tmp_path / "mappings" / "stemscopes.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    return str(err.value)


def output_named(document: dict, file: str) -> dict:
    return next(o for o in document["outputs"] if o["file"] == file)


def test_a_reference_to_a_file_the_mapping_does_not_build(tmp_path):
    def edit(d):
        output_named(d, "classes.csv")["references"][0]["file"] = "course.csv"

    message = stemscopes_with(tmp_path, edit)
    assert message.startswith(
        "stemscopes.yml: outputs[4].references[0].file: 'course.csv' is not another output of this mapping (manifest.csv, "
    )


def test_files_referencing_each_other_in_a_circle(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["references"].append({"column": "identifier", "file": "users.csv"})

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs: files reference each other in a circle "
        "(orgs.csv -> users.csv -> orgs.csv); none of them could be built first"
    )


def test_a_crosswalk_step_naming_no_crosswalk(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["records"][1]["values"]["sourcedId"]["transform"] = [{"crosswalk": "school"}]

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[1].records[1].values.sourcedId.transform: crosswalk 'school' is not defined (crosswalks: schools)"
    )


def test_literal_rows_with_a_column_the_file_does_not_have(tmp_path):
    def edit(d):
        output_named(d, "manifest.csv")["records"][0]["rows"][0]["comment"] = "x"

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[0].records[0].rows[0].comment: not a column of manifest.csv; add it to outputs[0].columns"
    )


def test_overwrite_and_nest_are_for_jsonl_files(tmp_path):
    def edit(d):
        users = output_named(d, "users.csv")
        users["columns"][0]["overwrite"] = True
        users["nest"] = {"demographics": {"file": "demographics.csv", "on": {"sourcedId": "sourcedId"}}}

    assert stemscopes_with(tmp_path, edit) == "\n".join([
        "stemscopes.yml: outputs[5].columns[0].overwrite: only for jsonl outputs (a blank cell of a delimited file is already sent)",
        "stemscopes.yml: outputs[5].nest: only a jsonl output can nest the rows of another file",
        "stemscopes.yml: outputs[5].nest.demographics.file: demographics.csv must be a jsonl output to be nested",
        "stemscopes.yml: outputs: files reference each other in a circle (users.csv -> demographics.csv -> users.csv); none of them could be built first",
    ])
