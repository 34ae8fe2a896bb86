"""End to end on the fixture district built from real Aeries answers: each vendor's delivered files, byte for byte.

tests/fixtures/real_district/ replays answers of Aeries' demo server captured in public repositories (schools,
students, contacts, staff, systeminfo), byte for byte, with the tables no one captured (school 994, teachers,
courses, sections, class schedules) derived from their fields; its README cites each source and says how each
derived table was made. tests/fixtures/expected_real/<vendor>/ holds the files each vendor should receive,
written by hand from the seeds and the mappings' stated rules before the DAGs were run on this district. The
checks are those of test_fixture_district.py, plus what this district's real shapes make the report say: the
school year Aeries served, the pseudo-schools left out, the shared placeholder e-mails warned about, and (Destiny)
the school code a staff member carries that Aeries' school list lacks.
"""

from __future__ import annotations

import pytest

from tests.dags.test_fixture_district import FIXTURES, VENDORS, check_delivers_the_hand_written_files

EXPECTED = FIXTURES / "expected_real"

# The module's own stack (tests/dags/conftest.py) serves the real-data district.
STACK = {"data_dir": FIXTURES / "real_district"}

# Every school of the capture but 994 (the only one with students): school 0 is the district, 99 has DoNotReport,
# the Flex schools 884/894, the X schools 900-902 and 990 have no student. Destiny sends every school.
PSEUDO_SCHOOLS = {
    0: ["school 0 is the district itself"],
    99: ["DoNotReport is true", "no student is enrolled"],
    884: ["no student is enrolled"],
    894: ["no student is enrolled"],
    900: ["no student is enrolled"],
    901: ["no student is enrolled"],
    902: ["no student is enrolled"],
    990: ["no student is enrolled"],
}
LEFT_OUT = {vendor: ({} if vendor == "destiny" else PSEUDO_SCHOOLS) for vendor in VENDORS}

# Teachers 994610 and 994621 share the demo server's placeholder NoWhere@aeries.com: a warning, never a reject.
SHARED_EMAIL = {
    "xello": {("Educator", "an e-mail (Xello's username) belongs to one educator per school", ("994610", "994621"))},
    "powerschool_learning": {("users", "an e-mail belongs to one user", ("T994610", "T994621"))},
    "stemscopes": {("users", "an e-mail belongs to one user", ("T994610", "T994621"))},
    "destiny": set(),  # patrons are matched by field_districtID; shared e-mails are sent as they are
    "schoolmint_enroll": set(),
}

# Staff 998003's PrimaryAeriesSchool 998 is no school of the captured list: Destiny gets the patron with site 998
# (Destiny skips only a patron whose site it does not know), and the report names the code with the staff id.
UNLISTED_SITE = (
    "crosswalk sites: 998 is neither in the file nor a SchoolCode of Aeries' schools; 1 row of staff with "
    "PrimaryAeriesSchool 998 is sent as 998 (ID 998003); add 998 to the file or correct the PrimaryAeriesSchool in Aeries"
)


def warnings_of(run) -> set[tuple[str, str, tuple[str, ...]]]:
    """Each warned check of the run's built files: (file stem, description, the ids of the rows it names)."""
    found = set()
    for name in run.list("summary"):
        if not name.startswith("build_"):
            continue
        summary = run.read_json(f"summary/{name}")
        for result in summary["checks"]["results"]:
            if result["outcome"] == "warned":
                ids = tuple(sorted(str(value) for row in result["sample"] for column, value in row.items()
                                   if column not in result["columns"] and column != "row"))
                found.add((summary["checks"]["name"], result["description"], ids))
    return found


@pytest.mark.e2e
@pytest.mark.parametrize("vendor", list(VENDORS))
def test_real_district_delivers_the_hand_written_files(stack, vendor, caplog):
    with caplog.at_level("INFO"):
        run, report = check_delivers_the_hand_written_files(stack, vendor, EXPECTED / vendor)

    # systeminfo offers 2020-2021 and 2019-2020 only: the run reads 2020-2021 and labels its files with it
    assert (report["database_year"], report["school_year"]) == (2020, "2020-2021")
    assert {school["code"]: school["reasons"] for school in report["left_out_schools"]} == LEFT_OUT[vendor]
    assert warnings_of(run) == SHARED_EMAIL[vendor]
    if vendor == "destiny":
        assert report["crosswalks"]["sites"]["unlisted"] == [
            {"aeries": "998", "not_in": {"table": "schools", "column": "SchoolCode"}, "table": "staff",
             "column": "PrimaryAeriesSchool", "id": "ID", "count": 1, "ids": ["998003"]}
        ]
        assert UNLISTED_SITE in report["attention"]
        logged = {record.funcName: record.getMessage() for record in caplog.records if record.getMessage() == UNLISTED_SITE}
        assert set(logged) == {"_crosswalk_coverage", "report"}  # validate_sources' task log and the report's
