"""Bad mapping files give one clear line per problem: file, key path, what is wrong."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import Guard, MappingError, load_mapping
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
        "do_not_map, escape_formulas, max_length, name, overwrite, pattern, required, severity"
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


def test_escape_formulas_off_on_a_jsonl_column_is_a_load_error(tmp_path):
    path = tmp_path / "schoolmint_enroll.yml"
    document = read_yaml(MAPPINGS_DIR / "schoolmint_enroll.yml", shown="schoolmint_enroll.yml", error=ValueError)
    document["outputs"][0]["columns"][0]["escape_formulas"] = False
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError, match=r"schoolmint_enroll.yml: outputs\[0\].columns\[0\].escape_formulas: "
                                           r"only for delimited outputs \(no spreadsheet opens a jsonl file\)"):
        load_mapping(path)


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
        "destiny.yml: outputs[0].records[0].values.field_barcode: give exactly one of: source, constant, template, "
        "first_of, first_in_group"
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

    from aeries_hub.aeries.tables import TABLES
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


def test_an_unknown_run_value_names_its_key_and_the_run_values(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["records"][0]["rows"][0]["name"] = "{run.district}"

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[1].records[0].rows[0].name: unknown run value {run.district} (run values: "
        "district_name, school_year, school_year_start_year, school_year_end_year, school_year_first_day, "
        "school_year_last_day)"
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


# --------------------------------------------------------------- unknown Aeries columns (issue 4, bad inputs)
# An unknown column is reported when the mapping loads (the DAG is an import error), not only when its build
# task runs: the loader checks every column a record set reads against the registry (aeries_hub.aeries.tables.TABLES:
# a table's columns, the list fields of an exploded column, a lookup's table for "alias.Column").


def load_error(tmp_path, edit) -> str | None:
    """The MappingError of an edited destiny.yml, or None when it loads."""
    document = read_yaml(DESTINY, shown="destiny.yml", error=ValueError)
    edit(document)
    path = tmp_path / "destiny.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        load_mapping(path)
    except MappingError as exc:
        return str(exc)
    return None


def test_unknown_source_column_names_the_key_path_the_table_and_the_closest_column(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "StudentId"}

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode.source: 'StudentId' is not a column of the "
        "Aeries table students; did you mean 'StudentID'?"
    )


def test_unknown_column_of_a_lookup_names_the_lookups_table(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_siteShortName"] = {"source": "school.ShortNam", "transform": ["trim"]}

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_siteShortName.source: 'school.ShortNam' is not a column "
        "of the Aeries table schools (lookup school); did you mean 'school.ShortName'?"
    )


def test_unknown_column_in_a_where_condition(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["where"] = [{"column": "Grad", "in": [1]}]

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].where[0].column: 'Grad' is not a column of the Aeries table students; "
        "did you mean 'Grade'?"
    )


def test_unknown_columns_on_both_sides_of_a_lookup_and_in_its_where(tmp_path):
    def edit(d):
        teacher = d["outputs"][0]["records"][1]["lookups"]["teacher"]
        teacher["on"] = {"Id": "StaffId1"}
        teacher["where"] = [{"column": "InactiveStatus", "blank": True}]

    assert load_error(tmp_path, edit) == "\n".join([
        "destiny.yml: outputs[0].records[1].lookups.teacher.on.Id: 'Id' is not a column of the Aeries table staff; "
        "did you mean 'ID'?",
        "destiny.yml: outputs[0].records[1].lookups.teacher.on.Id: 'StaffId1' is not a column of the Aeries table "
        "teachers (lookup teacher); did you mean 'StaffID1'?",
        "destiny.yml: outputs[0].records[1].lookups.teacher.where[0].column: 'InactiveStatus' is not a column of the "
        "Aeries table teachers (lookup teacher); did you mean 'InactiveStatusCode'?",
    ])


def test_a_lookup_reads_only_the_lookups_joined_before_it(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][1]["lookups"]["school"]["on"] = {"teacher.SchoolCode": "SchoolCode"}

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[1].lookups.school.on.teacher.SchoolCode: 'teacher.SchoolCode' uses lookup "
        "'teacher', which is not joined yet at this point (lookups are joined in the order written)"
    )


def test_unknown_columns_in_distinct_templates_first_of_and_steps(tmp_path):
    def edit(d):
        students, staff = d["outputs"][0]["records"]
        students["distinct"] = {"on": ["StudentId"], "prefer": [{"column": "Inactive", "order": ["", "P"]}, "school.SchoolCod"]}
        students["values"]["field_barcode"] = {"source": "StudentID", "transform": [{"blank_if_equal_to": "OldStudentId"}]}
        staff["values"]["field_barcode"] = {"template": "T{Id}-{run_date:%Y}"}
        staff["values"]["field_lastName"] = {"first_of": ["LastName", "teacher.LastNme"]}

    assert load_error(tmp_path, edit) == "\n".join([
        "destiny.yml: outputs[0].records[0].distinct.on[0]: 'StudentId' is not a column of the Aeries table students; "
        "did you mean 'StudentID'?",
        "destiny.yml: outputs[0].records[0].distinct.prefer[0].column: 'Inactive' is not a column of the Aeries "
        "table students; its columns: " + ", ".join(TABLES["students"].column_names),
        "destiny.yml: outputs[0].records[0].distinct.prefer[1]: 'school.SchoolCod' is not a column of the Aeries "
        "table schools (lookup school); did you mean 'school.SchoolCode'?",
        "destiny.yml: outputs[0].records[0].values.field_barcode.transform[0].blank_if_equal_to: 'OldStudentId' is "
        "not a column of the Aeries table students; did you mean 'OldStudentID'?",
        "destiny.yml: outputs[0].records[1].values.field_barcode.template: 'Id' is not a column of the Aeries table "
        "staff; did you mean 'ID'?",
        "destiny.yml: outputs[0].records[1].values.field_lastName.first_of[1]: 'teacher.LastNme' is not a column of "
        "the Aeries table teachers (lookup teacher); did you mean 'teacher.LastName'?",
    ])


def test_a_column_of_a_lookup_read_without_its_alias(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_siteShortName"] = {"source": "ShortName"}

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_siteShortName.source: 'ShortName' is not a column of the "
        "Aeries table students; did you mean 'school.ShortName'?"
    )


def test_exploded_list_fields_are_checked_against_the_registrys_list_fields(tmp_path):
    def edit(d):
        teachers = d["outputs"][6]["records"][1]
        teachers["lookups"]["teacher"]["on"] = {"SchoolCode": "SchoolCode", "member.StaffId": "StaffID1"}
        teachers["values"]["userSourcedId"] = {"source": "SectionStaffMembers"}
        terms = d["outputs"][2]["records"][1]
        terms["values"]["title"] = {"template": "{Name} {term.Code}"}

    assert stemscopes_with(tmp_path, edit) == "\n".join([
        "stemscopes.yml: outputs[2].records[1].values.title.template: 'term.Code' is not a field of the list "
        "column Terms of the Aeries table schools (explode term); its fields: TermCode, TermDescription, StartDate, EndDate",
        "stemscopes.yml: outputs[6].records[1].lookups.teacher.on.member.StaffId: 'member.StaffId' is not a field of "
        "the list column SectionStaffMembers of the Aeries table sections (explode member); did you mean 'member.StaffID'?",
        "stemscopes.yml: outputs[6].records[1].values.userSourcedId.source: 'SectionStaffMembers' is exploded: read "
        "its fields as 'member.<Field>'",
    ])


def test_the_conditions_of_an_explode_read_the_element_fields(tmp_path):
    def edit(d):
        where = d["outputs"][6]["records"][1]["explode"]["where"]
        where[0]["column"] = "member.Inactive"
        where[1]["column"] = "teacher.EndDate"

    assert stemscopes_with(tmp_path, edit) == "\n".join([
        "stemscopes.yml: outputs[6].records[1].explode.where[0].column: 'member.Inactive' is not a field of the list "
        "column SectionStaffMembers of the Aeries table sections (explode member); its fields: StaffID, LastName, "
        "FirstName, IsPrimaryTeacher, StaffRoleCode, StartDate, EndDate, InactiveStatusCode",
        "stemscopes.yml: outputs[6].records[1].explode.where[1].column: 'teacher.EndDate' uses lookup 'teacher', "
        "which is not joined yet at this point (lookups are joined in the order written)",
    ])


def test_explode_needs_a_list_column(tmp_path):
    def edit(d):
        d["outputs"][2]["records"][1]["explode"]["column"] = "Name"

    assert stemscopes_with(tmp_path, edit).startswith(
        "stemscopes.yml: outputs[2].records[1].explode.column: 'Name' is not a list column of the Aeries table schools "
        "(its list columns: Terms)\n"
    )


def test_unknown_columns_of_a_crosswalk_check(tmp_path):
    def edit(d):
        check = d["crosswalks"]["schools"]["check"]
        check["column"] = "SchoolCod"
        check["where"] = [{"column": "Schoolcode", "not_in": [0]}]

    assert stemscopes_with(tmp_path, edit) == "\n".join([
        "stemscopes.yml: crosswalks.schools.check.column: 'SchoolCod' is not a column of the Aeries table schools; "
        "did you mean 'SchoolCode'?",
        "stemscopes.yml: crosswalks.schools.check.where[0].column: 'Schoolcode' is not a column of the Aeries table "
        "schools; did you mean 'SchoolCode'?",
    ])


def test_the_tables_and_columns_a_crosswalk_check_is_used_by(tmp_path):
    def edit(d):
        d["crosswalks"]["sites"]["check"]["used_by"] = [
            {"table": "staff", "column": "PrimaryAeriesSchol", "id": "Id"},
            {"table": "contacts", "column": "SchoolCode", "id": "StudentID"},
        ]

    assert destiny_with(tmp_path, edit) == "\n".join([
        "destiny.yml: crosswalks.sites.check.used_by[1].table: table 'contacts' is not in source.tables "
        "(schools, students, staff, teachers)",
        "destiny.yml: crosswalks.sites.check.used_by[0].column: 'PrimaryAeriesSchol' is not a column of the Aeries "
        "table staff; did you mean 'PrimaryAeriesSchool'?",
        "destiny.yml: crosswalks.sites.check.used_by[0].id: 'Id' is not a column of the Aeries table staff; "
        "did you mean 'ID'?",
    ])
    assert destiny_with(tmp_path, lambda d: d["crosswalks"]["sites"]["check"]["used_by"][0].pop("id")) == (
        "destiny.yml: crosswalks.sites.check.used_by[0]: 'id' is required"
    )


def test_the_loader_reads_the_registry_without_importing_the_hook():
    """The loader runs at DAG parse time: the registry it checks columns against is a light module."""
    import subprocess
    import sys

    code = (
        "import sys, aeries_hub.mapping.loader\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'requests', 'pandas', 'pyarrow', 'airflow'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=MAPPINGS_DIR.parent.parent, env={**__import__("os").environ, "PYTHONPATH": "plugins"})
    assert done.stdout.strip() == "[]"


def test_every_column_the_shipped_mappings_read_is_in_the_hooks_registry():
    """What the loader check above would need: no shipped mapping reads a column the registry lacks."""
    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.mapping.loader import _refs

    unknown = []
    for path in sorted(MAPPINGS_DIR.glob("*.yml")):
        mapping = load_mapping(path)
        for o, output in enumerate(mapping.outputs):
            for r, rec in enumerate(output.records):
                if rec.table is None:
                    continue
                tables = {lk.alias: lk.table for lk in rec.lookups}

                def known(ref: str, table: str = rec.table, rec=rec, tables=tables) -> bool:
                    if "." not in ref:
                        return ref in TABLES[table].column_names
                    alias, column = ref.split(".", 1)
                    if rec.explode and alias == rec.explode[1]:
                        return column in TABLES[rec.table].column_type(rec.explode[0])["list"]
                    return column in TABLES[tables[alias]].column_names

                refs = [ref for spec in rec.values.values() for ref in _refs(spec)]
                refs += [c.column for c in rec.where] + list(rec.distinct_on) + [p.column for p in rec.prefer]
                refs += [mine for lk in rec.lookups for mine in lk.on]
                for ref in refs:
                    if not known(ref):
                        unknown.append(f"{path.name}: outputs[{o}].records[{r}]: {ref}")
                for lk in rec.lookups:
                    for ref in list(lk.on.values()) + [c.column for c in lk.where]:
                        if not known(ref, lk.table):
                            unknown.append(f"{path.name}: outputs[{o}].records[{r}].lookups.{lk.alias}: {ref}")
    assert unknown == []


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
        "destiny.yml: source.incremental: unknown key 'full_every_days'; allowed keys: full_every_hours, max_changed_percent")

    def too_much(d):
        d["source"]["incremental"] = {"max_changed_percent": 150}

    assert destiny_with(tmp_path, too_much) == "destiny.yml: source.incremental.max_changed_percent: 150 is greater than the maximum of 100"
    stemscopes = load_mapping(MAPPINGS_DIR / "stemscopes.yml").incremental
    assert (stemscopes.full_every_hours, stemscopes.max_changed_percent) == (168, 5)
    assert load_mapping(DESTINY).incremental is None


def test_columns_inside_a_first_of_fallback_and_a_first_in_group_are_checked(tmp_path):
    def edit(d):
        values = d["outputs"][0]["records"][0]["values"]
        fallback = {"source": "MailingAddres", "transform": [{"split_name": "first"}]}
        values["field_barcode"] = {"first_of": ["StudentID", fallback]}
        values["field_firstName"] = {"first_in_group": {"by": ["StudentId"], "order": ["SchoolCode"]}}

    assert load_error(tmp_path, edit) == (
        "destiny.yml: outputs[0].records[0].values.field_barcode.first_of[1].source: 'MailingAddres' is not a "
        "column of the Aeries table students; did you mean 'MailingAddress'?\n"
        "destiny.yml: outputs[0].records[0].values.field_firstName.first_in_group.by[0]: 'StudentId' is not a column "
        "of the Aeries table students; did you mean 'StudentID'?"
    )


def test_split_name_takes_first_or_last(tmp_path):
    def edit(d):
        d["outputs"][0]["records"][0]["values"]["field_barcode"] = {"source": "FirstName",
                                                                    "transform": [{"split_name": "middle"}]}

    assert "outputs[0].records[0].values.field_barcode" in load_error(tmp_path, edit)
    assert "'middle' is not one of first, last" in load_error(tmp_path, edit)


def test_dates_compared_with_the_run_date_need_the_schools_table(tmp_path):
    """The run's date is held inside the school year Aeries served, whose days are the schools' terms."""
    def edit(d):
        d["source"]["tables"].remove("schools")

    assert ("destiny.yml: source.tables: patrons.csv compare dates with the run's date, which is held inside the school "
            "year Aeries serves, whose days come from Aeries' schools table; add schools") in destiny_with(tmp_path, edit)
