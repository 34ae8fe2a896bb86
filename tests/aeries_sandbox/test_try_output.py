"""What ``aeries-hub try`` prints of a run's files (aeries_sandbox.try_output): delimited and jsonl files read back
into rows, and the table of their first rows."""

from __future__ import annotations

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR
from aeries_sandbox.try_output import delivered_files, file_table


def test_a_pipe_file_and_a_jsonl_file_are_read_back_into_rows(tmp_path):
    xello = load_mapping(MAPPINGS_DIR / "xello.yml")
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "School.txt").write_bytes(b"SchoolCode|Name|SchoolType\r\n994|Eagle High|1\r\n")
    assert delivered_files(xello, tmp_path) == [("School.txt", [{"SchoolCode": "994", "Name": "Eagle High", "SchoolType": "1"}])]

    enroll = load_mapping(MAPPINGS_DIR / "schoolmint_enroll.yml")
    (tmp_path / "output" / "students.jsonl").write_text(
        '{"students": {"student_district_id": "7", "gender": null}, "guardians": [{"fname": "Rosa"}]}\n')
    assert delivered_files(enroll, tmp_path) == [("students.jsonl", [
        {"students.student_district_id": "7", "students.gender": "null", "guardians": '[{"fname": "Rosa"}]'}])]


def test_the_table_shows_the_first_rows_each_column_as_wide_as_its_widest_cell_cut_past_24():
    rows = [{"id": "1", "email": "a-very-long-address@students.example.org"}, {"id": "22", "email": ""},
            {"id": "333", "email": "c@x"}]
    assert file_table("users.csv", rows, 2).splitlines() == [
        "users.csv: 3 rows (the first 2)",
        "id  email",
        "1   a-very-long-address@stu~",  # 23 characters and ~
        "22",
    ]
    assert file_table("empty.csv", [], 5) == "empty.csv: 0 rows"
