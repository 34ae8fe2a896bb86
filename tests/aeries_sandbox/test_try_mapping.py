"""``aeries-hub try FILE`` and ``aeries-hub test FILE`` (aeries_sandbox.try_mapping), run as a user runs them: a
process of their own. The try runs a draft outside include/ (Destiny's mapping under another name, with other
connection ids and a crosswalk of its own beside it) on the emulator and sshd; the rows it prints are compared with
Destiny's patrons computed from the emulator's generated district, independently of the engine
(tests/dags/test_destiny_e2e.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aeries_hub.paths import MAPPINGS_DIR
from tests.dags.independent import one_line, real_schools, s
from tests.dags.test_destiny_e2e import expected_patrons

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[")
SHOWN = 4  # --rows
WIDTH = 24  # a cell is cut to 23 characters and "~" past this


def aeries_hub(*args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aeries_sandbox.try_mapping", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, check=False)


def printed(done: subprocess.CompletedProcess) -> list[str]:
    """The lines the command printed, without the log lines of Airflow's own (a library's deprecation warning)."""
    return [line for line in done.stdout.splitlines() if not LOG_LINE.match(line)]


def draft_of_destiny(folder: Path, edit=lambda text: text) -> Path:
    """Destiny's mapping as a user's draft: another name, SFTP connection and folder."""
    text = (MAPPINGS_DIR / "destiny.yml").read_text(encoding="utf-8")
    text = text.replace("name: destiny\n", "name: my_patrons\n").replace("conn_id: destiny_sftp", "conn_id: my_library_sftp")
    text = text.replace("remote_dir: patrons ", "remote_dir: library ")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "my_patrons.yml"
    path.write_text(edit(text), encoding="utf-8")
    return path


def table(rows: list[list[str]]) -> list[str]:
    """The rows as the command prints them: each column as wide as its widest cell, two spaces apart."""
    cells = [[cell if len(cell) <= WIDTH else cell[:WIDTH - 1] + "~" for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells]


@pytest.mark.e2e
def test_try_runs_a_draft_outside_include_and_prints_its_rows_and_report(tmp_path):
    draft = draft_of_destiny(tmp_path / "drafts")
    # its crosswalk, where the DAG reads one: crosswalks/ of the folder above the mapping's folder
    (tmp_path / "crosswalks").mkdir()
    (tmp_path / "crosswalks" / "destiny_sites.csv").write_text(
        "aeries_school_code,destiny_site_short_name,destiny_site_name\n100,SUNSET,Sunset Elementary Library\n")
    work = tmp_path / "work"

    done = aeries_hub("try", draft, "--students", 60, "--rows", SHOWN, "--workdir", work)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    district = work / "districts" / "60-students-seed-42"
    expected, rejected = expected_patrons(district, {"100": "SUNSET"})
    assert rejected == []
    rows = list(csv.reader(io.StringIO(expected.decode(), newline="")))
    printed = done.stdout.splitlines()
    start = printed.index(f"patrons.csv: {len(rows) - 1} rows (the first {SHOWN})")
    assert printed[start + 1:start + 2 + SHOWN] == table(rows[:1 + SHOWN])
    assert "SUNSET" in {row[0] for row in rows}
    landed = work / "my_patrons" / "sftp" / "library" / "patrons.csv"
    assert landed.read_bytes() == expected
    report = printed[printed.index("Run report:") + 1:]
    assert report[0] == "  my_patrons: Completed"
    assert f"  built patrons.csv: {len(rows) - 1} rows, 0 rejected" in report
    assert any(line.startswith(f"  delivered library/patrons.csv over my_library_sftp: {len(rows) - 1} rows, ")
               for line in report)
    assert report[-1] == f"  landed: {landed}"
    schools = {s(x["SchoolCode"]) for x in json.loads((district / "schools.json").read_text())}
    assert "100" in schools


def test_a_draft_that_does_not_load_exits_2_with_the_loaders_message(tmp_path):
    draft = draft_of_destiny(tmp_path, lambda text: text.replace("max_length: 14}", "max_length: fourteen}", 1))
    line = next(n for n, text in enumerate(draft.read_text().splitlines(), 1) if "fourteen" in text)

    done = aeries_hub("try", draft, "--workdir", tmp_path / "work", timeout=120)

    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"my_patrons.yml:{line}: outputs[0].columns[1].max_length: 'fourteen' is not of type 'integer'"]


def test_a_crosswalk_neither_beside_the_draft_nor_in_include_is_named(tmp_path):
    def required_elsewhere(text: str) -> str:  # Destiny's crosswalk is optional: this one is not
        text = re.sub(r"\n +optional: true .*", "", text, count=1)
        return text.replace("file: crosswalks/destiny_sites.csv", "file: crosswalks/library_sites.csv")

    draft = draft_of_destiny(tmp_path / "drafts", required_elsewhere)

    done = aeries_hub("try", draft, "--workdir", tmp_path / "work", timeout=120)

    include = MAPPINGS_DIR.parent
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"my_patrons.yml: crosswalks.sites.file: crosswalks/library_sites.csv is neither at "
        f"{tmp_path / 'crosswalks' / 'library_sites.csv'} (relative to the folder above the mapping's folder, where "
        f"the DAG reads it) nor at {include / 'crosswalks' / 'library_sites.csv'}; create it, or set optional: true"]


def test_test_runs_the_tests_a_mapping_holds_and_exits_1_naming_what_differs(tmp_path):
    text = (MAPPINGS_DIR / "xello.yml").read_text(encoding="utf-8")
    path = tmp_path / "xello.yml"
    path.write_text(text.replace('- {StudentID: 2002, DateOfBirth: "2008-07-09"}',
                                 '- {StudentID: 2002, DateOfBirth: "2008-07-10"}'), encoding="utf-8")
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if '"2008-07-10"' in text)

    done = aeries_hub("test", path, timeout=300)

    assert done.returncode == 1
    assert printed(done) == [
        "passed  active_and_pre_enrolled_students_k_to_12_once_each",
        "FAILED  a_rejected_student_takes_their_courses_along",
        f"  xello.yml:{line}: tests[1].expect.Student.txt.rows[0].DateOfBirth: test "
        "'a_rejected_student_takes_their_courses_along': Student.txt: row 2002: DateOfBirth: expected '2008-07-10', "
        "got '2008-07-09'",
        "passed  an_educator_without_a_first_name_gets_the_last_name",
        "xello.yml: 2 passed, 1 failed",
    ]


@pytest.mark.e2e
def test_try_uploads_canvas_library_zip_to_the_canvas_emulator(tmp_path):
    """A mapping delivering by http_upload: try starts the Canvas SIS import emulator, points the mapping's connection
    at it, and the run's zip is imported there. The accounts, the term, and the courses and sections (one per active
    Aeries section) are computed here from the generated district; the users and enrollments are counted in the zip
    the run built, which the independent Canvas checker passes."""
    from tests.standards import canvas_sis

    work = tmp_path / "work"

    done = aeries_hub("try", MAPPINGS_DIR / "library" / "canvas.yml", "--students", 60, "--rows", SHOWN,
                      "--workdir", work)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    district = work / "districts" / "60-students-seed-42"
    schools = real_schools(json.loads((district / "schools.json").read_text()),
                           json.loads((district / "students.json").read_text()))
    accounts = [["account_id", "parent_account_id", "name", "status"]] + sorted(
        [f"school-{code}", "", one_line(s(school["Name"])), "active"] for code, school in schools.items())
    sections = [x for x in json.loads((district / "sections.json").read_text())
                if s(x["SchoolCode"]) in schools and s(x.get("InactiveStatusCode")) == ""]
    (built,) = (work / "canvas" / "airflow" / "staging" / "aeries_to_canvas").glob("*/output/canvas_sis_import.zip")
    with zipfile.ZipFile(built) as zipped:
        assert zipped.namelist() == ["accounts.csv", "terms.csv", "courses.csv", "sections.csv", "users.csv",
                                     "enrollments.csv"]
        counted = {name: len(zipped.read(name).decode("utf-8").splitlines()) - 1 for name in zipped.namelist()}
    assert canvas_sis.check(built) == []
    assert (counted["accounts.csv"], counted["terms.csv"]) == (len(accounts) - 1, 1)
    assert counted["courses.csv"] == counted["sections.csv"] == len(sections)
    lines = printed(done)
    titles = [line for line in lines if re.fullmatch(r"\S+\.csv: \d+ rows( \(the first \d+\))?", line)]
    assert titles == [f"{name}: {rows} rows" + (f" (the first {SHOWN})" if rows > SHOWN else "")
                      for name, rows in counted.items()]
    start = lines.index(titles[0])
    assert lines[start + 1:start + 2 + min(SHOWN, len(accounts) - 1)] == table(accounts[:1 + SHOWN])
    assert any(line.startswith("Canvas SIS import emulator: http://127.0.0.1:") and line.endswith(
        " (connection canvas)") for line in lines)
    report = lines[lines.index("Run report:") + 1:]
    assert report[0] == "  canvas: Completed"
    assert re.fullmatch(r"  landed: http://127\.0\.0\.1:\d+/api/v1/accounts/self/sis_imports/1 \(import 1: imported\)",
                        report[-1])
