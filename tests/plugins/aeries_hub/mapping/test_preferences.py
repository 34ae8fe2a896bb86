"""Which row comes first among rows that compete (mapping.preferences): a lookup's matches with and without
``prefer``, and a distinct key's rows preferred by a condition, on the hand-written tables of conftest.py."""

from __future__ import annotations

import pytest

from aeries_hub.mapping.models import MappingError
from tests.plugins.aeries_hub.mapping.mapping_files import mapping_with, one_output, rows, without_lines


def teacher_of_each_staff_member(tmp_path, tables, prefer: str = "") -> list[tuple[str, str]]:
    """Staff 7 has two teacher records at school 994: TeacherNumber 501 (Mia) and 502 (Mia2), in key order."""
    m = mapping_with(tmp_path, one_output(["id", "name"], """
        id: {source: ID}
        name: {source: teacher.FirstName}
    """, table="staff", extra=f"""
        lookups:
          teacher: {{table: teachers, on: {{ID: StaffID1}}{prefer}}}
    """))
    return [(r["id"], r["name"]) for r in rows(m, tables)]


def test_a_lookup_without_prefer_takes_the_first_match_in_the_tables_key_order(tmp_path, tables):
    assert teacher_of_each_staff_member(tmp_path, tables) == [("7", "Mia"), ("8", "Lee")]


@pytest.mark.parametrize("prefer", [
    "[{column: TeacherNumber, order: descending}]",
    "[{column: EmailAddress, order: [other@example.org]}]",
    "[{where: [{column: FirstName, in: [Mia2]}]}]",
    "[{where: [{column: FirstName, not_in: [Mia]}]}, TeacherNumber]",
])
def test_a_lookup_takes_the_match_its_prefer_ranks_first(tmp_path, tables, prefer):
    assert teacher_of_each_staff_member(tmp_path, tables, f", prefer: {prefer}") == [("7", "Mia2"), ("8", "Lee")]


def test_ascending_is_the_tables_order_for_ties_and_a_whole_number_order(tmp_path, tables):
    chosen = teacher_of_each_staff_member(tmp_path, tables, ", prefer: [{column: TeacherNumber, order: ascending}]")
    assert chosen == [("7", "Mia"), ("8", "Lee")]


def test_distinct_prefers_the_rows_meeting_a_condition(tmp_path, tables):
    m = mapping_with(tmp_path, one_output(["id", "school"], """
        id: {source: StudentID}
        school: {source: SchoolCode}
    """, extra="""
        distinct:
          on: [StudentID]
          prefer: [{where: [{column: SchoolCode, in: [995]}]}]
    """))
    # Student 101 is at 994 (first in the table) and 995: the 995 row is preferred.
    assert rows(m, tables) == [{"id": "101", "school": "995"}, {"id": "102", "school": "994"},
                               {"id": "103", "school": "995"}]


def test_a_preference_names_columns_of_the_lookup_table(tmp_path):
    with pytest.raises(MappingError) as err:
        mapping_with(tmp_path, one_output(["id"], "id: {source: ID}\n", table="staff", extra="""
            lookups:
              teacher: {table: teachers, on: {ID: StaffID1}, prefer: [{column: TeacherNum, order: descending}, {where: [{column: Nope, blank: true}]}]}
        """))
    assert without_lines(str(err.value)) == "\n".join([
        "sample.yml: outputs[0].records[0].lookups.teacher.prefer[0].column: 'TeacherNum' is not a column of the "
        "Aeries table teachers (lookup teacher); did you mean 'TeacherNumber'?",
        "sample.yml: outputs[0].records[0].lookups.teacher.prefer[1].where[0].column: 'Nope' is not a column of the "
        "Aeries table teachers (lookup teacher); its columns: " + ", ".join(_teacher_columns()),
    ])


def _teacher_columns() -> tuple[str, ...]:
    from aeries_hub.aeries.tables import TABLES

    return TABLES["teachers"].column_names
