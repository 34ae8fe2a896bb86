"""End to end: the library's School Data Sync v2.1 mapping (include/mappings/library/sds_v21.yml) under
dag.test(), against the emulator's generated district and sshd, judged by the independent SDS checker
(tests/standards/sds_v21.py, Microsoft's SDS V2.1 CSV File Format): the delivered files break no rule, and the
students whose name holds a line break (SDS accepts none) are sent with a space, computed from the emulator's data."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.dags.independent import GENERATED_PSEUDO_SCHOOLS, s
from tests.dags.library import run_library_mapping
from tests.standards import sds_v21

pytestmark = pytest.mark.e2e

STACK = {"students": 300, "seed": 5}
FILES = ["classes.csv", "enrollments.csv", "orgs.csv", "roles.csv", "users.csv"]


@pytest.fixture(scope="module")
def delivered_run(stack, tmp_path_factory):
    """The module's one run: the DagRun, the SFTP folder SDS reads, and the run's report."""
    return run_library_mapping(stack, tmp_path_factory.mktemp("sds"), "sds_v21")


def test_sds_delivers_the_five_files(delivered_run):
    dag_run, folder, report = delivered_run
    assert dag_run.state == "success"
    assert sorted(path.name for path in folder.iterdir()) == FILES
    assert report["status"] == "Completed"
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS


def test_the_files_break_no_rule_of_the_sds_v21_format(delivered_run):
    _, folder, _ = delivered_run
    assert sds_v21.check(folder) == []


def test_each_user_has_one_primary_role_at_its_lowest_school(delivered_run):
    _, folder, _ = delivered_run
    roles = list(csv.DictReader(io.StringIO((folder / "roles.csv").read_text(encoding="utf-8"), newline="")))
    schools: dict[str, list[str]] = {}
    for role in roles:
        schools.setdefault(role["userSourcedId"], []).append(role["orgSourcedId"])
    primary = {role["userSourcedId"]: role["orgSourcedId"] for role in roles if role["isPrimary"] == "TRUE"}
    assert primary == {user: min(orgs, key=int) for user, orgs in schools.items()}
    assert any(len(orgs) == 2 for orgs in schools.values()), "the district has users at two schools"


def test_a_student_whose_name_holds_a_line_break_is_sent_with_a_space(delivered_run, stack):
    """SDS takes no line breaks in its data; every delimited file is written one value to a line, so such a student
    is provisioned under the name with a space rather than held back (losing their Microsoft 365 account)."""
    _, folder, _ = delivered_run
    students = json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
    broken = {s(student["StudentID"]): student for student in students if not s(student.get("InactiveStatusCode"))
              and any(mark in s(student.get(name)) for name in ("FirstName", "LastName") for mark in "\r\n")}
    assert broken, "the generated district has names with a line break inside"
    delivered = (folder / "users.csv").read_text(encoding="utf-8")
    users = {row["sourcedId"]: row for row in csv.DictReader(io.StringIO(delivered, newline=""))}
    for student_id, student in broken.items():
        for name, column in (("FirstName", "givenName"), ("LastName", "familyName")):
            one_line = re.sub(r" *[\r\n]+ *", " ", s(student.get(name)).strip()).strip()  # one space, none at the ends
            assert users[student_id][column] == one_line
    assert "\r" not in delivered and delivered.count("\n") == len(users) + 1
