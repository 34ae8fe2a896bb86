"""End to end: the Xello DAG under dag.test(), against the Aeries emulator and OpenSSH's sshd.

The five pipe-delimited files are computed here from the emulator's data files and Xello's format
(vendor_formats.md, seed 003), independently of the mapping engine, and compared byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.dags.independent import (
    GENERATED_PSEUDO_SCHOOLS,
    natural,
    one_line,
    real_schools,
    run_day,
    s,
    section_staff_teachers,
)
from tests.dags.single_tasks import run_folder

DAG_ID = "aeries_to_xello"
TIMEZONE = "America/Los_Angeles"  # the mapping's schedule.timezone: the run's date is taken there
STACK = {"students": 300, "seed": 5}
GRADES = {str(g) for g in range(13)}
HIGH = {"9", "10", "11", "12"}


#: How a CSV reader reads Xello's files (vendor_formats.md: pipe-delimited, header row first): the delimiter, and
#: a '"' that starts a field opens a quoted value, as in any reader that is not told the file has no quoting.
XELLO_DIALECT = {"delimiter": "|"}


def spreadsheet_safe(value: str) -> str:
    """OWASP (CSV injection): a value starting with = + - @ tab or CR gets a ' in front, unless it is a number."""
    digits = (value[1:] if value[:1] in ("+", "-") else value).replace(".", "", 1)
    is_number = digits.isascii() and digits.isdigit()
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not is_number:
        return "'" + value
    return value


def pipe_file(header: list[str], rows: list[list[str]]) -> bytes:
    lines = ["|".join(spreadsheet_safe(one_line(v)) for v in line) + "\r\n" for line in [header, *rows]]
    return "".join(lines).encode("utf-8")


def teachers_of(data_dir: Path, today: str | None = None) -> list[dict]:
    """The teacher records, and a Flex school's teachers from its section staff (it has no teacher records)
    teaching on ``today`` (the run's date; default today in the mapping's time zone)."""
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    today = today or datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    teachers = load("teachers")
    return teachers + section_staff_teachers(load("schools"), load("sections"), load("staff"), teachers, today)


def expected_files(data_dir: Path, today: str | None = None) -> dict[str, bytes]:
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    schools = real_schools(load("schools"), load("students"))
    students = [r for r in load("students") if s(r["SchoolCode"]) in schools and s(r["InactiveStatusCode"]) in ("", "P")]
    by_school_student = {(s(r["SchoolCode"]), s(r["StudentID"])): r for r in students}
    courses = {s(c["ID"]): c for c in load("courses")}
    staff = {s(x["ID"]): x for x in load("staff")}

    school_rows = [
        [code, s(x["Name"]), "1" if s(x.get("HighGradeLevel")) in HIGH else "2"]
        for code, x in sorted(schools.items(), key=lambda kv: natural(kv[0]))
        if code != "0"
    ]

    chosen: dict[str, dict] = {}
    for r in sorted(students, key=lambda r: ({"": 0, "P": 1}[s(r["InactiveStatusCode"])], r["SchoolCode"])):
        if s(r["Grade"]) in GRADES:
            chosen.setdefault(s(r["StudentID"]), r)
    student_rows = []
    for sid in sorted(chosen, key=natural):
        r = chosen[sid]
        born = s(r.get("Birthdate"))[:10]
        student_rows.append([
            sid, s(r["FirstName"])[:100], s(r["LastName"])[:100],
            s(r.get("Gender")) if s(r.get("Gender")) in ("M", "F") else "N",
            s(r["Grade"]), s(r["SchoolCode"]),
            "" if s(r.get("NextSchoolCode")) in ("", "0", s(r["SchoolCode"])) else s(r.get("NextSchoolCode")),
            "" if born.startswith("0001") else born, s(r.get("StateStudentID")), s(r.get("StudentEmailAddress")),
        ])

    seen, course_rows = set(), []
    for row in load("rosters"):
        student = by_school_student.get((s(row["SchoolCode"]), s(row["StudentID"])))
        if not student or s(student["Grade"]) not in GRADES or (s(row["StudentID"]), s(row["CourseID"])) in seen:
            continue
        if s(row["StudentID"]) not in chosen:  # a student missing from Student.txt
            continue
        seen.add((s(row["StudentID"]), s(row["CourseID"])))
        course = courses.get(s(row["CourseID"]), {})
        course_rows.append([
            s(row["StudentID"]), s(row["CourseID"]), s(course.get("Title"))[:100], s(student["Grade"]), "0",
            s(course.get("CreditDefault")), "1" if s(student["Grade"]) in HIGH else "0",
        ])
    course_rows.sort(key=lambda r: natural(r[0], r[1]))

    educator_rows = []
    for t in teachers_of(data_dir, today):
        if s(t.get("InactiveStatusCode")) or s(t["SchoolCode"]) not in schools:
            continue
        st = staff.get(s(t.get("StaffID1")), {})
        last = s(st.get("LastName")) or s(t.get("LastName"))
        educator_rows.append([  # Xello requires a first name: blank in STF and TCH, the last name stands in
            s(st.get("FirstName")) or s(t.get("FirstName")) or last, last,
            (s(st.get("EmailAddress")) or s(t.get("EmailAddress"))).lower(), s(t["SchoolCode"]), "User",
            s(t.get("StaffID1")), s(st.get("Title")), s(t.get("DisplayName")),
        ])
    educator_rows.sort(key=lambda r: natural(r[2], r[3], r[5]))

    # Homeroom groups: students (K-12) whose homeroom teacher is an active teacher record at their school; a row
    # whose student is not in Student.txt or whose e-mail is not an educator's is rejected.
    teacher_at = {(s(t["SchoolCode"]), s(t["TeacherNumber"])): t for t in load("teachers") if not s(t.get("InactiveStatusCode"))}
    sent_students = {row[0] for row in student_rows}
    educator_emails = {row[2] for row in educator_rows}
    group_rows = []
    for r in students:
        t = teacher_at.get((s(r["SchoolCode"]), s(r.get("HomeRoomTeacherNumber"))))
        if t is None or s(r["Grade"]) not in GRADES:
            continue
        st = staff.get(s(t.get("StaffID1")), {})
        email = (s(st.get("EmailAddress")) or s(t.get("EmailAddress"))).lower()
        if s(r["StudentID"]) in sent_students and email in educator_emails:
            group_rows.append([f"Homeroom {s(t.get('DisplayName'))}"[:100], email, s(r["StudentID"]), s(r["SchoolCode"])])
    group_rows.sort(key=lambda row: natural(row[3], row[0], row[2]))

    return {
        "StudentGroup.txt": pipe_file(["GroupName", "EducatorEmail", "StudentId", "SchoolCode"], group_rows),
        "School.txt": pipe_file(["SchoolCode", "Name", "SchoolType"], school_rows),
        "Student.txt": pipe_file(
            ["StudentID", "FirstName", "LastName", "Gender", "CurrentGrade", "CurrentSchoolCode", "PreRegSchoolCode",
             "DateOfBirth", "StateProvNumber", "Email"], student_rows),
        "StudentCourses.txt": pipe_file(
            ["StudentID", "CourseCode", "CourseName", "GradeLevel", "GradeMark", "CreditValue", "HSCourse"], course_rows),
        "Educator.txt": pipe_file(
            ["FirstName", "LastName", "Email", "SchoolCode", "Permissions", "EducatorSISId", "JobTitle", "DisplayName"],
            educator_rows),
    }


def xello_dag(mappings_dir: Path | None = None):
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    return build_dags(mappings_dir or MAPPINGS_DIR)[DAG_ID]


@pytest.fixture(scope="module")
def delivered_run(stack):
    """The module's one plain run (in the pull window or not), which the tests of a plain run read."""
    return xello_dag().test(run_conf={"ignore_window": True})


@pytest.mark.e2e
def test_xello_delivers_the_five_files(stack, delivered_run):
    from aeries_hub.run.report import report_lines

    dag_run = delivered_run

    expected = expected_files(stack.data_dir, run_day(dag_run, TIMEZONE))
    assert dag_run.state == "success"
    assert expected["StudentGroup.txt"].count(b"\r\n") > 10, "the district has homerooms"
    for name, data in expected.items():
        assert (stack.sftp.root / "xello" / name).read_bytes() == data, name
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Completed"
    assert {d["remote_path"] for d in report["delivered"]} == {f"xello/{name}" for name in expected}
    # Aeries' pseudo-schools are not Xello schools (they were sent as high schools), and the report says why.
    school_codes = [line.split(b"|")[0] for line in expected["School.txt"].split(b"\r\n")[1:-1]]
    assert school_codes and not {b"0", b"99", b"900", b"901", b"902"} & set(school_codes)
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS
    assert any(line.startswith("left out as pseudo-schools") and "99 'Transfer School' (DoNotReport is true, no "
               "student is enrolled)" in line for line in report_lines(report))
    # Issue 14: names typed on two lines in Aeries (the generated district of seed 5 has a first name
    # "Daniel\r\nAlejandro" and a last name "Nguyễn\nChen") are sent on one line, and the report names the students
    rows = (stack.sftp.root / "xello" / "Student.txt").read_bytes().split(b"\r\n")
    assert [row.split(b"|")[:3] for row in rows if row.startswith((b"1702322|", b"57193392|"))] == [
        [b"1702322", b"Daniel Alejandro", b"Sanchez"], [b"57193392", b"Emma", "Nguyễn Chen".encode()]]
    assert len(rows) == expected["Student.txt"].count(b"\r\n") + 1 and not any(b"\n" in row for row in rows)
    assert ("Student.txt: 2 values (FirstName 1, LastName 1) held line breaks or other control characters, written "
            "on one line with a space for each run: ids 1702322, 57193392") in report["attention"]


def active_educators(data_dir: Path) -> list[tuple[dict, dict]]:
    """(teacher, staff) of every active teacher record (a Flex school's from its section staff), from the
    emulator's data files."""
    staff = {s(x["ID"]): x for x in json.loads((data_dir / "staff.json").read_text(encoding="utf-8"))}
    teachers = teachers_of(data_dir)
    return [(t, staff.get(s(t["StaffID1"]), {})) for t in teachers if not s(t.get("InactiveStatusCode"))]


@pytest.mark.e2e
def test_shared_placeholder_emails_and_blank_first_names_are_delivered(stack, delivered_run):
    """Issue 14: real Aeries staff share placeholder e-mails (NoWhere@aeries.com) and some teachers have a blank
    first name in both STF and TCH. Xello gets every educator (first name = last name) and the other files; the
    e-mail shared at a school is a warning naming the educators that share it."""
    educators = active_educators(stack.data_dir)
    blank_first = sorted((s(t["SchoolCode"]), s(t["StaffID1"]), s(st.get("LastName")) or s(t["LastName"]))
                         for t, st in educators if not s(st.get("FirstName")) and not s(t.get("FirstName")))
    by_email_school: dict[tuple[str, str], list[str]] = {}
    for t, st in educators:
        email = (s(st.get("EmailAddress")) or s(t.get("EmailAddress"))).lower()
        by_email_school.setdefault((email, s(t["SchoolCode"])), []).append(s(t["StaffID1"]))
    shared = {key: ids for key, ids in by_email_school.items() if len(ids) > 1}
    assert len(blank_first) >= 2 and any(last == "Staff" for _, _, last in blank_first), blank_first
    assert shared and {email for email, _ in shared} == {"nowhere@aeries.com"}, shared

    dag_run = delivered_run

    assert dag_run.state == "success"
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Completed"
    assert {d["remote_path"] for d in report["delivered"]} == {
        f"xello/{name}" for name in expected_files(stack.data_dir)}
    with run.path("output", "Educator.txt").open("rb") as handle:  # what the run sent (its report's sha256)
        educator_file = handle.read()
    (receipt,) = [d for d in report["delivered"] if d["file"] == "Educator.txt"]
    assert receipt["sha256"] == hashlib.sha256(educator_file).hexdigest()
    rows = list(csv.DictReader(io.StringIO(educator_file.decode("utf-8"), newline=""), **XELLO_DIALECT))
    sent = {(r["SchoolCode"], r["EducatorSISId"]): (r["FirstName"], r["LastName"]) for r in rows}
    assert [sent[(school, staff_id)] for school, staff_id, _ in blank_first] == [
        (last, last) for *_, last in blank_first]
    assert len(rows) == len(educators)
    build = run.read_json("summary/build_Educator.json")
    warning = next(r for r in build["checks"]["results"] if r["description"] == "an e-mail (Xello's username) "
                   "belongs to one educator per school")
    assert (warning["severity"], warning["outcome"]) == ("warning", "warned")
    assert warning["unexpected_count"] == sum(len(ids) for ids in shared.values())
    assert {(r["Email"], r["SchoolCode"], r["EducatorSISId"]) for r in warning["sample"]} <= {
        (email, school, staff_id) for (email, school), ids in shared.items() for staff_id in ids}
    assert report["checks"]["warned"] >= 1
    # report.json, kept after the staged files are deleted, names every educator that shares the e-mail, by id
    assert report["files"]["Educator"]["shared_values"] == [
        {"warning": "an e-mail (Xello's username) belongs to one educator per school",
         "values": {"Email": email, "SchoolCode": school}, "count": len(ids), "ids": sorted(ids, key=natural)}
        for (email, school), ids in sorted(shared.items(), key=lambda kv: natural(kv[0][1]))]


@pytest.mark.e2e
def test_a_run_outside_the_pull_window_skips_with_the_reason(stack, tmp_path, monkeypatch):
    from aeries_hub import paths
    from aeries_hub.paths import MAPPINGS_DIR

    # A window that opens two hours from now and lasts one hour: now is outside it.
    opens = datetime.now(ZoneInfo("America/Los_Angeles")) + timedelta(hours=2)
    day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][opens.weekday()]
    text = (MAPPINGS_DIR / "xello.yml").read_text()
    text = text.replace("days: [sat, sun]", f"days: [{day}]").replace('start: "20:00"', f'start: "{opens:%H}:00"')
    text = text.replace('end: "02:00"', f'end: "{(opens + timedelta(hours=1)):%H}:00"').replace("outside: wait", "outside: skip")
    (tmp_path / "xello.yml").write_text(text)
    monkeypatch.setattr(paths, "MAPPINGS_DIR", tmp_path)
    for name in ("School.txt", "Student.txt"):
        (stack.sftp.root / "xello" / name).unlink(missing_ok=True)

    dag_run = xello_dag(tmp_path).test()

    report = run_folder(dag_run).read_json("report.json")
    assert report["status"] == "Skipped"
    assert "is outside the allowed pull window" in report["reason"]
    assert f"{day} {opens:%H}:00-" in report["reason"]
    assert report["extracted"] == {} and report["delivered"] == []
    assert not (stack.sftp.root / "xello" / "Student.txt").exists()
    assert dag_run.state == "success"


@pytest.mark.e2e
def test_a_name_starting_with_a_quote_is_rejected_and_a_formula_is_escaped(stack, tmp_path):
    """Audit items 8 and 10: a student whose last name starts with '"' merged two rows of Student.txt in a CSV
    reader (the file has no quoting); a first name "\t=1+1" reached the vendor as the formula =1+1 once trimmed."""
    from tests.dags.stacks import run_on_district

    district = tmp_path / "district"
    shutil.copytree(stack.data_dir, district)
    students = json.loads((district / "students.json").read_text(encoding="utf-8"))
    counts = {}
    for r in students:
        counts[s(r["StudentID"])] = counts.get(s(r["StudentID"]), 0) + 1
    sent = [r for r in students
            if counts[s(r["StudentID"])] == 1 and s(r["InactiveStatusCode"]) == "" and s(r["Grade"]) in GRADES]
    quoted, formula = sent[3], sent[7]
    quoted["LastName"] = '"Bobby" Tables'
    quoted["FirstName"] = "@SUM(1+1)*cmd"  # the rejects CSV a person opens holds it too
    formula["FirstName"] = "\t=1+1"
    (district / "students.json").write_text(json.dumps(students), encoding="utf-8")
    # What Xello must receive: the district without the rejected student (their courses and homeroom rows are
    # rejected too, as they name a student missing from Student.txt), and the formula behind a quote.
    without = tmp_path / "without_the_rejected_student"
    shutil.copytree(district, without)
    (without / "students.json").write_text(json.dumps([r for r in students if r is not quoted]), encoding="utf-8")
    expected = expected_files(without)

    outcome = run_on_district(tmp_path, district, DAG_ID, folder="xello", rejects=["Student.csv"],
                              run_conf={"ignore_window": True})

    assert outcome.dag_run.state == "success"
    assert outcome.report["status"] == "Completed with errors"
    for name, data in expected.items():
        assert outcome.files[name] == data, name
    student_id = s(quoted["StudentID"])
    assert outcome.report["files"]["Student"]["rejected_ids"] == [student_id]
    assert [(r["StudentID"], r["FirstName"], r["LastName"], r["_reject_reason"])
            for r in outcome.rejects["Student.csv"]] == [(
        student_id, "'@SUM(1+1)*cmd", '"Bobby" Tables',
        "LastName contains the delimiter '|' or a line break, or starts with a quote (\"), which Student.txt "
        "cannot quote",
    )]
    assert f"|'=1+1|{s(formula['LastName'])}|".encode() in outcome.files["Student.txt"]
    for name, data in outcome.files.items():  # a reader in Xello's dialect sees every delivered row, whole
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), **XELLO_DIALECT))
        assert len(rows) == data.count(b"\r\n") == outcome.report["files"][name[:-len(".txt")]]["rows"] + 1, name
        assert {len(row) for row in rows} == {len(rows[0])}, name
