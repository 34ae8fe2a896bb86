"""End to end: the STEMscopes DAG (OneRoster 1.1 bulk CSV) under dag.test(), against the emulator and sshd.

The eight CSVs are computed here from the emulator's data files, the OneRoster 1.1 CSV rules
(vendor_formats.md) and seed 001, independently of the mapping engine, and compared byte for byte with the
members of the delivered zip. A district's school crosswalk is exercised with a copy of include/.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aeries_hub.mapping.loader import load_mapping
from tests.dags.independent import (
    GENERATED_PSEUDO_SCHOOLS,
    day,
    natural,
    one_line,
    real_schools,
    run_day,
    s,
    section_staff_teachers,
    teaches_on,
)
from tests.dags.single_tasks import run_folder
from tests.standards import oneroster

DAG_ID = "aeries_to_stemscopes"
TIMEZONE = "America/Chicago"  # the mapping's schedule.timezone: the run's date is taken there
STACK = {"students": 300, "seed": 5}
FILES = ["manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv",
         "enrollments.csv", "demographics.csv"]
HEADERS = {
    "manifest.csv": "propertyName,value",
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",  # noqa: E501 - the file's header line, whole
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password",  # noqa: E501 - the file's header line, whole
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate",
    "demographics.csv": "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus",  # noqa: E501 - the file's header line, whole
}
MANIFEST = [
    ("manifest.version", "1.0"), ("oneroster.version", "1.1"), ("file.academicSessions", "bulk"),
    ("file.categories", "absent"), ("file.classes", "bulk"), ("file.classResources", "absent"),
    ("file.courses", "bulk"), ("file.courseResources", "absent"), ("file.demographics", "bulk"),
    ("file.enrollments", "bulk"), ("file.lineItems", "absent"), ("file.orgs", "bulk"), ("file.resources", "absent"),
    ("file.results", "absent"), ("file.users", "bulk"), ("source.systemName", "Aeries"),
    ("source.systemCode", "aeries-integration-hub"),
]
ARCHIVE = "stemscopes/stemscopes_oneroster.zip"  # on the SFTP server
CEDS = {-2: "PR", -1: "TK", 0: "KG", **{g: f"{g:02d}" for g in range(1, 14)}}


def csv_bytes(name: str, rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    out.write(HEADERS[name] + "\n")
    csv.writer(out, lineterminator="\n").writerows([[one_line(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8")


def session_type(code: str, description: str) -> str:
    """The OneRoster type of an Aeries term, as stemscopes.yml documents it."""
    if code in ("F", "S", "S1", "S2"):
        return "semester"
    if code in ("1", "2", "3") and "trimester" in description.lower():
        return "term"
    return "gradingPeriod" if code in ("1", "2", "3", "4") else "term"


def today_there() -> str:
    return datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()


def expected_set(data_dir: Path, school_ids: dict[str, str], today: str) -> dict[str, bytes]:
    """The eight files; ``today`` is the run's date, which says which section staff teach (issue 14)."""
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    org = lambda code: school_ids.get(s(code), s(code))  # noqa: E731  crosswalked school sourcedId
    schools = real_schools(load("schools"), load("students"))
    staff = {s(x["ID"]): x for x in load("staff")}
    courses = load("courses")
    students = [r for r in load("students") if not s(r["InactiveStatusCode"]) and s(r["SchoolCode"]) in schools]
    by_school_student = {(s(r["SchoolCode"]), s(r["StudentID"])) for r in students}
    # a Flex school has no teacher records: its teachers are its sections' staff members
    tch = load("teachers")
    tch += section_staff_teachers(load("schools"), load("sections"), load("staff"), tch, today)
    teachers = [t for t in tch if not s(t.get("InactiveStatusCode")) and s(t["SchoolCode"]) in schools]
    teacher_at = {}
    for t in sorted(teachers, key=lambda t: (t["SchoolCode"], t["TeacherNumber"] or 0)):
        teacher_at.setdefault((s(t["SchoolCode"]), s(t["StaffID1"])), t)
    sections = [x for x in load("sections") if not s(x.get("InactiveStatusCode")) and s(x["SchoolCode"]) in schools]
    active_sections = {(s(x["SchoolCode"]), s(x["SectionNumber"])) for x in sections}
    course_title = {s(c["ID"]): s(c["Title"]) for c in courses}
    # What Aeries says, never the YAML: the district is named as school 0 is, the school year is the one the
    # emulator serves (the run's, 2026-2027, is offered), from the first to the last day of the schools' terms.
    district_name = next(s(x["Name"]) for x in load("schools") if s(x["SchoolCode"]) == "0")
    year = json.loads((data_dir / "district.json").read_text())["DatabaseYear"]
    year_id, school_year = f"{year}-{year + 1}", str(year + 1)
    terms = [t for x in load("schools") for t in x.get("Terms") or []]
    year_start, year_end = min(day(t["StartDate"]) for t in terms), max(day(t["EndDate"]) for t in terms)

    orgs = [["district", "", "", district_name, "district", "", ""]]
    orgs += sorted(([org(code), "", "", s(x["Name"]), "school", code, "district"] for code, x in schools.items()),
                   key=lambda r: natural(r[0]))

    sessions = [[year_id, "", "", year_id, "schoolYear", year_start, year_end, "", school_year]]
    sessions += sorted(
        ([f"{code}-{s(t['TermCode'])}", "", "", f"{s(x['Name'])} {s(t['TermDescription'])}",
          session_type(s(t["TermCode"]), s(t["TermDescription"])), day(t["StartDate"]), day(t["EndDate"]),
          year_id, school_year] for code, x in schools.items() for t in x.get("Terms") or []),
        key=lambda r: natural(r[0]))

    course_rows = sorted(([s(c["ID"]), "", "", year_id, s(c["Title"]), s(c["ID"]), "", "district", "", ""]
                          for c in courses), key=lambda r: natural(r[0]))

    class_rows = sorted(
        ([f"{s(x['SchoolCode'])}-{s(x['SectionNumber'])}", "", "", f"{course_title.get(s(x['CourseID']), '')} - Period {s(x['Period'])}",
          "", s(x["CourseID"]), f"{s(x['CourseID'])}-{s(x['SectionNumber'])}", "scheduled", s(x.get("Room")),
          org(x["SchoolCode"]), f"{s(x['SchoolCode'])}-{s(x['Semester'])}", "", "", s(x["Period"])] for x in sections),
        key=lambda r: natural(r[0]))

    # One user per student: the record at the lowest school code, with every school's org in orgSourcedIds.
    first: dict[str, dict] = {}
    orgs_of: dict[str, list[str]] = {}
    for r in sorted(students, key=lambda r: r["SchoolCode"]):
        sid = s(r["StudentID"])
        first.setdefault(sid, r)
        if org(r["SchoolCode"]) not in orgs_of.setdefault(sid, []):
            orgs_of[sid].append(org(r["SchoolCode"]))
    user_rows = []
    for sid in sorted(first, key=natural):
        r = first[sid]
        user_rows.append([sid, "", "", "true", ",".join(orgs_of[sid]), "student", s(r.get("NetworkLoginID")) or f"s{sid}",
                          "", s(r["FirstName"]), s(r["LastName"]), s(r.get("MiddleName")), sid,
                          s(r.get("StudentEmailAddress")), "", "", "", CEDS.get(r["Grade"], "Other"), ""])
    teacher_first: dict[str, dict] = {}
    teacher_orgs: dict[str, list[str]] = {}
    for t in sorted(teachers, key=lambda t: t["SchoolCode"]):
        tid = s(t["StaffID1"])
        teacher_first.setdefault(tid, t)
        if org(t["SchoolCode"]) not in teacher_orgs.setdefault(tid, []):
            teacher_orgs[tid].append(org(t["SchoolCode"]))
    for tid in sorted(teacher_first, key=lambda k: natural(f"T{k}")):
        t, st = teacher_first[tid], staff.get(tid, {})
        last = s(st.get("LastName")) or s(t.get("LastName"))
        # givenName is required: a first name blank in STF and TCH is the last name
        user_rows.append([f"T{tid}", "", "", "true", ",".join(teacher_orgs[tid]), "teacher", s(st.get("UserName")) or f"t{tid}",
                          "", s(st.get("FirstName")) or s(t.get("FirstName")) or last, last,
                          s(st.get("MiddleName")), tid, s(st.get("EmailAddress")) or s(t.get("EmailAddress")), "", "", "", "", ""])

    student_enrollments = {}
    for row in load("rosters"):
        sc, sn, sid = s(row["SchoolCode"]), s(row["SectionNumber"]), s(row["StudentID"])
        if (sc, sid) in by_school_student and (sc, sn) in active_sections:
            student_enrollments.setdefault(f"{sc}-{sn}-{sid}", [f"{sc}-{sn}-{sid}", "", "", f"{sc}-{sn}", org(sc), sid, "student",
                                                                "", day(row.get("DateStarted")), day(row.get("DateEnded"))])
    teacher_enrollments = []
    for x in sections:
        sc, sn = s(x["SchoolCode"]), s(x["SectionNumber"])
        for m in x.get("SectionStaffMembers") or []:
            # a member who left the section, or whose assignment ended or has not begun, is not its teacher
            if (sc, s(m["StaffID"])) in teacher_at and teaches_on(m, today):
                tid = s(m["StaffID"])
                teacher_enrollments.append([f"{sc}-{sn}-T{tid}", "", "", f"{sc}-{sn}", org(sc), f"T{tid}", "teacher",
                                            "true" if m.get("IsPrimaryTeacher") is True else "false",
                                            day(m.get("StartDate")), day(m.get("EndDate"))])
    enrollment_rows = sorted(student_enrollments.values(), key=lambda r: natural(r[0]))
    enrollment_rows += sorted(teacher_enrollments, key=lambda r: natural(r[0]))

    def race(r, pattern):
        codes = [s(r.get(f"RaceCode{i}")) for i in range(1, 6)]
        return "true" if any(re.fullmatch(pattern, c) for c in codes if c) else "false"

    demographics = []
    for sid in sorted(first, key=natural):
        r = first[sid]
        demographics.append([sid, "", "", day(r.get("Birthdate")), {"M": "male", "F": "female"}.get(s(r.get("Gender")), ""),
                             race(r, "100"), race(r, r"2\d\d|400"), race(r, "600"), race(r, r"3\d\d"), race(r, "700"),
                             "true" if s(r.get("RaceCode2")) else "false",
                             {"Y": "true", "N": "false"}.get(s(r.get("EthnicityCode")), ""), "", "", "", ""])

    return {
        "manifest.csv": csv_bytes("manifest.csv", [list(row) for row in MANIFEST]),
        "orgs.csv": csv_bytes("orgs.csv", orgs),
        "academicSessions.csv": csv_bytes("academicSessions.csv", sessions),
        "courses.csv": csv_bytes("courses.csv", course_rows),
        "classes.csv": csv_bytes("classes.csv", class_rows),
        "users.csv": csv_bytes("users.csv", user_rows),
        "enrollments.csv": csv_bytes("enrollments.csv", enrollment_rows),
        "demographics.csv": csv_bytes("demographics.csv", demographics),
    }


@pytest.fixture
def district_include(tmp_path, monkeypatch):
    """A copy of include/ that the DAG and its tasks read (a district's clone with its own crosswalk)."""
    from aeries_hub import paths

    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
    return include


def run_dag(include: Path):
    from aeries_hub.dag_factory import build_dags

    return build_dags(include / "mappings")[DAG_ID].test()


def delivered(stack) -> dict[str, bytes]:
    with zipfile.ZipFile(stack.sftp.root / ARCHIVE) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def matched_run(stack, tmp_path_factory):
    """The module's one plain run, on a district that has matched two schools in its crosswalk; STEMscopes also
    lists a school whose name is close to a third. Its DagRun, the schools' names, their sorted codes and its include/."""
    from aeries_hub import paths

    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    names = {code: s(x["Name"]) for code, x in real_schools(load("schools"), load("students")).items()}
    codes = sorted(names)
    include = tmp_path_factory.mktemp("matched") / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    crosswalk = "aeries_school_code,vendor_school_id,vendor_school_name\n"
    crosswalk += f"{codes[0]},ALI-{codes[0]},{names[codes[0]]}\n{codes[1]},ALI-{codes[1]},{names[codes[1]]}\n"
    crosswalk += f",ALI-777,{names[codes[2]].replace(' School', '')}\n"
    (include / "crosswalks" / "stemscopes_schools.csv").write_text(crosswalk)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
        dag_run = run_dag(include)
    return dag_run, names, codes, include


@pytest.mark.e2e
def test_stemscopes_delivers_a_referentially_complete_oneroster_set(stack, matched_run):
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    dag_run, names, codes, include = matched_run

    expected = expected_set(stack.data_dir, {codes[0]: f"ALI-{codes[0]}", codes[1]: f"ALI-{codes[1]}"},
                            run_day(dag_run, TIMEZONE))
    assert dag_run.state == "success"
    files = delivered(stack)
    assert list(files) == FILES
    for name in FILES:
        assert files[name] == expected[name], name
    assert b"\xef\xbb\xbf" not in b"".join(files.values())  # UTF-8 without BOM
    users = list(csv.DictReader(io.StringIO(files["users.csv"].decode())))
    assert any("," in u["orgSourcedIds"] for u in users), "the district has students enrolled at two schools"
    # Aeries' real term codes: F/S semesters, quarters 1-4 grading periods, trimesters 1-3 and Y terms; the
    # semester-long sections link to their F or S session.
    sessions = {r["sourcedId"]: r for r in csv.DictReader(io.StringIO(files["academicSessions.csv"].decode()))}
    high = next(c for c in codes if names[c].endswith(" High School") and "Continuation" not in names[c])
    elementary = next(c for c in codes if names[c].endswith(" Elementary School"))
    assert {k: sessions[f"{high}-{k}"]["type"] for k in ("1", "4", "F", "S", "Y")} == {
        "1": "gradingPeriod", "4": "gradingPeriod", "F": "semester", "S": "semester", "Y": "term"}
    assert (sessions[f"{elementary}-1"]["title"].endswith("1st Trimester"), sessions[f"{elementary}-1"]["type"]) == (
        True, "term")
    classes = list(csv.DictReader(io.StringIO(files["classes.csv"].decode())))
    assert {sessions[c["termSourcedIds"]]["type"] for c in classes} == {"semester", "term"}
    assert {u["password"] for u in users} == {""}
    # Issue 14: names typed on two lines in Aeries ("Daniel\r\nAlejandro", "Nguyễn\nChen" in the district of seed 5)
    # are one line of users.csv (a quoted line break would split the row for a reader that reads lines)
    assert [(u["givenName"], u["familyName"]) for u in users if u["sourcedId"] in ("1702322", "57193392")] == [
        ("Daniel Alejandro", "Sanchez"), ("Emma", "Nguyễn Chen")]
    assert files["users.csv"].count(b"\n") == len(users) + 1 and b"\r" not in files["users.csv"]
    report = run_folder(dag_run).read_json("report.json")
    assert report["status"] == "Completed"
    assert (report["database_year"], report["school_year"]) == (2026, "2026-2027")
    orgs = list(csv.DictReader(io.StringIO(files["orgs.csv"].decode())))
    district = next(x for x in load("schools") if s(x["SchoolCode"]) == "0")  # the district's own record
    mapping_text = (include / "mappings" / "stemscopes.yml").read_text()
    assert orgs[0]["name"] == s(district["Name"]) and s(district["Name"]) not in mapping_text  # from Aeries
    # Each task's wall time and peak memory (aeries_hub.resources), recorded by the task itself.
    mapping = load_mapping(include / "mappings" / "stemscopes.yml")
    measured = ({f"extract_{t}" for t in mapping.tables} | {f"build_{o.stem}" for o in mapping.outputs}
                | {"validate_sources", "track_changes", "package", "deliver"})
    assert set(report["resources"]) == measured
    assert all(r["seconds"] >= 0 and 50 < r["peak_memory_mb"] < 4096 for r in report["resources"].values())
    unmapped = {u["aeries"]: u for u in report["crosswalks"]["schools"]["unmapped"]}
    assert sorted(unmapped) == codes[2:]
    assert unmapped[codes[2]]["proposal"]["vendor"] == "ALI-777"
    assert unmapped[codes[2]]["proposal"]["similarity"] >= 0.8
    assert any(f"{codes[2]} {names[codes[2]]!r} is not in the file; it is sent as {codes[2]}" in line for line in report["attention"])
    # Aeries' pseudo-schools are in no file (not even as a term or a parent), and the report says why.
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS
    # Teachers share Aeries' placeholder e-mail: sent, and a warning naming every user that shares it, by sourcedId.
    emails = [u["email"] for u in users if u["email"]]
    sharing = [u["sourcedId"] for u in users if u["email"] and emails.count(u["email"]) > 1]
    assert {u["email"] for u in users if u["sourcedId"] in sharing} == {"NoWhere@aeries.com"}
    assert report["files"]["users"]["shared_values"] == [
        {"warning": "an e-mail belongs to one user", "values": {"email": "NoWhere@aeries.com"}, "count": len(sharing),
         "ids": sharing}]
    assert not any(name in b"".join(files.values()) for name in (b"Transfer School", b"X NPS School", b"Demo Unified School District,school"))
    assert not re.search(rb"^(0|99|90[0-2])-", files["academicSessions.csv"] + files["classes.csv"], re.MULTILINE)


@pytest.mark.e2e
def test_the_delivered_zip_breaks_no_rule_of_oneroster_11(stack, matched_run):
    """The independent OneRoster checker (tests/standards/oneroster.py, the 1EdTech CSV binding) finds nothing."""
    assert oneroster.check(stack.sftp.root / ARCHIVE) == []


@pytest.mark.e2e
def test_a_dangling_reference_stops_the_run_and_delivers_nothing(stack, district_include, matched_run):
    """The mapping's outputs are read from the builds on: those tasks run on the plain run's validated tables."""
    from aeries_hub.dag_factory import build_dags
    from tests.dags.single_tasks import run_tasks, tasks_from

    mapping = district_include / "mappings" / "stemscopes.yml"
    mapping.write_text(mapping.read_text().replace('termSourcedIds: {template: "{SchoolCode}-{Semester}"}',
                                                   'termSourcedIds: {template: "{SchoolCode}-T{Semester}"}'))
    target = stack.sftp.root / "stemscopes" / "stemscopes_oneroster.zip"
    target.unlink(missing_ok=True)
    dag = build_dags(district_include / "mappings")[DAG_ID]
    builds = [task.task_id for task in dag.tasks if task.task_id.startswith("build_")]

    dag_run = run_tasks(dag, matched_run[0], tasks_from(dag, *builds))

    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert (states["build_classes"], states["deliver"], states["report"]) == ("failed", "upstream_failed", "failed")
    assert not target.exists()
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Error" and report["delivered"] == []
    (error,) = report["errors"]
    assert error.startswith("classes.csv: every termSourcedIds of classes.csv is a sourcedId in academicSessions.csv "
                            "[termSourcedIds]: 105 of 105 rows fail, e.g. 100-")
    assert "-TY" not in error  # the failing values stay in the run's staged quality files
    classes = run.read_json("summary/build_classes.json")
    failed = [r for r in classes["checks"]["results"] if r["outcome"] == "failed"]
    assert [r["description"] for r in failed] == ["every termSourcedIds of classes.csv is a sourcedId in academicSessions.csv"]
    assert "T" in failed[0]["sample"][0]["termSourcedIds"]


@pytest.mark.e2e
def test_a_teacher_still_rejected_is_named_with_the_sections_left_without_them(stack, district_include, tmp_path):
    """Issue 14: a teacher with a blank first name gets the last name as givenName (OneRoster requires it); one
    whose names are all blank (a nameless service account) is rejected from users.csv, and each section it
    teaches loses that teacher visibly: its enrollment is rejected and named in the report. Nothing else is
    withheld."""
    from tests.dags.stacks import blank_teacher_names, run_on_district

    district = tmp_path / "district"
    shutil.copytree(stack.data_dir, district)
    staff = json.loads((district / "staff.json").read_text(encoding="utf-8"))
    teachers = json.loads((district / "teachers.json").read_text(encoding="utf-8"))
    sections = json.loads((district / "sections.json").read_text(encoding="utf-8"))
    # and the Flex school's teachers, from its section staff (the service account may teach there)
    everyone = teachers + section_staff_teachers(json.loads((district / "schools.json").read_text(encoding="utf-8")),
                                                 sections, staff, teachers, today_there())
    service = next(t for t in everyone if s(t["LastName"]) == "Staff" and not s(t["FirstName"]))
    blank_first = next(t for t in everyone if not s(t["FirstName"]) and t is not service)
    nameless = next(t for t in teachers if s(t["FirstName"]) and not s(t["InactiveStatusCode"])
                    and sum(1 for o in teachers if o["StaffID1"] == t["StaffID1"]) == 1
                    and any(m["StaffID"] == t["StaffID1"] for x in sections for m in x["SectionStaffMembers"]))
    blank_teacher_names(district, nameless["StaffID1"])
    tid = s(nameless["StaffID1"])
    left_without = sorted((f"{s(x['SchoolCode'])}-{s(x['SectionNumber'])}-T{tid}" for x in sections
                           if not s(x["InactiveStatusCode"]) and s(x["SchoolCode"]) == s(nameless["SchoolCode"])
                           and any(s(m["StaffID"]) == tid for m in x["SectionStaffMembers"])), key=natural)
    assert left_without

    outcome = run_on_district(tmp_path, district, DAG_ID, archive=ARCHIVE, rejects=["enrollments.csv"])

    files = {name: data.decode() for name, data in outcome.files.items()}
    assert outcome.dag_run.state == "success"
    assert outcome.report["status"] == "Completed with errors"
    assert list(files) == FILES
    users = {u["sourcedId"]: u for u in csv.DictReader(io.StringIO(files["users.csv"]))}
    for teacher in (service, blank_first):
        user = users[f"T{s(teacher['StaffID1'])}"]
        assert (user["givenName"], user["familyName"]) == (s(teacher["LastName"]), s(teacher["LastName"]))
    assert users[f"T{s(service['StaffID1'])}"]["givenName"] == "Staff"
    assert f"T{tid}" not in users
    assert outcome.report["files"]["users"]["rejected_ids"] == [f"T{tid}"]
    assert outcome.report["files"]["enrollments"]["rejected_ids"] == left_without
    assert {r["_reject_reason"] for r in outcome.rejects["enrollments.csv"]} == {
        "every userSourcedId of enrollments.csv is a sourcedId in users.csv"}
    sent = {e["sourcedId"] for e in csv.DictReader(io.StringIO(files["enrollments.csv"]))}
    assert not sent & set(left_without)


@pytest.mark.e2e
def test_a_class_left_without_any_teacher_is_delivered_and_named(stack, district_include, tmp_path):
    """Issue 14: a class never loses its teacher silently. OneRoster's classes.csv has no teacher column, so a class
    whose section staff have all left (inactive, or their assignment ended) at the Flex school, or whose only teacher
    was rejected from users.csv (no name at all), goes out with no teacher enrollment: it is still delivered, and the
    report names every such class by sourcedId, with their count."""
    from aeries_hub.run.report import report_lines
    from tests.dags.stacks import stack_serving

    district = tmp_path / "district"
    shutil.copytree(stack.data_dir, district)
    load = lambda name: json.loads((district / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    sections, staff, teachers = load("sections"), load("staff"), load("teachers")
    today = today_there()
    flex = [x for x in sections if x["SchoolCode"] == 300 and not s(x["InactiveStatusCode"])]
    left, ended = flex[:2]
    for m in left["SectionStaffMembers"]:
        m["InactiveStatusCode"] = "I"
    for m in ended["SectionStaffMembers"]:
        m["EndDate"] = "2026-09-30T00:00:00"
    # a Flex staff member with no teacher record anywhere, the only one teaching some section: no name, no user
    with_tch = {s(t["StaffID1"]) for t in teachers}
    current = {id(x): {s(m["StaffID"]) for m in x["SectionStaffMembers"] if teaches_on(m, today)} for x in flex[2:]}
    nameless = next(only for x in flex[2:] for only in current[id(x)] if current[id(x)] == {only} and only not in with_tch)
    for record in staff:
        if s(record["ID"]) == nameless:
            record.update({"FirstName": "", "LastName": ""})
    (district / "sections.json").write_text(json.dumps(sections), encoding="utf-8")
    (district / "staff.json").write_text(json.dumps(staff), encoding="utf-8")
    alone = [x for x in flex[2:] if current[id(x)] == {nameless}]
    named = sorted((f"300-{s(x['SectionNumber'])}" for x in [left, ended, *alone]), key=natural)

    with stack_serving(tmp_path / "stack", data_dir=district) as hostile:
        dag_run = run_dag(district_include)
        with zipfile.ZipFile(hostile.sftp.root / "stemscopes" / "stemscopes_oneroster.zip") as archive:
            files = {name: archive.read(name).decode() for name in archive.namelist()}
        report = run_folder(dag_run).read_json("report.json")

    assert dag_run.state == "success"
    assert run_day(dag_run, TIMEZONE) > "2026-09-30"  # (the emulator's school year is 2026-27)
    assert report["files"]["users"]["rejected_ids"] == [f"T{nameless}"]
    classes = {c["sourcedId"] for c in csv.DictReader(io.StringIO(files["classes.csv"]))}
    assert set(named) <= classes
    enrollments = list(csv.DictReader(io.StringIO(files["enrollments.csv"])))
    assert not [e for e in enrollments if e["classSourcedId"] in named and e["role"] == "teacher"]
    warning = ("a class has a teacher enrollment (one without has no staff member teaching its section on the run's "
               "date: they left it, or their assignment ended or has not begun; or none has an active teacher or Flex "
               "staff record, or its teachers were rejected from users.csv)")
    assert report["files"]["enrollments"]["missing_values"] == [{"warning": warning, "count": len(named), "ids": named}]
    assert f"enrollments.csv: {warning}: {len(named)} without: {', '.join(named)}" in report_lines(report)
