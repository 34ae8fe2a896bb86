"""Reasons in front of people (issue 14): a Destiny run whose every patron is rejected says why, with counts and
ids, in report.json, in the report task's log and in the failure alert (a real SMTP server and webhook receiver).

The district is the generator's, with the real Aeries convention that broke Destiny: every school's `ShortName`
is blank. The test's copy of destiny.yml takes each patron's site from the school's `ShortName` (whatever the
shipped mapping's site rule is), so every patron is rejected (`field_siteShortName is required`) and the file
is left with no row. Nothing a rejected patron is besides its id (names, birth dates) may reach the report or
the alert.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.dags.independent import natural, s
from tests.dags.single_tasks import run_folder, run_note

pytestmark = pytest.mark.e2e

DAG_ID = "aeries_to_destiny"
SITE_FROM_SHORT_NAME = {"source": "school.ShortName", "transform": ["trim"]}


@pytest.fixture(scope="module")
def district(tmp_path_factory, airflow_db):
    """A generated district whose schools all have a blank ShortName, served with sshd; staging is its own."""
    from aeries_sandbox.emulator.generator import generate_district
    from aeries_sandbox.stack import sandbox_stack

    workdir = tmp_path_factory.mktemp("reject_reasons")
    data_dir = workdir / "district"
    generate_district(60, 9).write(data_dir)
    schools = json.loads((data_dir / "schools.json").read_text(encoding="utf-8"))
    (data_dir / "schools.json").write_text(json.dumps([{**school, "ShortName": ""} for school in schools]),
                                           encoding="utf-8")
    saved = dict(os.environ)
    with sandbox_stack(workdir, data_dir=data_dir) as running:
        os.environ.update(running.connection_env())
        os.environ["AIRFLOW__AERIES_HUB__STAGING_URL"] = f"file://{workdir}/staging"
        try:
            yield data_dir
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture
def mappings_dir(tmp_path, monkeypatch) -> Path:
    """The shipped include/ with destiny.yml's site taken from the school's ShortName in every record set."""
    import yaml

    from aeries_hub import paths
    from aeries_hub.config_files import read_yaml

    include = tmp_path / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    destiny = include / "mappings" / "destiny.yml"
    spec = read_yaml(destiny, shown="destiny.yml", error=ValueError)  # YAML 1.2, as the hub reads it: `on` is a key
    for records in spec["outputs"][0]["records"]:
        records["values"]["field_siteShortName"] = SITE_FROM_SHORT_NAME
    destiny.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
    return include / "mappings"


def patrons(data_dir: Path) -> list[str]:
    """Every patron's field_districtID, in the file's order (students by StudentID, then STAFF-<ID>)."""
    load = lambda name: json.loads((data_dir / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    schools = {s(x["SchoolCode"]) for x in load("schools")}
    students = {s(x["StudentID"]) for x in load("students") if s(x["SchoolCode"]) in schools}
    staff = {f"STAFF-{s(x['ID'])}" for x in load("staff")}
    return sorted(students, key=natural) + sorted(staff, key=natural)


def personal_values(data_dir: Path) -> set[str]:
    """Names and birth dates (as Aeries has them and as Destiny gets them) of every student and staff member."""
    values = set()
    for table, birth in (("students", "Birthdate"), ("staff", "BirthDate")):
        for person in json.loads((data_dir / f"{table}.json").read_text(encoding="utf-8")):
            values |= {s(person.get(name)) for name in ("FirstName", "LastName", "MiddleName")}
            day = s(person.get(birth))[:10]
            if day and not day.startswith(("0001-", "1900-")):
                year, month, dom = day.split("-")
                values |= {day, f"{month}/{dom}/{year}"}
    return {value for value in values if len(value) > 1}


def test_a_run_whose_every_patron_is_rejected_names_the_reasons_counts_and_ids(district, mappings_dir, alerts,
                                                                                  caplog, capfd):
    from aeries_hub.dag_factory import build_dags

    mailbox, webhook = alerts
    ids = patrons(district)
    dag = build_dags(mappings_dir)[DAG_ID]

    with caplog.at_level("INFO"):
        dag_run = dag.test()
    output = "".join(capfd.readouterr())

    assert dag_run.state == "failed"
    run = run_folder(dag_run)
    report = run.read_json("report.json")
    assert report["status"] == "Error"
    patrons_file = report["files"]["patrons"]
    assert (patrons_file["rows"], patrons_file["rejected"]) == (0, len(ids))
    assert patrons_file["reject_reasons"] == [
        {"reason": "field_siteShortName is required", "count": len(ids), "sample_ids": ids[:5]},
    ]
    assert patrons_file["more_reject_reasons"] == 0
    sample = ", ".join(ids[:5])
    reason_line = f"rejected from patrons.csv: field_siteShortName is required ({len(ids)} rows, e.g. {sample})"
    error = (
        f"patrons.csv: all {len(ids)} rows rejected (patrons.csv has at least 1 rows: failed); top reasons: "
        f"field_siteShortName is required ({len(ids)} rows, e.g. {sample}); "
        "every rejected row with its reasons: rejects/patrons.csv"
    )
    assert report["errors"] == [error]
    reason = (f"build_patrons failed: AirflowFailException: patrons.csv failed its error checks; nothing was delivered; "
              f"{len(ids)} rows rejected, top reasons: patrons.csv: field_siteShortName is required ({len(ids)} rows)")
    assert (report["reason"], report["outcome"]) == (reason, f"Error: {reason}")
    assert run_note(dag_run) == f"Error: {reason}"  # the run's note in Airflow's grid
    assert operators_note_is_kept(dag_run)

    logged = [record.getMessage() for record in caplog.records if record.funcName == "report"]
    assert reason_line in logged and f"error: {error}" in logged
    # the failed build task, the red square an operator clicks first, says the same
    assert f"patrons.csv failed its error checks; nothing was delivered.\n{error}" in output

    ((_, mail),) = mailbox.messages
    body = mail.get_body(("html",)).get_content()
    ((_, posted),) = webhook.received
    for line in (reason_line, f"error: {error}"):
        assert line in body and line in posted["text"].splitlines(), line
    assert posted["rejects"] == [reason_line]
    assert posted["errors"] == [error]
    assert posted["reason"] == reason and posted["text"].splitlines()[:2] == ["destiny: Error", reason]
    assert f"destiny: Error\n{reason}\n" in html.unescape(body)

    kept = json.dumps(report, ensure_ascii=False) + body + json.dumps(posted, ensure_ascii=False)
    assert found_in(kept, personal_values(district)) == []
    # The staged rejects (deleted by the retention DAG) do hold them: what the report leaves out is there.
    rejects = run.path("rejects", "patrons.csv").read_text(encoding="utf-8")
    assert len(found_in(rejects, personal_values(district))) > len(ids)


def operators_note_is_kept(dag_run) -> bool:
    """A note an operator wrote (it has a user) is not replaced when the run ends again (cleared and re-run)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from aeries_hub.run.notes import note_outcome

    with create_session() as session:
        (run,) = DagRun.find(dag_id=dag_run.dag_id, run_id=dag_run.run_id, session=session)
        run.dag_run_note.content, run.dag_run_note.user_id = "Site names fixed in Aeries; re-run Monday", "admin"
    note_outcome(dag_run)
    return run_note(dag_run) == "Site names fixed in Aeries; re-run Monday"


def found_in(text: str, values: set[str]) -> list[str]:
    return sorted(value for value in values if re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text))
