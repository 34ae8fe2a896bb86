"""The tests a mapping file holds (its ``tests:`` block): given Aeries rows, the rows each file must hold.

A test runs the run's own stages on its given rows, in this process, with no Aeries server, vendor or Airflow
scheduler: the rows are staged as the run's extracts (typed as an extraction types them, :mod:`aeries_hub.aeries.arrow`),
checked by the Aeries source suites (:func:`aeries_hub.quality.aeries_sources.validate_tables`), the run's date and
``{run.NAME}`` values are settled as validate_sources settles them, and each file named under ``expect`` (with the
files it references or nests) is built by :func:`aeries_hub.mapping.build.build_vendor_file`: the mapping, the
columns' rules and checks, the rendering. Its accepted rows and its rejects are then compared with the expected
ones. Run by ``make test`` (tests/mappings/test_mapping_blocks.py) and ``aeries-hub test FILE``.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator

from aeries_hub.config_files import KeyLines, closest, format_key_path, read_yaml_with_lines
from aeries_hub.mapping.models import RUN_VALUES, Mapping, MappingError, Output

#: The run id of every test's staging folder (one folder per test, under a staging base of the test's own).
RUN_ID = "mapping_test"


@dataclasses.dataclass(frozen=True)
class MappingTestCase:
    """One entry of a mapping's ``tests:``, with where it is in the file."""

    index: int
    spec: dict[str, Any]
    lines: KeyLines
    file_settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # the mapping file's own settings

    @property
    def name(self) -> str:
        return self.spec["name"]

    def located(self, key_path: list, problem: str) -> str:
        at = format_key_path(["tests", self.index, *key_path])
        return self.lines.located(f"{at}: {problem}", at)


def read_tests(path: Path) -> list[MappingTestCase]:
    """The tests of the mapping file at ``path`` (already loaded, so its ``tests:`` passed the schema)."""
    document, lines = read_yaml_with_lines(path, shown=Path(path).name, error=MappingError)
    settings = document.get("settings") or {}
    return [MappingTestCase(index, spec, lines, settings) for index, spec in enumerate(document.get("tests") or ())]


def run_mapping_test(mapping: Mapping, case: MappingTestCase, staging: Path) -> list[str]:
    """The failures of one test (empty: it passed), each naming the file, line, test, file, row and column;
    ``staging`` is a folder of the test's own (its staged extracts, files and rejects are left there)."""
    problems = _spec_problems(mapping, case)
    if problems:
        return problems
    from airflow.sdk.exceptions import AirflowFailException

    try:
        mapping = _with_settings(mapping, case, staging)
    except MappingError as exc:
        return [case.located(["settings"], f"test {case.name!r}: with these settings the mapping does not load: {exc}")]
    with _staging_at(staging):
        run = _run_folder(mapping, staging)
        try:
            _stage_given(mapping, case, run)
            failed = _validate(mapping, case, run)
            if failed:
                return [case.located([], f"test {case.name!r}: the given rows fail the Aeries source checks: {failed}")]
            for output in _build_order(mapping, list(case.spec["expect"])):
                from aeries_hub.mapping.build import build_vendor_file

                build_vendor_file(mapping, output, run)
        except (AirflowFailException, MappingError) as exc:
            return [case.located([], f"test {case.name!r}: the run stops: {exc}")]
        for file, expected in case.spec["expect"].items():
            problems += _compared(mapping.output(file), expected, run, case, ["expect", file])
    return problems


# -- what the test gives ------------------------------------------------------------------------------------
def _spec_problems(mapping: Mapping, case: MappingTestCase) -> list[str]:
    """Names the test uses that the mapping or the Aeries registry does not know, with the closest known one."""
    from aeries_hub.aeries.tables import TABLES

    problems = []

    def unknown(key_path: list, what: str, name: str, known) -> None:
        near = closest(name, known)
        hint = f" (did you mean {near!r}?)" if near else f" ({', '.join(known)})"
        problems.append(case.located(key_path, f"unknown {what} {name!r}{hint}"))

    for name in case.spec.get("settings") or {}:
        if name not in case.file_settings:
            unknown(["settings", name], "setting", name, list(case.file_settings) or ["the file has no settings"])
    for name in case.spec.get("run_values") or {}:
        if name not in RUN_VALUES:
            unknown(["run_values", name], "run value", name, list(RUN_VALUES))
    for table, rows in case.spec["given"].items():
        if table not in mapping.tables:
            problems.append(case.located(["given", table], f"the mapping does not extract {table} "
                                                           f"(source.tables: {', '.join(mapping.tables)})"))
            continue
        known = TABLES[table].column_names
        for n, row in enumerate(rows):
            for column in row:
                if column not in known:
                    unknown(["given", table, n, column], f"column of {table}", column, known)
    files = [output.file for output in mapping.outputs]
    for file, expected in case.spec["expect"].items():
        if file not in files:
            unknown(["expect", file], "file", file, files)
            continue
        columns = mapping.output(file).delivered_columns
        listed = [("rows", n, row) for n, row in enumerate(expected["rows"])]
        listed += [("rejects", n, reject["row"]) for n, reject in enumerate(expected.get("rejects") or ())]
        for kind, n, row in listed:
            for column in row:
                if column not in columns:
                    unknown(["expect", file, kind, n, column], f"column of {file}", column, columns)
    return problems


def _with_settings(mapping: Mapping, case: MappingTestCase, staging: Path) -> Mapping:
    """The mapping with the test's settings in place of the file's: settings are replaced as a file is loaded, so
    this loads a copy of the file with them (``staging/include/mappings/``, beside copies of the crosswalk files it
    reads, which are the mapping's own)."""
    if not case.spec.get("settings"):
        return mapping
    import shutil

    from aeries_hub.config_files import read_yaml, yaml_text
    from aeries_hub.mapping.loader import load_mapping

    document = read_yaml(mapping.path, shown=mapping.path.name, error=MappingError)
    document["settings"] = {**case.file_settings, **case.spec["settings"]}
    include = staging / "include"
    for name, spec in (document.get("crosswalks") or {}).items():
        if mapping.crosswalks[name].path.is_file():
            (include / spec["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(mapping.crosswalks[name].path, include / spec["file"])
    copy = include / "mappings" / mapping.path.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(yaml_text(document), encoding="utf-8")
    return load_mapping(copy)


def _typed(value: Any, kind: Any) -> Any:
    """A given value as Aeries sends it for a column of the registry's ``kind`` (a YAML date is Aeries' text)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if kind == "int64" and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _given_rows(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The given rows with every column of the registry: a string not given is blank, any other null."""
    from aeries_hub.aeries.tables import TABLES

    columns = TABLES[table].columns
    return [{name: _typed(row[name], kind) if name in row else ("" if kind == "string" else None)
             for name, kind in columns} for row in rows]


def _stage_given(mapping: Mapping, case: MappingTestCase, run) -> None:
    from aeries_hub.aeries.arrow import rows_to_arrow
    from aeries_hub.aeries.parquet import write_parquet

    for table in mapping.tables:
        rows = _given_rows(table, case.spec["given"].get(table) or [])
        write_parquet(rows_to_arrow(table, rows), run.path("extract", f"{table}.parquet"))


def _validate(mapping: Mapping, case: MappingTestCase, run) -> str | None:
    """validate_sources on the staged rows, with the test's date and run values; why the run stops, or None."""
    from zoneinfo import ZoneInfo

    from aeries_hub.extract.school_year import aeries_run_values, dates_as_of, school_year_of
    from aeries_hub.quality.aeries_sources import validate_tables
    from aeries_hub.run.summary import SourceValidation, write_summary

    summary = SourceValidation(**validate_tables(mapping, run, list(mapping.tables), {"allow_extract_drop": True}))
    if summary.errors:
        return "\n".join(summary.errors)
    zone = ZoneInfo(mapping.schedule.timezone if mapping.schedule else "UTC")
    day = date.fromisoformat(case.spec["run_date"]) if case.spec.get("run_date") else datetime.now(zone).date()
    years = [school_year_of(day)]
    given = dict(case.spec.get("run_values") or {})
    missing = mapping.run_values - set(given)
    values = {**(aeries_run_values(dataclasses.replace(mapping, run_values=missing), run, years) if missing else {}),
              **{name: given[name] for name in mapping.run_values & set(given)}}
    write_summary(run, "validate_sources", dataclasses.replace(
        summary, run_date=day.isoformat(), dates_as_of=dates_as_of(run, day, years).isoformat(), run_values=values))
    return None


def _build_order(mapping: Mapping, files: list[str]) -> list[Output]:
    """The expected files and those they reference or nest, each after the files it needs."""
    ordered: list[Output] = []

    def add(file: str) -> None:
        output = mapping.output(file)
        if output not in ordered:
            for needed in output.needs:
                add(needed)
            ordered.append(output)

    for file in files:
        add(file)
    return ordered


@contextmanager
def _staging_at(staging: Path) -> Iterator[None]:
    """The hub's staging (``[aeries_hub] staging_url``) in ``staging`` while the test runs: the stages read the
    last delivery's record from there (the extract volume check), and must find none of a real run's."""
    variable = "AIRFLOW__AERIES_HUB__STAGING_URL"
    saved = os.environ.get(variable)
    os.environ[variable] = f"file://{staging}"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved


def _run_folder(mapping: Mapping, staging: Path):
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.staging import RunFolder

    return RunFolder(ObjectStoragePath(f"file://{staging}"), mapping.dag_id, RUN_ID)


# -- what the files hold ------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    """An expected value as the text a file holds: true/false in lower case, null blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _compared(output: Output, expected: dict, run, case: MappingTestCase, at: list) -> list[str]:
    import pandas as pd

    from aeries_hub.quality.runner import REJECT_REASON

    built = run.read_parquet(f"built/{output.stem}.parquet") if run.exists(f"built/{output.stem}.parquet") else None
    got = [] if built is None else built.astype(object).where(built.notna(), "").astype(str).to_dict("records")
    all_columns = expected.get("columns") == "all"
    wanted = [{column: _cell(row.get(column)) for column in output.delivered_columns} if all_columns
              else {column: _cell(value) for column, value in row.items()} for row in expected["rows"]]
    problems = _rows_compared(output, wanted, got, case, [*at, "rows"], "row")
    rejects = []
    if run.exists(f"rejects/{output.stem}.csv"):
        with run.path("rejects", f"{output.stem}.csv").open("rb") as handle:
            rejects = pd.read_csv(handle, dtype=str, keep_default_na=False).to_dict("records")
    wanted_rejects = [{**{c: _cell(v) for c, v in item["row"].items()}, REJECT_REASON: item["reason"]}
                      for item in expected.get("rejects") or ()]
    for reject in rejects:
        reject[REJECT_REASON] = reject.get(REJECT_REASON, "")
    return problems + _rows_compared(output, wanted_rejects, rejects, case, [*at, "rejects"], "rejected row")


def _rows_compared(output: Output, wanted: list[dict], got: list[dict], case: MappingTestCase, at: list,
                   what: str) -> list[str]:
    """Each difference between the expected rows and the file's: by the file's key when every expected row gives
    it, else in the file's order."""
    file = output.file
    key = list(output.key)
    by_key = all(all(column in row for column in key) for row in wanted)
    label = (lambda row: "/".join(row.get(column, "") for column in key)) if by_key else None
    from aeries_hub.quality.runner import REJECT_REASON

    problems = []
    if by_key:
        assert label is not None
        found = {label(row): row for row in got}
        pairs = [(n, row, found.pop(label(row), None)) for n, row in enumerate(wanted)]
        extra = list(found.values())
    else:
        pairs = [(n, row, got[n] if n < len(got) else None) for n, row in enumerate(wanted)]
        extra = got[len(wanted):]
    for n, row, actual in pairs:
        named = f"{what} {label(row)}" if label else f"{what} {n + 1}"
        if actual is None:
            problems.append(case.located([*at, n], f"test {case.name!r}: {file}: {named} is missing "
                                                   f"(the file's {what}s: {_shown(got, key, label)})"))
            continue
        for column, value in row.items():
            if actual.get(column, "") != value:
                shown = "reason" if column == REJECT_REASON else column
                problems.append(case.located([*at, n, shown], f"test {case.name!r}: {file}: {named}: {shown}: "
                                                              f"expected {value!r}, got {actual.get(column, '')!r}"))
    for row in extra:
        shown = label(row) if label else ", ".join(f"{c}={v!r}" for c, v in row.items() if v)
        problems.append(case.located(at, f"test {case.name!r}: {file}: unexpected {what} {shown}"))
    return problems


def _shown(rows: list[dict], key: list[str], label) -> str:
    if not rows:
        return "none"
    names = [label(row) if label else "/".join(row.get(column, "") for column in key) for row in rows[:10]]
    return ", ".join(names) + (", ..." if len(rows) > 10 else "")
