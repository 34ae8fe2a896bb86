"""Build one Airflow DAG per mapping file in include/mappings/.

An invalid mapping file must not hide the other vendors' DAGs, and it must still show up in the Airflow UI
as an import error naming the file and the key. Airflow marks every DAG of a file that raised as broken,
so the two jobs live in two DAG files: ``dags/vendor_integrations.py`` builds the DAGs of the valid files
(:func:`build_dags`), and ``dags/invalid_mappings.py`` holds no DAG and raises one import error listing
every invalid file (:func:`raise_for_invalid_mappings`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from airflow.sdk import DAG, Param, TriggerRule, XComArg, task

from aeries_hub.delivery.assets import delivered_asset
from aeries_hub.delivery.base import delivery_for
from aeries_hub.delivery.holds import holds_supported
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import Mapping, MappingError
from aeries_hub.notifications import RunFailureNotifier
from aeries_hub.operators.approval import MassChangeApprovalOperator, WriteBackApprovalOperator
from aeries_hub.resources import measured
from aeries_hub.tasks.build import build_file
from aeries_hub.tasks.deliver import deliver, package
from aeries_hub.tasks.extract import extract_table
from aeries_hub.tasks.gates import check_target, wait_for_window
from aeries_hub.tasks.report import report
from aeries_hub.tasks.track import track_changes
from aeries_hub.tasks.validate import validate_sources

# Backfills may reach back this far (catchup is off: a new DAG does not run for the past on its own).
START_DATE = datetime(2015, 7, 1)

# Only tasks that talk to Aeries or the vendor retry; a failed check or a bad mapping does not heal itself.
NETWORK_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
}

#: The longest task of a 500,000-student district took 65 s (README: Benchmarks); an hour leaves room for a slow
#: Aeries server or vendor before a hung task is ended (each retry gets its own hour).
DEFAULT_TASK_TIMEOUT_MINUTES = 60


def task_timeout() -> timedelta:
    """Every task's ``execution_timeout``: ``[aeries_hub] task_timeout_minutes`` (default 60). Every DAG of the hub
    puts it in its ``default_args``, so a task that hangs (a server that never answers) fails instead of holding
    its slot and the DAG's run forever."""
    from airflow.sdk import conf

    text = conf.get("aeries_hub", "task_timeout_minutes", fallback=str(DEFAULT_TASK_TIMEOUT_MINUTES))
    try:
        minutes = float(text)
    except ValueError:
        minutes = 0
    if not minutes > 0:
        raise ValueError(
            f"[aeries_hub] task_timeout_minutes is {text!r}; give the minutes a task may run before it is ended, "
            f"e.g. {DEFAULT_TASK_TIMEOUT_MINUTES}"
        )
    return timedelta(minutes=minutes)


def maintenance_dag(dag_id: str, *, description: str, doc_md: str | None, schedule: str | None, retries: int,
                    params: dict[str, Param]) -> DAG:
    """A DAG of the hub's own upkeep (not a vendor's): one run at a time, no catchup, tagged ``maintenance``,
    every task bounded by :func:`task_timeout`."""
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc_md,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["aeries", "maintenance"],
        default_args={"owner": "data-engineering", "retries": retries, "execution_timeout": task_timeout()},
        params=params,
    )


def _load_all(*folders: tuple[Path | None, Callable[[Path], Any]]) -> tuple[list[list[Any]], list[str]]:
    """The valid files of each folder (mappings or write-backs, each folder loaded by its loader) and the problems of
    the others, one list of valid files per folder.

    Two files whose ``name`` gives the same DAG id are both refused, naming both: otherwise the later would silently
    replace the first (a copied mapping whose name was not changed delivering in place of the production DAG). A
    mapping and a write-back can give the same DAG id too (mapping ``x_to_aeries``, write-back ``aeries_to_x``):
    their files are compared together."""
    loaded: list[list[Any]] = []
    problems = []
    for folder, load in folders:
        specs = []
        for path in sorted(Path(folder).glob("*.yml")) if folder is not None else []:
            try:
                specs.append(load(path))
            except MappingError as exc:
                problems.append(str(exc))
        loaded.append(specs)
    files_by_dag: dict[str, list[Path]] = defaultdict(list)
    for spec in (spec for specs in loaded for spec in specs):
        files_by_dag[spec.dag_id].append(spec.path)
    problems += [_same_dag_id(dag_id, files) for dag_id, files in files_by_dag.items() if len(files) > 1]
    return [[spec for spec in specs if len(files_by_dag[spec.dag_id]) == 1] for specs in loaded], problems


def _same_dag_id(dag_id: str, files: list[Path]) -> str:
    if len({path.parent for path in files}) == 1:
        return (f"{' and '.join(path.name for path in files)}: the same name gives each the DAG id {dag_id}; neither "
                "DAG is loaded until each file has its own name")
    named = " and ".join(f"{path.parent.name}/{path.name}" for path in files)
    return (f"{named}: their names give each the DAG id {dag_id}; neither DAG is loaded until one of them is renamed "
            "(its name:)")


def load_mappings(folder: Path, writebacks_dir: Path | None = None) -> tuple[list[Mapping], list[str]]:
    """The valid mapping files of ``folder`` and the problems of the others (and of the write-back files of
    ``writebacks_dir``, when given: a mapping whose DAG id a write-back has is not valid)."""
    (mappings, _), problems = _load_all((folder, load_mapping), (writebacks_dir, _load_writeback))
    return mappings, problems


def load_writebacks(folder: Path, mappings_dir: Path | None = None) -> tuple[list[Any], list[str]]:
    """The valid write-back files of ``folder`` and the problems of the others (and of the mapping files of
    ``mappings_dir``, when given)."""
    (_, writebacks), problems = _load_all((mappings_dir, load_mapping), (folder, _load_writeback))
    return writebacks, problems


def _load_writeback(path: Path) -> Any:
    from aeries_hub.writeback.loader import load_writeback

    return load_writeback(path)


def build_dags(mappings_dir: Path, writebacks_dir: Path | None = None) -> dict[str, DAG]:
    """The DAGs of the valid mapping files (invalid ones are reported by raise_for_invalid_mappings); a mapping whose
    DAG id a write-back of ``writebacks_dir`` has is not valid."""
    mappings, _ = load_mappings(mappings_dir, writebacks_dir)
    return {mapping.dag_id: build_dag(mapping) for mapping in mappings}


def raise_for_invalid_mappings(mappings_dir: Path, writebacks_dir: Path | None = None) -> None:
    _, problems = load_mappings(mappings_dir, writebacks_dir)
    if problems:
        raise MappingError("Invalid mapping files (their DAGs are not loaded):\n" + "\n".join(problems))


def _timetable(mapping: Mapping):
    from airflow.sdk import CronTriggerTimetable, MultipleCronTriggerTimetable

    schedule = mapping.schedule
    if schedule is None:
        return None
    if len(schedule.crons) == 1:
        return CronTriggerTimetable(schedule.crons[0], timezone=schedule.timezone)
    return MultipleCronTriggerTimetable(*schedule.crons, timezone=schedule.timezone)


def described(title: str, schedule: Any) -> str:
    """The DAG's description: its title and when it runs, in words, in the time zone its crons run in. The UI's
    Schedule column shows only the cron expression (in that zone, which it does not name) and its Next run in the
    zone chosen in the user menu (UTC by default); the description names the zone (docs/operating.md)."""
    if schedule is None:
        return title
    from airflow.timetables.trigger import CronTriggerTimetable as Cron  # the words Airflow's UI shows for a cron

    words = "; ".join(Cron(cron, timezone=schedule.timezone).description for cron in schedule.crons)
    return f"{title} (schedule in {schedule.timezone}: {words})"


def _params(mapping: Mapping) -> dict[str, Param]:
    params = {
        "dry_run": Param(False, type="boolean", description="Extract, validate and build the files, but deliver nothing."),
        "rollover_preview": Param(False, type="boolean", description=(
            "A dry run against next school year's Aeries database (the run's DatabaseYear + 1), once Aeries offers it: "
            "extract, validate, build and compare the files with the last delivery, but deliver nothing.")),
    }
    params["allow_extract_drop"] = Param(
        False,
        type="boolean",
        description="Deliver even when Aeries returned far fewer rows for a table or school than at the last delivery "
        "(the drop is real: a school closed or left the integration).",
    )
    if mapping.incremental:
        params["full_extract"] = Param(
            False,
            type="boolean",
            description="Extract every table in full, even where an incremental extraction would do "
            f"(otherwise one runs every {mapping.incremental.full_every_hours:g} hours).",
        )
    if mapping.window:
        params["ignore_window"] = Param(
            False,
            type="boolean",
            description=f"Run now even outside the allowed pull window ({mapping.window.describe()}).",
        )
    params.update(delivery_for(mapping).params())
    return params


def _delivered_assets(mapping: Mapping) -> list:
    files = [mapping.package_zip] if mapping.package_zip else [output.file for output in mapping.delivered_outputs]
    return [delivered_asset(mapping, file) for file in files]


def build_dag(mapping: Mapping) -> DAG:
    mapping_file = mapping.path.name
    with DAG(
        dag_id=mapping.dag_id,
        description=described(mapping.title, mapping.schedule),
        doc_md=mapping.description,
        schedule=_timetable(mapping),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        # A new vendor DAG delivers nothing until an operator has seen a dry run and unpaused it (docs/operating.md).
        is_paused_upon_creation=True,
        tags=["aeries", *mapping.tags],
        default_args={"owner": mapping.owner, "retries": 0, "execution_timeout": task_timeout()},
        params=_params(mapping),
        on_failure_callback=RunFailureNotifier(),
    ) as dag:
        # One pool per Aeries server, named after its connection: it caps the extract tasks that run at
        # once across every vendor DAG (each makes up to the connection's max_concurrency requests).
        extracted = [
            task(task_id=f"extract_{table}", pool=mapping.aeries_conn_id, **NETWORK_RETRIES)(measured(extract_table))(
                mapping_file, table
            )
            for table in mapping.tables
        ]
        gates = []
        if delivery_for(mapping).needs_target_gate():
            gates.append(task(task_id="check_target")(measured(check_target))(mapping_file))
        if mapping.window:
            gates.append(
                task.sensor(
                    task_id="wait_for_window",
                    mode="reschedule",
                    poke_interval=timedelta(minutes=5).total_seconds(),
                    timeout=timedelta(hours=mapping.window.max_wait_hours).total_seconds(),
                    soft_fail=True,
                )(wait_for_window)(mapping_file)
            )
        for gate in gates:
            gate >> extracted
        validated = task(task_id="validate_sources")(measured(validate_sources))(mapping_file, extracted)
        builds = {}
        for output in mapping.outputs:  # a file that references or nests others comes after them
            builds[output.file] = task(task_id=f"build_{output.stem}")(measured(build_file))(mapping_file, output.file)
            validated >> builds[output.file]
        for output in mapping.outputs:
            for needed in output.needs:
                builds[needed] >> builds[output.file]
        # The delivered assets' events tell track_changes whether this DAG delivered before (a lost record).
        tracked = task(task_id="track_changes", inlets=_delivered_assets(mapping))(measured(track_changes))(mapping_file)
        list(builds.values()) >> tracked
        approved = MassChangeApprovalOperator(
            task_id="approve_changes", mapping_file=mapping_file, approval_timeout_hours=mapping.guard.approval_timeout_hours,
            offer_hold=holds_supported(mapping),
        )
        tracked >> approved
        built: XComArg | list[XComArg] = [builds[output.file] for output in mapping.delivered_outputs]
        if mapping.package_zip:
            built = task(task_id="package")(measured(package))(mapping_file, built)
            approved >> built
        # One delivery of the DAG at a time, whatever started its run: the DAG's max_active_runs leaves backfill runs
        # out (a backfill has its own, 10 by default), while this limit counts the deliver tasks of every run.
        delivered = task(task_id="deliver", outlets=_delivered_assets(mapping), max_active_tis_per_dag=1, **NETWORK_RETRIES)(
            measured(deliver)
        )(mapping_file, built)
        approved >> delivered
        # The report runs whatever happened upstream, and fails the run itself when the run ended in Error.
        delivered >> task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)(measured(report))(mapping_file)
    return dag


def build_writeback_dags(writebacks_dir: Path, mappings_dir: Path | None = None) -> dict[str, DAG]:
    """One DAG per valid write-back file (invalid ones are reported by raise_for_invalid_mappings); a write-back whose
    DAG id a mapping of ``mappings_dir`` has is not valid."""
    writebacks, _ = load_writebacks(writebacks_dir, mappings_dir)
    return {writeback.dag_id: build_writeback_dag(writeback) for writeback in writebacks}


def build_writeback_dag(writeback) -> DAG:
    from aeries_hub.tasks import writeback as tasks

    writeback_file = writeback.path.name
    schedule = None
    if writeback.schedule:
        from airflow.sdk import CronTriggerTimetable

        schedule = CronTriggerTimetable(writeback.schedule.crons[0], timezone=writeback.schedule.timezone)
    with DAG(
        dag_id=writeback.dag_id,
        description=described(writeback.title, writeback.schedule),
        doc_md=writeback.description,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=True,  # as a vendor DAG: nothing is written before a dry run was seen
        tags=["aeries", "writeback", *writeback.tags],
        default_args={"owner": writeback.owner, "retries": 0, "execution_timeout": task_timeout()},
        params={"dry_run": Param(False, type="boolean", description="Plan the writes and report them, but write nothing.")},
        on_failure_callback=RunFailureNotifier(),
    ) as dag:
        # Each XComArg is passed on as the value its task returns (typed Any for the next task's parameter).
        # Each task is ``measured`` as a vendor DAG's: its time and memory, and why it failed, reach the report.
        fetched: Any = task(task_id="fetch_exports", **NETWORK_RETRIES)(measured(tasks.fetch_exports))(writeback_file)
        validated: Any = task(task_id="validate_exports")(measured(tasks.validate_exports))(writeback_file, fetched)
        planned: Any = task(task_id="plan_writes", pool=writeback.aeries_conn_id, **NETWORK_RETRIES)(
            measured(tasks.plan_writes)
        )(writeback_file, validated)
        # Writes the guard marks (existing students, contacts, addresses and phones, a mass change) wait for a person.
        approved = WriteBackApprovalOperator(task_id="approve_writes", writeback_file=writeback_file,
                                             approval_timeout_hours=writeback.guard.approval_timeout_hours)
        planned >> approved
        # Not retried by Airflow: a write whose answer was lost must be checked before it is sent again (cleared by
        # hand, the task's journal does that).
        written = task(task_id="write_to_aeries", pool=writeback.aeries_conn_id)(measured(tasks.write_to_aeries))(
            writeback_file, planned
        )
        approved >> written
        written >> task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)(measured(tasks.report))(writeback_file)
    return dag
