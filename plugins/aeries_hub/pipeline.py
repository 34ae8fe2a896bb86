"""The work of each task of a vendor DAG: extract, validate, build, deliver, report.

Tasks pass paths and counts between them (never data frames): each task reads its inputs from the
run's staging folder and writes its outputs there, with a small JSON summary under ``summary/`` that the
report task reads even when a task failed. Heavy imports stay inside the functions so that DAG parsing
stays fast.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from typing import Any

from aeries_hub import paths
from aeries_hub.delivery import DeliveryError
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import Mapping
from aeries_hub.paths import QUALITY_DIR
from aeries_hub.staging import RunFolder, make_private

log = logging.getLogger(__name__)

SOURCE_CHECKS_FILE = QUALITY_DIR / "aeries_sources.yml"

#: Tables that others point at come first (rosters point at students and sections, sections at courses).
VALIDATION_ORDER = ["schools", "terms", "courses", "staff", "teachers", "students", "contacts", "sections", "rosters"]


def mapping_for(mapping_file: str) -> Mapping:
    return load_mapping(paths.MAPPINGS_DIR / mapping_file)


def _summary(run: RunFolder, name: str, document: dict) -> dict:
    run.write_json(f"summary/{name}.json", document)
    return document


def wait_for_window(mapping_file: str) -> bool:
    """Poke of the window sensor: True inside the mapping's pull window (or with the ignore_window param)."""
    from datetime import datetime, timezone

    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    window = mapping.window
    run = RunFolder.current()
    now = datetime.now(timezone.utc)
    if get_current_context()["params"].get("ignore_window") or window.contains(now):
        _summary(run, "wait_for_window", {"in_window": True, "window": window.describe()})
        return True
    opens = window.next_opening(now)
    reason = f"{now.astimezone(opens.tzinfo):%a %H:%M} is outside the allowed pull window ({window.describe()}); it next opens {opens:%a %Y-%m-%d %H:%M}"
    _summary(run, "wait_for_window", {"in_window": False, "reason": reason})
    if window.outside == "skip":
        raise AirflowSkipException(f"{reason}. Nothing was pulled from Aeries (window.outside is skip).")
    log.info("%s: waiting (window.outside is wait)", reason)
    return False


def extract_table(mapping_file: str, table: str) -> dict:
    """Pull one whole Aeries table into ``extract/<table>.parquet``, from the school year Aeries serves for the
    run's date (see AeriesHook.check_database_year); the summary says which year that is, and why when it is
    not the run's."""
    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    target = run.path("extract", f"{table}.parquet")
    hook, year = aeries_for_run(mapping.aeries_conn_id, mapping, run)
    if mapping.incremental:
        summary = _extract_incrementally(mapping, hook, table, target)
        make_private(target)
        return _summary(run, f"extract_{table}", {**summary, **year.to_dict()})
    result = hook.extract_to_parquet(table, target, school_codes=list(mapping.school_codes) or None)
    make_private(target)
    return _summary(
        run,
        f"extract_{table}",
        {
            "table": table,
            **year.to_dict(),
            "rows": result.rows,
            "requests": result.requests,
            "retries": result.retries,
            "seconds": round(result.seconds, 3),
            "path": str(target),
            **({"teachers_from_section_staff": result.section_staff_teachers} if result.section_staff_teachers else {}),
        },
    )


def aeries_for_run(conn_id: str, owner, run: RunFolder):
    """The Aeries hook of a run (an extraction or a write-back) and the school year it reads and writes: the one
    Aeries serves for the run's date, settled by :meth:`AeriesHook.check_database_year` (the connection extra
    ``unavailable_year`` decides when Aeries does not offer it). When the rule fails the run, the reason goes to
    ``summary/school_year.json`` for the report. ``owner`` is the mapping or write-back whose schedule's time zone
    dates the run."""
    from aeries_hub.aeries.errors import AeriesConfigError
    from aeries_hub.aeries.hook import AeriesHook

    hook = AeriesHook(aeries_conn_id=conn_id, school_year=school_year_of(run_date(owner)))
    try:
        year = hook.check_database_year()
    except AeriesConfigError as exc:
        _summary(run, "school_year", {"error": str(exc)})
        raise
    return hook, year


def _extract_incrementally(mapping: Mapping, hook, table: str, target) -> dict:
    """``source.incremental``: only what changed since the DAG's extract snapshot, merged into it (see
    :mod:`aeries_hub.extract.incremental`); a full extraction when the snapshot is too old or the run asks for one."""
    from airflow.sdk import get_current_context

    from aeries_hub.extract import incremental
    from aeries_hub.quality import load_checks
    from aeries_hub.staging import staging_base

    snapshot = incremental.ExtractSnapshot(staging_base(), mapping.dag_id, mapping.aeries_conn_id, hook.database_year)
    return incremental.extract_table(
        hook, table, target, snapshot=snapshot, school_codes=list(mapping.school_codes) or None,
        full_every_hours=mapping.incremental.full_every_hours,
        max_changed_percent=mapping.incremental.max_changed_percent,
        force_full=bool(get_current_context()["params"].get("full_extract")),
        columns=incremental.kept_columns(mapping, table, load_checks(SOURCE_CHECKS_FILE)),
    )


def validate_sources(mapping_file: str, extracted: list[dict]) -> dict:
    """Run the Aeries source suites; write ``validated/<table>.parquet`` and rejects; stop on errors.

    Parents are validated before the tables that point at them, and references are checked against the
    parents' accepted rows, so a roster row of a rejected student is rejected too. Then the mapping's
    checked crosswalks are compared with the accepted rows: missing entries are reported with proposals.
    """
    import pyarrow
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.changes import extract_volumes
    from aeries_hub.mapping.crosswalk import checked_columns
    from aeries_hub.quality import load_checks, validate_frame
    from aeries_hub.quality.checks import referenced_columns, select_checks
    from aeries_hub.quality.runner import rejects_csv

    run = RunFolder.current()
    mapping = mapping_for(mapping_file)
    suites = load_checks(SOURCE_CHECKS_FILE)
    names = sorted((item["table"] for item in extracted), key=VALIDATION_ORDER.index)
    # Of the accepted rows, only what comes later is kept in memory (all is in validated/): the columns later
    # checks refer to, and those the checks of crosswalks read.
    referenced = referenced_columns(c for name in names for c in select_checks(suites.get(name, []), names))
    for table, columns in checked_columns(mapping).items():
        referenced.setdefault(table, set()).update(columns)
    accepted: dict = {}
    volumes: dict = {}  # counted as each table is read: the extracted frames are not all kept at once
    summary: dict[str, Any] = {"tables": {}, "errors": []}
    with run.local_dir("quality/sources") as docs_dir:
        for name in names:
            frame = run.read_parquet(f"extract/{name}.parquet")
            volumes.update(extract_volumes({name: frame}))
            checks = select_checks(suites.get(name, []), names)
            outcome = validate_frame(
                frame, checks, name=name, tables={**accepted, name: frame}, docs_dir=docs_dir, id_columns=TABLES[name].key,
                data_docs=False,
            )
            frame = None  # its rows are in outcome.accepted and outcome.rejected: one copy less while sorting
            accepted[name] = outcome.accepted = sort_by_key(outcome.accepted, TABLES[name].key)
            run.write_parquet(f"validated/{name}.parquet", accepted[name])
            if len(outcome.rejected):
                run.write_bytes(f"rejects/source_{name}.csv", rejects_csv(outcome.rejected))
            summary["tables"][name] = {
                "rows": outcome.row_count,
                "accepted": len(outcome.accepted),
                "rejected": len(outcome.rejected),
                "rejected_ids": _ids(outcome.rejected, TABLES[name].key),
                "checks": outcome.to_dict(),
            }
            if outcome.has_errors:
                summary["errors"].append(outcome.error_message())
            accepted[name] = accepted[name][[c for c in accepted[name].columns if c in referenced.get(name, ())]]
            outcome = None
            pyarrow.default_memory_pool().release_unused()  # give the table's buffers back before the next
    summary["volumes"] = _volume_check(mapping, volumes)
    if summary["volumes"]["drops"] and not summary["volumes"]["allowed"]:
        summary["errors"].append(summary["volumes"]["message"])
    summary["left_out_schools"] = left_out = left_out_schools(mapping, run)
    if not summary["errors"]:
        summary["crosswalks"] = _crosswalk_coverage(mapping, accepted, left_out)
    _summary(run, "validate_sources", summary)
    if summary["errors"]:
        raise AirflowFailException("Aeries data failed its error checks; nothing was delivered.\n" + "\n".join(summary["errors"]))
    return {name: {k: v for k, v in t.items() if k != "checks"} for name, t in summary["tables"].items()}


def _volume_check(mapping: Mapping, volumes: dict) -> dict:
    """Rows per table and school (``extract_volumes``) compared with the last delivery: a far smaller extract
    is a failed check (unless the run's ``allow_extract_drop`` param says the drop is real)."""
    from airflow.sdk import get_current_context

    from aeries_hub.changes import volume_drops

    params = get_current_context()["params"]
    last = delivered_state(mapping, params).read().manifest or {}
    drops = volume_drops(volumes, last.get("sources", {}), last.get("run_id", ""))
    allowed = bool(params.get("allow_extract_drop"))
    message = ""
    if drops:
        message = (
            "Aeries returned far fewer rows than at the last delivery (a partial answer would make the vendor "
            "drop those records):\n  " + "\n  ".join(drops) + "\nRe-run once Aeries answers in full; if the drop "
            "is real (a school closed or left the integration), trigger the DAG with allow_extract_drop on."
        )
        (log.warning if allowed else log.error)("%s", message)
    return {"tables": volumes, "drops": drops, "allowed": allowed, "message": message}


def left_out_schools(mapping: Mapping, run: RunFolder) -> list[dict]:
    """The pseudo-schools this run leaves out (``engine.left_out_schools``), from the validated schools and
    students; logged, and listed in the report."""
    from aeries_hub.mapping.source_filters import PSEUDO_SCHOOL_COLUMNS, describe_left_out
    from aeries_hub.mapping.source_filters import left_out_schools as pseudo

    frames = {table: run.read_parquet(f"validated/{table}.parquet", columns=columns) if run.exists(f"validated/{table}.parquet") else None
              for table, columns in PSEUDO_SCHOOL_COLUMNS.items()}
    schools = pseudo(mapping, frames["schools"], frames["students"])
    if schools:
        log.info("%s", describe_left_out(schools))
    return schools


def _crosswalk_coverage(mapping: Mapping, accepted: dict, left_out: list[dict]) -> dict:
    from aeries_hub.mapping.crosswalk import coverage_lines, crosswalk_coverage

    coverage = crosswalk_coverage(mapping, accepted, left_out)
    for name, entry in coverage.items():
        for line in coverage_lines(name, entry):
            log.warning("%s", line)
    return coverage


def sort_by_key(frame, key: tuple[str, ...]):
    """Rows in primary-key order, so that "the first matching row" of a lookup is well defined."""
    present = [k for k in key if k in frame.columns]
    return frame.sort_values(present, kind="mergesort").reset_index(drop=True) if present else frame


def build_file(mapping_file: str, file_name: str) -> dict:
    """Map the validated tables to one vendor file, check it, write ``output/<file>`` and its rejects.

    The accepted rows are also kept as ``built/<stem>.parquet`` for the files built after this one: those
    that reference its keys (checked against its accepted rows) or nest its rows (jsonl).
    """
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.mapping.engine import RECORD_SET_COLUMN, build_output, columns_read_by
    from aeries_hub.mapping.render import (
        NestedRows,
        describe_single_line_values,
        render_delimited,
        render_jsonl,
        single_line_values,
    )
    from aeries_hub.mapping.source_filters import apply_source_filters
    from aeries_hub.quality import parse_checks, validate_frame
    from aeries_hub.quality.runner import rejects_csv

    mapping = mapping_for(mapping_file)
    output = mapping.output(file_name)
    run = RunFolder.current()
    read = {name: run.read_parquet(f"validated/{name}.parquet", columns=columns)
            for name, columns in columns_read_by(mapping, output).items()}
    tables = apply_source_filters(mapping, read, run.read_json("summary/validate_sources.json").get("left_out_schools", []))
    del read  # the sources of a roster file take as much memory as the file: handed over to the build
    values = _run_values(mapping)
    try:
        built = build_output(mapping, output, tables, values, release_tables=True)
    except (KeyError, ValueError) as exc:
        _build_failed(run, output, exc)
    held = output.uses_date_conditions and values.conditions_date != values.run_date
    if held:
        log.warning("%s", _dates_held_line(values.run_date, values.conditions_date, [output.file]))
    del tables
    single_line = {}
    if output.format.type == "delimited":  # before the checks: they see the values as they are written
        built.frame, single_line = single_line_values(built.frame, output.delivered_columns, output.key)
        if single_line:
            log.warning("%s", describe_single_line_values(output.file, single_line))
    earlier = {file: run.read_parquet(f"built/{mapping.output(file).stem}.parquet") for file in output.needs}
    known = {**earlier, output.file: built.frame}  # a file may reference its own keys (OneRoster parentSourcedId)
    index = mapping.outputs.index(output)
    checks = parse_checks(output_checks(output), where=f"{mapping.path.name}: outputs[{index}]")
    with run.local_dir(f"quality/{output.stem}") as docs_dir:
        outcome = validate_frame(built.frame, checks, name=output.stem, tables=known, docs_dir=docs_dir,
                                 id_columns=output.key, data_docs=False)
    if len(outcome.rejected):
        run.write_bytes(f"rejects/{output.stem}.csv", rejects_csv(outcome.rejected))
    summary = {
        "file": output.file,
        "rows_built": len(built.frame),
        "rows": len(outcome.accepted),
        "rejected": len(outcome.rejected),
        "rejected_ids": _ids(outcome.rejected, output.key),
        "rows_by_record_set": built.rows_by_record_set,
        "merged_duplicates": built.merged_duplicates,
        "single_line_values": single_line,
        "checks": outcome.to_dict(),
        "dates_as_of": values.conditions_date.isoformat() if held else None,
        "run_date": values.run_date.isoformat() if held else None,
    }
    if outcome.has_errors:
        _summary(run, f"build_{output.stem}", summary)
        why = "\n".join(_failed_checks(mapping, {}, {output.stem: summary})) or outcome.error_message()
        raise AirflowFailException(f"{output.file} failed its error checks; nothing was delivered.\n{why}")
    accepted = outcome.accepted.drop(columns=[RECORD_SET_COLUMN])
    run.write_parquet(f"built/{output.stem}.parquet", accepted)
    try:
        if output.format.type == "jsonl":
            nested = [NestedRows(nest, mapping.output(nest.file), earlier[nest.file]) for nest in output.nest]
            data = render_jsonl(accepted, output, nested)
        else:
            data = render_delimited(accepted, output.delivered_columns, output.format, output.key, output.raw_columns)
    except (KeyError, ValueError) as exc:
        _build_failed(run, output, exc)
    path = run.write_bytes(f"output/{output.file}", data)
    summary.update(path=str(path), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    _summary(run, f"build_{output.stem}", summary)
    return {k: summary[k] for k in ("file", "rows", "rejected", "path", "bytes", "sha256")}


def _run_values(mapping: Mapping):
    """Crosswalks, the run's date (its logical date, or when it was due for a manual run) in the mapping's
    time zone, and the ``{run.NAME}`` values from Aeries: a cleared and re-run run builds the same bytes on any day."""
    from aeries_hub.mapping.crosswalk import read_crosswalks
    from aeries_hub.mapping.values import RunValues

    run = RunFolder.current()
    aeries = aeries_run_values(mapping, run) if mapping.run_values else {}
    day = run_date(mapping)
    return RunValues(crosswalks=read_crosswalks(mapping), run_date=day, aeries=aeries,
                     dates_as_of=dates_as_of(run, day))


def dates_as_of(run: RunFolder, day):
    """The day the date conditions (``before_run_date``, ``after_run_date``) compare with: the run's date, held
    inside the school year Aeries served. A run after that year ended (Aeries still serves it after the July
    rollover, or the connection pins it) sees the year's last day of school, so whoever taught to the end still
    teaches; a run before it began sees its first day. The run's date when no extract says which year was served."""
    years = served_years(run)
    if len(years) != 1:
        return day
    year = years[0]
    first, last = _school_days(run, year)
    return min(max(day, first), last)


def served_years(run: RunFolder) -> list[int]:
    """The school years (DatabaseYear) the run's extracts read, sorted: one, unless Aeries rolled over mid-run."""
    extracts = [run.read_json(f"summary/{name}") for name in run.list("summary") if name.startswith("extract_")]
    return sorted({s["database_year"] for s in extracts if s.get("database_year") is not None})


def _school_days(run: RunFolder, year: int, records: list[dict] | None = None):
    """The first and last day of school of the year Aeries served: the earliest StartDate and the latest EndDate
    of the validated schools' terms; without terms, ``[aeries_hub] school_year_start`` to the day before the next."""
    from datetime import date, timedelta

    if records is None:
        records = []
        if run.exists("validated/schools.parquet"):
            schools = run.read_parquet("validated/schools.parquet", columns={"Terms"})
            records = schools.astype(object).where(schools.notna(), None).to_dict("records")
    terms = [term for school in records for term in (school.get("Terms") if school.get("Terms") is not None else [])
             if isinstance(term, dict)]
    starts = sorted(str(t["StartDate"])[:10] for t in terms if t.get("StartDate"))
    ends = sorted(str(t["EndDate"])[:10] for t in terms if t.get("EndDate"))
    month, day = _school_year_start_day()
    first = date.fromisoformat(starts[0]) if starts else date(year, month, day)
    last = date.fromisoformat(ends[-1]) if ends else date(year + 1, month, day) - timedelta(days=1)
    return first, last


def aeries_run_values(mapping: Mapping, run: RunFolder) -> dict[str, str]:
    """The ``{run.NAME}`` values the mapping uses (loader.RUN_VALUES), from what Aeries served this run: the
    school year of the extracts, and from the validated schools the district's name (school 0's Name) and the
    first and last day of its terms (without terms: ``[aeries_hub] school_year_start`` to the day before the next).

    :raises AirflowFailException: Aeries did not give a value the mapping needs, naming it and what to do.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.aeries.school_year import school_year_label
    from aeries_hub.aeries.tables import DISTRICT_OFFICE
    from aeries_hub.mapping.models import RUN_VALUES_FROM_SCHOOLS

    def failed(reason: str):
        return AirflowFailException(f"{mapping.path.name}: {reason}; nothing was built")

    years = served_years(run)
    if len(years) != 1:
        raise failed("the school year Aeries served is unknown (no extract says it)" if not years else
                     "the extracts read different school years (" + ", ".join(map(school_year_label, years))
                     + "), Aeries rolled over during the run; run it again")
    year = years[0]
    values = {"school_year": school_year_label(year), "school_year_start_year": str(year),
              "school_year_end_year": str(year + 1)}
    if mapping.run_values & RUN_VALUES_FROM_SCHOOLS:
        schools = run.read_parquet("validated/schools.parquet", columns={"SchoolCode", "Name", "Terms"})
        records = schools.astype(object).where(schools.notna(), None).to_dict("records")  # a few hundred schools
        office = next((s for s in records if str(s.get("SchoolCode")).strip() == str(DISTRICT_OFFICE)), None)
        name = str((office or {}).get("Name") or "").strip()
        if "district_name" in mapping.run_values:
            if not name:
                raise failed("{run.district_name} is the Name of Aeries school 0 (the district office), but Aeries "
                             + ("gave school 0 no Name" if office else "listed no school 0")
                             + "; give school 0 the district's name in Aeries")
            values["district_name"] = name
        first, last = _school_days(run, year, records)
        values["school_year_first_day"], values["school_year_last_day"] = first.isoformat(), last.isoformat()
    return {name: values[name] for name in mapping.run_values}


def run_date(mapping):
    """The run's date in the time zone of the mapping's (or write-back's) schedule: its logical date, or when it
    was due for a manual run."""
    from zoneinfo import ZoneInfo

    from airflow.sdk import get_current_context

    dag_run = get_current_context()["dag_run"]
    moment = dag_run.logical_date or dag_run.run_after
    return moment.astimezone(ZoneInfo(mapping.schedule.timezone if mapping.schedule else "UTC")).date()


def school_year_of(day) -> int:
    """Aeries' DatabaseYear for a date: the year its school year starts, which begins on
    ``[aeries_hub] school_year_start`` (MM-DD, default 07-01)."""
    month, first = _school_year_start_day()
    return day.year if (day.month, day.day) >= (month, first) else day.year - 1


def _school_year_start_day() -> tuple[int, int]:
    """``[aeries_hub] school_year_start`` as (month, day)."""
    from airflow.sdk import conf

    start = conf.get("aeries_hub", "school_year_start", fallback="07-01")
    try:
        month, first = (int(part) for part in start.split("-"))
    except ValueError:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"[aeries_hub] school_year_start is {start!r}; give the first day of the school year as MM-DD, e.g. 07-01"
        ) from None
    return month, first


def _build_failed(run: RunFolder, output, exc: Exception):
    """A file that cannot be built (a column the mapping names is missing, a value its encoding cannot hold):
    the reason goes to the report, and the run stops before delivery."""
    from airflow.sdk.exceptions import AirflowFailException

    reason = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    _summary(run, f"build_{output.stem}", {"file": output.file, "error": reason, "checks": {}, "rejected": 0})
    raise AirflowFailException(f"{output.file} could not be built; nothing was delivered: {reason}") from exc


def output_checks(output) -> list[dict]:
    """The checks an output file's column rules imply, followed by the mapping's own checks."""
    checks: list[dict] = [
        {
            "expectation": "expect_table_row_count_to_be_between",
            "min_value": output.min_rows,
            "severity": "error",
            "description": f"{output.file} has at least {output.min_rows} rows",
        }
    ]
    key = list(output.key)
    checks.append(
        {
            "expectation": "expect_compound_columns_to_be_unique" if len(key) > 1 else "expect_column_values_to_be_unique",
            **({"column_list": key} if len(key) > 1 else {"column": key[0]}),
            "severity": "error",
            "description": f"{' + '.join(key)} is unique in {output.file}",
        }
    )
    for column in output.columns:
        if column.do_not_map:
            continue
        name, severity = column.name, column.severity
        if column.required:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": r"\S",
                    "severity": severity,
                    "description": f"{name} is required",
                }
            )
        if column.max_length:
            checks.append(
                {
                    "expectation": "expect_column_value_lengths_to_be_between",
                    "column": name,
                    "max_value": column.max_length,
                    "severity": severity,
                    "description": f"{name} is at most {column.max_length} characters",
                }
            )
        if column.allowed:
            checks.append(
                {
                    "expectation": "expect_column_values_to_be_in_set",
                    "column": name,
                    "value_set": list(column.allowed),
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} is one of {', '.join(column.allowed)}",
                }
            )
        if column.pattern:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": column.pattern,
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} matches {column.pattern}",
                }
            )
    for ref in output.references:
        checks.append(
            {
                "expectation": "expect_column_values_to_be_in_set",
                "column": ref.column,
                "value_set_from": {"table": ref.file, "column": ref.key},
                **({"split": ref.separator} if ref.separator else {}),
                "ignore_blank": True,
                "severity": ref.severity,
                "description": f"every {ref.column} of {output.file} is a {ref.key} in {ref.file}",
            }
        )
    if output.format.type == "delimited" and output.format.quoting == "none":
        separator = output.format.delimiter
        for column in output.delivered_columns:
            checks.append(
                {
                    "expectation": "expect_column_values_to_not_match_regex",
                    "column": column,
                    # A CSV reader takes a '"' that starts a field for an opening quote and reads on to the next one.
                    "regex": f'^"|[{re.escape(separator)}\r\n]',
                    "severity": "reject",
                    "description": f"{column} contains the delimiter {separator!r} or a line break, or starts with a "
                                   f"quote (\"), which {output.file} cannot quote",
                }
            )
    from aeries_hub.quality import encoding_checks

    checks += encoding_checks(output.delivered_columns, output.format.encoding, output.file)
    return checks + list(output.checks)


def _ids(frame, key: tuple[str, ...]) -> list[str]:
    if not len(frame):
        return []
    columns = [k for k in key if k in frame.columns]
    return ["/".join(str(v) for v in row) for row in frame[columns].head(1000).itertuples(index=False, name=None)]


def package(mapping_file: str, built: list[dict]) -> list[dict]:
    """Put every built file into one zip (``delivery.package.zip``), with fixed timestamps so that a re-run
    of the same data gives the same bytes."""
    import io
    import zipfile

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in built:
            with run.path("output", item["file"]).open("rb") as handle:
                data = handle.read()
            info = zipfile.ZipInfo(item["file"], date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    run.write_bytes(f"output/{mapping.package_zip}", data)
    rows = sum(item["rows"] for item in built)
    log.info("Packaged %d files (%d rows) into %s, %d bytes", len(built), rows, mapping.package_zip, len(data))
    return [{"file": mapping.package_zip, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}]


def delivered_state(mapping: Mapping, params: dict):
    """The last delivered snapshot of this DAG at the run's target (the http target, or the SFTP server)."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    target = _http_target(mapping, params).name if mapping.http else "sftp"
    return DeliveredState(staging_base(), mapping.dag_id, target)


def track_changes(mapping_file: str) -> dict:
    """Compare every built file with the last delivered one by its key: added, changed and removed rows,
    and whether the run exceeds the mapping's mass-change guard (the approve_changes task acts on that).

    A DAG that delivered before but has no readable record of it (staging lost, moved or cut off) is not
    a first delivery: it needs approval, with the reason."""
    from airflow.sdk import get_current_context

    from aeries_hub.changes import ParquetColumns, compare

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    context = get_current_context()
    state = delivered_state(mapping, context["params"])
    last_delivery = state.read()
    last = last_delivery.manifest
    exceeded = [] if last else _state_loss(mapping, state, last_delivery, context)
    files = {}
    for output in mapping.outputs:
        before = last_delivery.snapshot_columns(output.stem)
        changes = compare(before, ParquetColumns(run.path("built", f"{output.stem}.parquet")), output.key, output.delivered_columns)
        files[output.file] = counts = changes.to_dict()
        if last:
            exceeded += [f"{output.file}: {reason}" for reason in mapping.guard.exceeded(changes.rows_before, counts["removed"], counts["changed"])]
        # No list of ids when the file was never delivered: every row is added (the report has the count).
        if before is not None and (counts["added"] or counts["changed"] or counts["removed"]):
            run.write_bytes(f"changes/{output.stem}.csv", changes.to_csv())
        log.info(
            "%s: %d rows before, %d now: %d added, %d changed, %d removed",
            output.file, changes.rows_before, changes.rows_after, counts["added"], counts["changed"], counts["removed"],
        )
    summary = {
        "target": state.root.name,
        "last_delivery": {"run_id": last["run_id"], "delivered_at": last["delivered_at"]} if last else None,
        "files": files,
        "exceeded": exceeded,
        "guard": dataclasses.asdict(mapping.guard),
        "state_problems": [
            f"{problem}; this run was compared with the previous generation ({last_delivery.folder}, run "
            f"{last['run_id']}), and its delivery writes a new record" for problem in last_delivery.problems
        ] if last else [],
    }
    if not last and not exceeded:
        log.info("No earlier delivery to %s: every row is new, and the mass-change guard does not apply", state.root.name)
    for problem in summary["state_problems"]:
        log.warning("Last delivery record: %s", problem)
    for reason in exceeded:
        log.warning("Mass-change guard: %s", reason)
    return _summary(run, "track_changes", summary)


def _state_loss(mapping: Mapping, state, last_delivery, context) -> list[str]:
    """The approval reason when there is no readable record of the last delivery though there was one: the
    record is unreadable, the metadata database holds an earlier delivery to this target, or the target's SFTP
    folder already holds the files this DAG delivers (a new metadata database, or files delivered by hand)."""
    what_to_do = ("Restore the folder from a backup and clear this run, or approve: every row then counts as "
                  "added, removals are not counted, and this delivery becomes the new record")
    if last_delivery.unreadable:
        problem = last_delivery.problems[0]
        return [f"no readable record of the last delivery to {state.root.name}: {problem}. {what_to_do}"]
    try:
        earlier = _earlier_delivery(mapping, context)
    except Exception as exc:  # noqa: BLE001 - not knowing is treated as having delivered
        return [f"no record of the last delivery in {state.root}, and Airflow could not tell whether {mapping.dag_id} "
                f"delivered to {state.root.name} before ({type(exc).__name__}: {exc}). {what_to_do}"]
    if earlier is not None:
        return [f"no record of the last delivery in {state.root}, though {mapping.dag_id} delivered to "
                f"{state.root.name} before (run {earlier['run_id']} at {earlier['at']}). {what_to_do}"]
    where, shown = _files_at_target(mapping)
    if not shown:
        return []
    return [f"no record of the last delivery in {state.root}, though {where} already holds {', '.join(shown)}: "
            f"a delivery this hub has no record of. {what_to_do}"]


def _files_at_target(mapping: Mapping) -> tuple[str, list[str]]:
    """Where the SFTP target is, and which of the files this DAG delivers its folder already holds ("path (size
    bytes, modified at)"), for the state-loss check. An http target cannot be listed; a server that cannot be
    reached gives no signal (deliver then fails with the connection error)."""
    from datetime import datetime, timezone

    from aeries_hub.delivery.sftp import DeliveryError, open_sftp

    if mapping.http:
        return "", []
    names = [mapping.package_zip] if mapping.package_zip else [output.file for output in mapping.outputs]
    shown = []
    try:
        with open_sftp(mapping.sftp_conn_id, connect_attempts=1) as (sftp, where):
            for name in names:
                remote = f"{mapping.sftp_remote_dir.rstrip('/')}/{name}"
                try:
                    attrs = sftp.stat(remote)
                except OSError:  # missing, or not ours to read: no sign of an earlier delivery
                    continue
                at = datetime.fromtimestamp(attrs.st_mtime or 0, timezone.utc).isoformat(timespec="seconds")
                shown.append(f"{remote} ({attrs.st_size} bytes, modified {at})")
    except DeliveryError as exc:
        log.warning("Could not look for earlier deliveries in the target folder: %s", exc)
        return "", []
    return where, shown


def _earlier_delivery(mapping: Mapping, context) -> dict | None:
    """The newest delivery to this run's target that Airflow recorded: an event of a delivered asset (the
    track_changes task's inlets) from a delivery to the same server and folder, not a test_record run."""
    fingerprint = delivery_fingerprint(mapping, context["params"])
    newest = None
    for asset in context["inlet_events"]:
        for event in context["inlet_events"][asset].ascending(False):
            extra = event.extra or {}
            delivered = extra.get("delivered") or {}
            if delivered.get("test_record") or extra.get("target_fingerprint", fingerprint) != fingerprint:
                continue
            if newest is None or event.timestamp > newest.timestamp:
                newest = event
            break  # the newest of this asset
    if newest is None:
        return None
    return {"run_id": newest.source_run_id or (newest.extra or {}).get("run_id"),
            "at": newest.timestamp.isoformat(timespec="seconds")}


def delivery_fingerprint(mapping: Mapping, params: dict) -> str:
    """Which server and folder (or endpoint) a run delivers to, as a short sha256 of the connection's type,
    host, port and SFTP host key, and the folder: kept with each delivery's asset event, without credentials."""
    from airflow.sdk import Connection

    if mapping.http:
        target = _http_target(mapping, params)
        conn_id, where = target.conn_id, f"{target.name}{mapping.http.endpoint}"
    else:
        conn_id, where = mapping.sftp_conn_id, mapping.sftp_remote_dir
    conn = Connection.get(conn_id)
    host_key = conn.extra_dejson.get("host_key", "")
    return hashlib.sha256(f"{conn.conn_type}|{conn.host}|{conn.port}|{host_key}|{where}".encode()).hexdigest()[:16]


def check_target(mapping_file: str) -> dict:
    """Gate of an http delivery whose target takes one scheduled import only (a vendor sandbox): once that
    import happened, later scheduled runs skip with the reason; manual runs always go on."""
    from airflow.sdk import Variable, get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    context = get_current_context()
    target = _http_target(mapping, context["params"])
    run = RunFolder.current()
    done = None
    if _scheduled_once(target, context):
        done = Variable.get(sandbox_latch(mapping, target.name), default=None)
    if done:
        reason = (
            f"Scheduled imports to the {target.name} target run once and already ran ({done}); "
            f"trigger the DAG by hand, point delivery.http.target elsewhere, or delete the Airflow Variable "
            f"{sandbox_latch(mapping, target.name)} to schedule it again"
        )
        _summary(run, "check_target", {"target": target.name, "skipped": True, "reason": reason})
        raise AirflowSkipException(reason)
    return _summary(run, "check_target", {"target": target.name, "skipped": False})


def sandbox_latch(mapping: Mapping, target: str) -> str:
    """The Airflow Variable recording the one scheduled import of a ``scheduled_imports: once`` target."""
    return f"aeries_hub.{mapping.dag_id}.{target}.scheduled_import"


def _scheduled_once(target, context) -> bool:
    """A run that is not manual, to a target that takes one scheduled import only."""
    return target.scheduled_imports == "once" and context["dag_run"].run_type != "manual"


def _http_target(mapping: Mapping, params: dict):
    name = params.get("target") or mapping.http.target
    try:
        return mapping.http.targets[name]
    except KeyError:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"target {name!r} is not one of delivery.http.targets ({', '.join(mapping.http.targets)})") from None


def deliver(mapping_file: str, built: list[dict]) -> dict:
    """Send every built file to the vendor; a dry run (the ``dry_run`` param) stops before sending."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    context = get_current_context()
    if context["params"].get("dry_run"):
        _summary(run, "deliver", {"dry_run": True, "files": []})
        raise AirflowSkipException("dry_run is on: files were built and checked but not delivered")
    started = time.monotonic()
    state = delivered_state(mapping, context["params"])
    _check_still_compared(run, state, context["run_id"])
    try:
        if mapping.http:
            receipts = _deliver_http(mapping, run, built, context, state.read().current or {})
        else:
            receipts = _deliver_sftp(mapping, run, built)
    except DeliveryError as exc:
        if exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{exc} (not retried: another attempt would fail the same way)") from exc
    summary = _summary(run, "deliver", {"dry_run": False, "files": receipts, "seconds": round(time.monotonic() - started, 3)})
    if not context["params"].get("test_record"):
        _remember_delivery(mapping, run, state, receipts, context["run_id"])
    _emit_asset_events(mapping, run, receipts, context)
    return summary


def _check_still_compared(run: RunFolder, state, run_id: str) -> None:
    """Another run of the DAG (a backfill, a manual run) may have delivered to the target after this run's
    ``track_changes`` compared its files with the last delivery: then the comparison, the mass-change guard and
    its approval were about other data than the vendor now has, and delivering would undo that run's files."""
    from airflow.sdk.exceptions import AirflowFailException

    compared = run.read_json("summary/track_changes.json").get("last_delivery")
    last = state.read().manifest  # what track_changes compared with: the previous generation if the current is cut off
    current = {"run_id": last["run_id"], "delivered_at": last["delivered_at"]} if last else None
    if current == compared or (current and current["run_id"] == run_id):  # the same, or this run's own earlier try
        return
    then = f"run {compared['run_id']} of {compared['delivered_at']}" if compared else "there was none yet"
    now = f"run {current['run_id']} delivered at {current['delivered_at']}" if current else "no delivery is recorded"
    reason = (
        f"Not delivered: another run delivered to the {state.root.name} target since this run compared its files with "
        f"the last delivery ({then}); now {now} ({state.root}). Clear this run to compare again with what the "
        f"vendor has now."
    )
    _summary(run, "deliver", {"dry_run": False, "files": [], "error": reason})
    raise AirflowFailException(reason)


def delivered_asset(mapping: Mapping, file: str):
    """The Asset a delivered file updates; each delivery adds an event whose extra is the run's report."""
    from airflow.sdk import Asset

    return Asset(name=f"{mapping.dag_id}/{file}", uri=f"aeries-hub://{mapping.dag_id}/{file}", group="vendor-delivery")


def _emit_asset_events(mapping: Mapping, run: RunFolder, receipts: list[dict], context) -> None:
    stages = {name[: -len(".json")]: run.read_json(f"summary/{name}") for name in run.list("summary")}
    report = summarize_run(mapping, stages)
    summary = {k: report[k] for k in ("integration", "status", "extracted", "checks", "rejected", "rejected_by_vendor", "changes")}
    fingerprint = delivery_fingerprint(mapping, context["params"])
    for receipt in receipts:
        context["outlet_events"][delivered_asset(mapping, receipt["file"])].extra = {
            **summary,
            "run_id": context["run_id"],
            "target_fingerprint": fingerprint,
            "delivered": {k: v for k, v in receipt.items() if k not in ("rejected", "results")},
        }


def _remember_delivery(mapping: Mapping, run: RunFolder, state, receipts: list[dict], run_id: str) -> None:
    """After a complete delivery, its files become the snapshot the next run is compared with."""
    from datetime import datetime, timezone

    sources = run.read_json("summary/validate_sources.json").get("volumes", {}).get("tables", {})
    built = {}
    for output in mapping.outputs:
        with run.path("built", f"{output.stem}.parquet").open("rb") as handle:
            built[output.stem] = handle.read()
    state.save(
        built,
        {
            "run_id": run_id,
            "delivered_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "files": {r["file"]: {"sha256": r["sha256"], "rows": r["rows"]} for r in receipts},
            "sources": sources,
        },
    )
    log.info("Snapshot of this delivery kept in %s for the next run's change tracking", state.root)


def _deliver_sftp(mapping: Mapping, run: RunFolder, built: list[dict]) -> list[dict]:
    from aeries_hub.delivery.sftp import deliver_file

    receipts = []
    for item in built:
        remote = f"{mapping.sftp_remote_dir.rstrip('/')}/{item['file']}"
        receipt = deliver_file(mapping.sftp_conn_id, run.path("output", item["file"]), remote)
        receipts.append({**receipt.to_dict(), "file": item["file"], "rows": item["rows"]})
        if receipts[-1].get("already_there"):
            log.info("%s is already on the server with the same sha256 %s: not sent again", remote, receipt.sha256)
        else:
            log.info("Delivered %s (%d rows, %d bytes, sha256 %s)", remote, item["rows"], receipt.bytes, receipt.sha256)
    return receipts


def _deliver_http(mapping: Mapping, run: RunFolder, built: list[dict], context, last: dict) -> list[dict]:
    from datetime import datetime, timezone

    from airflow.sdk import Variable

    from aeries_hub.delivery.http import deliver_records
    from aeries_hub.staging import safe_segment

    target = _http_target(mapping, context["params"])
    test_record = str(context["params"].get("test_record") or "").strip()
    receipts = []
    for item in built:
        output = mapping.output(item["file"])
        path = run.path("output", item["file"])
        if not test_record and last.get("files", {}).get(item["file"], {}).get("sha256") == item["sha256"]:
            receipts.append(_unchanged_http_receipt(mapping, target, item, last))
            log.info(
                "%s is unchanged since the %s target received it in run %s (sha256 %s): not sent again",
                item["file"], target.name, last["run_id"], item["sha256"],
            )
            continue
        if test_record:
            path = run.write_bytes(f"output/test_record/{item['file']}", _one_record(path, output, test_record))
        receipt = deliver_records(
            target.conn_id,
            mapping.http.endpoint,
            path,
            batch_size=mapping.http.batch_size,
            idempotency_prefix=safe_segment(f"{mapping.dag_id}-{context['run_id']}-{output.stem}"),
            id_field=output.key[0],
        )
        document = receipt.to_dict()
        rows = 1 if test_record else item["rows"]
        if document["rejected"]:
            import pandas as pd

            from aeries_hub.quality.runner import rejects_csv

            rejected = pd.DataFrame([{"id": r["id"], "_reject_reason": "; ".join(r["errors"])} for r in document["rejected"]])
            run.write_bytes(f"rejects/delivery_{output.stem}.csv", rejects_csv(rejected))
        receipts.append({**document, "file": item["file"], "rows": rows, "target": target.name, "test_record": test_record or None})
        log.info(
            "Posted %s to %s (%s target): %d records in %d batches, %d imported, %d rejected by the vendor",
            item["file"], document["url"], target.name, document["records_sent"], document["batches"],
            document["imported"], len(document["rejected"]),
        )
    if _scheduled_once(target, context) and not test_record:
        stamp = f"run {context['run_id']} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        Variable.set(sandbox_latch(mapping, target.name), stamp)
        log.info("Scheduled imports to the %s target are now off (%s)", target.name, sandbox_latch(mapping, target.name))
    return receipts


def _unchanged_http_receipt(mapping: Mapping, target, item: dict, last: dict) -> dict:
    return {
        "file": item["file"],
        "conn_id": target.conn_id,
        "url": mapping.http.endpoint,
        "target": target.name,
        "rows": item["rows"],
        "bytes": item["bytes"],
        "sha256": item["sha256"],
        "already_there": True,
        "records_sent": 0,
        "batches": 0,
        "imported": 0,
        "rejected": [],
        "test_record": None,
        "previous_run_id": last["run_id"],
    }


def _one_record(path, output, record_id: str) -> bytes:
    """The line of a jsonl file whose key (``output.key[0]``, a dotted path) is ``record_id``; logged in full."""
    import json

    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.delivery.http import record_field

    with path.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            if str(record_field(record, output.key[0]) or "").strip() == record_id:
                log.info("test_record %s: sending only this record:\n%s", record_id, json.dumps(record, indent=2, ensure_ascii=False))
                return line
    raise AirflowFailException(
        f"test_record {record_id}: no record of {output.file} has {output.key[0]} {record_id}; the mapping may "
        f"filter it out or a check rejected it (see rejects/{output.stem}.csv)"
    )


def report(mapping_file: str) -> dict:
    """Gather every stage's summary into ``report.json``, log it, and fail when the run ended in Error.

    The report holds counts, check outcomes and record ids, never other student data, so it is kept when
    the retention DAG deletes the run's staged files.
    """
    from datetime import datetime, timezone

    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.resources import read_resources

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    stages = {name[: -len(".json")]: run.read_json(f"summary/{name}") for name in run.list("summary")}
    document = summarize_run(mapping, stages)
    document["staging"] = str(run.root)
    document["resources"] = read_resources(run)
    document["generated_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.write_json("report.json", document)
    for line in report_lines(document):
        log.info("%s", line)
    if document["status"] == "Error":
        raise AirflowFailException(f"{mapping.name} run ended in Error; see {run.root}/report.json")
    return document


def summarize_run(mapping: Mapping, stages: dict[str, dict]) -> dict:
    from aeries_hub.mapping.crosswalk import coverage_lines

    extracted = {s["table"]: s["rows"] for name, s in stages.items() if name.startswith("extract_")}
    extracts = [s for name, s in stages.items() if name.startswith("extract_")]
    years = sorted({s.get("database_year") for s in extracts} - {None})
    # The school year Aeries served (AeriesHook.check_database_year): why it is not the run's, or why none was.
    year_notes = sorted({s["year_note"] for s in extracts if s.get("year_note")})
    year_error = (stages.get("school_year") or {}).get("error")
    sources = stages.get("validate_sources", {})
    builds = {name[len("build_"):]: s for name, s in stages.items() if name.startswith("build_")}
    delivery = stages.get("deliver")
    delivered = (delivery or {}).get("files", [])
    delivered = [_without_vendor_values(d) for d in delivered]
    outcomes = [t["checks"] for t in sources.get("tables", {}).values()] + [b["checks"] for b in builds.values()]
    checks = {key: sum(o.get(key, 0) for o in outcomes) for key in ("passed", "warned", "failed")}
    crosswalks = sources.get("crosswalks", {})
    unmapped = [line for name, c in crosswalks.items() for line in coverage_lines(name, c)]
    rejected_by_vendor = sum(len(d.get("rejected") or []) for d in delivered)
    rejected = (
        sum(t.get("rejected", 0) for t in sources.get("tables", {}).values())
        + sum(b.get("rejected", 0) for b in builds.values())
        + rejected_by_vendor
    )
    expected_tables = set(mapping.tables)
    expected_files = {o.stem for o in mapping.outputs}
    finished = (
        set(extracted) == expected_tables
        and not sources.get("errors")
        and "validate_sources" in stages
        and all(stem in builds and "sha256" in builds[stem] for stem in expected_files)
        and delivery is not None
    )
    window = stages.get("wait_for_window", {})
    gate = stages.get("check_target", {})
    approval = stages.get("approve_changes", {})
    volumes = sources.get("volumes", {})
    reason = None
    if window.get("in_window") is False and not extracted:
        status, reason = "Skipped", window["reason"]
    elif gate.get("skipped"):
        status, reason = "Skipped", gate["reason"]
    elif approval.get("decision") in ("rejected", "timed out"):
        status, reason = "Error", approval["reason"]
    elif (delivery or {}).get("error"):
        status, reason = "Error", delivery["error"]
    elif not finished or checks["failed"]:
        status = "Error"
    elif rejected:
        status = "Completed with errors"
    else:
        status = "Completed"
    return {
        "integration": mapping.name,
        "status": status,
        "dry_run": bool(delivery and delivery.get("dry_run")),
        "extracted": extracted,
        "database_year": years[0] if len(years) == 1 else years or None,
        "school_year": _school_year_labels(extracts),
        "checks": checks,
        "rejected": rejected,
        "rejected_by_vendor": rejected_by_vendor,
        "files": {
            stem: {k: b.get(k) for k in ("file", "rows", "rejected", "rejected_ids", "merged_duplicates",
                                         "single_line_values", "sha256")}
            | _rejects_of_file(mapping, stem, b, delivered) | {"shared_values": shared_values(b.get("checks") or {}),
                                                               "missing_values": missing_values(b.get("checks") or {})}
            for stem, b in builds.items()
        },
        "sources": {
            name: {k: t.get(k) for k in ("rows", "rejected", "rejected_ids")} | _rejects_of_table(name, t)
            | {"shared_values": shared_values(t.get("checks") or {})}
            for name, t in sources.get("tables", {}).items()
        },
        "crosswalks": crosswalks,
        "left_out_schools": sources.get("left_out_schools", []),
        "attention": year_notes + unmapped + _dates_held_lines(builds) + _single_line_lines(builds)
        + (volumes["drops"] if volumes.get("allowed") else [])
        + (stages.get("track_changes") or {}).get("state_problems", []),
        "changes": stages.get("track_changes"),
        "extraction": _extraction_line(stages),
        "approval": approval or None,
        "delivered": delivered,
        "errors": _failed_checks(mapping, sources, builds)
        + [f"{b['file']}: {b['error']}" for b in builds.values() if b.get("error")]
        + ([volumes["message"]] if volumes.get("drops") and not volumes.get("allowed") else [])
        + ([year_error] if year_error else []),
        **({"reason": reason} if reason else {}),
    }


def _dates_held_lines(builds: dict[str, dict]) -> list[str]:
    """The warning that date conditions compared with a day other than the run's date, naming the files."""
    from datetime import date

    held = [b for b in builds.values() if b.get("dates_as_of")]
    if not held:
        return []
    return [_dates_held_line(date.fromisoformat(held[0]["run_date"]), date.fromisoformat(held[0]["dates_as_of"]),
                             [b["file"] for b in held])]


def _dates_held_line(run_day, as_of, files: list[str]) -> str:
    edge = "last" if as_of < run_day else "first"
    return (f"the run's date {run_day.isoformat()} is outside the school year Aeries served, so the date conditions "
            f"of {', '.join(files)} (who teaches a section, by its staff's start and end dates) compared with "
            f"{as_of.isoformat()}, that year's {edge} day of school")


def _single_line_lines(builds: dict[str, dict]) -> list[str]:
    """One line per delivered file in which values with line breaks were written on one line (a warning)."""
    from aeries_hub.mapping.render import describe_single_line_values

    return [describe_single_line_values(b["file"], b["single_line_values"]) for b in builds.values()
            if b.get("single_line_values")]


def _school_year_labels(extracts: list[dict]) -> str | list[str] | None:
    """The school year Aeries served (``"2026-2027"``), or every year when the extracts read several."""
    labels = sorted({s["school_year"] for s in extracts if s.get("school_year")})
    return labels[0] if len(labels) == 1 else labels or None


def _extraction_line(stages: dict[str, dict]) -> str | None:
    from aeries_hub.extract.incremental import describe_extraction

    return describe_extraction(s for name, s in sorted(stages.items()) if name.startswith("extract_"))


def _failed_checks(mapping: Mapping, sources: dict, builds: dict[str, dict]) -> list[str]:
    """One line per failed error check: what failed, how many rows, and the ids of the sample rows (the
    samples' other values are student data: they stay in the run's staged quality files). A file or table
    left with too few rows because rows were rejected says how many and why (:func:`_too_few_rows`)."""
    from aeries_hub.aeries.tables import TABLES

    checked = [(name, table, TABLES[name].key, f"rejects/source_{name}.csv", table.get("rows"))
               for name, table in sources.get("tables", {}).items()]
    keys = {o.stem: o.key for o in mapping.outputs}
    checked += [(build["file"], build, keys.get(stem, ()), f"rejects/{stem}.csv", build.get("rows_built"))
                for stem, build in builds.items()]
    lines = []
    for name, summary, id_columns, rejects_file, rows in checked:
        checks = summary["checks"]
        for result in checks.get("results", []):
            if result["outcome"] != "failed":
                continue
            columns = f" [{', '.join(result['columns'])}]" if result["columns"] else ""
            what = f"{name}: {result['description'] or result['expectation']}{columns}"
            if result.get("exception"):
                lines.append(f"{what}: could not run: {result['exception']}")
                continue
            if result["expectation"] == "expect_table_row_count_to_be_between" and summary.get("rejected") and rows:
                reasons, more = reject_reasons(checks, id_columns)
                lines.append(_too_few_rows(name, result, rows, summary["rejected"], reasons, more, rejects_file))
                continue
            ids = sorted(_sample_ids(result.get("sample", []), id_columns))
            counted = result.get("unexpected_count") is not None and result.get("element_count") is not None
            line = f"{what}: {result['unexpected_count']} of {result['element_count']} rows fail" if counted else f"{what}: failed"
            lines.append(line + (f", e.g. {', '.join(ids)}" if ids else ""))
    return lines


def _too_few_rows(name: str, result: dict, rows: int, rejected: int, reasons: list[dict], more: int,
                  rejects_file: str) -> str:
    """``patrons.csv: all 887 rows rejected (patrons.csv has at least 1 rows: failed); top reasons: ...``"""
    left = rows - rejected
    if left > 0:
        head = f"{rejected} of {rows} rows rejected, {left} left"
    else:
        head = f"all {rows} rows rejected" if rows > 1 else "its only row rejected"
    check = result["description"] or result["expectation"]
    because = "; ".join(reason_text(r) for r in reasons) + (f"; {_more_reasons(more)}" if more else "")
    return (f"{name}: {head} ({check}: failed); top reasons: {because}; "
            f"every rejected row with its reasons: {rejects_file}")


#: How many reasons for rejected rows the report gives per file (the most frequent first), and how many ids each.
REASONS_SHOWN = 5
IDS_SHOWN = 5


def reject_reasons(checks: dict, id_columns: tuple[str, ...]) -> tuple[list[dict], int]:
    """Why rows of a file or table were rejected, most rows first: ``{reason, count, sample_ids}`` for each reject
    check that removed rows (at most ``REASONS_SHOWN``), and how many further reasons there are.

    ``checks`` is a validation outcome's ``to_dict()``; ``sample_ids`` are the key values of its first rejected
    rows (their other values are student data and stay in the staged summary and ``rejects/*.csv``)."""
    found = [
        {"reason": result.get("reason") or result.get("description") or result["expectation"],
         "count": result["rejected_count"],
         "sample_ids": _sample_ids(result.get("sample", []), id_columns)[:IDS_SHOWN]}
        for result in checks.get("results", [])
        if result.get("severity") == "reject" and result.get("rejected_count")
    ]
    found.sort(key=lambda reason: -reason["count"])  # stable: the checks' own order among equal counts
    return found[:REASONS_SHOWN], max(len(found) - REASONS_SHOWN, 0)


def vendor_reject_reasons(rejected: list[dict]) -> tuple[list[dict], int]:
    """Why the vendor refused records (a delivery receipt's ``rejected``), most records first, as
    :func:`reject_reasons`; values the vendor quotes in its errors are left out (:func:`_vendor_reason`)."""
    ids_by_reason: dict[str, list[str]] = {}
    for record in rejected:
        record_id = "?" if record.get("id") is None else str(record["id"])
        for reason in dict.fromkeys(_vendor_reason(e) for e in record.get("errors") or ["no reason given"]):
            ids_by_reason.setdefault(reason, []).append(record_id)
    found = [{"reason": reason, "count": len(ids), "sample_ids": list(dict.fromkeys(ids))[:IDS_SHOWN]}
             for reason, ids in ids_by_reason.items()]
    found.sort(key=lambda reason: -reason["count"])
    return found[:REASONS_SHOWN], max(len(found) - REASONS_SHOWN, 0)


#: A value inside a vendor's error text: quoted, an e-mail address or a date (e.g. ``students.DOB: '02/10/2010'
#: is not a YYYY-MM-DD date``): a birth date or a name must not reach a report that is kept.
_VENDOR_VALUE = re.compile(
    r"""(?<!\w)'[^']*'(?!\w)|(?<!\w)"[^"]*"(?!\w)|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"""
)


def _vendor_reason(error: str) -> str:
    return _VENDOR_VALUE.sub("<value>", str(error))


def _without_vendor_values(receipt: dict) -> dict:
    """A delivery receipt for the report: the vendor's errors per refused record without the values they quote
    (the verbatim errors are in the staged ``rejects/delivery_<file>.csv``)."""
    if not receipt.get("rejected"):
        return receipt
    rejected = [{**record, "errors": [_vendor_reason(e) for e in record.get("errors") or []]}
                for record in receipt["rejected"]]
    return {**receipt, "rejected": rejected}


def _sample_ids(sample: list[dict], id_columns: tuple[str, ...]) -> list[str]:
    """The key values of a check's sample rows, in order, once each (``994/101`` for a two-column key)."""
    ids = ("/".join(str(row[c]) for c in id_columns) for row in sample
           if id_columns and all(c in row for c in id_columns))
    return list(dict.fromkeys(ids))


def _rejects_of_file(mapping: Mapping, stem: str, build: dict, delivered: list[dict]) -> dict:
    """The report's reasons for a built file's rejected rows, and for the records the vendor refused."""
    keys = {o.stem: o.key for o in mapping.outputs}
    reasons, more = reject_reasons(build.get("checks") or {}, keys.get(stem, ()))
    refused = [r for d in delivered if d.get("file") == build.get("file") for r in d.get("rejected") or []]
    vendor_reasons, vendor_more = vendor_reject_reasons(refused)
    return {
        "reject_reasons": reasons,
        "more_reject_reasons": more,
        "rejected_by_vendor": len(refused),
        "vendor_reject_reasons": vendor_reasons,
        "more_vendor_reject_reasons": vendor_more,
    }


def _rejects_of_table(name: str, table: dict) -> dict:
    from aeries_hub.aeries.tables import TABLES

    reasons, more = reject_reasons(table.get("checks") or {}, TABLES[name].key if name in TABLES else ())
    return {"reject_reasons": reasons, "more_reject_reasons": more}


def reason_text(reason: dict, unit: str = "row") -> str:
    """``field_siteShortName is required (887 rows, e.g. 101, 102, 103)``"""
    ids = reason.get("sample_ids") or []
    counted = f"{reason['count']} {unit}{'' if reason['count'] == 1 else 's'}"
    return f"{reason['reason']} ({counted}" + (f", e.g. {', '.join(ids)})" if ids else ")")


def _more_reasons(more: int) -> str:
    return f"{more} more reason{'s' if more != 1 else ''}"


def reject_reason_lines(document: dict) -> list[str]:
    """One line per reason rows were rejected, per source table and file, and per reason the vendor gave."""
    lines = []
    for name, table in (document.get("sources") or {}).items():
        lines += [f"rejected from Aeries {name}: {reason_text(r)}" for r in table.get("reject_reasons") or []]
        if table.get("more_reject_reasons"):
            lines.append(f"rejected from Aeries {name}: {_more_reasons(table['more_reject_reasons'])}, "
                         f"see rejects/source_{name}.csv")
    for stem, file in (document.get("files") or {}).items():
        lines += [f"rejected from {file['file']}: {reason_text(r)}" for r in file.get("reject_reasons") or []]
        if file.get("more_reject_reasons"):
            lines.append(f"rejected from {file['file']}: {_more_reasons(file['more_reject_reasons'])}, "
                         f"see rejects/{stem}.csv")
        lines += [f"refused by the vendor from {file['file']}: {reason_text(r, 'record')}"
                  for r in file.get("vendor_reject_reasons") or []]
        if file.get("more_vendor_reject_reasons"):
            lines.append(f"refused by the vendor from {file['file']}: "
                         f"{_more_reasons(file['more_vendor_reject_reasons'])}, see rejects/delivery_{stem}.csv")
    return lines


def shared_values(checks: dict) -> list[dict]:
    """The values that a uniqueness warning found shared by several rows (staff sharing Aeries' placeholder e-mail
    ``NoWhere@aeries.com``): ``{warning, values, count, ids}`` each, every row's id (the runner's ``shared``)."""
    return [{"warning": result.get("description") or result["expectation"], **entry}
            for result in checks.get("results", []) for entry in result.get("shared") or []]


def missing_values(checks: dict) -> list[dict]:
    """The values of another file that a warning found no row for (a class of classes.csv that no teacher enrollment
    names): ``{warning, count, ids}`` each, every id (the runner's ``missing``)."""
    return [{"warning": result.get("description") or result["expectation"], "count": len(result["missing"]),
             "ids": result["missing"]}
            for result in checks.get("results", []) if result.get("missing")]


def missing_value_lines(document: dict) -> list[str]:
    """``enrollments.csv: every class has a teacher enrollment ...: 2 without: 300-12, 300-15``"""
    return [f"{file['file']}: {entry['warning']}: {entry['count']} without: {', '.join(entry['ids'])}"
            for file in (document.get("files") or {}).values() for entry in file.get("missing_values") or []]


def shared_value_lines(document: dict) -> list[str]:
    """``Educator.txt: an e-mail ... per school: Email nowhere@aeries.com, SchoolCode 994 is shared by 3 rows: 1, 2``"""
    named = [(f"Aeries {name}", table) for name, table in (document.get("sources") or {}).items()]
    named += [(file["file"], file) for file in (document.get("files") or {}).values()]
    lines = []
    for where, part in named:
        for entry in part.get("shared_values") or []:
            values = ", ".join(f"{column} {value}" for column, value in entry["values"].items())
            lines.append(f"{where}: {entry['warning']}: {values} is shared by {entry['count']} rows: "
                         + ", ".join(entry["ids"]))
    return lines


def report_lines(document: dict) -> list[str]:
    from aeries_hub.mapping.source_filters import describe_left_out

    lines = [f"{document['integration']}: {document['status']}" + (" (dry run)" if document["dry_run"] else "")]
    if document.get("reason"):
        lines.append(document["reason"])
    year, label = document.get("database_year"), document.get("school_year")
    school_year = f" (Aeries DatabaseYear {year}" + (f", school year {label})" if isinstance(label, str) else ")") if year else ""
    lines.append(f"extracted{school_year}: " + ", ".join(f"{t} {n}" for t, n in sorted(document["extracted"].items())))
    if document.get("extraction"):
        lines.append(document["extraction"])
    c = document["checks"]
    lines.append(f"checks: {c['passed']} passed, {c['warned']} warned, {c['failed']} failed; {document['rejected']} rows rejected")
    lines += reject_reason_lines(document)
    lines += shared_value_lines(document)
    lines += missing_value_lines(document)
    lines += document.get("attention", [])
    left_out = describe_left_out(document.get("left_out_schools") or [])
    lines += [left_out] if left_out else []
    for f in document["files"].values():
        if f.get("sha256"):
            lines.append(f"built {f['file']}: {f['rows']} rows, {f['rejected']} rejected")
    changes = document.get("changes")
    if changes:
        since = (f"since run {changes['last_delivery']['run_id']}" if changes["last_delivery"]
                 else "(no readable record of the last delivery)" if changes["exceeded"] else "(first delivery)")
        for file, c in changes["files"].items():
            lines.append(f"changes to {file} {since}: {c['added']} added, {c['changed']} changed, {c['removed']} removed")
        lines += [f"over the mass-change guard: {reason}" for reason in changes["exceeded"]]
    approval = document.get("approval") or {}
    if approval.get("decision") == "approved":
        lines.append(approval["reason"])
    for d in document["delivered"]:
        where = d.get("remote_path") or d.get("url")
        if d.get("already_there"):
            lines.append(f"already at the vendor, not sent again: {where} over {d['conn_id']}, sha256 {d['sha256']}")
            continue
        line = f"delivered {where} over {d['conn_id']}: {d['rows']} rows, {d['bytes']} bytes, sha256 {d['sha256']}"
        if d.get("rejected"):
            line += f"; the vendor rejected {len(d['rejected'])} records"
        lines.append(line)
    lines += [f"error: {error}" for error in document.get("errors", [])]
    if document.get("resources"):
        lines.append("time and peak memory per task: " + ", ".join(
            f"{task_id} {r['seconds']:.1f} s {r['peak_memory_mb']:.0f} MiB" for task_id, r in document["resources"].items()))
    if document.get("staging"):
        lines.append(f"report: {document['staging']}/report.json")
    return lines
