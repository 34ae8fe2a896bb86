"""A run whose inputs are those of the last successful run takes that run's validated and built files instead of
computing them again (validate_sources and each build_<file>).

The inputs (:func:`run_inputs`), recorded in validate_sources' summary (``inputs``) by every run that computes:
each extract's sha256, the mapping file's sha256, the rest of ``include/`` (crosswalks, check suites, the
district policy), the run's params, the ``[aeries_hub]`` settings, the hub's code (every file of the package and
the versions of the libraries that validate and build), the run's date and the school years Aeries served. A run
reuses when the DAG's last run (its newest ``report.json``) completed (Completed or Completed with errors)
within ``[aeries_hub] staging_retention_days``, recorded the same inputs, and every file it recorded (``files``:
sha256 by path, in the validation's and each build's summary) is still there with that sha256. The files are
hard-linked (copied by the store on object storage) into the run's folder, so it is complete by itself, and each copy is
checked against the recorded sha256; the run's date, dates as of and run values are settled again and must be
the recorded ones, and the volume check is redone against the last delivery. Anything else, and the
``full_extract`` param: the run computes, and its summary says
why (``recomputed_because``). A reused summary names the run (``reused_from``), and the run report says so.

When only extracts changed since that run, validate_sources takes its unchanged tables one by one
(:class:`EarlierTables`), and each build takes that run's file when what the build reads is unchanged
(:func:`aeries_hub.run.build_reuse.changed_reads`): the columns it reads of each validated table and of each file built before it, and the
run values. At 1% of students with a new last name, users.csv is built again and enrollments.csv is taken.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from aeries_hub import paths
from aeries_hub.delivery import size_and_sha256
from aeries_hub.run.summary import BuildSummary, SourceValidation, read_run
from aeries_hub.staging import RunFolder, copy_private, is_local, local_path, make_private, make_private_folder

log = logging.getLogger(__name__)

#: The statuses of a run whose validated and built files may be taken (``run.report``).
REUSABLE_STATUSES = ("Completed", "Completed with errors")
#: What validate_sources writes, and what a build of ``stem`` writes (besides ``output/<file>``).
VALIDATION_FILES = ("validated/", "rejects/source_", "quality/sources/")
#: Params that change neither what is validated nor what is built: full_extract how the extracts are fetched (their
#: sha256s are inputs), dry_run only whether the files are delivered (so a first delivery takes its dry run's files).
NOT_INPUTS = ("full_extract", "dry_run")
#: How many of the DAG's newest reports are read for the last run before it computes (unreadable ones are skipped).
REPORTS_READ = 5
#: The libraries whose version can change what is validated or built.
LIBRARIES = ("pandas", "pyarrow", "numpy", "great_expectations", "apache-airflow", "pyyaml", "pydantic")


# --------------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------------
def tree_sha256(folder: Path, skip: tuple[str, ...] = ()) -> str:
    """One sha256 of every file under ``folder`` (their relative paths and bytes), less those under ``skip``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = path.relative_to(folder).as_posix()
        if relative.startswith(skip):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The hub's code: every file of the ``aeries_hub`` package and the versions of :data:`LIBRARIES`. Each task
    process computes it (~17 ms of CPU, 1.6 MB read): a build that took validate_sources' recorded one would not see
    code deployed in between, and a build cleared after a fix would take the files the old code built."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    versions = ",".join(f"{name}={installed(name)}" for name in LIBRARIES)
    return hashlib.sha256(f"{tree_sha256(Path(__file__).resolve().parents[1])}|{versions}".encode()).hexdigest()


def json_sha256(document: Any) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def run_inputs(mapping, run: RunFolder, params: dict) -> dict[str, Any]:
    """What the run's validated and built files are made from (the module's doc): sha256s, the run's date and
    the school years; params and settings only as sha256s (they may name a student or a secret)."""
    from aeries_hub.extract.school_year import served_years

    extracts = read_run(run).extracts
    return {
        "extracts": {table: size_and_sha256(run.root / "extract" / f"{table}.parquet")[1]
                     for table in sorted(extracts)},
        **configuration(mapping, params),
        "school_years": served_years(extracts.values()),
    }


def configuration(mapping, params: dict) -> dict[str, Any]:
    """The inputs that are not Aeries': the mapping file, the include folders beside it and the hub's (crosswalks,
    check suites, district policy), params, settings, code and the run's date."""
    from airflow.sdk import conf

    from aeries_hub.extract.school_year import run_date

    include = {tree_sha256(folder, skip=("mappings/", "writebacks/"))
               for folder in (Path(mapping.path).resolve().parents[1], paths.INCLUDE_DIR)}
    return {
        "mapping": size_and_sha256(Path(mapping.path))[1],
        "include": json_sha256(sorted(include)),
        "params": json_sha256({name: value for name, value in dict(params).items() if name not in NOT_INPUTS}),
        "settings": json_sha256(conf.getsection("aeries_hub") or {}),
        "code": code_fingerprint(),
        "run_date": run_date(mapping).isoformat(),
    }


def changed_inputs(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """What differs, in words: ``the extract of students``, ``the mapping file``, ``the params`` ..."""
    said = {"mapping": "the mapping file", "include": "the crosswalks, check suites or district policy (include/)",
            "params": "the run's params", "settings": "the [aeries_hub] settings", "code": "the hub's code or libraries",
            "run_date": "the run's date", "school_years": "the school year Aeries served"}
    changed = []
    tables_now, tables_before = now.get("extracts", {}), before.get("extracts", {})
    for table in sorted(set(tables_now) | set(tables_before)):
        if tables_now.get(table) != tables_before.get(table):
            changed.append(f"the extract of {table}")
    changed += [words for key, words in said.items() if now.get(key) != before.get(key)]
    return changed


# --------------------------------------------------------------------------------------------------
# The files
# --------------------------------------------------------------------------------------------------
def written_files(run: RunFolder, patterns: tuple[str, ...]) -> dict[str, str]:
    """{relative path: sha256} of the run's files that start with one of ``patterns`` (no temporary files)."""
    files = {}
    for relative in run.files():
        if relative.startswith(patterns) and not relative.rsplit("/", 1)[-1].startswith("."):
            files[relative] = size_and_sha256(run.root.joinpath(*relative.split("/")))[1]
    return files


def _link(source, target) -> None:
    if is_local(source) and is_local(target):
        make_private_folder(target.parent)
        local_target = local_path(target)
        local_target.unlink(missing_ok=True)
        try:
            os.link(local_path(source), local_target)
            make_private(target)
            return
        except OSError:  # another file system: copied
            pass
    copy_private(source, target)


def take_files(previous: RunFolder, run: RunFolder, files: dict[str, str]) -> str | None:
    """Link (or copy) ``files`` of ``previous`` into ``run`` and check each against its sha256; None when all
    are there, else what is wrong (and the files taken are removed). ``files`` is read from ``previous``'s
    summary, data from disk: a path that would leave the run folder is refused (ValueError) before anything is taken."""
    for relative in files:
        if not _inside_a_folder(relative):
            raise ValueError(
                f"the summary of run {previous.root.name} records the file {relative!r}, a path that leaves its run "
                f"folder (absolute, '..' or an empty part): the hub never writes one, so the staging folder was edited; "
                f"find out by whom, then delete the folder {previous.root} so that runs compute their files")
    taken = []
    problem = None
    for relative, sha256 in sorted(files.items()):
        source = previous.root.joinpath(*relative.split("/"))
        if not source.exists():
            problem = f"{relative} of {previous.root.name} is missing"
            break
        target = run.root.joinpath(*relative.split("/"))
        _link(source, target)
        taken.append(target)
        if size_and_sha256(target)[1] != sha256:
            problem = f"{relative} of {previous.root.name} is not the file its summary recorded (sha256 differs)"
            break
    if problem:
        for target in taken:
            target.unlink(missing_ok=True)
    return problem


def _inside_a_folder(relative: object) -> bool:
    return isinstance(relative, str) and all(part not in ("", ".", "..") for part in relative.split("/"))


# --------------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """validate_sources' decision: the run's inputs, and the earlier run to take from, or why not. When only some
    extracts changed, ``tables`` offers the earlier run's unchanged tables one by one (:class:`EarlierTables`)."""

    inputs: dict[str, Any]
    previous_run: str | None = None
    previous: SourceValidation | None = None
    because: str | None = None
    tables: EarlierTables | None = None


@dataclass(frozen=True)
class EarlierTables:
    """The validated tables of the last completed run, for a run whose extracts changed but not its configuration.

    validate_sources takes a table from it when the table's own inputs (:func:`table_inputs`: its extract, the
    tables extracted, and what its checks read of the tables validated before it) are those the earlier run
    recorded: its validated Parquet, its rejects and its check results are then what validating it again would
    give. At 1% of students changed, the schedules (most of the rows) are taken and the students validated again."""

    previous_run: str
    previous: SourceValidation
    folder: RunFolder

    def take(self, run: RunFolder, table: str, inputs_sha256: str) -> dict[str, Any] | None:
        """The earlier run's summary of ``table`` with its files linked into ``run``, or None (validate it)."""
        entry = self.previous.tables.get(table)
        if entry is None or entry.get("inputs") != inputs_sha256:
            return None
        files = {path: sha for path, sha in (self.previous.files or {}).items() if path in table_files(table, path)}
        if f"validated/{table}.parquet" not in files:
            return None
        problem = take_files(self.folder, run, files)
        if problem:
            log.warning("validate_sources validates %s: cannot take the files of %s: %s", table, self.previous_run,
                        problem)
            return None
        return {**entry, "reused_from": self.previous_run}


def table_files(table: str, path: str) -> tuple[str, ...]:
    """Of validate_sources' files, those of ``table`` (``path`` itself when it is one of them, else nothing)."""
    own = (f"validated/{table}.parquet", f"rejects/source_{table}.csv")
    return (path,) if path in own or path.startswith(f"quality/sources/{table}.") else ()


def table_inputs(extract_sha256: str, tables: list[str], referenced: dict[str, Any]) -> str:
    """What validating one table depends on besides the run's configuration: its extract's sha256, the tables
    extracted (they select its checks) and, of each table validated before it that its checks read (a roster row
    of a rejected student is rejected), the accepted values of the columns they read (``referenced``: frames)."""
    import pandas as pd

    digest = hashlib.sha256(f"{extract_sha256}|{','.join(sorted(tables))}".encode())
    for name, frame in sorted(referenced.items()):
        digest.update(f"|{name}:{','.join(frame.columns)}:{len(frame)}|".encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def last_successful_run(run: RunFolder) -> tuple[str, dict] | None:
    """The run folder name and report of the DAG's last run other than ``run`` (the newest report written), if
    it completed within the retention period. Reports outlive the runs, a DAG keeps hundreds: they are read newest
    first and the first readable one decides, at most :data:`REPORTS_READ` of them, on any staging."""
    from aeries_hub.retention import retention_days

    dag_dir = run.root.parent
    written = []
    for folder in dag_dir.iterdir() if dag_dir.exists() else []:
        if folder.name == run.root.name or folder.name.startswith("_"):
            continue
        try:
            written.append((_modified(folder / "report.json"), folder.name))
        except (FileNotFoundError, NotADirectoryError):  # running, or not a run's folder
            continue
        except NotImplementedError:  # a store that cannot tell when a file was written
            log.warning("%s cannot tell when a run's report was written: the run computes", dag_dir.protocol)
            return None
    for _, name in sorted(written, reverse=True)[:REPORTS_READ]:
        try:
            with (dag_dir / name / "report.json").open("rb") as handle:
                report = json.load(handle)
            finished = datetime.fromisoformat(report["generated_at"])
        except (ValueError, KeyError, TypeError):
            continue
        if report.get("status") not in REUSABLE_STATUSES:
            return None
        if finished < datetime.now(timezone.utc) - timedelta(days=retention_days()):
            return None
        return name, report
    return None


def _modified(path) -> float:
    """When a staged file was last written (FileNotFoundError when it is not there)."""
    if is_local(path):
        return local_path(path).stat().st_mtime
    return path.fs.modified(path.path).timestamp()


def plan_validation(mapping, run: RunFolder, params: dict) -> Plan:
    inputs = run_inputs(mapping, run, params)
    if params.get("full_extract"):
        return Plan(inputs, because="the full_extract param is on")
    last = last_successful_run(run)
    if last is None:
        return Plan(inputs, because="no completed run of the DAG within the retention period")
    name, _ = last
    previous_folder = sibling_run(run, name)
    previous = read_run(previous_folder).sources
    if previous is None or previous.inputs is None or previous.files is None:
        return Plan(inputs, because=f"the last completed run {name} recorded no inputs")
    changed = changed_inputs(inputs, previous.inputs)
    if changed:
        because = f"since the last completed run {name}: " + ", ".join(changed) + " changed"
        only_extracts = changed_inputs({**inputs, "extracts": {}}, {**previous.inputs, "extracts": {}}) == []
        return Plan(inputs, because=because,
                    tables=EarlierTables(name, previous, previous_folder) if only_extracts else None)
    return Plan(inputs, previous_run=name, previous=previous)


def sibling_run(run: RunFolder, name: str) -> RunFolder:
    """The folder of another run of the DAG, by its folder name (a run id made a safe segment already; a name read
    from a summary is data from disk, so one that is not a folder of the DAG's is refused)."""
    if not _inside_a_folder(name) or "/" in name:
        raise ValueError(f"the summary of run {run.root.name} names the earlier run {name!r}, which is not a run "
                         f"folder's name: the staging folder was edited; delete the folder {run.root} and run again")
    return RunFolder(run.root.parent.parent, run.root.parent.name, name)


def reuse_validation(plan: Plan, mapping, run: RunFolder, params: dict) -> Plan | SourceValidation:
    """The earlier run's validation taken into ``run`` (its files linked and checked, the run values settled
    again, the volume check redone), or the plan saying why not (logged) when the run must validate."""
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.extract.school_year import settle_run_values
    from aeries_hub.quality.volumes import volume_check

    if plan.previous is None or plan.previous_run is None:
        log.info("validate_sources computes: %s", plan.because)
        return plan
    previous, files = plan.previous, plan.previous.files or {}
    problem = take_files(sibling_run(run, plan.previous_run), run, files)
    if problem is None:
        try:
            day, as_of, values = settle_run_values(mapping, run, read_run(run).extracts.values())
            if (day.isoformat(), as_of.isoformat(), values) != (previous.run_date, previous.dates_as_of, previous.run_values):
                problem = "the run's date, dates as of or run values differ"
        except AirflowFailException as exc:
            problem = f"the run values could not be settled ({exc})"
    volumes = volume_check(mapping, previous.volumes.get("tables", {}), params) if problem is None else {}
    if problem is None and volumes["drops"] and not volumes["allowed"]:
        problem = "the extract volumes dropped against the last delivery"
    if problem:
        for relative in files:
            run.root.joinpath(*relative.split("/")).unlink(missing_ok=True)
        log.warning("validate_sources computes: cannot take the files of %s: %s", plan.previous_run, problem)
        return Plan(plan.inputs, because=f"cannot take the files of the last completed run {plan.previous_run}: {problem}")
    log.info("validate_sources takes the validated files of %s: nothing it depends on changed", plan.previous_run)
    return dataclasses.replace(previous, volumes=volumes, inputs=plan.inputs, reused_from=plan.previous_run,
                               recomputed_because=None)


def recorded_validation(plan: Plan, run: RunFolder) -> dict[str, Any]:
    """The fields a computed validation's summary adds: its inputs, its files, why it computed, and the earlier run
    whose builds may be taken (only extracts changed since)."""
    return {"inputs": plan.inputs, "files": written_files(run, VALIDATION_FILES), "recomputed_because": plan.because,
            "earlier_run": plan.tables.previous_run if plan.tables is not None else None}


def describe_reuse(sources: SourceValidation | None, builds: dict[str, BuildSummary]) -> str | None:
    """The report's line: what was taken from which run, or why the run validated and built again."""
    if sources is None:
        return None
    if sources.reused_from:
        taken = [b.file for b in builds.values() if b.reused_from]
        built = [b.file for b in builds.values() if not b.reused_from]
        return (f"reused from run {sources.reused_from} (nothing they depend on changed): the validated tables"
                + (f" and {', '.join(taken)}" if taken else "") + (f"; built again: {', '.join(built)}" if built else ""))
    if sources.recomputed_because:
        taken_from: dict[str, list[str]] = {}
        for table, entry in sorted(sources.tables.items()):
            if entry.get("reused_from"):
                taken_from.setdefault(entry["reused_from"], []).append(table)
        files_from: dict[str, list[str]] = {}
        for build in builds.values():
            if build.reused_from:
                files_from.setdefault(build.reused_from, []).append(build.file)
        return f"validated and built again: {sources.recomputed_because}" + "".join(
            f"; the validated {', '.join(tables)} taken from run {name} (their extracts unchanged)"
            for name, tables in taken_from.items()) + "".join(
            f"; {', '.join(files)} taken from run {name} (what they read unchanged)" for name, files in files_from.items())
    return None
