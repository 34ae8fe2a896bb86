"""DAG integrity and parsing policy: every mapping becomes a well-formed DAG, parsing stays light."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import INCLUDE_DIR, MAPPINGS_DIR

DAGS_DIR = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]

PARSE_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    started = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "dags": sorted(bag.dag_ids),
        "import_errors": {k.rsplit('/', 1)[-1]: v for k, v in bag.import_errors.items()},
        "heavy_modules": sorted(m for m in ("pandas", "great_expectations", "pyarrow", "requests", "paramiko") if m in sys.modules),
        "execution_timeouts": {
            dag.dag_id: {t.task_id: t.execution_timeout and t.execution_timeout.total_seconds() for t in dag.tasks}
            for dag in bag.dags.values()
        },
    }))
    """
)


def parse_dags(env_overrides: dict[str, str] | None = None) -> dict:
    env = {**os.environ, **(env_overrides or {})}
    done = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, DAGS_DIR], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parsed():
    return parse_dags()


def test_every_mapping_file_becomes_a_dag(parsed):
    writebacks = [f"{p.stem}_to_aeries" for p in (INCLUDE_DIR / "writebacks").glob("*.yml")]
    expected = sorted([f"aeries_to_{p.stem}" for p in MAPPINGS_DIR.glob("*.yml")] + writebacks
                      + ["aeries_hub_staging_retention", "aeries_first_contact"])
    assert parsed["import_errors"] == {}
    assert parsed["dags"] == expected


def test_parsing_imports_no_heavy_modules(parsed):
    # pandas, GX, pyarrow and the network clients are imported inside tasks, never at parse time.
    assert parsed["heavy_modules"] == []


@pytest.mark.parametrize("dag_id", sorted([f"aeries_to_{p.stem}" for p in MAPPINGS_DIR.glob("*.yml")]
                                           + [f"{p.stem}_to_aeries" for p in (INCLUDE_DIR / "writebacks").glob("*.yml")]
                                           + ["aeries_hub_staging_retention", "aeries_first_contact"]))
def test_every_task_has_an_execution_timeout_of_task_timeout_minutes(dag_id, parsed, configured_timeouts):
    # README (Security): a task that hangs is ended after [aeries_hub] task_timeout_minutes (default 60).
    tasks = parsed["execution_timeouts"][dag_id]
    assert tasks == dict.fromkeys(tasks, 3600.0)
    assert configured_timeouts["execution_timeouts"][dag_id] == dict.fromkeys(tasks, 420.0)


@pytest.fixture(scope="module")
def configured_timeouts():
    return parse_dags({"AIRFLOW__AERIES_HUB__TASK_TIMEOUT_MINUTES": "7"})


def test_a_task_timeout_that_is_not_a_positive_number_is_an_import_error_naming_the_option():
    parsed = parse_dags({"AIRFLOW__AERIES_HUB__TASK_TIMEOUT_MINUTES": "an hour"})

    assert "aeries_to_destiny" not in parsed["dags"]
    assert parsed["import_errors"]["vendor_integrations.py"].rstrip().endswith(
        "ValueError: [aeries_hub] task_timeout_minutes is 'an hour'; give the minutes a task may run before it is "
        "ended, e.g. 60"
    )


def test_dag_settings_follow_the_mapping():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_DIR)
    for path in MAPPINGS_DIR.glob("*.yml"):
        mapping = load_mapping(path)
        dag = bag.dags[mapping.dag_id]
        assert dag.catchup is False
        assert dag.is_paused_upon_creation is True  # nothing is delivered before an operator unpauses it
        assert dag.doc_md == mapping.description
        assert set(mapping.tags) <= set(dag.tags)
        assert dag.params["dry_run"] is False
        timetables = getattr(dag.timetable, "timetables", [dag.timetable])  # one cron, or several
        assert [t.expression for t in timetables] == list(mapping.schedule.crons)
        assert {str(t.timezone) for t in timetables} == {mapping.schedule.timezone}
        assert [t.task_id for t in dag.tasks if t.task_id.startswith("extract_")] == [f"extract_{t}" for t in mapping.tables]
        deliver = dag.get_task("deliver")
        assert deliver.retries == 3 and deliver.retry_exponential_backoff == 2.0
        # One delivery at a time across every run of the DAG, backfill runs included (max_active_runs leaves them out).
        assert deliver.max_active_tis_per_dag == 1
        assert dag.get_task("validate_sources").retries == 0
        assert dag.get_task("report").trigger_rule == "all_done"
        # Every task that talks to Aeries takes a slot of the pool named after its Aeries connection.
        assert {t.pool for t in dag.tasks if t.task_id.startswith("extract_")} == {mapping.aeries_conn_id}
        assert all(t.pool == "default_pool" for t in dag.tasks if not t.task_id.startswith("extract_"))
        assert dag.on_failure_callback, f"{mapping.dag_id} has no failure alert"


def test_a_file_is_built_after_the_files_it_references_or_nests_and_nested_files_are_not_delivered():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_DIR)
    for path in MAPPINGS_DIR.glob("*.yml"):
        mapping = load_mapping(path)
        dag = bag.dags[mapping.dag_id]
        for output in mapping.outputs:
            upstream = dag.get_task(f"build_{output.stem}").upstream_task_ids
            assert {f"build_{mapping.output(f).stem}" for f in output.needs} <= upstream, output.file
        last = dag.get_task("package" if mapping.package_zip else "deliver").upstream_task_ids
        assert {t for t in last if t.startswith("build_")} == {f"build_{o.stem}" for o in mapping.delivered_outputs}


def test_a_bad_mapping_is_an_import_error_and_the_others_still_load(tmp_path):
    include = tmp_path / "include"
    shutil.copytree(INCLUDE_DIR, include)
    broken = (MAPPINGS_DIR / "destiny.yml").read_text().replace("name: destiny", "name: broken", 1)
    broken = broken.replace("max_length: 14}", "max_length: fourteen}", 1)
    (include / "mappings" / "broken.yml").write_text(broken)

    parsed = parse_dags({"AERIES_HUB_INCLUDE_DIR": str(include)})

    assert "aeries_to_destiny" in parsed["dags"]
    assert "aeries_to_broken" not in parsed["dags"]
    assert list(parsed["import_errors"]) == ["invalid_mappings.py"]
    assert parsed["import_errors"]["invalid_mappings.py"].rstrip().endswith(
        "MappingError: Invalid mapping files (their DAGs are not loaded):\n"
        "broken.yml:90: outputs[0].columns[1].max_length: 'fourteen' is not of type 'integer'"
    )


def test_two_files_with_the_same_name_are_an_import_error_naming_both_and_neither_dag_loads(tmp_path):
    include = tmp_path / "include"
    shutil.copytree(INCLUDE_DIR, include)
    # A copied file whose name was not changed: the later file must not silently replace the DAG of the first.
    shutil.copy(MAPPINGS_DIR / "destiny.yml", include / "mappings" / "destiny_copy.yml")
    shutil.copy(INCLUDE_DIR / "writebacks" / "xello.yml", include / "writebacks" / "xello_2027.yml")

    parsed = parse_dags({"AERIES_HUB_INCLUDE_DIR": str(include)})

    assert {"aeries_to_destiny", "xello_to_aeries"}.isdisjoint(parsed["dags"])
    assert {"aeries_to_stemscopes", "schoolmint_enroll_to_aeries"} <= set(parsed["dags"])
    assert list(parsed["import_errors"]) == ["invalid_mappings.py"]
    assert parsed["import_errors"]["invalid_mappings.py"].rstrip().endswith(
        "MappingError: Invalid mapping files (their DAGs are not loaded):\n"
        "destiny.yml and destiny_copy.yml: the same name gives each the DAG id aeries_to_destiny; neither DAG is loaded "
        "until each file has its own name\n"
        "xello.yml and xello_2027.yml: the same name gives each the DAG id xello_to_aeries; neither DAG is loaded "
        "until each file has its own name"
    )


def test_a_mapping_and_a_writeback_of_one_dag_id_are_an_import_error_naming_both_and_neither_dag_loads(tmp_path):
    include = tmp_path / "include"
    shutil.copytree(INCLUDE_DIR, include)
    # Mapping xello_to_aeries is DAG aeries_to_xello_to_aeries, and so is write-back aeries_to_xello.
    mapping = (MAPPINGS_DIR / "destiny.yml").read_text().replace("name: destiny", "name: xello_to_aeries", 1)
    (include / "mappings" / "outbound.yml").write_text(mapping)
    writeback = (INCLUDE_DIR / "writebacks" / "xello.yml").read_text().replace("name: xello", "name: aeries_to_xello", 1)
    (include / "writebacks" / "inbound.yml").write_text(writeback)

    parsed = parse_dags({"AERIES_HUB_INCLUDE_DIR": str(include)})

    assert "aeries_to_xello_to_aeries" not in parsed["dags"]
    assert {"aeries_to_destiny", "xello_to_aeries"} <= set(parsed["dags"])
    assert list(parsed["import_errors"]) == ["invalid_mappings.py"]
    assert parsed["import_errors"]["invalid_mappings.py"].rstrip().endswith(
        "MappingError: Invalid mapping files (their DAGs are not loaded):\n"
        "mappings/outbound.yml and writebacks/inbound.yml: their names give each the DAG id aeries_to_xello_to_aeries; "
        "neither DAG is loaded until one of them is renamed (its name:)"
    )


def test_each_dags_description_names_its_schedule_in_the_time_zone_it_runs_in():
    # Airflow's UI shows the cron expression and the next run in the user's zone (UTC by default), never the zone
    # the cron runs in: the description (the Dag's Details tab) names it.
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=DAGS_DIR)
    assert {dag_id: bag.dags[dag_id].description for dag_id in
            ["aeries_to_destiny", "aeries_to_powerschool_learning", "aeries_to_xello", "xello_to_aeries"]} == {
        "aeries_to_destiny": "Follett Destiny patrons (schedule in America/Los_Angeles: At 05:00)",
        "aeries_to_powerschool_learning": "PowerSchool Learning users, classes and rosters (schedule in America/New_York: "
                                          "At 04:22; At 11:22; At 19:22)",
        "aeries_to_xello": "Xello students, courses and educators (schedule in America/Los_Angeles: At 20:00, only on "
                           "Saturday and Sunday)",
        "xello_to_aeries": "Xello course requests into Aeries (schedule in America/Los_Angeles: At 06:00, Monday through "
                           "Friday)",
    }
