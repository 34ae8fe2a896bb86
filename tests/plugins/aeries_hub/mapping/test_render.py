"""The bytes of an output file: JSON Lines records with nesting and the vendor's Overwrite flag."""

from __future__ import annotations

import pandas as pd

from aeries_hub.mapping.loader import Column, FileFormat, Nest, Output
from aeries_hub.mapping.render import NestedRows, render_jsonl


def output(file: str, key: str, *columns: Column) -> Output:
    return Output(file=file, format=FileFormat(type="jsonl"), key=(key,), columns=columns, records=())


STUDENTS = output(
    "students.jsonl", "students.id",
    Column("students.id"), Column("students.fname"), Column("students.gender", overwrite=True),
    Column("students_annual.entry"), Column("students.ssn", do_not_map=True),
)
GUARDIANS = output("guardians.jsonl", "seq", Column("student"), Column("seq"), Column("fname"), Column("email"))


def test_dotted_columns_nest_blank_is_null_only_with_overwrite_and_children_follow_their_parent():
    students = pd.DataFrame({
        "students.id": ["7", "8"], "students.fname": ["Zoë", " "], "students.gender": ["", "F"],
        "students_annual.entry": ["2026-08-13", ""],
    })
    guardians = pd.DataFrame({"student": ["7", "7", "9"], "seq": ["1", "2", "1"], "fname": ["Ana", "Lee", "Ox"],
                              "email": ["ana@example.org", "", "ox@example.org"]})
    nest = NestedRows(Nest(name="guardians", file="guardians.jsonl", child_column="student", parent_column="students.id"),
                      GUARDIANS, guardians)

    data = render_jsonl(students, STUDENTS, [nest])

    assert data == (
        '{"students":{"id":"7","fname":"Zoë","gender":null},"students_annual":{"entry":"2026-08-13"},'
        '"guardians":[{"seq":"1","fname":"Ana","email":"ana@example.org"},{"seq":"2","fname":"Lee"}]}\n'
        '{"students":{"id":"8","gender":"F"}}\n'
    ).encode("utf-8")


def test_an_unquoted_file_writes_a_double_quote_as_it_is_and_refuses_its_delimiter():
    import pytest

    from aeries_hub.mapping.render import RenderError, render_delimited

    pipes = FileFormat(delimiter="|", quoting="none", line_ending="crlf")
    frame = pd.DataFrame({"id": ["1"], "title": ['Teacher "AP Physics"']})
    assert render_delimited(frame, ["id", "title"], pipes) == b'id|title\r\n1|Teacher "AP Physics"\r\n'
    with pytest.raises(RenderError, match=r"row 1 \(id=2\): cannot be written with quoting 'none'"):
        render_delimited(pd.DataFrame({"id": ["2"], "title": ["a|b"]}), ["id", "title"], pipes, ("id",))
