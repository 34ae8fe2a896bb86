"""A mapping's source section: the schools it names, Aeries' pseudo-schools it leaves out, the statuses it keeps."""

from __future__ import annotations

import pandas as pd

from aeries_hub.mapping.reads import columns_read_by
from aeries_hub.mapping.source_filters import apply_source_filters, describe_left_out, left_out_schools
from tests.plugins.aeries_hub.mapping.mapping_files import mapping_with, one_output, rows


def test_source_filters_schools_and_statuses(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "school"], """
        id: {source: StudentID}
        school: {source: SchoolCode}
    """), source_extra="""
        school_codes: [994]
        student_statuses: [active, pre_enrolled]
    """)
    assert rows(m, tables, filtered=True) == [{"id": "101", "school": "994"}, {"id": "102", "school": "994"}]
    filtered = apply_source_filters(m, tables)
    assert filtered["staff"]["ID"].tolist() == [7]
    assert filtered["schools"]["SchoolCode"].tolist() == [994]


def pseudo_school_tables(tables):
    schools = pd.DataFrame({
        "SchoolCode": pd.array([0, 99, 994, 995, 900], dtype="Int64"),
        "Name": ["Demo USD", "Transfer School", "Ridge High", "Vale Elem", "X NPS School"],
        "DoNotReport": pd.array([False, True, False, False, False], dtype="boolean"),
    })
    students = pd.concat([tables["students"], pd.DataFrame({
        "StudentID": pd.array([104], dtype="Int64"), "SchoolCode": pd.array([99], dtype="Int64"),
        "InactiveStatusCode": [" "]})], ignore_index=True)
    teachers = pd.concat([tables["teachers"], pd.DataFrame({
        "SchoolCode": pd.array([900], dtype="Int64"), "TeacherNumber": pd.array([1], dtype="Int64"),
        "StaffID1": pd.array([9], dtype="Int64"), "InactiveStatusCode": [""]})], ignore_index=True)
    staff = pd.DataFrame({"ID": pd.array([7, 8], dtype="Int64"), "PrimaryAeriesSchool": pd.array([0, 99], dtype="Int64")})
    return {"schools": schools, "students": students, "teachers": teachers, "staff": staff}


def test_pseudo_schools_are_left_out_with_their_rows_and_a_reason(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id"], "id: {source: StudentID}\n"), source_extra="""
        student_statuses: [active, pre_enrolled, inactive]
    """)
    source = pseudo_school_tables(tables)
    left_out = left_out_schools(m, source["schools"], source["students"])
    assert left_out == [
        {"code": 0, "name": "Demo USD", "reasons": ["school 0 is the district itself"]},
        {"code": 99, "name": "Transfer School", "reasons": ["DoNotReport is true"]},
        {"code": 900, "name": "X NPS School", "reasons": ["no student is enrolled"]},
    ]
    assert describe_left_out(left_out) == (
        "left out as pseudo-schools (source.include_pseudo_schools sends them): 0 'Demo USD' (school 0 is the "
        "district itself); 99 'Transfer School' (DoNotReport is true); 900 'X NPS School' (no student is enrolled)"
    )
    filtered = apply_source_filters(m, source, left_out)
    assert filtered["schools"]["SchoolCode"].tolist() == [994, 995]
    assert sorted(filtered["students"]["StudentID"].tolist()) == [101, 101, 102, 103]  # not 104 (at 99)
    assert filtered["teachers"]["SchoolCode"].tolist() == [994, 994, 995]
    assert filtered["staff"]["ID"].tolist() == [7, 8]  # staff keep their primary school, pseudo or not
    # Without students extracted, "no student is enrolled" cannot be told: 900 stays.
    assert [s["code"] for s in left_out_schools(m, source["schools"], None)] == [0, 99]


def test_a_file_that_never_reads_schoolcode_still_reads_it_to_leave_out_pseudo_schools(tmp_path, tables):
    """The build reads only the columns a file needs; SchoolCode is one of them whenever pseudo-schools are left
    out, or a student of the Transfer School (99) would pass the filter unseen."""
    body = one_output(["id"], "id: {source: StudentID}\n")
    left_out = mapping_with(tmp_path, body)
    assert columns_read_by(left_out, left_out.outputs[0]) == {"students": {"StudentID", "InactiveStatusCode", "SchoolCode"}}
    source = pseudo_school_tables(tables)
    read = {"students": source["students"][["StudentID", "InactiveStatusCode", "SchoolCode"]]}
    filtered = apply_source_filters(left_out, read, [{"code": 99, "name": "Transfer School", "reasons": []}])
    assert 104 not in filtered["students"]["StudentID"].tolist()
    kept = mapping_with(tmp_path, body, source_extra="include_pseudo_schools: true\n")
    assert columns_read_by(kept, kept.outputs[0]) == {"students": {"StudentID", "InactiveStatusCode"}}


def test_include_pseudo_schools_and_school_codes_keep_them(tmp_path, tables):
    source = pseudo_school_tables(tables)
    body = one_output(["id"], "id: {source: StudentID}\n")
    included = mapping_with(tmp_path, body, source_extra="include_pseudo_schools: true\n")
    assert left_out_schools(included, source["schools"], source["students"]) == []
    chosen = mapping_with(tmp_path, body, source_extra="school_codes: [99, 994]\n")
    assert [s["code"] for s in left_out_schools(chosen, source["schools"], source["students"])] == [0, 900]


def test_default_statuses_are_active_only(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id"], "id: {source: StudentID}\n"))
    assert rows(m, tables, filtered=True) == [{"id": "101"}]
