"""Write-back files: the shipped one loads, writing is off by default, mistakes name the file and key path."""

from __future__ import annotations

import pytest
import yaml

from aeries_hub.config_files import read_yaml
from aeries_hub.mapping.loader import MappingError
from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.loader import load_writeback

ENROLL = WRITEBACKS_DIR / "schoolmint_enroll.yml"


def enroll_with(tmp_path, edit) -> str:
    document = read_yaml(ENROLL, shown="schoolmint_enroll.yml", error=ValueError)
    edit(document)
    path = tmp_path / "schoolmint_enroll.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(MappingError) as err:
        load_writeback(path)
    return str(err.value)


def test_shipped_writeback_loads_with_writing_off():
    writeback = load_writeback(ENROLL)
    assert writeback.dag_id == "schoolmint_enroll_to_aeries"
    assert writeback.enabled is False
    assert writeback.match == ("StateStudentID",) and writeback.contacts.match == ("FirstName", "LastName")


def test_unknown_key_and_unknown_aeries_field_name_the_key_path(tmp_path):
    assert enroll_with(tmp_path, lambda d: d["students"].update(matches=["X"])) == (
        "schoolmint_enroll.yml: students: unknown key 'matches'; allowed keys: contacts, fields, id, match, school"
    )

    def edit(d):
        d["students"]["fields"]["FavoriteColor"] = "students.color"
        d["students"]["match"] = ["StateId"]

    assert enroll_with(tmp_path, edit) == (
        "schoolmint_enroll.yml: students.fields.FavoriteColor: not a field of an Aeries student\n"
        "schoolmint_enroll.yml: students.match: 'StateId' is not one of students.fields (StateStudentID, FirstName, "
        "MiddleName, LastName, BirthDate, Gender, Grade, HomePhone, MailingAddress, MailingAddressCity, "
        "MailingAddressState, MailingAddressZipCode, SchoolEnterDate, FavoriteColor)"
    )
