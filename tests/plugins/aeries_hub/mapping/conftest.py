"""The hand-written Aeries tables the engine tests build from."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def tables():
    schools = pd.DataFrame(
        {"SchoolCode": [994, 995, 0], "Name": ["Ridge High", "Vale Elem", "District Office"], "ShortName": ["RHS", "VES", "DO"]}
    )
    students = pd.DataFrame(
        {
            "StudentID": pd.array([101, 102, 103, 101], dtype="Int64"),
            "SchoolCode": pd.array([994, 994, 995, 995], dtype="Int64"),
            "FirstName": ["Zoë", "  Ana ", "Seán", "Zoë"],
            "LastName": ["O'Brien", "Smith-Jones", "Garcia, Jr.", "O'Brien"],
            "Grade": pd.array([-1, 0, 12, -1], dtype="Int64"),
            "InactiveStatusCode": [" ", "P", "I", "I"],
            "Birthdate": ["2019-03-04T00:00:00", None, "0001-01-01T00:00:00", "2019-03-04T00:00:00"],
            "StudentEmailAddress": ["zoe@example.org", "", None, "zoe@example.org"],
            "NetworkLoginID": ["zobrien", None, "sgarcia", "zobrien"],
        }
    )
    staff = pd.DataFrame(
        {
            "ID": pd.array([7, 8], dtype="Int64"),
            "FirstName": ["", "Lee"],
            "LastName": [" ", "Park"],
            "EmailAddress": [None, "lpark@example.org"],
            "PrimaryAeriesSchool": pd.array([994, 0], dtype="Int64"),
        }
    )
    teachers = pd.DataFrame(
        {
            "SchoolCode": pd.array([994, 994, 995], dtype="Int64"),
            "TeacherNumber": pd.array([501, 502, 601], dtype="Int64"),
            "StaffID1": pd.array([7, 7, 8], dtype="Int64"),
            "FirstName": ["Mia", "Mia2", "Lee"],
            "LastName": ["Chen", "Chen2", "Park"],
            "EmailAddress": ["mchen@example.org", "other@example.org", ""],
            "InactiveStatusCode": [" ", " ", "I"],
        }
    )
    return {"schools": schools, "students": students, "staff": staff, "teachers": teachers}
