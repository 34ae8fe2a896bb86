"""Tables, lookup aliases and Aeries columns a mapping reads, checked when it loads: file, key path, did-you-mean."""

from __future__ import annotations

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR
from tests.plugins.aeries_hub.mapping.mapping_files import destiny_with, load_error, output_named, stemscopes_with

# --------------------------------------------------------------- unknown Aeries columns (issue 4, bad inputs)
# An unknown column is reported when the mapping loads (the DAG is an import error), not only when its build
# task runs: the loader checks every column a record set reads against the registry (aeries_hub.aeries.tables.TABLES:
# a table's columns, the list fields of an exploded column, a lookup's table for "alias.Column").


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


def test_a_crosswalk_step_naming_no_crosswalk(tmp_path):
    def edit(d):
        output_named(d, "orgs.csv")["records"][1]["values"]["sourcedId"]["transform"] = [{"crosswalk": "school"}]

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[1].records[1].values.sourcedId.transform: crosswalk 'school' is not defined (did you mean 'schools'?); crosswalks: schools"
    )


def test_literal_rows_with_a_column_the_file_does_not_have(tmp_path):
    def edit(d):
        output_named(d, "manifest.csv")["records"][0]["rows"][0]["comment"] = "x"

    assert stemscopes_with(tmp_path, edit) == (
        "stemscopes.yml: outputs[0].records[0].rows[0].comment: not a column of manifest.csv; add it to outputs[0].columns"
    )


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


def test_every_column_the_shipped_mappings_read_is_in_the_hooks_registry():
    """What the loader check above would need: no shipped mapping reads a column the registry lacks."""
    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.mapping.reads import value_columns

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

                refs = [ref for spec in rec.values.values() for ref in value_columns(spec)]
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
