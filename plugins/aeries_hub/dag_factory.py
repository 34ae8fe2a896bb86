"""Build one Airflow DAG per mapping file in include/mappings/.

A mapping file that fails validation must not hide the other vendors' DAGs, and it must still show up
in the Airflow UI as an import error naming the file and the key. Airflow records an exception raised by
a DAG's ``validate()`` as an import error of the DAG file while still loading the file's other DAGs, so
invalid files are represented by one :class:`InvalidMappings` placeholder whose validation fails with
every problem found.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from airflow.sdk import DAG, Param, TriggerRule, task

from aeries_hub import pipeline
from aeries_hub.mapping.loader import Mapping, MappingError, load_mapping

START_DATE = datetime(2026, 1, 1)

# Only tasks that talk to Aeries or the vendor retry; a failed check or a bad mapping does not heal itself.
NETWORK_RETRIES = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}


class InvalidMappings(DAG):
    """Stands in for the DAGs of invalid mapping files so that Airflow reports them as an import error."""

    def __init__(self, problems: list[str]):
        super().__init__(dag_id="invalid_mappings", schedule=None, start_date=START_DATE)
        self.problems = problems

    def validate(self):
        raise MappingError("Invalid mapping files (their DAGs were not loaded):\n" + "\n".join(self.problems))


def build_dags(mappings_dir: Path) -> dict[str, DAG]:
    dags: dict[str, DAG] = {}
    problems: list[str] = []
    for path in sorted(Path(mappings_dir).glob("*.yml")):
        try:
            mapping = load_mapping(path)
        except MappingError as exc:
            problems.append(str(exc))
            continue
        dags[mapping.dag_id] = build_dag(mapping)
    if problems:
        dags["invalid_mappings"] = InvalidMappings(problems)
    return dags


def _timetable(mapping: Mapping):
    from airflow.sdk import CronTriggerTimetable, MultipleCronTriggerTimetable

    schedule = mapping.schedule
    if schedule is None:
        return None
    if len(schedule.crons) == 1:
        return CronTriggerTimetable(schedule.crons[0], timezone=schedule.timezone)
    return MultipleCronTriggerTimetable(*schedule.crons, timezone=schedule.timezone)


def build_dag(mapping: Mapping) -> DAG:
    mapping_file = mapping.path.name
    with DAG(
        dag_id=mapping.dag_id,
        description=mapping.title,
        doc_md=mapping.description,
        schedule=_timetable(mapping),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["aeries", *mapping.tags],
        default_args={"owner": mapping.owner, "retries": 0},
        params={
            "dry_run": Param(
                False,
                type="boolean",
                description="Extract, validate and build the files, but deliver nothing.",
            )
        },
    ) as dag:
        extracted = [
            task(pipeline.extract_table, task_id=f"extract_{table}", **NETWORK_RETRIES)(mapping_file, table)
            for table in mapping.tables
        ]
        validated = task(pipeline.validate_sources, task_id="validate_sources")(mapping_file, extracted)
        built = []
        for output in mapping.outputs:
            build = task(pipeline.build_file, task_id=f"build_{output.stem}")(mapping_file, output.file)
            validated >> build
            built.append(build)
        delivered = task(pipeline.deliver, task_id="deliver", **NETWORK_RETRIES)(mapping_file, built)
        # The report runs whatever happened upstream, and fails the run itself when the run ended in Error.
        delivered >> task(pipeline.report, task_id="report", trigger_rule=TriggerRule.ALL_DONE)(mapping_file)
    return dag
