"""The emulator holds a district as compact records: a served answer has the bytes of the data files' records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from aeries_sandbox.emulator import EmulatorServer, generate_district
from aeries_sandbox.emulator import district as district_module
from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.records import Compactor, Record

from .conftest import FULL_CERT, SEED, SIZE


def _file_rows(directory: Path, name: str) -> list[dict[str, Any]]:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def _encoded(rows: Any) -> bytes:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.fixture(scope="module")
def written(district, tmp_path_factory) -> Path:
    return district.write(tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def loaded_url(written, certs):
    with EmulatorServer(District.load(written), certs, base_path="/aeries") as server:
        yield server.url


def _get(url: str, path: str) -> requests.Response:
    response = requests.get(f"{url}/api/v5/{path}", headers={"AERIES-CERT": FULL_CERT}, timeout=30,
                            proxies={"http": "", "https": ""})
    assert response.status_code == 200, (path, response.text[:200])
    return response


@pytest.mark.parametrize("file_name, path", [
    ("students.json", "students"), ("contacts.json", "contacts"), ("rosters.json", "classes"),
    ("sections.json", "sections"), ("teachers.json", "teachers")])
def test_every_school_answers_the_bytes_of_its_rows_in_the_data_files(written, loaded_url, file_name, path):
    rows = _file_rows(written, file_name)
    schools = sorted({row["SchoolCode"] for row in rows})
    assert len(schools) >= 3
    for school in schools:
        expected = [row for row in rows if row["SchoolCode"] == school]
        response = _get(loaded_url, f"schools/{school}/{path}")
        assert response.json() == expected
        assert response.content == _encoded(expected)


def test_whole_tables_and_nested_records_answer_their_file_bytes(written, loaded_url):
    for file_name, path in (("staff.json", "staff"), ("courses.json", "courses"), ("schools.json", "schools")):
        assert _get(loaded_url, path).content == _encoded(_file_rows(written, file_name))
    gradebook = _file_rows(written, "gradebooks.json")[0]
    assert _get(loaded_url, f"gradebooks/{gradebook['GradebookNumber']}").content == _encoded(gradebook)
    school = _file_rows(written, "schools.json")[1]
    assert _get(loaded_url, f"schools/{school['SchoolCode']}/terms").content == _encoded(school["Terms"])


def test_a_page_of_students_is_the_same_slice_of_the_file(written, loaded_url):
    rows = _file_rows(written, "students.json")
    school = rows[0]["SchoolCode"]
    expected = [row for row in rows if row["SchoolCode"] == school][5:12]
    response = requests.get(f"{loaded_url}/api/v5/schools/{school}/students", timeout=30,
                            params={"StartingRecord": 6, "EndingRecord": 12}, headers={"AERIES-CERT": FULL_CERT},
                            proxies={"http": "", "https": ""})
    assert response.content == _encoded(expected)


def test_a_table_file_is_read_in_batches_and_any_other_layout_whole(district, tmp_path, monkeypatch):
    directory = district.write(tmp_path / "lines")
    expected = _file_rows(directory, "contacts.json")
    monkeypatch.setattr(district_module, "_BATCH_BYTES", 5000)  # many batches
    assert [dict(row) for row in District.load(directory).contacts] == expected
    pretty = tmp_path / "pretty"
    pretty.mkdir()
    (pretty / "contacts.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False), encoding="utf-8")
    assert [dict(row) for row in District.load(pretty).contacts] == expected
    two_per_line = tmp_path / "two"
    two_per_line.mkdir()
    (two_per_line / "rosters.json").write_text('[\n{"A":1},{"A":2},\n{"A":3}\n]\n', encoding="utf-8")
    assert [dict(row) for row in District.load(two_per_line).rosters] == [{"A": 1}, {"A": 2}, {"A": 3}]


@pytest.mark.parametrize("text, message", [
    ('[\n{"A":1},\n{"A":2},\n]\n', "not valid UTF-8 JSON"),
    ('[\n{"A":1}\n{"A":2}\n]\n', "not valid UTF-8 JSON"),
    ('[\n{"A":1},\n2\n]\n', "expected a JSON array of objects"),
    ('[\n{"A":1}\n]\nx', "not valid UTF-8 JSON"),
])
def test_a_table_file_that_is_not_an_array_of_objects_is_refused(tmp_path, text, message):
    (tmp_path / "rosters.json").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        District.load(tmp_path)


def test_a_record_reads_and_encodes_as_its_dict():
    row = {"b": True, "i": 1, "f": 1.0, "z": 0, "n": False, "none": None, "s": "Zoë",
           "nested": [{"x": 1, "y": [True, 1]}], "o": {"k": "v"}}
    compactor = Compactor()
    record = compactor.record(row)
    twin = compactor.record(dict(row))
    assert isinstance(record, Record) and record == row and row == record and record == twin
    assert dict(record) == row and {**record, "i": 2} == {**row, "i": 2}
    assert json.dumps(record.as_dict()) == json.dumps(row)
    assert json_bytes([record, twin]) == _encoded([row, row])
    assert record.get("missing", 5) == 5 and "s" in record and "missing" not in record and len(record) == len(row)
    with pytest.raises(KeyError, match="missing"):
        record["missing"]  # noqa: B018
    assert list(record) == list(row) and record["s"] is twin["s"]
    for first, then in ((1, True), (True, 1), (1, 1.0), (0, False), (1.0, 1)):
        compactor.record({"a": first})
        assert type(compactor.record({"a": then})["a"]) is type(then)


def test_a_compact_generated_district_writes_the_same_bytes(written, tmp_path):
    compact = generate_district(SIZE, SEED, compact=True)
    assert any(isinstance(row, Record) for row in compact.contacts)
    compact.write(tmp_path)
    for path in sorted(written.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name
