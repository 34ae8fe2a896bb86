"""End to end: the library's OneRoster 1.2 mapping (include/mappings/library/oneroster12.yml) under dag.test(),
against the emulator's generated district and sshd, judged by the independent OneRoster checker
(tests/standards/oneroster.py, the 1EdTech OneRoster 1.2 CSV binding): the delivered zip breaks no rule."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from tests.dags.independent import GENERATED_PSEUDO_SCHOOLS
from tests.dags.library import run_library_mapping
from tests.standards import oneroster

pytestmark = pytest.mark.e2e

STACK = {"students": 300, "seed": 5}
FILES = ["manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "roles.csv",
         "enrollments.csv"]


@pytest.fixture(scope="module")
def delivered_run(stack, tmp_path_factory):
    """The module's one run: the DagRun, the delivered zip, and the run's report."""
    return run_library_mapping(stack, tmp_path_factory.mktemp("oneroster12"), "oneroster12")


def rows(archive, name: str) -> list[dict]:
    with zipfile.ZipFile(archive) as zipped:
        return list(csv.DictReader(io.StringIO(zipped.read(name).decode("utf-8"), newline="")))


def test_oneroster12_delivers_one_zip_of_the_eight_files(delivered_run):
    dag_run, archive, report = delivered_run
    assert dag_run.state == "success"
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == FILES
    assert report["status"] == "Completed"
    assert report["left_out_schools"] == GENERATED_PSEUDO_SCHOOLS


def test_the_zip_breaks_no_rule_of_oneroster_12(delivered_run):
    _, archive, _ = delivered_run
    assert oneroster.check(archive) == []


def test_a_student_at_two_schools_has_a_primary_role_at_each(delivered_run):
    _, archive, _ = delivered_run
    orgs_of: dict[str, set[str]] = {}
    for role in rows(archive, "roles.csv"):
        orgs_of.setdefault(role["userSourcedId"], set()).add(role["orgSourcedId"])
    users = {user["sourcedId"]: user for user in rows(archive, "users.csv")}
    assert set(orgs_of) == set(users)
    two = [user for user, orgs in orgs_of.items() if len(orgs) == 2]
    assert two, "the district has students enrolled at two schools"
    assert all(users[user]["primaryOrgSourcedId"] == min(orgs_of[user], key=int) for user in two)
