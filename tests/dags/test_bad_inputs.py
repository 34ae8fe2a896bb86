"""The bad-input catalogue (issue 4), end to end: what each kind of bad Aeries data does to the files vendors get.

The district is tests/fixtures/bad_inputs/ (its README lists every bad row and the behaviour expected of it); the
files each vendor should receive were written by hand in tests/fixtures/bad_inputs/expected/<vendor>/, and the
rejected rows and their reasons are written by hand below. Three vendor DAGs run once each under dag.test()
against the Aeries emulator serving that district and OpenSSH's sshd: Destiny (students and staff, one quoted
CSV), Xello (students, rosters, teachers; pipes; required birth date) and PowerSchool Learning (sections and
rosters; a zip). Each test then asserts one behaviour against the delivered bytes, the run's rejects/*.csv,
report.json and (for warnings, which report.json only counts) the staged summary of the source checks.

Bad inputs that need no DAG run (a file encoding narrower than the data, a mapping naming an unknown table or
column) are tested next to their code: tests/plugins/aeries_hub/mapping/test_render.py, test_loader.py,
test_engine.py, tests/plugins/aeries_hub/quality/test_encoding.py and tests/plugins/aeries_hub/aeries/test_hook.py.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from aeries_hub.staging import RunFolder, staging_base
from tests.dags.single_tasks import run_note

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "bad_inputs"
EXPECTED = FIXTURE / "expected"

# The shared `stack` fixture (tests/dags/conftest.py) serves this district for the module.
STACK = {"data_dir": FIXTURE}

pytestmark = pytest.mark.e2e

XELLO_FILES = ("School.txt", "Student.txt", "StudentCourses.txt", "Educator.txt", "StudentGroup.txt")
PSL_FILES = ("organizations.csv", "users.csv", "users_levels.csv", "classes.csv", "rosters.csv")

# Reasons, as an operator reads them in rejects/*.csv (written by hand: they are the behaviour under test).
DUPLICATE_ID = (
    "duplicate student record: another row has the same (SchoolCode, StudentID), so every copy is rejected; "
    "remove the duplicate enrollment in Aeries (a student at two schools has one record per school)"
)
DUPLICATE_NUMBER = (
    "duplicate student number: another row has the same (SchoolCode, StudentNumber), so every copy is rejected; "
    "correct the student number in Aeries"
)
NO_STUDENT_AT_SCHOOL = (
    "roster row of a student with no accepted record at its school ((SchoolCode, StudentID) not in students): "
    "the student is unknown, enrolled at another school, or rejected"
)
NULL_BIRTHDATE_WARNING = (
    "Birthdate is Aeries' null date (0001-01-01 or 1900-01-01): it is sent blank, and vendors that require a "
    "birth date reject the student; enter the birth date in Aeries"
)


@dataclass
class Run:
    state: str
    folder: RunFolder
    report: dict
    files: dict[str, bytes]  # what the vendor received, by file name (zip members in order)
    note: str | None  # the run's note in the grid

    def rejects(self, stem: str, *columns: str) -> list[tuple[str, ...]]:
        """Rows of ``rejects/<stem>.csv`` as (columns..., reason), sorted; [] when the run wrote no such file."""
        if not self.folder.exists(f"rejects/{stem}.csv"):
            return []
        with self.folder.path("rejects", f"{stem}.csv").open("rb") as handle:
            rows = list(csv.DictReader(io.StringIO(handle.read().decode("utf-8"))))
        return sorted(tuple(row[c] for c in columns) + (row["_reject_reason"],) for row in rows)

    def lines(self, file: str) -> list[str]:
        return self.files[file].decode("utf-8").splitlines()

    def source_result(self, table: str, description: str) -> dict:
        results = self.folder.read_json("summary/validate_sources.json")["tables"][table]["checks"]["results"]
        (result,) = [r for r in results if r["description"] == description]
        return result


@pytest.fixture(scope="module")
def runs(stack) -> dict[str, Run]:
    """Destiny, Xello and PowerSchool Learning, each run once on the bad-input district."""
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    dags = build_dags(MAPPINGS_DIR)
    sftp = stack.sftp.root
    done = {}
    for vendor, dag_id, conf in (
        ("destiny", "aeries_to_destiny", {}),
        ("xello", "aeries_to_xello", {"ignore_window": True}),  # the pull window is weekends 20:00-02:00
        ("powerschool_learning", "aeries_to_powerschool_learning", {}),
    ):
        dag_run = dags[dag_id].test(run_conf=conf)
        folder = RunFolder(staging_base(), dag_id, dag_run.run_id)
        if vendor == "destiny":
            files = {"patrons.csv": (sftp / "patrons" / "patrons.csv").read_bytes()}
        elif vendor == "xello":
            files = {name: (sftp / "xello" / name).read_bytes() for name in XELLO_FILES}
        else:
            with zipfile.ZipFile(sftp / "powerschool_learning" / "powerschool_learning_import.zip") as archive:
                files = {name: archive.read(name) for name in archive.namelist()}
        done[vendor] = Run(dag_run.state, folder, folder.read_json("report.json"), files, run_note(dag_run))
    return done


def expected(vendor: str, file: str) -> bytes:
    return (EXPECTED / vendor / file).read_bytes()


# ------------------------------------------------------------------------------------------------ every run


@pytest.mark.parametrize(
    "vendor, rejected",
    [("destiny", 4), ("xello", 10), ("powerschool_learning", 7)],
)
def test_bad_rows_are_rejected_and_the_rest_is_delivered_with_status_completed_with_errors(runs, vendor, rejected):
    run = runs[vendor]
    assert run.state == "success"
    assert run.report["status"] == "Completed with errors"
    assert run.report["errors"] == [], "no error check failed: bad rows are rejected, the run is not stopped"
    assert run.report["rejected"] == rejected
    # In the grid, the run is green, and its note tells it from a clean one.
    assert run.note == run.report["outcome"]
    assert run.note.startswith(f"Completed with errors: {rejected} rows rejected, top reasons: "), run.note


@pytest.mark.parametrize(
    "vendor, files",
    [("destiny", ("patrons.csv",)), ("xello", XELLO_FILES), ("powerschool_learning", PSL_FILES)],
)
def test_every_delivered_file_equals_the_hand_written_file_byte_for_byte(runs, vendor, files):
    run = runs[vendor]
    assert list(run.files) == list(files)
    for name in files:
        assert run.files[name] == expected(vendor, name), f"{vendor} {name}"


# -------------------------------------------------------------------------------------- 1. duplicate ids


@pytest.mark.parametrize("vendor", ["destiny", "xello", "powerschool_learning"])
def test_duplicate_student_id_at_one_school_rejects_both_rows_and_names_them(runs, vendor):
    rejected = runs[vendor].rejects("source_students", "SchoolCode", "StudentID", "StudentNumber", "FirstName")
    assert [row for row in rejected if row[-1] == DUPLICATE_ID] == [
        ("100", "700010", "10", "Dana", DUPLICATE_ID),
        ("100", "700010", "11", "Dane", DUPLICATE_ID),
    ]


@pytest.mark.parametrize("vendor", ["destiny", "xello", "powerschool_learning"])
def test_duplicate_school_and_student_number_rejects_both_students_and_names_them(runs, vendor):
    rejected = runs[vendor].rejects("source_students", "SchoolCode", "StudentID", "StudentNumber", "FirstName")
    assert [row for row in rejected if row[-1] != DUPLICATE_ID] == [
        ("300", "700011", "60", "Iris", DUPLICATE_NUMBER),
        ("300", "700012", "60", "Theo", DUPLICATE_NUMBER),
    ]


def test_duplicated_students_reach_no_vendor_file(runs):
    delivered = b"".join(data for run in runs.values() for data in run.files.values())
    for student in (b"700010", b"700011", b"700012"):
        assert student not in delivered


@pytest.mark.parametrize("vendor", ["xello", "powerschool_learning"])
def test_roster_row_of_a_rejected_duplicate_student_is_rejected_in_turn(runs, vendor):
    rejected = runs[vendor].rejects("source_rosters", "SchoolCode", "StudentID", "SequenceNumber")
    assert ("100", "700010", "1", NO_STUDENT_AT_SCHOOL) in rejected


def test_report_json_names_the_ids_of_the_source_rows_it_rejected(runs):
    sources = runs["destiny"].report.get("sources", {})
    assert sources.get("students", {}).get("rejected_ids") == ["100/700010", "100/700010", "300/700011", "300/700012"]


def test_the_report_gives_each_reason_rows_were_rejected_with_its_count_and_ids(runs):
    from aeries_hub.run.rejects import reject_reason_lines

    duplicates = [
        f"rejected from Aeries students: {DUPLICATE_ID} (2 rows, e.g. 100/700010)",
        f"rejected from Aeries students: {DUPLICATE_NUMBER} (2 rows, e.g. 300/700011, 300/700012)",
    ]
    assert reject_reason_lines(runs["destiny"].report) == duplicates
    assert reject_reason_lines(runs["xello"].report) == [  # the report's tables are in name order
        f"rejected from Aeries rosters: {NO_STUDENT_AT_SCHOOL} (3 rows, e.g. 100/700002/5, 100/700010/1, 100/799999/1)",
        *duplicates,
        "rejected from Student.txt: DateOfBirth is required (2 rows, e.g. 700040, 700041)",
        "rejected from StudentCourses.txt: every StudentID of StudentCourses.txt is a StudentID in Student.txt "
        "(1 row, e.g. 700040/0012)",
    ]


# ------------------------------------------------------------------------------ 2. a student at two schools


def test_student_active_at_two_schools_is_one_destiny_patron_at_the_lower_school_code(runs):
    rows = [line for line in runs["destiny"].lines("patrons.csv") if '"700020"' in line]
    assert rows == [
        '"Bayview ES","700020","700020","Navarro","Eli","","","Student","Student","A","M","8","F","07/19/2013",'
        '"s700020","s700020@students.demo.k12.ca.us","412 Harbor Way","Mountain Vista","CA","95060","8315550111"'
    ]


def test_student_active_at_two_schools_is_one_xello_student_with_the_courses_of_both_schools(runs):
    xello = runs["xello"]
    assert [line for line in xello.lines("Student.txt") if line.startswith("700020|")] == [
        "700020|Eli|Navarro|M|8|100|300|2013-07-19|40700020|s700020@students.demo.k12.ca.us"
    ]
    assert [line for line in xello.lines("StudentCourses.txt") if line.startswith("700020|")] == [
        "700020|0012|Grade 3|8|0|0|0",
        "700020|1010|English|8|0|10|0",
    ]


def test_student_active_at_two_schools_is_one_psl_user_in_the_classes_of_both_schools(runs):
    psl = runs["powerschool_learning"]
    assert [line for line in psl.lines("users.csv") if line.startswith("700020,")] == [
        "700020,Eli,,Navarro,,s700020,,s700020@students.demo.k12.ca.us,S,100,0,,"
    ]
    assert [line for line in psl.lines("rosters.csv") if ",700020," in line] == [
        "100-0012-2-2-2026,700020,S",
        "300-1010-7-1-2026,700020,S",
    ]


def test_student_active_at_one_school_and_pre_enrolled_at_another_is_sent_at_the_active_school(runs):
    assert [line for line in runs["destiny"].lines("patrons.csv") if '"700021"' in line] == [
        '"Redwood HS","700021","700021","Lindqvist","Rosa","","","Student","Student","A","F","9","F","01/03/2013",'
        '"s700021","s700021@students.demo.k12.ca.us","3021 Seaview Dr","Mountain Vista","CA","95060-1234","8315550199"'
    ]
    assert [line for line in runs["xello"].lines("Student.txt") if line.startswith("700021|")] == [
        "700021|Rosa|Lindqvist|F|9|300||2013-01-03|40700021|s700021@students.demo.k12.ca.us"
    ]
    assert [line for line in runs["powerschool_learning"].lines("users.csv") if line.startswith("700021,")] == [
        "700021,Rosa,,Lindqvist,,s700021,,s700021@students.demo.k12.ca.us,S,300,0,,"
    ]


# -------------------------------------------------------------------------------- 3. a section with no teacher


def test_section_without_teacher_is_a_class_with_a_blank_teacher_and_its_students_still_enrolled(runs):
    psl = runs["powerschool_learning"]
    assert [line for line in psl.lines("classes.csv") if line.startswith("100-0025-5-")] == [
        "100-0025-5-5-2026,Music,General music (TK-8),0025-5,2026,,100"
    ]
    assert [line for line in psl.lines("rosters.csv") if line.startswith("100-0025-5-")] == [
        "100-0025-5-5-2026,700001,S"
    ]
    assert psl.report["files"]["classes"]["rejected_ids"] == []
    assert psl.report["files"]["rosters"]["rejected_ids"] == []


def test_section_without_teacher_keeps_its_course_for_xello(runs):
    assert "700001|0025|Music|3|0|0|0" in runs["xello"].lines("StudentCourses.txt")


# --------------------------------------------------------------------- 4. a roster row for an unknown student


@pytest.mark.parametrize("vendor", ["xello", "powerschool_learning"])
def test_roster_row_of_an_unknown_student_is_rejected_and_named(runs, vendor):
    rejected = runs[vendor].rejects("source_rosters", "SchoolCode", "StudentID", "SequenceNumber")
    assert ("100", "799999", "1", NO_STUDENT_AT_SCHOOL) in rejected


@pytest.mark.parametrize("vendor", ["xello", "powerschool_learning"])
def test_roster_row_at_a_school_where_the_student_is_not_enrolled_is_rejected_not_silently_dropped(runs, vendor):
    rejected = runs[vendor].rejects("source_rosters", "SchoolCode", "StudentID", "SequenceNumber")
    assert ("100", "700002", "5", NO_STUDENT_AT_SCHOOL) in rejected
    assert rejected == [
        ("100", "700002", "5", NO_STUDENT_AT_SCHOOL),
        ("100", "700010", "1", NO_STUDENT_AT_SCHOOL),
        ("100", "799999", "1", NO_STUDENT_AT_SCHOOL),
    ]


def test_rejected_roster_rows_reach_no_vendor_file(runs):
    assert not [line for line in runs["powerschool_learning"].lines("rosters.csv") if ",799999," in line]
    assert [line for line in runs["powerschool_learning"].lines("rosters.csv") if ",700002," in line] == [
        "300-1010-8-2-2026,700002,S"
    ]
    assert [line for line in runs["xello"].lines("StudentCourses.txt") if line.startswith("700002|")] == [
        "700002|1010|English|10|0|10|1"
    ]


# ------------------------------------------------------------------------------ 5. Aeries' null date 0001-01-01


def test_aeries_null_birthdate_is_sent_blank_where_the_vendor_does_not_require_it(runs):
    rows = [line for line in runs["destiny"].lines("patrons.csv") if '"700040"' in line or '"700041"' in line]
    assert rows == [
        '"Bayview ES","700040","700040","Haddad","Omar","","","Student","Student","A","M","5","F","",'
        '"s700040","s700040@students.demo.k12.ca.us","412 Harbor Way","Mountain Vista","CA","95060","8315550111"',
        '"Redwood HS","700041","700041","Abbott","Grace","","","Student","Student","A","F","12","F","",'
        '"s700041","s700041@students.demo.k12.ca.us","3021 Seaview Dr","Mountain Vista","CA","95060-1234","8315550199"',
    ]
    for date in (b"0001-01-01", b"01/01/0001", b"1900-01-01", b"01/01/1900"):
        assert date not in runs["destiny"].files["patrons.csv"]


def test_aeries_null_birthdate_rejects_the_student_where_the_vendor_requires_it_and_names_them(runs):
    xello = runs["xello"]
    assert xello.rejects("Student", "StudentID", "DateOfBirth") == [
        ("700040", "", "DateOfBirth is required"),
        ("700041", "", "DateOfBirth is required"),
    ]
    assert xello.report["files"]["Student"]["rejected_ids"] == ["700040", "700041"]
    # his class cannot be sent without him (StudentCourses references Student.txt)
    assert xello.rejects("StudentCourses", "StudentID", "CourseCode") == [
        ("700040", "0012", "every StudentID of StudentCourses.txt is a StudentID in Student.txt"),
    ]
    assert xello.report["files"]["StudentCourses"]["rejected_ids"] == ["700040/0012"]


def test_aeries_null_birthdate_is_a_source_warning_naming_the_students(runs):
    result = runs["destiny"].source_result("students", NULL_BIRTHDATE_WARNING)
    assert (result["outcome"], result["unexpected_count"]) == ("warned", 2)
    assert sorted((row["SchoolCode"], row["StudentID"], row["Birthdate"]) for row in result["sample"]) == [
        (100, 700040, "0001-01-01T00:00:00"),
        (300, 700041, "1900-01-01T00:00:00"),
    ]


# ------------------------------------------------------------------------- 6. blank codes padded with spaces


def test_padded_blank_codes_are_sent_blank_never_as_spaces(runs):
    assert [line for line in runs["destiny"].lines("patrons.csv") if '"700050"' in line] == [
        # InactiveStatusCode "   " -> A; Gender "  " -> U; MiddleName, NetworkLoginID, e-mail, state "  " -> ""
        '"Bayview ES","700050","700050","Farouk","Noor","","","Student","Student","A","U","6","F","09/09/2015",'
        '"","","412 Harbor Way","Mountain Vista","","95060","8315550111"'
    ]
    # NextSchoolCode "  " -> PreRegSchoolCode blank (it used to be two spaces); Gender "  " -> N
    assert [line for line in runs["xello"].lines("Student.txt") if line.startswith("700050|")] == [
        "700050|Noor|Farouk|N|6|100||2015-09-09|40700050|"
    ]
    # NetworkLoginID "  " is blank -> the generated login
    assert [line for line in runs["powerschool_learning"].lines("users.csv") if line.startswith("700050,")] == [
        "700050,Noor,,Farouk,,s700050,,,S,100,0,,"
    ]
    for run in runs.values():
        for name, data in run.files.items():
            assert b"  " not in data, name


def test_padded_blank_in_a_number_column_is_extracted_as_null_and_the_column_stays_a_number(runs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with runs["xello"].folder.path("extract", "students.parquet").open("rb") as handle:
        table = pq.read_table(io.BytesIO(handle.read()), columns=["StudentID", "SchoolCode", "NextSchoolCode"])
    assert table.schema.field("NextSchoolCode").type == pa.int64()
    values = {(row["SchoolCode"], row["StudentID"]): row["NextSchoolCode"] for row in table.to_pylist()}
    assert values[(100, 700050)] is None
    assert values[(100, 700020)] == 300


def test_padded_blank_inactive_status_is_active_for_teachers_and_sections(runs):
    # teacher 100/101 and section 100/2 have InactiveStatusCode "  "
    assert "Ana|Ortega|ana.ortega@demo.k12.ca.us|100|User|100214|Teacher|Ortega, A" in runs["xello"].lines("Educator.txt")
    assert "100-0012-2-2-2026,Grade 3,Grade 3 (self-contained),0012-2,2026,T100214,100" in (
        runs["powerschool_learning"].lines("classes.csv")
    )


def test_padded_blank_homeroom_makes_no_student_group_row(runs):
    assert runs["xello"].lines("StudentGroup.txt") == [
        "GroupName|EducatorEmail|StudentId|SchoolCode",
        "Homeroom Ortega, A|ana.ortega@demo.k12.ca.us|700001|100",
    ]


# --------------------------------------------------------------------------- 7. characters outside Latin-1


def test_every_vendor_file_of_these_mappings_is_utf8():
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR

    for name in ("destiny", "xello", "powerschool_learning"):
        mapping = load_mapping(MAPPINGS_DIR / f"{name}.yml")
        assert {output.format.encoding for output in mapping.outputs} == {"utf-8"}, name


def test_names_outside_latin1_reach_utf8_files_exactly_as_aeries_sent_them(runs):
    patrons = runs["destiny"].files["patrons.csv"]
    assert '"Trần","Mỹ Linh","","Linh 🌸"'.encode("utf-8") in patrons
    assert '"王","小明"'.encode("utf-8") in patrons
    assert '"Phạm","Thị Hương"'.encode("utf-8") in patrons
    assert "700001|Mỹ Linh|Trần|F|".encode("utf-8") in runs["xello"].files["Student.txt"]
    assert "700002|小明|王|M|".encode("utf-8") in runs["xello"].files["Student.txt"]
    assert "Thị Hương|Phạm|huong.pham@demo.k12.ca.us|300|User|100600|Teacher|Phạm, T".encode("utf-8") in (
        runs["xello"].files["Educator.txt"]
    )
    users = runs["powerschool_learning"].files["users.csv"]
    assert "700001,Mỹ Linh,,Trần,Linh 🌸,".encode("utf-8") in users
    assert "T100600,Thị Hương,,Phạm,,hpham,".encode("utf-8") in users
    # no byte order mark, no escapes, no replacement characters
    for run in runs.values():
        for name, data in run.files.items():
            assert not data.startswith(b"\xef\xbb\xbf"), name
            assert "\ufffd" not in data.decode("utf-8") and b"\\u" not in data and b"?" not in data, name


def test_names_outside_latin1_reject_no_row_only_the_null_birthdates_are_rejected_from_built_files(runs):
    rejected = {
        vendor: {stem: f["rejected_ids"] for stem, f in run.report["files"].items() if f["rejected_ids"]}
        for vendor, run in runs.items()
    }
    assert rejected == {
        "destiny": {},
        "xello": {"Student": ["700040", "700041"], "StudentCourses": ["700040/0012"]},
        "powerschool_learning": {},
    }


# ------------------------------------------------------------------ the hub view (aeries_hub.hub_view) of these runs

HUB_DAGS = {"aeries_to_destiny", "aeries_to_xello", "aeries_to_powerschool_learning"}


def hub_rows(readable: set[str]) -> dict:
    from airflow.utils.session import create_session

    from aeries_hub.hub_view.model import collect_hub

    with create_session() as session:
        return {row.dag_id: row for row in collect_hub(readable, session)}


def test_the_hub_view_shows_each_runs_status_rows_rejects_with_reasons_warned_checks_and_changes(runs):
    from aeries_hub.hub_view.model import RejectReason

    rows = hub_rows(HUB_DAGS | {"aeries_to_stemscopes"})
    destiny = rows["aeries_to_destiny"]
    assert (destiny.kind, destiny.approvals) == ("vendor", [])
    run = destiny.last_run
    assert run.report == runs["destiny"].report and run.state == "success"
    assert (run.status, run.status_class) == ("Completed with errors", "completed-with-errors")
    patrons = len(runs["destiny"].lines("patrons.csv")) - 1  # the header
    assert (run.delivered_rows, run.rejected) == (patrons, 4)
    assert run.reasons == [RejectReason("Aeries students", DUPLICATE_ID, 2, ["100/700010"]),
                           RejectReason("Aeries students", DUPLICATE_NUMBER, 2, ["300/700011", "300/700012"])]
    assert f"Aeries students: {NULL_BIRTHDATE_WARNING} (2 rows)" in run.warned
    assert run.changes == {"patrons.csv": {"added": patrons, "changed": 0, "removed": 0}}  # its first delivery
    # the one-line outcome (the run's note) holds the reason: no problem repeats it; no task failed, nothing held
    assert run.outcome == runs["destiny"].note
    assert (run.problems, run.failed_tasks, run.held) == ([], [], None)
    xello = rows["aeries_to_xello"].last_run
    assert (xello.status, xello.rejected) == ("Completed with errors", 10)
    assert RejectReason("Student.txt", "DateOfBirth is required", 2, ["700040", "700041"]) in xello.reasons
    # A DAG this module never ran is listed with its latest run in this worker's database (another module's), or
    # without a run when it has none; one the user may not read is not listed.
    assert set(rows) == HUB_DAGS | {"aeries_to_stemscopes"}
    stemscopes = rows["aeries_to_stemscopes"].last_run
    assert (stemscopes.run_id if stemscopes else None) == latest_run_id("aeries_to_stemscopes")


def latest_run_id(dag_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = DagRun.find(dag_id=dag_id, session=session)
        return max(runs, key=lambda run: (run.run_after, run.id)).run_id if runs else None


def test_the_hub_view_lists_an_approval_waiting_in_required_actions_with_its_link(runs):
    from airflow import settings
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import select

    from aeries_hub.hub_view.model import waiting_approvals

    session = settings.Session()
    try:  # the approve_changes task of the Destiny run made to wait, as the guard does; rolled back after
        ti = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == "aeries_to_destiny",
                                                        TaskInstance.task_id == "approve_changes")
                             .order_by(TaskInstance.start_date.desc())).first()
        ti.state, run_id = "awaiting_input", ti.run_id  # where Airflow 3.3 parks a task waiting for an answer
        session.add(HITLDetail(ti_id=ti.id, options=["Approve", "Reject"], subject="Approve changes to the vendor",
                               body="2 removed", params={}))
        session.flush()
        (approval,) = waiting_approvals(HUB_DAGS, session)["aeries_to_destiny"]
        assert waiting_approvals({"aeries_to_xello"}, session) == {}
    finally:
        session.rollback()
        session.close()
    assert (approval.subject, approval.task_id, approval.options) == ("Approve changes to the vendor",
                                                                      "approve_changes", ["Approve", "Reject"])
    assert approval.run_id == run_id
    assert approval.link == f"dags/aeries_to_destiny/runs/{run_id}/tasks/approve_changes/required_actions"


def test_the_hub_page_shows_a_user_only_the_dags_they_may_read_and_links_each_run_to_its_report(runs, monkeypatch):
    from aeries_hub.hub_view.render import url_segment
    from tests.plugins.aeries_hub.hub_view.client import ONE_DAG_READER, airflow_client, token_of

    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "tests.plugins.aeries_hub.hub_view.client.OneDagAuthManager")
    with airflow_client() as client:
        reader = {"_token": token_of(ONE_DAG_READER)}
        page = client.get("/aeries-hub/", cookies=reader)
        assert page.status_code == 200
        assert 'id="dag-aeries_to_destiny"' in page.text and "aeries_to_xello" not in page.text
        assert '<span class="status completed-with-errors">Completed with errors</span>' in page.text
        run_id = hub_rows(HUB_DAGS)["aeries_to_destiny"].last_run.run_id
        link = f"/aeries-hub/runs/aeries_to_destiny/{url_segment(run_id)}"
        assert f'href="{link}#rejects"' in page.text
        detail = client.get(link, cookies=reader)
        assert detail.status_code == 200
        assert f"<td>Aeries students</td><td>{DUPLICATE_ID}</td><td>2</td><td>100/700010</td>" in detail.text
        assert "<td>warned</td>" in detail.text and '<pre id="report-json">' in detail.text
        # the warning's sample rows (their birth dates: test_aeries_null_birthdate_is_a_source_warning...) are not shown
        assert "0001-01-01T00:00:00" not in detail.text and "1900-01-01T00:00:00" not in detail.text
        xello_run = hub_rows(HUB_DAGS)["aeries_to_xello"].last_run.run_id
        refused = client.get(f"/aeries-hub/runs/aeries_to_xello/{url_segment(xello_run)}", cookies=reader)
        assert refused.status_code == 403
        assert "aeries_to_xello" in client.get("/aeries-hub/", cookies={"_token": token_of("someone")}).text
