"""The pydantic models are the definition of the write-back file format (writeback.schema.json is written from them,
test_reference.py): the shipped files are valid documents of the models too, and a mistake the loader refuses is
refused by them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aeries_hub.config_files import read_yaml
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.schema_models import WriteBackFile

WRITEBACKS = sorted(WRITEBACKS_DIR.glob("*.yml"))
ENROLL = WRITEBACKS_DIR / "schoolmint_enroll.yml"


@pytest.mark.parametrize("path", WRITEBACKS, ids=lambda path: path.name)
def test_every_shipped_writeback_is_a_writeback_file(path):
    WriteBackFile.model_validate(read_yaml(path, shown=path.name, error=ValueError))


def test_a_field_given_as_its_path_alone_is_a_field_with_that_path():
    document = read_yaml(ENROLL, shown=ENROLL.name, error=ValueError)
    document["students"]["fields"] = {"StateStudentID": "state_id", "Grade": {"path": "grade", "required": True}}
    students = WriteBackFile.model_validate(document).students
    assert students is not None
    assert {name: (field.path, field.required) for name, field in students.fields.items()} == {
        "StateStudentID": ("state_id", False), "Grade": ("grade", True)}


def test_a_key_the_format_does_not_define_is_rejected_by_the_models_too():
    document = read_yaml(ENROLL, shown=ENROLL.name, error=ValueError)
    document["students"]["contacts"]["fields"]["FirstName"] = {"path": "first", "requird": True}
    with pytest.raises(ValidationError, match="requird"):
        WriteBackFile.model_validate(document)
