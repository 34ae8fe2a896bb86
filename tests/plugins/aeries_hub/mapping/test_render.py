"""The bytes of an output file: JSON Lines records with nesting and the vendor's Overwrite flag."""

from __future__ import annotations

import pandas as pd

from aeries_hub.mapping.models import Column, FileFormat, Nest, Output
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


# ------------------------------------------------------------- characters outside the file's encoding (issue 4)

NAMES = pd.DataFrame({
    "id": ["700001", "700002", "700003", "700004"],
    "first": ["Mỹ Linh", "小明", "Zoë", "Linh 🌸"],
    "last": ["Trần", "王", "O'Brien", "Đỗ"],
})


def test_a_utf8_file_keeps_vietnamese_chinese_and_emoji_byte_for_byte_without_a_bom():
    from aeries_hub.mapping.render import render_delimited

    data = render_delimited(NAMES, ["id", "first", "last"], FileFormat(encoding="utf-8"))
    assert data == (
        "id,first,last\n700001,Mỹ Linh,Trần\n700002,小明,王\n700003,Zoë,O'Brien\n700004,Linh 🌸,Đỗ\n"
    ).encode("utf-8")


def test_a_latin1_file_writes_latin1_characters_as_single_bytes():
    from aeries_hub.mapping.render import render_delimited

    data = render_delimited(NAMES.iloc[[2]], ["id", "first", "last"], FileFormat(encoding="latin-1"))
    assert data == b"id,first,last\n700003,Zo\xeb,O'Brien\n"


def test_a_latin1_file_with_characters_outside_latin1_is_not_written_and_names_each_row_id_column_and_character():
    import pytest

    from aeries_hub.mapping.render import RenderError, render_delimited

    with pytest.raises(RenderError) as err:
        render_delimited(NAMES, ["id", "first", "last"], FileFormat(encoding="latin-1"), ("id",))
    assert str(err.value) == (
        "6 values cannot be encoded in latin-1, the file's format.encoding: "
        "row 1 (id=700001) column first: 'ỹ' (U+1EF9); "
        "row 1 (id=700001) column last: 'ầ' (U+1EA7); "
        "row 2 (id=700002) column first: '小' (U+5C0F), '明' (U+660E); "
        "row 2 (id=700002) column last: '王' (U+738B); "
        "row 4 (id=700004) column first: '🌸' (U+1F338); and 1 more. "
        "Nothing was written; set format.encoding to utf-8 if the vendor accepts it, "
        "or reject such rows with a check on those columns"
    )


def test_an_ascii_jsonl_file_writes_characters_outside_ascii_as_json_escapes_so_nothing_is_lost():
    import json

    people = output("people.jsonl", "id", Column("id"), Column("first"), Column("last"))
    people = Output(file=people.file, format=FileFormat(type="jsonl", encoding="ascii"), key=people.key,
                    columns=people.columns, records=())

    data = render_jsonl(NAMES, people)

    assert data == (
        b'{"id":"700001","first":"M\\u1ef9 Linh","last":"Tr\\u1ea7n"}\n'
        b'{"id":"700002","first":"\\u5c0f\\u660e","last":"\\u738b"}\n'
        b'{"id":"700003","first":"Zo\\u00eb","last":"O\'Brien"}\n'
        b'{"id":"700004","first":"Linh \\ud83c\\udf38","last":"\\u0110\\u1ed7"}\n'
    )
    assert [json.loads(line) for line in data.decode("ascii").splitlines()] == NAMES.to_dict("records")


# ------------------------------------------------------------- line breaks inside values (issue 14)

def test_values_with_line_breaks_are_written_on_one_line_in_every_delimited_format():
    from aeries_hub.mapping.render import render_delimited, single_line_values
    from aeries_hub.mapping.text import TEXT

    frame = pd.DataFrame({
        "StudentID": pd.Series(["1702322", "57193392", "9435995", "8000001", "8000002"], dtype=TEXT),
        "FirstName": pd.Series(["Daniel\r\nAlejandro", "Kim", "Ana", "Mary \n Jo", " Maria"], dtype=TEXT),
        "LastName": pd.Series(["Lee", "Nguyễn\nChen", "Kealoha\r\n", "Tab\tSeparated\x85", "Lee "], dtype=object),
        "Grade": [10, 8, 0, 3, 4],
    })
    columns = ["StudentID", "FirstName", "LastName", "Grade"]

    single, changed = single_line_values(frame, columns, ("StudentID",))

    assert changed == {"values": 5, "columns": {"FirstName": 2, "LastName": 3},
                       "ids": ["1702322", "57193392", "9435995", "8000001"]}
    assert frame["FirstName"][0] == "Daniel\r\nAlejandro"  # the caller's rows are left as they were
    pipes = FileFormat(delimiter="|", quoting="none", line_ending="crlf")
    assert render_delimited(single, columns, pipes) == (
        b"StudentID|FirstName|LastName|Grade\r\n"
        b"1702322|Daniel Alejandro|Lee|10\r\n"
        b"57193392|Kim|Nguy\xe1\xbb\x85n Chen|8\r\n"
        b"9435995|Ana|Kealoha|0\r\n"
        b"8000001|Mary Jo|Tab Separated|3\r\n"
        b"8000002| Maria|Lee |4\r\n"
    )
    quoted = FileFormat(delimiter=",", quoting="all", line_ending="crlf")
    assert render_delimited(single, columns, quoted).splitlines()[1:3] == [
        b'"1702322","Daniel Alejandro","Lee","10"', b'"57193392","Kim","Nguy\xe1\xbb\x85n Chen","8"']
    tabs = FileFormat(delimiter="\t", quoting="minimal")
    assert render_delimited(single, columns, tabs).split(b"\n")[4] == b"8000001\tMary Jo\tTab Separated\t3"


def test_values_on_one_line_already_are_left_alone():
    from aeries_hub.mapping.render import single_line, single_line_values

    frame = pd.DataFrame({"id": ["1", "2"], "name": ["O'Brien, Jr.", " Zoë "]})
    single, changed = single_line_values(frame, ["id", "name"], ("id",))

    assert changed == {} and single is frame
    assert [single_line(v) for v in ("\r\n", "\u2028x\u2029", "a\x00b", "x \r\n\t y")] == ["", "x", "a b", "x y"]


def test_the_report_names_the_file_the_columns_and_the_ids():
    from aeries_hub.mapping.render import describe_single_line_values

    changed = {"values": 7, "columns": {"FirstName": 6, "LastName": 1}, "ids": [str(n) for n in range(101, 108)]}
    assert describe_single_line_values("Student.txt", changed) == (
        "Student.txt: 7 values (FirstName 6, LastName 1) held line breaks or other control characters, written on "
        "one line with a space for each run: ids 101, 102, 103, 104, 105 and 2 more")
