"""The Aeries source suites (include/quality/aeries_sources.yml) run end to end on small Aeries-shaped tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aeries_hub.paths import QUALITY_DIR
from aeries_hub.quality import REJECT_REASON, combine_reports, load_checks, validate_frame

#: Tables in the order their references need them.
ORDER = ["schools", "terms", "courses", "staff", "teachers", "students", "contacts", "programs", "sections", "rosters"]
DATE = "2002-11-11T00:00:00"


def text(values):
    return pd.array(values, dtype="string")


def ints(values):
    return pd.array(values, dtype="Int64")


def aeries_tables() -> dict[str, pd.DataFrame]:
    """A clean district: two schools, four student records (one student at both schools)."""
    return {
        "schools": pd.DataFrame({
            "SchoolCode": ints([994, 995]), "Name": text(["North High", "South Middle"]),
            "LowGradeLevel": ints([9, 6]), "HighGradeLevel": ints([12, 8]),
            "PrincipalEmailAddress": text(["principal@north.example.org", ""]),
        }),
        "terms": pd.DataFrame({
            "SchoolCode": ints([994, 994, 995]), "TermCode": text(["F", "S", "Y"]),
            "StartDate": text(["2024-08-14T00:00:00", "2025-01-06T00:00:00", "2024-08-14T00:00:00"]),
            "EndDate": text(["2024-12-20T00:00:00", "2025-06-05T00:00:00", None]),
        }),
        "courses": pd.DataFrame({"ID": text(["0001", "0002", "A123"]), "Title": text(["English 9", "Algebra", "Art"])}),
        "staff": pd.DataFrame({
            "ID": ints([884797, 884798]), "EmailAddress": text(["t1@example.org", None]),
            "BirthDate": text([DATE, None]), "HireDate": text(["2010-08-01T00:00:00", ""]), "LeaveDate": text([None, None]),
        }),
        "teachers": pd.DataFrame({
            "SchoolCode": ints([994, 995]), "TeacherNumber": ints([101, 201]),
            "EmailAddress": text(["t1@example.org", " "]),
        }),
        "students": pd.DataFrame({
            "StudentID": ints([99400001, 99400002, 99400003, 99400003]),
            "SchoolCode": ints([994, 994, 994, 995]),
            "StudentNumber": ints([1, 2, 3, 1]),
            "Grade": ints([9, 12, -1, 6]),
            "Birthdate": text([DATE, "2005-02-28T00:00:00", None, "2007-06-01T00:00:00"]),
            "SchoolEnterDate": text(["2024-08-14T00:00:00", "", None, "2024-08-14T00:00:00"]),
            "SchoolLeaveDate": text([None, None, None, None]),
            "DistrictEnterDate": text([DATE, DATE, DATE, DATE]),
            "StudentEmailAddress": text(["s1@students.example.org", "", None, "s3@students.example.org"]),
            "StudentPersonalEmailAddress": text([None, None, None, None]),
            "ParentEmailAddress": text(["parent@example.com", "   ", None, ""]),
        }),
        "contacts": pd.DataFrame({
            "StudentID": ints([99400001, 99400001, 99400002]), "SchoolCode": ints([994, 994, 994]),
            "SequenceNumber": ints([1, 2, 1]), "EmailAddress": text(["mom@example.com", "", None]),
        }),
        # the programs of 99400003 are listed at both its schools; two of 99400001's differ only in their end date
        "programs": pd.DataFrame({
            "SchoolCode": ints([994, 994, 994, 995]), "StudentID": ints([99400001, 99400001, 99400003, 99400003]),
            "ProgramCode": text(["181", "181", "144", "144"]),
            "EligibilityStartDate": text(["2020-10-07T00:00:00", "2020-10-07T00:00:00", DATE, DATE]),
            "EligibilityEndDate": text(["2020-10-06T00:00:00", None, None, None]),
        }),
        "sections": pd.DataFrame({
            "SchoolCode": ints([994, 994, 995]), "SectionNumber": ints([1, 2, 1]), "CourseID": text(["0001", "0002", "A123"]),
        }),
        "rosters": pd.DataFrame({
            "SchoolCode": ints([994, 994, 994, 995]), "StudentID": ints([99400001, 99400001, 99400002, 99400003]),
            "SequenceNumber": ints([1, 2, 1, 1]), "SectionNumber": ints([1, 2, 1, 1]),
            "CourseID": text(["0001", "0002", "0001", "A123"]),
            "DateStarted": text(["2024-08-14T00:00:00"] * 4), "DateEnded": text([None, "", None, None]),
        }),
    }


@pytest.fixture(scope="module")
def source_checks():
    return load_checks(QUALITY_DIR / "aeries_sources.yml")


def run_all(tables: dict[str, pd.DataFrame], source_checks, **kwargs):
    """Validate every table in reference order, handing later tables the accepted frames of earlier ones."""
    accepted: dict[str, pd.DataFrame] = {}
    outcomes = {}
    for name in ORDER:
        outcome = validate_frame(tables[name], source_checks[name], name=name, tables=accepted, **kwargs)
        outcomes[name] = outcome
        accepted[name] = outcome.accepted
    return outcomes


def test_a_clean_district_passes_every_source_check(source_checks, tmp_path):
    outcomes = run_all(aeries_tables(), source_checks, docs_dir=tmp_path)
    problems = {name: [r.to_dict() for r in o.results if r.outcome != "passed"] for name, o in outcomes.items()}
    assert problems == {name: [] for name in ORDER}
    report = combine_reports(outcomes.values())
    assert (report["failed"], report["warned"], report["rejected"]) == (0, 0, 0)
    assert report["checks"] == sum(len(v) for v in source_checks.values())
    assert (tmp_path / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.glob("*.validation.json")) == sorted(
        [f"{n}.validation.json" for n in ORDER]
        + [f"{n}.rejects.validation.json"
           for n in ("terms", "staff", "teachers", "students", "contacts", "programs", "sections", "rosters")]
    )
    json.dumps(report)


def test_orphans_and_duplicate_staff_are_rejected_and_bad_emails_warn(source_checks):
    tables = aeries_tables()
    tables["students"].loc[1, "StudentEmailAddress"] = "no-at-sign.example.org"
    tables["students"].loc[2, "Grade"] = 19
    tables["sections"] = pd.concat([tables["sections"], pd.DataFrame({
        "SchoolCode": ints([994]), "SectionNumber": ints([9]), "CourseID": text(["ZZZ"])})], ignore_index=True)
    tables["rosters"] = pd.concat([tables["rosters"], pd.DataFrame({
        "SchoolCode": ints([994, 994, 995]), "StudentID": ints([99499999, 99400002, 99400003]),
        "SequenceNumber": ints([1, 2, 2]), "SectionNumber": ints([1, 9, 2]),
        "CourseID": text(["0001", "ZZZ", "X"]), "DateStarted": text([DATE] * 3), "DateEnded": text([None] * 3)})],
        ignore_index=True)
    tables["staff"] = pd.concat([tables["staff"], tables["staff"].iloc[[0]]], ignore_index=True)

    outcomes = run_all(tables, source_checks)
    students = outcomes["students"]
    assert not students.has_errors and students.warned == 2
    assert {r.columns[0]: r.sample for r in students.results if r.outcome == "warned"} == {
        "Grade": [{"row": 2, "Grade": 19}],
        "StudentEmailAddress": [{"row": 1, "StudentEmailAddress": "no-at-sign.example.org"}],
    }
    # a section of an unknown course is rejected, and so are the rosters that point at it
    assert list(outcomes["sections"].rejected[REJECT_REASON]) == ["section of an unknown course (CourseID not in courses)"]
    assert dict(zip(outcomes["rosters"].rejected.index, outcomes["rosters"].rejected[REJECT_REASON])) == {
        4: "roster row of a student with no accepted record at its school ((SchoolCode, StudentID) not in students): "
           "the student is unknown, enrolled at another school, or rejected",
        5: "roster row of an unknown section ((SchoolCode, SectionNumber) not in sections)",
        6: "roster row of an unknown section ((SchoolCode, SectionNumber) not in sections)",
    }
    assert not outcomes["rosters"].has_errors and len(outcomes["rosters"].accepted) == 4
    # a duplicated staff ID rejects both copies (nothing says which one is right); the run goes on
    assert not outcomes["staff"].has_errors
    assert outcomes["staff"].accepted["ID"].tolist() == [884798]
    assert dict(zip(outcomes["staff"].rejected.index, outcomes["staff"].rejected[REJECT_REASON])) == {
        0: "duplicate staff record: another row has the same ID, so every copy is rejected; remove the duplicate "
           "staff record in Aeries",
        2: "duplicate staff record: another row has the same ID, so every copy is rejected; remove the duplicate "
           "staff record in Aeries",
    }
    report = combine_reports(outcomes.values())
    assert (report["failed"], report["rejected"], report["has_errors"]) == (0, 6, False)


def test_programs_of_unknown_students_and_without_a_code_are_rejected(source_checks):
    tables = aeries_tables()
    tables["programs"] = pd.concat([tables["programs"], pd.DataFrame({
        "SchoolCode": ints([994, 994]), "StudentID": ints([99499999, 99400002]), "ProgramCode": text(["101", None]),
        "EligibilityStartDate": text([DATE, DATE]), "EligibilityEndDate": text([None, None])})], ignore_index=True)

    outcome = run_all(tables, source_checks)["programs"]

    assert not outcome.has_errors and len(outcome.accepted) == 4
    assert dict(zip(outcome.rejected.index, outcome.rejected[REJECT_REASON])) == {
        4: "program of an unknown or rejected student (StudentID not among the accepted students)",
        5: "program record without a ProgramCode",
    }


def test_no_students_is_an_error(source_checks):
    tables = aeries_tables()
    outcome = validate_frame(tables["students"].iloc[0:0], source_checks["students"], name="students",
                             tables={"schools": tables["schools"]})
    assert outcome.has_errors
    assert outcome.error_message() == (
        'students: 1 error check failed on 0 rows. expect_table_row_count_to_be_between '
        '("Aeries returned at least one student"): observed 0.'
    )
