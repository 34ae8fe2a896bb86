"""End to end: a run whose inputs are the last completed run's takes its validated and built files
(:mod:`aeries_hub.run.reuse`), under dag.test().

The STEMscopes DAG (incremental extraction) runs five times: a first run computes; a second with nothing changed
in Aeries takes the first's files and delivers the same zip; a third with ``full_extract`` computes again; a fourth
after one student changed in the emulator validates the students again and takes the other tables (their extracts
are the same) and the files whose reads are unchanged (all but users.csv); a fifth with ``full_extract`` validates
every table and delivers the same zip. Then validate_sources and the builds run alone on the fifth run's staging
(``tests/dags/single_tasks.py``): as they are (they reuse), with another date, with another mapping file, and with a
file of the last run missing or tampered with.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from aeries_hub.staging import RunFolder, staging_base
from tests.dags.single_tasks import run_tasks, tasks_from

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_stemscopes"
STACK = {"students": 150, "seed": 8}
ZIP = "stemscopes_oneroster.zip"


def stemscopes(mappings: Path | None = None):
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags

    return build_dags(mappings or paths.MAPPINGS_DIR)[DAG_ID]


def staged(dag_run) -> dict:
    run = RunFolder(staging_base(), DAG_ID, dag_run.run_id)
    return {
        "dag_run": dag_run,
        "name": run.root.name,
        "run": run,
        "sources": run.read_json("summary/validate_sources.json"),
        "builds": {name[len("build_"):-len(".json")]: run.read_json(f"summary/{name}")
                   for name in run.list("summary") if name.startswith("build_")},
        "report": run.read_json("report.json") if run.exists("report.json") else None,
        "zip": run.path("output", ZIP).read_bytes() if run.exists(f"output/{ZIP}") else None,
    }


def run_dag(**conf) -> dict:
    dag_run = stemscopes().test(run_conf=conf or None)
    assert dag_run.state == "success", dag_run.run_id
    return staged(dag_run)


def validate_and_build(after, dag=None, **kwargs) -> dict:
    """validate_sources and the builds alone, in a new run on the staged files of ``after``; they must succeed."""
    from airflow.utils.session import create_session

    dag = dag or stemscopes()
    task_ids = [t for t in tasks_from(dag, "validate_sources") if t == "validate_sources" or t.startswith("build_")]
    dag_run = run_tasks(dag, after, task_ids, **kwargs)
    with create_session() as session:
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session) if ti.task_id in task_ids}
    assert states == dict.fromkeys(task_ids, "success"), states
    return staged(dag_run)


@pytest.fixture(scope="module")
def history(stack):
    runs = {"first": run_dag(), "zero": run_dag(), "forced": run_dag(full_extract=True)}
    student = next(s for s in json.loads((stack.data_dir / "students.json").read_text(encoding="utf-8"))
                   if not str(s["InactiveStatusCode"]).strip())
    response = requests.post(f"{stack.emulator.url}/api/v5/UpdateStudent/{student['StudentID']}",
                             json={"LastName": "Changed-Name"}, timeout=10, proxies={"http": "", "https": ""},
                             headers={"AERIES-CERT": stack.writeback_certificate})
    assert response.status_code == 200, response.text
    runs["changed"] = run_dag()
    runs["changed_full"] = run_dag(full_extract=True)
    return runs


def test_the_first_run_computes_and_records_its_inputs_and_files(history):
    sources = history["first"]["sources"]
    assert "reused_from" not in sources
    assert sources["recomputed_because"] == "no completed run of the DAG within the retention period"
    assert sorted(sources["inputs"]) == ["code", "extracts", "include", "mapping", "params", "run_date",
                                         "school_years", "settings"]
    assert "validated/students.parquet" in sources["files"]
    users = history["first"]["builds"]["users"]
    assert sorted(users["files"]) == ["built/users.parquet", "output/users.csv", "quality/users/users.rejects.validation.json",
                                      "quality/users/users.validation.json"]


def test_a_run_with_nothing_changed_takes_the_last_runs_files_and_delivers_the_same_bytes(history):
    first, zero = history["first"], history["zero"]
    assert zero["sources"]["reused_from"] == first["name"]
    assert "recomputed_because" not in zero["sources"]
    assert {stem: b.get("reused_from") for stem, b in zero["builds"].items()} == dict.fromkeys(zero["builds"], first["name"])
    assert zero["zip"] == first["zip"]
    for relative in [*zero["sources"]["files"], *(f for b in zero["builds"].values() for f in b["files"])]:
        mine = Path(zero["run"].root.path, relative)
        assert mine.read_bytes() == Path(first["run"].root.path, relative).read_bytes(), relative
    assert zero["builds"]["users"]["path"] == str(zero["run"].root / "output" / "users.csv")
    line = f"reused from run {first['name']} (nothing they depend on changed): the validated tables and "
    assert any(text.startswith(line) for text in _report_lines(zero["report"])), _report_lines(zero["report"])
    assert zero["report"]["delivered"][0]["sha256"] == first["report"]["delivered"][0]["sha256"]
    assert zero["report"]["changes"]["files"]["users.csv"] == {**zero["report"]["changes"]["files"]["users.csv"],
                                                               "added": 0, "changed": 0, "removed": 0}


def test_full_extract_computes_again(history):
    forced = history["forced"]
    assert "reused_from" not in forced["sources"]
    assert forced["sources"]["recomputed_because"] == "the full_extract param is on"
    assert forced["zip"] == history["first"]["zip"]


def test_a_changed_student_computes_again(history):
    changed = history["changed"]
    assert changed["sources"]["recomputed_because"] == (
        f"since the last completed run {history['forced']['name']}: the extract of students changed")
    assert "Changed-Name" in _member(changed["zip"], "users.csv")


def test_a_changed_student_validates_students_again_and_takes_the_other_tables(history):
    changed, forced = history["changed"], history["forced"]
    tables = changed["sources"]["tables"]
    assert "reused_from" not in tables["students"]
    # rosters' checks read the accepted students' keys, which one changed last name leaves as they were
    assert {name for name, entry in tables.items() if entry.get("reused_from") == forced["name"]} == \
        set(tables) - {"students"}
    for name in set(tables) - {"students"}:
        assert tables[name] == {**forced["sources"]["tables"][name], "reused_from": forced["name"]}
        mine = Path(changed["run"].root.path, "validated", f"{name}.parquet")
        assert mine.stat().st_ino == Path(forced["run"].root.path, "validated", f"{name}.parquet").stat().st_ino
    assert changed["sources"]["volumes"] == history["changed_full"]["sources"]["volumes"]
    taken = sorted(b["file"] for b in changed["builds"].values() if b.get("reused_from") == forced["name"])
    line = (f"validated and built again: since the last completed run {forced['name']}: the extract of students "
            f"changed; the validated {', '.join(sorted(set(tables) - {'students'}))} taken from run {forced['name']} "
            f"(their extracts unchanged); {', '.join(taken)} taken from run {forced['name']} (what they read unchanged)")
    assert line in _report_lines(changed["report"])
    # the same files as validating every table again
    assert changed["zip"] == history["changed_full"]["zip"]
    assert history["changed_full"]["sources"]["recomputed_because"] == "the full_extract param is on"


def test_a_changed_student_builds_again_only_the_files_that_read_what_changed(history):
    """Of the files, users.csv alone reads the students' LastName: enrollments.csv and demographics.csv read other
    columns of students, and of users.csv its sourcedId. The others are taken, their files linked."""
    changed, forced = history["changed"], history["forced"]
    builds = changed["builds"]
    assert {stem for stem, b in builds.items() if b.get("reused_from") == forced["name"]} == set(builds) - {"users"}
    assert "reused_from" not in builds["users"]
    for stem in set(builds) - {"users"}:
        assert builds[stem]["sha256"] == forced["builds"][stem]["sha256"]
        mine = Path(changed["run"].root.path, "built", f"{stem}.parquet")
        assert mine.stat().st_ino == Path(forced["run"].root.path, "built", f"{stem}.parquet").stat().st_ino
    # what building every file again delivers
    assert changed["zip"] == history["changed_full"]["zip"]
    assert {stem: b["sha256"] for stem, b in builds.items()} == \
        {stem: b["sha256"] for stem, b in history["changed_full"]["builds"].items()}


def test_validation_and_builds_alone_on_the_same_inputs_reuse(history):
    again = validate_and_build(history["changed_full"]["dag_run"])
    assert again["sources"]["reused_from"] == history["changed_full"]["name"]
    assert again["zip"] == history["changed_full"]["zip"]


def test_another_run_date_computes_again(history):
    from airflow.sdk import timezone

    again = validate_and_build(history["changed_full"]["dag_run"], logical_date=timezone.utcnow() - timedelta(days=2))
    assert again["sources"]["recomputed_because"].endswith("the run's date changed")


def test_another_mapping_file_computes_again(history, tmp_path, monkeypatch):
    from aeries_hub import paths

    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    mapping = include / "mappings" / "stemscopes.yml"
    mapping.write_text(mapping.read_text() + "\n# a comment: the same mapping, other bytes\n")
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")

    again = validate_and_build(history["changed_full"]["dag_run"], dag=stemscopes(include / "mappings"))
    assert again["sources"]["recomputed_because"] == (
        f"since the last completed run {history['changed_full']['name']}: the mapping file changed")
    assert again["zip"] == history["changed_full"]["zip"]


def test_a_missing_built_file_of_the_last_run_builds_that_file_again(history, caplog):
    changed = history["changed_full"]
    Path(changed["run"].root.path, "built", "users.parquet").unlink()

    with caplog.at_level(logging.WARNING, logger="aeries_hub.run.build_reuse"):
        again = validate_and_build(changed["dag_run"])

    assert again["sources"]["reused_from"] == changed["name"]
    assert "reused_from" not in again["builds"]["users"]
    assert again["builds"]["classes"]["reused_from"] == changed["name"]
    assert again["zip"] == changed["zip"]
    assert f"build_users computes: cannot take the files of {changed['name']}: built/users.parquet of " \
           f"{changed['name']} is missing" in caplog.text


def test_a_tampered_validated_file_of_the_last_run_computes_again(history):
    changed = history["changed_full"]
    validated = Path(changed["run"].root.path, "validated", "schools.parquet")
    data = validated.read_bytes()
    validated.unlink()  # the file is a hard link of earlier runs' too: only this run's copy is changed
    validated.write_bytes(data + b"\0")

    again = validate_and_build(changed["dag_run"])

    assert "reused_from" not in again["sources"]
    assert again["sources"]["recomputed_because"] == (
        f"cannot take the files of the last completed run {changed['name']}: validated/schools.parquet of "
        f"{changed['name']} is not the file its summary recorded (sha256 differs)")
    assert again["zip"] == changed["zip"]


def _report_lines(report: dict) -> list[str]:
    from aeries_hub.run.report import report_lines

    return report_lines(report)


def _member(data: bytes, name: str) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()
