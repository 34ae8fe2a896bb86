"""End to end: a lost, emptied or cut-off record of the last delivery is not a first delivery.

The Xello DAG runs under dag.test() against the emulator and OpenSSH's sshd. After a first delivery, its
``_last_delivered`` record is deleted, set to ``null`` or ``{}``, or cut off; each next run must ask for
approval with the exact reason (the mass-change guard and the volume check cannot work without the record)
and deliver nothing when the approver rejects. A save killed half-way (a snapshot file cut off) is recovered
from the previous generation. With the record lost and a new metadata database (no delivery events), the
files already in Xello's folder still ask for approval. Staged files of a real run are private (0600, folders 0700).

The same first run serves the holds and the calendar: a record made by hand (students the vendor has that Aeries
no longer does, names it had before) gives removals and changes, which an approver holds (the removed rows stay in
Xello's file and in the record), an additions-only window holds with the changes, and a blackout delivers nothing
(status Held); the hub view shows each (and the approval while it waits, with its three answers). Rollover
previews read next school year's database, or fail naming the years Aeries offers.

The district does not change, so every run after the first runs only the tasks the record decides,
``track_changes`` and those after it (the previews: the extracts and after), on the first run's staged files
(``tests/dags/single_tasks.py``).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from aeries_hub.changes import DeliveredState
from aeries_hub.staging import RunFolder, staging_base
from tests.dags.single_tasks import run_folder, run_tasks, tasks_from

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_xello"
STACK = {"students": 140, "seed": 7}
STUDENTS = "xello/Student.txt"
WHAT_TO_DO = ("Restore the folder from a backup and clear this run, or approve: every row then counts as added, "
              "removals are not counted, and this delivery becomes the new record")


def xello_dag():
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.paths import MAPPINGS_DIR

    return build_dags(MAPPINGS_DIR)[DAG_ID]


@pytest.fixture(scope="module")
def xello():
    return xello_dag()


def state_root() -> Path:
    return Path(staging_base().path) / DAG_ID / "_last_delivered" / "sftp"


def state_url() -> str:
    """The record's folder as messages name it (the staging URL)."""
    return str(staging_base() / DAG_ID / "_last_delivered" / "sftp")


def run(dag, stack, decision: str | None = "", *, after=None, on_waiting=None, conf: dict | None = None) -> dict:
    """One run, whole or (``after`` an earlier run) from ``track_changes`` on; ``decision`` answers its approval
    ("" when none is expected), after ``on_waiting(answered)`` looked at it waiting."""
    from tests.dags import approvals

    answered: dict = {}
    responder = (approvals.answer_when_waiting(DAG_ID, "approve_changes", decision or None, answered, on_waiting)
                 if decision != "" else None)
    run_conf = {"ignore_window": True, **(conf or {})}
    if after is None:
        dag_run = dag.test(run_conf=run_conf)
    else:
        dag_run = run_tasks(dag, after, tasks_from(dag, "track_changes"), run_conf=run_conf)
    if responder:
        responder.join(timeout=30)
    landed = stack.sftp.root / STUDENTS
    return {
        "run": dag_run,
        "report": run_folder(dag_run).read_json("report.json"),
        "answered": answered,
        "mtime": landed.stat().st_mtime_ns if landed.exists() else None,
    }


def delivery_event_time(run_id: str) -> str:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        event = (session.query(AssetEvent).filter_by(source_dag_id=DAG_ID, source_run_id=run_id)
                 .order_by(AssetEvent.timestamp.desc()).first())  # the run's newest delivered file
        return event.timestamp.isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def history(stack, xello, tmp_path_factory):
    """A first delivery, then one run per damage done to its record (each time restored from a copy first).
    The umask lets everyone read new files: staging must make them private itself."""
    saved_umask = os.umask(0)
    try:
        return _history(stack, xello, tmp_path_factory)
    finally:
        os.umask(saved_umask)


def _history(stack, xello, tmp_path_factory) -> dict:
    runs = {"first": run(xello, stack)}
    first = runs["first"]["run"]
    kept = tmp_path_factory.mktemp("state") / "sftp"
    shutil.copytree(state_root(), kept)

    def damaged(name: str, damage, decision: str) -> None:
        shutil.rmtree(state_root(), ignore_errors=True)
        shutil.copytree(kept, state_root())
        damage(state_root())
        runs[name] = run(xello, stack, decision, after=first)

    damaged("null", lambda root: (root / "delivered.json").write_text("null"), "Reject")
    damaged("empty", lambda root: (root / "delivered.json").write_text("{}"), "Reject")
    student = lambda root: root / "Student.parquet"  # noqa: E731
    damaged("cut_off", lambda root: student(root).write_bytes(student(root).read_bytes()[:500]), "Reject")
    damaged("deleted", lambda root: shutil.rmtree(root.parent), "Approve")
    # after the approved delivery the record is there again: the same data needs no approval, and the
    # record it replaces becomes the previous generation
    runs["again"] = run(xello, stack, after=first)
    # a save killed after it replaced a snapshot file but before the manifest naming it
    half = student(state_root()).read_bytes()
    student(state_root()).write_bytes(half[: len(half) // 2])
    runs["recovered"] = run(xello, stack, after=first)
    runs["recovered"]["record"] = DeliveredState(staging_base(), DAG_ID, "sftp").manifest()
    runs["recovered"]["record_modes"] = modes(state_root().parent)
    # a new metadata database (no delivery events) and a lost record: the files at Xello still tell
    at_target = files_at_target(stack)
    runs["first"]["event_at"] = delivery_event_time(runs["first"]["run"].run_id)
    forget_delivery_events()
    shutil.rmtree(state_root().parent)
    runs["new_database"] = {**run(xello, stack, "Reject", after=first), "at_target": at_target}
    return runs


def forget_delivery_events() -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(AssetEvent).filter_by(source_dag_id=DAG_ID).delete()


def files_at_target(stack) -> str:
    """The delivered files in Xello's folder as the approval reason names them, in the mapping's order."""
    from datetime import datetime, timezone

    from aeries_hub.tasks.context import mapping_for

    shown = []
    for output in mapping_for("xello.yml").outputs:
        landed = (stack.sftp.root / "xello" / output.file).stat()
        at = datetime.fromtimestamp(landed.st_mtime, timezone.utc).isoformat(timespec="seconds")
        shown.append(f"xello/{output.file} ({landed.st_size} bytes, modified {at})")
    return ", ".join(shown)


def test_a_first_delivery_needs_no_approval_when_approve_first_delivery_is_off(history):
    report = history["first"]["report"]  # tests/conftest.py turns approve_first_delivery off
    assert report["status"] == "Completed"
    assert report["changes"]["last_delivery"] is None and report["changes"]["exceeded"] == []
    assert (report["changes"]["first_delivery"], report["changes"]["dry_run"]) == (True, None)
    assert report["approval"] == {"needed": False, "why": "first delivery (approve_first_delivery is off)"}


@pytest.mark.parametrize("name, problem", [
    ("null", "{root}/delivered.json holds null, not a record of a delivery"),
    ("empty", "{root}/delivered.json lacks run_id, delivered_at, files (a record of a delivery has run_id, "
              "delivered_at, files)"),
    ("cut_off", "{root}/Student.parquet is not the file delivered.json names (sha256 differs: cut off or replaced)"),
])
def test_an_unreadable_record_asks_for_approval_naming_the_file(history, name, problem):
    damaged, first = history[name], history["first"]
    reason = f"no readable record of the last delivery to sftp: {problem.format(root=state_url())}. {WHAT_TO_DO}"
    assert damaged["report"]["changes"]["exceeded"] == [reason]
    assert reason in damaged["answered"]["body"]
    assert "has no readable record of its last delivery" in damaged["answered"]["body"]
    assert damaged["report"]["status"] == "Error" and damaged["run"].state == "failed"
    assert damaged["report"]["reason"].startswith("Not delivered: ")
    assert damaged["report"]["delivered"] == []
    assert damaged["mtime"] == first["mtime"]  # nothing reached Xello


def test_a_deleted_record_of_a_dag_that_delivered_before_asks_for_approval(history):
    deleted, first = history["deleted"], history["first"]
    first_run = first["run"].run_id
    reason = (f"no record of the last delivery in {state_url()}, though {DAG_ID} delivered to sftp before "
              f"(run {first_run} at {first['event_at']}). {WHAT_TO_DO}")
    assert deleted["report"]["changes"]["exceeded"] == [reason]
    assert reason in deleted["answered"]["body"]
    assert deleted["report"]["approval"]["decision"] == "approved"
    assert deleted["report"]["status"] == "Completed" and deleted["run"].state == "success"


def test_a_lost_record_and_a_new_metadata_database_still_ask_for_approval_when_the_target_holds_files(history, stack):
    lost = history["new_database"]
    where = f"sftp connection 'xello_sftp' ({stack.sftp.host}:{stack.sftp.port})"
    reason = (f"no record of the last delivery in {state_url()}, though {where} already holds "
              f"{lost['at_target']}: a delivery this hub has no record of. {WHAT_TO_DO}")
    assert lost["report"]["changes"]["exceeded"] == [reason]
    assert reason in lost["answered"]["body"]
    assert lost["report"]["status"] == "Error" and lost["report"]["delivered"] == []
    assert lost["mtime"] == history["recovered"]["mtime"]  # nothing reached Xello


def test_after_the_approved_delivery_the_record_is_back_and_the_next_run_needs_no_approval(history):
    again = history["again"]["report"]
    assert again["changes"]["last_delivery"]["run_id"] == history["deleted"]["run"].run_id
    assert again["changes"]["exceeded"] == []
    assert again["approval"] == {"needed": False, "why": "within the mass-change guard"}


def test_a_killed_save_is_recovered_from_the_previous_generation(history):
    recovered = history["recovered"]["report"]
    previous = history["deleted"]["run"].run_id
    assert recovered["status"] == "Completed"
    assert recovered["approval"] == {"needed": False, "why": "within the mass-change guard"}
    assert recovered["changes"]["last_delivery"]["run_id"] == previous
    assert all((c["added"], c["changed"], c["removed"]) == (0, 0, 0) for c in recovered["changes"]["files"].values())
    problem = (f"{state_url()}/Student.parquet is not the file delivered.json names (sha256 differs: cut off or "
               f"replaced); this run was compared with the previous generation ({state_url()}/previous, run "
               f"{previous}), and its delivery writes a new record")
    assert recovered["changes"]["state_problems"] == [problem]
    assert problem in recovered["attention"]
    # the delivery wrote a readable record again
    assert history["recovered"]["record"]["run_id"] == history["recovered"]["run"].run_id


def modes(folder: Path) -> dict[str, str]:
    """``{path: "dir 0o700"}`` for a folder and everything in it."""
    return {str(p): f"{'dir' if p.is_dir() else 'file'} {oct(stat.S_IMODE(p.stat().st_mode))}"
            for p in [folder, *folder.rglob("*")]}


def test_staged_files_are_private_whatever_the_umask(history):
    run_id = history["first"]["run"].run_id  # the whole run: every stage wrote its files under umask 0
    staged = {**modes(Path(RunFolder(staging_base(), DAG_ID, run_id).root.path)), **history["recovered"]["record_modes"]}
    assert len(staged) > 30
    assert {p: m for p, m in staged.items() if m not in ("dir 0o700", "file 0o600")} == {}


# First deliveries with approve_first_delivery on (the default): no record, no delivery event, and none of Xello's
# files in its folder. Each run runs from track_changes on.
@pytest.fixture(scope="module")
def first_deliveries(history, xello, stack):
    """A first delivery the approver rejects, then a dry run, then the first delivery again (it does not ask)."""
    from aeries_hub.tasks.context import mapping_for

    first = history["first"]["run"]
    forget_delivery_events()
    shutil.rmtree(state_root().parent, ignore_errors=True)
    for output in mapping_for("xello.yml").outputs:
        (stack.sftp.root / "xello" / output.file).unlink(missing_ok=True)
    runs: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__AERIES_HUB__APPROVE_FIRST_DELIVERY", "True")
        runs["rejected"] = run(xello, stack, "Reject", after=first)
        runs["rejected"]["at_target"] = sorted(p.name for p in (stack.sftp.root / "xello").iterdir())
        runs["rejected"]["record"] = DeliveredState(staging_base(), DAG_ID, "sftp").read().manifest
        # a DAG of its own: a run in this process sets the conf's values into the DAG's Param objects
        runs["dry_run"] = run(xello_dag(), stack, after=first, conf={"dry_run": True})
        runs["dry_run"]["at_target"] = sorted(p.name for p in (stack.sftp.root / "xello").iterdir())
        runs["dry_run"]["marker"] = DeliveredState(staging_base(), DAG_ID, "sftp").dry_run()
        runs["after_dry_run"] = run(xello, stack, after=first)
    return runs


#: The id columns of each Xello file's key (the rest of a key, an e-mail address or a group named after a teacher, is
#: never shown).
XELLO_ID_COLUMNS = {"School.txt": ["SchoolCode"], "Student.txt": ["StudentID"],
                    "StudentCourses.txt": ["StudentID", "CourseCode"], "Educator.txt": ["SchoolCode", "EducatorSISId"],
                    "StudentGroup.txt": ["SchoolCode", "StudentId"]}


def first_delivery_preview(run_id: str) -> str:
    """The approval body of a first delivery of the run ``run_id``: each file's rows and its first 20 ids (the id
    columns' values joined with /, distinct, sorted), read from the run's built files."""
    import pandas as pd

    from aeries_hub.tasks.context import mapping_for

    mapping = mapping_for("xello.yml")
    folder = RunFolder(staging_base(), DAG_ID, run_id).root
    rows, samples = [], []
    for output in mapping.outputs:
        built = pd.read_parquet(Path(folder.path) / "built" / f"{output.stem}.parquet")
        columns = XELLO_ID_COLUMNS[output.file]
        ids = sorted(set(built[columns].astype("string").fillna("").agg("/".join, axis=1)))
        rows.append(f"| {output.file} | {len(built)} |")
        samples += ["", f"First ids of {output.file} ({'/'.join(columns)}, {min(20, len(ids))} of {len(ids)}): "
                    + ", ".join(f"`{i}`" for i in ids[:20])]
    return "\n".join([
        f"**{DAG_ID}** has never delivered to sftp: there is no record of a delivery, Airflow has none, and the "
        "target holds none of its files. This first delivery sends every row.",
        "",
        "| file | rows |",
        "|---|---:|",
        *rows,
        *samples,
        "",
        f"The whole files are in this run's staging folder, {folder}/output/. **Approve** delivers them. **Reject** "
        f"delivers nothing and ends the run in Error; so does no answer within "
        f"{mapping.guard.approval_timeout_hours:g} hours. A dry run (the `dry_run` param) builds the same files in its "
        "staging folder without delivering; once one has completed, the first delivery goes without asking.",
    ])


def test_a_first_delivery_waits_for_approval_with_a_preview_and_a_reject_delivers_nothing(first_deliveries):
    rejected = first_deliveries["rejected"]
    report = rejected["report"]
    assert rejected["answered"]["subject"] == "Xello students, courses and educators: approve the first delivery to sftp"
    assert rejected["answered"]["body"] == first_delivery_preview(rejected["run"].run_id)
    assert "@" not in rejected["answered"]["body"] and "Homeroom" not in rejected["answered"]["body"]  # no names
    assert (report["changes"]["first_delivery"], report["changes"]["exceeded"]) == (True, [])
    approval = report["approval"]
    assert (approval["needed"], approval["decision"]) == (True, "rejected")
    assert approval["reason"] == f"Not delivered: {approval['by']} rejected the first delivery to sftp at {approval['at']}"
    assert report["status"] == "Error" and rejected["run"].state == "failed"
    assert report["reason"] == approval["reason"]
    assert report["delivered"] == [] and rejected["at_target"] == [] and rejected["record"] is None


def test_a_first_delivery_after_a_dry_run_goes_without_asking(first_deliveries):
    from aeries_hub.run.report import report_lines

    dry, after = first_deliveries["dry_run"], first_deliveries["after_dry_run"]
    assert dry["report"]["approval"] == {"needed": False, "why": "dry run"}
    assert dry["report"]["status"] == "Completed" and dry["at_target"] == []
    assert dry["marker"] == {"run_id": dry["run"].run_id, "at": dry["report"]["generated_at"]}
    why = f"first delivery after dry run {dry['run'].run_id} ({dry['report']['generated_at']})"
    assert after["answered"] == {}
    assert after["report"]["changes"]["dry_run"] == dry["marker"]
    assert after["report"]["approval"] == {"needed": False, "why": why}
    assert f"no approval asked: {why}" in report_lines(after["report"])
    assert after["report"]["status"] == "Completed" and len(after["report"]["delivered"]) == 5
    assert DeliveredState(staging_base(), DAG_ID, "sftp").manifest()["run_id"] == after["run"].run_id


# Holds: the vendor's record is made by hand from the first run's rows (students that Aeries no longer has, names the
# vendor had before), so that the same district gives removals and changes; each run runs from track_changes on.
FAKE_IDS = [str(9900000 + n) for n in range(30)]


def vendor_record(first_run_id: str, removed: int) -> tuple[list[str], list[str]]:
    """Make the record of the last delivery the first run's rows, with ``removed`` students more and the first two
    with another last name; the first run's Student.txt lines, and those the record's rows render as."""
    import pandas as pd

    run = Path(RunFolder(staging_base(), DAG_ID, first_run_id).root.path)
    snapshots = {p.stem: p.read_bytes() for p in (run / "built").glob("*.parquet")}
    students = pd.read_parquet(run / "built" / "Student.parquet")
    gone = students.head(removed).copy()
    gone["StudentID"] = pd.Series(FAKE_IDS[:removed], dtype=students["StudentID"].dtype).to_numpy()
    renamed = students.copy()
    renamed.loc[renamed.index[:2], "LastName"] = renamed["LastName"].iloc[:2] + "-Old"
    buffer = __import__("io").BytesIO()
    pd.concat([renamed, gone], ignore_index=True).to_parquet(buffer, index=False)
    snapshots["Student"] = buffer.getvalue()
    shutil.rmtree(state_root(), ignore_errors=True)
    DeliveredState(staging_base(), DAG_ID, "sftp").save(
        snapshots, {"run_id": "manual__by_hand", "delivered_at": "2026-09-01T08:00:00+00:00", "files": {}})
    lines = (run / "output" / "Student.txt").read_bytes().decode().split("\r\n")[:-1]
    old = [f"{fields[0]}|{fields[1]}|{fields[2]}-Old|" + "|".join(fields[3:]) for fields in
           (line.split("|") for line in lines[1:3])]
    fake = ["|".join([new_id, *line.split("|")[1:]]) for new_id, line in zip(FAKE_IDS[:removed], lines[1:])]
    return lines, old + fake


def with_calendar(include: Path, calendar: str) -> Path:
    from aeries_hub import paths

    if not include.exists():
        shutil.copytree(paths.INCLUDE_DIR, include)
    mapping = (paths.INCLUDE_DIR / "mappings" / "xello.yml").read_text()  # the shipped one, not a patched copy
    (include / "mappings" / "xello.yml").write_text(mapping + calendar)
    return include / "mappings"


def hub_while_waiting(answered: dict) -> None:
    """What the hub view shows of the approval while it waits (as ``answer_when_waiting`` looks at it)."""
    from airflow.utils.session import create_session

    from aeries_hub.hub_view.model import collect_hub
    from aeries_hub.hub_view.render import render

    with create_session() as session:
        (row,) = collect_hub({DAG_ID}, session)
    answered["hub_row"] = row
    answered["hub_page"] = render("hub.html", rows=[row], hub_base="/aeries-hub/", airflow_base="/")


@pytest.fixture(scope="module")
def holds(history, xello, stack, tmp_path_factory):
    from aeries_hub import paths
    from aeries_hub.operators.approval import HOLD_REMOVALS

    first = history["first"]["run"]
    runs: dict = {}
    # over the guard (30 students of the record removed): the approver holds the removals
    lines, record_lines = vendor_record(first.run_id, removed=30)
    runs["held"] = run(xello, stack, HOLD_REMOVALS, after=first, on_waiting=hub_while_waiting)
    runs["held"]["expected"] = "\r\n".join([*lines, *record_lines[2:]]) + "\r\n"
    runs["held"]["rows"] = len(lines) - 1 + 30
    runs["held"]["delivered"] = (stack.sftp.root / STUDENTS).read_bytes().decode()
    runs["held"]["record"] = DeliveredState(staging_base(), DAG_ID, "sftp").manifest()
    include = tmp_path_factory.mktemp("calendar") / "include"
    with pytest.MonkeyPatch.context() as patch:
        # in an additions-only window, 5 students gone and 2 renamed (within the guard): only additions are sent
        lines, record_lines = vendor_record(first.run_id, removed=5)
        patch.setattr(paths, "MAPPINGS_DIR", with_calendar(include, (
            "calendar:\n  additions_only:\n    - {name: first weeks, start: '2000-08-01', end: '2099-09-15'}\n")))
        runs["additions_only"] = run(xello, stack, after=first)
        changed = {line.split("|")[0] for line in lines[1:3]}
        runs["additions_only"]["expected"] = "\r\n".join(
            [lines[0], *(line for line in lines[1:] if line.split("|")[0] not in changed), *record_lines]) + "\r\n"
        runs["additions_only"]["delivered"] = (stack.sftp.root / STUDENTS).read_bytes().decode()
        # a blackout: nothing is delivered, the run succeeds and its report says Held
        patch.setattr(paths, "MAPPINGS_DIR", with_calendar(include, (
            "calendar:\n  blackouts:\n    - {name: summer, start: '2000-06-10', end: '2099-08-15'}\n")))
        runs["blackout"] = run(xello, stack, after=first)
    return runs


def test_an_approver_may_hold_removals_and_the_vendor_keeps_those_rows(holds):
    from aeries_hub.operators.approval import HOLD_REMOVALS

    held = holds["held"]
    assert "**Deliver additions and changes, hold removals** delivers the files with the removed rows" in \
        held["answered"]["body"]
    approval = held["report"]["approval"]
    assert (approval["decision"], approval["choice"], approval["hold"]) == ("approved", HOLD_REMOVALS, "removals")
    assert " approved the changes with the removals held at " in approval["reason"]
    assert approval["held"]["files"]["Student.txt"] == {
        "changed": 0, "removed": 30, "sample_changed": [], "sample_removed": FAKE_IDS[:20], "rows": held["rows"],
        "sha256": held["record"]["files"]["Student.txt"]["sha256"]}
    assert held["report"]["status"] == "Completed" and held["run"].state == "success"
    assert held["delivered"] == held["expected"]  # the renamed students with their new names, the 30 kept
    # the record is what Xello now has: the next run counts the 30 as removed again
    assert held["record"]["files"]["Student.txt"]["rows"] == held["rows"]


def test_the_hub_lists_the_waiting_approval_with_its_three_answers_and_its_link(holds):
    from aeries_hub.operators.approval import HOLD_REMOVALS

    answered, run_id = holds["held"]["answered"], holds["held"]["run"].run_id
    (approval,) = answered["hub_row"].approvals
    assert (approval.run_id, approval.task_id, approval.subject) == (run_id, "approve_changes", answered["subject"])
    assert approval.options == ["Approve", HOLD_REMOVALS, "Reject"]
    assert approval.link == f"dags/{DAG_ID}/runs/{run_id}/tasks/approve_changes/required_actions"
    assert (f'<div class="options">answers: Approve · {HOLD_REMOVALS} · Reject</div>\n    <a href="/{approval.link}" '
            'target="_top">Required actions</a>') in answered["hub_page"]


def test_the_hub_shows_what_the_approver_held_on_the_runs_page(holds):
    from markupsafe import escape

    from aeries_hub.operators.approval import HOLD_REMOVALS
    from tests.plugins.aeries_hub.hub_view.client import hub_pages

    held = holds["held"]
    approval = held["report"]["approval"]
    _, page = hub_pages(DAG_ID, held["run"].run_id)
    assert f'<p id="approval">Approval: approved ({HOLD_REMOVALS}): {escape(approval["reason"])}</p>' in page
    assert f"<p>{escape(approval['reason'])}: these ids keep what the vendor last received.</p>" in page
    assert (f"<tr><td>Student.txt</td><td>0</td><td>30</td><td>{', '.join(FAKE_IDS[:20])}</td></tr>") in page


def test_an_additions_only_window_holds_changes_and_removals_without_asking(holds):
    report = holds["additions_only"]["report"]
    assert report["approval"] == {"needed": False, "why": "within the mass-change guard"}
    assert report["held"]["why"] == "additions only: first weeks until 2099-09-15 (calendar.additions_only)"
    assert (report["held"]["files"]["Student.txt"]["changed"], report["held"]["files"]["Student.txt"]["removed"]) == (2, 5)
    assert holds["additions_only"]["delivered"] == holds["additions_only"]["expected"]


def test_a_blackout_delivers_nothing_and_the_run_ends_held(holds):
    blackout = holds["blackout"]
    assert blackout["report"]["status"] == "Held" and blackout["run"].state == "success"
    assert blackout["report"]["reason"] == "held: blackout summer until 2099-08-15; nothing was delivered (calendar.blackouts)"
    assert blackout["report"]["delivered"] == []
    assert blackout["mtime"] == holds["additions_only"]["mtime"]


def test_the_hub_shows_a_blackout_run_held_apart_from_completed_and_error_and_an_additions_only_hold(holds):
    from tests.plugins.aeries_hub.hub_view.client import hub_pages

    blackout = holds["blackout"]
    hub, page = hub_pages(DAG_ID, blackout["run"].run_id)  # the DAG's latest run
    reason = "held: blackout summer until 2099-08-15; nothing was delivered (calendar.blackouts)"
    assert f'<span class="status held">Held</span>\n    <div class="outcome">Held: {reason}</div>' in hub
    assert '<p><span class="status held">Held</span>\n  · Airflow state success' in page
    assert f'<p id="outcome" class="outcome">Held: {reason}</p>' in page
    additions = holds["additions_only"]
    _, page = hub_pages(DAG_ID, additions["run"].run_id)
    why = additions["report"]["held"]["why"]
    assert f"<p>{why}: these ids keep what the vendor last received.</p>" in page
    assert "<tr><td>Student.txt</td><td>2</td><td>5</td><td>" in page


@pytest.fixture(scope="module")
def previews(history, holds, xello):
    """Rollover previews of the first run's district, from the extracts on (after the holds, which set the record):
    in June 2026 (Aeries offers 2026-2027, the next year), and in December 2026 (2027-2028 is not offered: the
    emulator's newest year is 2026-2027)."""
    from datetime import datetime, timezone

    from tests.dags.single_tasks import extract_tasks

    runs: dict = {"record_before": DeliveredState(staging_base(), DAG_ID, "sftp").manifest()}
    for name, month in (("next_year", 6), ("not_offered", 12)):
        dag_run = run_tasks(xello, history["first"]["run"], tasks_from(xello, *extract_tasks(xello)),
                            run_conf={"ignore_window": True, "rollover_preview": True},
                            logical_date=datetime(2026, month, 15, 19, tzinfo=timezone.utc))
        runs[name] = {"run": dag_run, "report": run_folder(dag_run).read_json("report.json")}
    runs["record"] = DeliveredState(staging_base(), DAG_ID, "sftp").manifest()
    return runs


def test_a_rollover_preview_reads_next_year_and_delivers_nothing(previews):
    report = previews["next_year"]["report"]
    assert (report["database_year"], report["school_year"], report["dry_run"]) == (2026, "2026-2027", True)
    assert ("rollover preview: read next school year 2026-2027 from Aeries, built and compared the files with the last "
            "delivery; nothing is delivered") in report["attention"]
    assert report["status"] == "Completed" and report["delivered"] == []
    assert report["approval"] == {"needed": False, "why": "dry run"}
    assert report["changes"]["files"]["Student.txt"]["rows_after"] > 0
    assert previews["record"] == previews["record_before"]


def test_a_rollover_preview_before_aeries_offers_next_year_fails_naming_the_years_offered(previews):
    report = previews["not_offered"]["report"]
    assert report["status"] == "Error" and previews["not_offered"]["run"].state == "failed"
    assert ("rollover_preview: Aeries connection 'aeries_default' does not offer the school year 2027-2028 "
            "(DatabaseYear 2027) yet (it offers 2026-2027, 2025-2026, 2024-2025, 2023-2024); run the preview once the "
            "district has created next year's database in Aeries") in report["errors"]
