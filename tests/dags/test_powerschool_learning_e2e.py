"""End to end: the PowerSchool Learning DAG under dag.test(), against the emulator and OpenSSH's sshd.

The five CSVs are computed here from the emulator's data files and the rules of seed 000, independently
of the mapping engine, and compared byte for byte with the files inside the delivered zip.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import datetime
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
    teaches_on,
)
from tests.dags.single_tasks import run_folder

DAG_ID = "aeries_to_powerschool_learning"
STACK = {"students": 300, "seed": 5}
YEAR = "2026"
TIMEZONE = "America/New_York"  # the mapping's schedule.timezone: the run's date is taken there
SSO = r"(?i)@demo\.k12\.ca\.us$"
ARCHIVE = "powerschool_learning/powerschool_learning_import.zip"  # on the SFTP server


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[one_line(v) for v in row] for row in rows])  # one line per value (issue 14)
    return out.getvalue().encode("utf-8")


def expected_files(data_dir: Path, user_ids: dict[str, str] | None = None, class_ids: dict[str, str] | None = None,
                   today: str | None = None) -> dict[str, bytes]:
    """The five files; ``user_ids`` and ``class_ids`` are the district's crosswalks (Aeries id -> vendor id);
    ``today`` the run's date (default: today in the mapping's time zone), which says which section staff teach."""
    today = today or datetime.now(ZoneInfo(TIMEZONE)).date().isoformat()
    uid = lambda value: (user_ids or {}).get(value, value)  # noqa: E731
    cid = lambda value: (class_ids or {}).get(value, value)  # noqa: E731
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    schools = real_schools(load("schools"), load("students"))
    staff = {s(x["ID"]): x for x in load("staff")}
    courses = {s(c["ID"]): c for c in load("courses")}
    active = [r for r in load("students") if not s(r["InactiveStatusCode"]) and s(r["SchoolCode"]) in schools]
    by_school_student = {(s(r["SchoolCode"]), s(r["StudentID"])) for r in active}
    students: dict[str, dict] = {}
    for r in sorted(active, key=lambda r: r["SchoolCode"]):
        students.setdefault(s(r["StudentID"]), r)
    # a Flex school has no teacher records: its teachers are its sections' staff members (issue 14)
    tch = load("teachers")
    flex = section_staff_teachers(load("schools"), load("sections"), load("staff"), tch, today)
    teachers = sorted(
        (t for t in tch + flex if not s(t.get("InactiveStatusCode")) and s(t["SchoolCode"]) in schools),
        key=lambda t: (t["SchoolCode"], t["TeacherNumber"] or 0),
    )
    teacher_at = {}
    for t in teachers:
        teacher_at.setdefault((s(t["SchoolCode"]), s(t["StaffID1"])), t)
    sections = [x for x in load("sections") if not s(x.get("InactiveStatusCode")) and s(x["SchoolCode"]) in schools]
    section_at = {(s(x["SchoolCode"]), s(x["SectionNumber"])): x for x in sections}

    def class_id(sc, course_id, section_number, period):
        return cid(f"{sc}-{s(course_id)}-{section_number}-{s(period)}-{YEAR}")

    organizations = [[code, s(x["Name"])] for code, x in sorted(schools.items(), key=lambda kv: natural(kv[0])) if code != "0"]

    users, levels = [], []
    for sid in students:
        r = students[sid]
        email = s(r.get("StudentEmailAddress"))
        users.append([uid(sid), s(r["FirstName"]), s(r.get("MiddleName")), s(r["LastName"]), s(r.get("FirstNameAlias")),
                      s(r.get("NetworkLoginID")) or f"s{sid}", "", email, "S", s(r["SchoolCode"]), "0", "",
                      email if re.search(SSO, email) else ""])
        levels.append([uid(sid), s(r["Grade"])])
    users.sort(key=lambda row: natural(row[0]))
    levels.sort(key=lambda row: natural(row[0]))
    teacher_users: dict[str, list[str]] = {}
    for t in sorted(teachers, key=lambda t: t["SchoolCode"]):
        stf = staff.get(s(t["StaffID1"]), {})
        email = s(stf.get("EmailAddress")) or s(t.get("EmailAddress"))
        last = s(stf.get("LastName")) or s(t.get("LastName"))
        teacher_users.setdefault(uid(f"T{s(t['StaffID1'])}"), [  # first_name is required: the last name stands in
            uid(f"T{s(t['StaffID1'])}"), s(stf.get("FirstName")) or s(t.get("FirstName")) or last,
            s(stf.get("MiddleName")), last, "", s(stf.get("UserName")) or f"t{s(t['StaffID1'])}", "",
            email, "T", s(t["SchoolCode"]), "0", "", email if re.search(SSO, email) else ""])
    users += [teacher_users[k] for k in sorted(teacher_users, key=natural)]

    classes, teacher_rosters = [], []
    for x in sections:
        sc, sn = s(x["SchoolCode"]), s(x["SectionNumber"])
        class_key = class_id(sc, x["CourseID"], sn, x["Period"])
        # a member who left the section, or whose assignment ended or has not begun, is not its teacher
        members = [m for m in x.get("SectionStaffMembers") or [] if teaches_on(m, today)]
        primary = next((m for m in members if m.get("IsPrimaryTeacher") is True), members[0] if members else None)
        teacher = teacher_at.get((sc, s(primary.get("StaffID")))) if primary else None
        course = courses.get(s(x["CourseID"]), {})
        classes.append([class_key, s(course.get("Title")), s(course.get("LongDescription")), f"{s(x['CourseID'])}-{sn}", YEAR,
                        uid(f"T{s(teacher['StaffID1'])}") if teacher else "", sc])
        for m in members:
            t = teacher_at.get((sc, s(m.get("StaffID"))))
            if t:
                teacher_rosters.append([class_key, uid(f"T{s(t['StaffID1'])}"), "T"])
    classes.sort(key=lambda r: natural(r[0]))

    student_rosters = []
    for row in load("rosters"):
        key = (s(row["SchoolCode"]), s(row["SectionNumber"]))
        if (s(row["SchoolCode"]), s(row["StudentID"])) in by_school_student and key in section_at:
            x = section_at[key]
            student_rosters.append([class_id(key[0], x["CourseID"], key[1], x["Period"]), uid(s(row["StudentID"])), "S"])
    rosters = sorted(student_rosters, key=lambda r: natural(r[0], r[1])) + sorted(teacher_rosters, key=lambda r: natural(r[0], r[1]))

    return {
        "organizations.csv": csv_bytes(["organization_id", "name"], organizations),
        "users.csv": csv_bytes(["user_id", "first_name", "middle_init", "last_name", "nickname", "login", "password",
                                "email", "user_type", "organization_id", "blocked", "display_id", "sso_id"], users),
        "users_levels.csv": csv_bytes(["user_id", "level_id"], levels),
        "classes.csv": csv_bytes(["class_id", "name", "description", "code", "year", "teacher_id", "organization_id"], classes),
        "rosters.csv": csv_bytes(["class_id", "user_id", "role"], rosters),
    }


@pytest.fixture(scope="module")
def delivered_run(stack):
    """The module's one plain run on its district; a variant that changes what the builds see runs them alone on
    its validated tables."""
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    return build_dags(MAPPINGS_DIR)[DAG_ID].test()


@pytest.mark.e2e
def test_powerschool_learning_delivers_one_zip_with_the_five_files(stack, delivered_run):
    dag_run = delivered_run

    expected = expected_files(stack.data_dir, today=run_day(dag_run, TIMEZONE))
    assert dag_run.state == "success"
    delivered = stack.sftp.root / "powerschool_learning" / "powerschool_learning_import.zip"
    with zipfile.ZipFile(delivered) as archive:
        assert archive.namelist() == list(expected)
        for name, data in expected.items():
            assert archive.read(name) == data, name
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Completed"
    assert [d["remote_path"] for d in report["delivered"]] == ["powerschool_learning/powerschool_learning_import.zip"]
    # Aeries' pseudo-schools are no organizations, and the report says why they were left out.
    organizations = [row[0] for row in csv.reader(io.StringIO(expected["organizations.csv"].decode()))][1:]
    assert organizations and not {"0", "99", "900", "901", "902"} & set(organizations)
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS
    # Passwords are never sent: the column is there and blank in every row.
    users = list(csv.DictReader(io.StringIO(expected["users.csv"].decode())))
    assert users and {u["password"] for u in users} == {""}
    # Issue 14: teachers with a blank first name in STF and TCH (one a service account) are users, named by their
    # last name, and own their classes; the placeholder e-mail they share is a warning naming the users.
    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    teachers = load("teachers")  # and the Flex school's, from its section staff (the service account teaches there)
    teachers += section_staff_teachers(load("schools"), load("sections"), load("staff"), teachers,
                                       run_day(dag_run, TIMEZONE))
    blank = {f"T{s(t['StaffID1'])}": s(t["LastName"]) for t in teachers if not s(t["FirstName"])}
    # the extract says how many teachers of the Flex school 300 came from its section staff
    staff_members = {m["StaffID"] for x in load("sections") if x["SchoolCode"] == 300 for m in x["SectionStaffMembers"]
                     if not s(m["InactiveStatusCode"])}
    assert run.read_json("summary/extract_teachers.json")["teachers_from_section_staff"] == {"300": len(staff_members)}
    by_id = {u["user_id"]: u for u in users}
    assert "Staff" in blank.values()
    assert {uid: (by_id[uid]["first_name"], by_id[uid]["last_name"]) for uid in blank} == {
        uid: (last, last) for uid, last in blank.items()}
    classes = list(csv.DictReader(io.StringIO(expected["classes.csv"].decode())))
    assert {c["teacher_id"] for c in classes} >= set(blank)
    results = run.read_json("summary/build_classes.json")["checks"]["results"]
    owners = next(r for r in results if r["description"] == "every teacher_id of classes.csv is a user_id in users.csv")
    assert (owners["severity"], owners["outcome"], owners["rejected_count"]) == ("reject", "passed", 0)
    results = run.read_json("summary/build_users.json")["checks"]["results"]
    shared = next(r for r in results if r["description"] == "an e-mail belongs to one user")
    emails = [u["email"] for u in users if u["email"]]
    sharing = {u["user_id"] for u in users if u["email"] and emails.count(u["email"]) > 1}
    assert len(sharing) >= 2 and {u["email"] for u in users if u["user_id"] in sharing} == {"NoWhere@aeries.com"}
    assert (shared["severity"], shared["outcome"], shared["unexpected_count"]) == ("warning", "warned", len(sharing))
    assert {row["user_id"] for row in shared["sample"]} <= sharing
    assert report["files"]["users"]["shared_values"] == [
        {"warning": "an e-mail belongs to one user", "values": {"email": "NoWhere@aeries.com"}, "count": len(sharing),
         "ids": [u["user_id"] for u in users if u["user_id"] in sharing]}]


@pytest.mark.e2e
def test_id_crosswalks_keep_the_accounts_and_classes_the_vendor_already_has(stack, delivered_run, tmp_path, monkeypatch):
    """The id crosswalks are read from the builds on: those tasks run on the plain run's validated tables."""
    import shutil

    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags
    from tests.dags.single_tasks import run_tasks, tasks_from

    plain = expected_files(stack.data_dir)
    users = list(csv.reader(io.StringIO(plain["users.csv"].decode())))[1:]
    student, teacher = next(u[0] for u in users if u[8] == "S"), next(u[0] for u in users if u[8] == "T")
    klass = next(r[0] for r in csv.reader(io.StringIO(plain["rosters.csv"].decode())) if r[2] == "T")
    user_ids = {student: "haiku-0001", teacher: "haiku-0002"}
    class_ids = {klass: "haiku-class-9"}
    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    (include / "crosswalks" / "powerschool_learning_user_ids.csv").write_text(
        "aeries_id,vendor_id\n" + "".join(f"{a},{v}\n" for a, v in user_ids.items()))
    (include / "crosswalks" / "powerschool_learning_class_ids.csv").write_text(
        "aeries_id,vendor_id\n" + "".join(f"{a},{v}\n" for a, v in class_ids.items()))
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
    expected = expected_files(stack.data_dir, user_ids, class_ids)

    dag = build_dags(include / "mappings")[DAG_ID]
    ran = tasks_from(dag, *(task.task_id for task in dag.tasks if task.task_id.startswith("build_")))

    dag_run = run_tasks(dag, delivered_run, ran)

    assert {ti.state for ti in dag_run.get_task_instances() if ti.task_id in ran} == {"success"}
    with zipfile.ZipFile(stack.sftp.root / "powerschool_learning" / "powerschool_learning_import.zip") as archive:
        for name, data in expected.items():
            assert archive.read(name) == data, name
    everything = b"".join(expected.values()).decode()
    # The Aeries ids are gone from every file (as whole values), the vendor's ids are everywhere they were.
    for aeries_id, vendor_id in {**user_ids, **class_ids}.items():
        assert not re.search(rf"(^|,){re.escape(aeries_id)}(,|$)", everything, re.M), aeries_id
        assert vendor_id in everything


@pytest.mark.e2e
def test_a_teacher_still_rejected_takes_only_their_classes_named_in_the_report(stack, tmp_path):
    """Issue 14: a teacher with no name at all (a nameless service account) cannot be a user; PowerSchool Learning
    drops a class whose owner fails, so each of their classes is rejected and named in the report, and the rest
    of the import is delivered."""
    import shutil

    from tests.dags.stacks import blank_teacher_names, run_on_district

    district = tmp_path / "district"
    shutil.copytree(stack.data_dir, district)
    teachers = json.loads((district / "teachers.json").read_text(encoding="utf-8"))
    classes = list(csv.DictReader(io.StringIO(expected_files(district)["classes.csv"].decode())))
    owners = {c["teacher_id"] for c in classes}
    nameless = next(t for t in teachers if s(t["FirstName"]) and f"T{s(t['StaffID1'])}" in owners
                    and sum(1 for o in teachers if o["StaffID1"] == t["StaffID1"]) == 1)
    blank_teacher_names(district, nameless["StaffID1"])
    user_id = f"T{s(nameless['StaffID1'])}"
    left = sorted((c["class_id"] for c in classes if c["teacher_id"] == user_id), key=natural)
    assert left

    outcome = run_on_district(tmp_path, district, DAG_ID, archive=ARCHIVE, rejects=["classes.csv"])

    assert outcome.dag_run.state == "success"
    assert outcome.report["status"] == "Completed with errors"
    assert outcome.report["files"]["users"]["rejected_ids"] == [user_id]
    assert outcome.report["files"]["classes"]["rejected_ids"] == left
    assert {r["_reject_reason"] for r in outcome.rejects["classes.csv"]} == {
        "every teacher_id of classes.csv is a user_id in users.csv"}
    sent = {c["class_id"] for c in csv.DictReader(io.StringIO(outcome.files["classes.csv"].decode()))}
    assert not sent & set(left) and len(sent) == len(classes) - len(left)


@pytest.mark.e2e
def test_a_class_whose_staff_members_all_left_goes_without_a_teacher_and_is_named(stack, tmp_path):
    """Issue 14: at the Flex school a section's staff members have their own InactiveStatusCode and dates; when all
    of them have left it (inactive, or their assignment ended), the class is still delivered, without a teacher,
    and the report's warning names it: a class never loses its teacher silently."""
    import shutil

    from tests.dags.stacks import run_on_district

    district = tmp_path / "district"
    shutil.copytree(stack.data_dir, district)
    sections = json.loads((district / "sections.json").read_text(encoding="utf-8"))
    left, ended = [x for x in sections if x["SchoolCode"] == 300 and not s(x["InactiveStatusCode"])][:2]
    for m in left["SectionStaffMembers"]:
        m["InactiveStatusCode"] = "I"
    for m in ended["SectionStaffMembers"]:
        m["EndDate"] = "2026-09-30T00:00:00"
    (district / "sections.json").write_text(json.dumps(sections), encoding="utf-8")
    named = sorted((f"300-{s(x['CourseID'])}-{x['SectionNumber']}-{s(x['Period'])}-{YEAR}" for x in (left, ended)),
                   key=natural)

    outcome = run_on_district(tmp_path, district, DAG_ID, archive=ARCHIVE)

    results = outcome.run.read_json("summary/build_classes.json")["checks"]["results"]
    assert outcome.dag_run.state == "success"
    assert run_day(outcome.dag_run, TIMEZONE) > "2026-09-30"  # (the emulator's school year is 2026-27)
    classes = {c["class_id"]: c for c in csv.DictReader(io.StringIO(outcome.files["classes.csv"].decode()))}
    assert [classes[c]["teacher_id"] for c in named] == ["", ""]
    warning = next(r for r in results if r["description"].startswith("a class has a teacher"))
    assert (warning["severity"], warning["outcome"], warning["unexpected_count"]) == ("warning", "warned", 2)
    assert sorted((row["class_id"] for row in warning["sample"]), key=natural) == named
    rosters = list(csv.reader(io.StringIO(outcome.files["rosters.csv"].decode())))
    assert not [r for r in rosters if r[0] in named and r[2] == "T"]


@pytest.mark.e2e
def test_a_run_after_the_served_year_ended_keeps_the_teachers_who_taught_to_its_end(stack, tmp_path):
    """After the July rollover, before Aeries offers the new year, the hub delivers the year Aeries still serves
    (``unavailable_year: newest_started``). The section staff's dates are then compared with that year's last day
    of school, not with the run's date: whoever taught to the end (a co-teacher who began with the fourth quarter
    included) still teaches, and whoever left during the year does not. The report says which day was used."""
    from tests.dags.stacks import run_on_district

    load = lambda name: json.loads((stack.data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    last_day = max(t["EndDate"][:10] for x in load("schools") for t in x["Terms"] if t.get("EndDate"))
    late = [m for x in load("sections") for m in x["SectionStaffMembers"]
            if not s(m.get("InactiveStatusCode")) and s(m.get("StartDate"))[:10] > "2027-01-01"]
    assert late and last_day < "2027-07-15"

    outcome = run_on_district(tmp_path, stack.data_dir, DAG_ID, archive=ARCHIVE,
                              logical_date=datetime(2027, 7, 15, 12, tzinfo=ZoneInfo(TIMEZONE)))

    assert outcome.dag_run.state == "success"
    assert outcome.report["school_year"] == "2026-2027"
    assert outcome.files == expected_files(stack.data_dir, today=last_day)
    teachers = {(r[0], r[1]) for r in csv.reader(io.StringIO(outcome.files["rosters.csv"].decode())) if r[2] == "T"}
    assert {f"T{s(m['StaffID'])}" for m in late} <= {user for _, user in teachers}
    assert (f"the run's date 2027-07-15 is outside the school year Aeries served, so the date conditions of "
            f"classes.csv, rosters.csv, users.csv (who teaches a section, by its staff's start and end dates) "
            f"compared with {last_day}, that year's last day of school") in outcome.report["attention"]
