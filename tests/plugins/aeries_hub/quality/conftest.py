"""Frames shared by the runner's tests."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture
def students() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "StudentID": pd.array([1001, 1002, 1002, 1004, 1005, 1006], dtype="Int64"),
            "SchoolCode": pd.array([994, 994, 995, 999, 994, 994], dtype="Int64"),
            "LastName": pd.array(["Smith", "X" * 50, "Lee", "Kim", "Ng", "Y" * 43], dtype="string"),
            "Grade": pd.array([9, 10, 11, 12, 19, -3], dtype="Int64"),
            "StudentEmailAddress": pd.array(["a@b.org", "", "   ", None, "not-an-email", "c@d.org"], dtype="string"),
            "Birthdate": pd.array(["2002-11-11T00:00:00", None, "", "2003-02-30T00:00:00", "2004-01-05T00:00:00",
                                  "01/05/2004"], dtype="string"),
        }
    )


@pytest.fixture
def schools() -> pd.DataFrame:
    return pd.DataFrame({"SchoolCode": pd.array([994, 995], dtype="Int64"), "Name": ["North High", "South High"]})
