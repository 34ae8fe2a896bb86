"""Cross-checks of a loaded mapping that its JSON Schema cannot express: output keys, formats, references and
nests between files, their build order, crosswalk files, the delivery and the schedule. The tables, aliases and
columns a record set reads are checked in :mod:`aeries_hub.mapping.references`.
"""

from __future__ import annotations

from aeries_hub.config_files import did_you_mean
from aeries_hub.mapping.models import FileFormat, Mapping, Output, Schedule
from aeries_hub.mapping.references import check_crosswalk_columns, check_record_set, table_problem
from aeries_hub.mapping.row_rules import row_rule_problems


def mapping_problems(mapping: Mapping) -> list[str]:
    """Every problem of a mapping its JSON Schema cannot see, as ``<key path>: <what is wrong>``."""
    problems: list[str] = []
    if mapping.schedule:
        problems += _check_schedule(mapping.schedule)
    if mapping.window:
        problems += _check_timezone(mapping.window.timezone, "window.timezone")
    problems += _check_crosswalks(mapping)
    problems += check_crosswalk_columns(mapping)
    problems += _check_delivery(mapping)
    problems += _check_calendar(mapping)
    dated = [o.file for o in mapping.outputs if o.uses_date_conditions]
    if dated and "schools" not in mapping.tables:
        problems.append(f"source.tables: {', '.join(dated)} compare dates with the run's date, which is held inside "
                        "the school year Aeries serves, whose days come from Aeries' schools table; add schools")
    files = [o.file for o in mapping.outputs]
    for i, out in enumerate(mapping.outputs):
        at = f"outputs[{i}]"
        if files.count(out.file) > 1:
            problems.append(f"{at}.file: {out.file!r} is named by more than one output")
        names = [c.name for c in out.columns]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{at}.columns: column {name!r} is listed more than once")
        delivered = set(out.delivered_columns)
        for k, key in enumerate(out.key):
            expression = out.key_expressions.get(key)
            if expression is None and key not in delivered:
                problems.append(f"{at}.key: {_not_delivered(key, out)}")
            for column in expression.columns if expression else ():
                if column not in delivered:
                    problems.append(f"{at}.key[{k}].expr: {column!r} is not a delivered column of {out.file}"
                                    f"{did_you_mean(column, out.delivered_columns)}; "
                                    "a key's expression reads the file's own columns")
        problems += _check_format(out, at)
        problems += _check_links(mapping, out, at)
        problems += row_rule_problems({o.file: o for o in mapping.outputs}, out, at)
        for r, rec in enumerate(out.records):
            problems += check_record_set(mapping, out, rec, f"{at}.records[{r}]", f"{at}.columns")
    return problems + _check_build_order(mapping)


def _check_format(out: Output, at: str) -> list[str]:
    problems = []
    jsonl = out.format.type == "jsonl"
    if jsonl and out.format != FileFormat(type="jsonl", encoding=out.format.encoding):
        problems.append(f"{at}.format: a jsonl file takes only type and encoding (one JSON object per line)")
    for c, column in enumerate(out.columns):
        if column.overwrite and not jsonl:
            problems.append(f"{at}.columns[{c}].overwrite: only for jsonl outputs (a blank cell of a delimited file is already sent)")
        if not column.escape_formulas and jsonl:
            problems.append(
                f"{at}.columns[{c}].escape_formulas: only for delimited outputs (no spreadsheet opens a jsonl file)"
            )
    if out.nest and not jsonl:
        problems.append(f"{at}.nest: only a jsonl output can nest the rows of another file")
    return problems


def _check_links(mapping: Mapping, out: Output, at: str) -> list[str]:
    problems = []
    outputs = {o.file: o for o in mapping.outputs}
    links = [(f"references[{n}]", ref.file, ref.column, ref.key) for n, ref in enumerate(out.references)]
    links += [(f"nest.{nest.name}", nest.file, nest.parent_column, nest.child_column) for nest in out.nest]
    for key, file, own_column, their_column in links:
        other = outputs.get(file)
        if other is None or (other is out and key.startswith("nest")):
            choices = ", ".join(f for f in outputs if f != out.file) or "none"
            problems.append(f"{at}.{key}.file: {file!r} is not another output of this mapping ({choices})")
            continue
        if own_column not in out.delivered_columns:
            problems.append(f"{at}.{key}: {_not_delivered(own_column, out)}")
        if their_column not in other.delivered_columns:
            problems.append(f"{at}.{key}: {_not_delivered(their_column, other)}")
        if key.startswith("nest") and other.format.type != "jsonl":
            problems.append(f"{at}.{key}.file: {file} must be a jsonl output to be nested")
    return problems


def _not_delivered(column: str, out: Output) -> str:
    """Why ``column`` cannot be read from ``out``'s delivered rows, with the columns that can."""
    if column in (c.name for c in out.columns):
        return f"{column!r} is a column of {out.file} marked do_not_map: it is not delivered"
    delivered = out.delivered_columns
    return (f"{column!r} is not a delivered column of {out.file}{did_you_mean(column, delivered)}; its delivered "
            f"columns: {', '.join(delivered)}")


def _check_build_order(mapping: Mapping) -> list[str]:
    """Files that reference or nest each other in a circle could never be built."""
    needs = {o.file: o.needs for o in mapping.outputs}
    state: dict[str, str] = {}

    def visit(file: str, trail: list[str]) -> str | None:
        if state.get(file) == "done" or file not in needs:
            return None
        if state.get(file) == "visiting":
            return " -> ".join(trail[trail.index(file):] + [file])
        state[file] = "visiting"
        for other in needs[file]:
            cycle = visit(other, trail + [file])
            if cycle:
                return cycle
        state[file] = "done"
        return None

    for file in needs:
        cycle = visit(file, [])
        if cycle:
            return [f"outputs: files reference each other in a circle ({cycle}); none of them could be built first"]
    return []


def crosswalk_files_present(mapping: Mapping) -> bool:
    """Whether every crosswalk file the mapping needs (not ``optional``) is there: the one thing a loaded mapping
    checked outside its own file."""
    return all(crosswalk.optional or crosswalk.path.is_file() for crosswalk in mapping.crosswalks.values())


def _check_crosswalks(mapping: Mapping) -> list[str]:
    problems = []
    for name, crosswalk in mapping.crosswalks.items():
        at = f"crosswalks.{name}"
        if not crosswalk.optional and not crosswalk.path.is_file():
            problems.append(f"{at}.file: {crosswalk.path} does not exist; create it (header {crosswalk.aeries},{crosswalk.vendor}) or set optional: true")
        if crosswalk.check:
            problems += table_problem(mapping, crosswalk.check.table, f"{at}.check.table")
            for i, use in enumerate(crosswalk.check.used_by):
                problems += table_problem(mapping, use.table, f"{at}.check.used_by[{i}].table")
    return problems


def _check_delivery(mapping: Mapping) -> list[str]:
    http = mapping.http
    if mapping.http_upload and not mapping.package_zip and len(mapping.delivered_outputs) > 1:
        return ["delivery.http_upload: uploads one file; set delivery.package.zip to send the outputs in one zip"]
    if http is None:
        return []
    problems = []
    if http.target not in http.targets:
        problems.append(f"delivery.http.target: {http.target!r} is not one of delivery.http.targets ({', '.join(http.targets)})")
    for out in mapping.delivered_outputs:
        if out.format.type != "jsonl":
            problems.append(f"delivery.http: {out.file} is not a jsonl output; the http delivery posts JSON records")
    if mapping.package_zip:
        problems.append("delivery.package: the http delivery posts records, it cannot send a zip")
    return problems


def _check_calendar(mapping: Mapping) -> list[str]:
    """The calendar's ranges; an additions-only window needs a delivery that can hold (``delivery.holds``: files)."""
    problems = mapping.calendar.problems()
    if mapping.calendar.additions_only and mapping.http is not None:
        problems.append("calendar.additions_only: the http delivery posts records to the vendor's import API, which "
                        "cannot keep a vendor's rows for held keys; additions-only windows need a file delivery "
                        "(delivery.sftp)")
    return problems


def _check_timezone(name: str, key: str) -> list[str]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [f"{key}: {name!r} is not an IANA time zone (e.g. America/Los_Angeles)"]
    return []


def _check_schedule(schedule: Schedule) -> list[str]:
    from croniter import croniter

    problems = _check_timezone(schedule.timezone, "schedule.timezone")
    for cron in schedule.crons:
        if not croniter.is_valid(cron):
            problems.append(f"schedule.cron: {cron!r} is not a valid cron expression")
    return problems

