"""Load and validate a vendor mapping file (include/mappings/*.yml).

Validation happens in two passes: the JSON Schema in include/schemas/mapping.schema.json, then the
cross-references a schema cannot express (tables named in ``source.tables``, lookup aliases, output
columns, and every Aeries column a record set reads, against the registry in :mod:`aeries_hub.aeries.tables`).
Every problem is reported as ``<file>: <key path>: <problem>`` so that the import error shown in
the Airflow UI points at the line to fix.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from aeries_hub.aeries.tables import TABLES  # light on purpose: this module is imported at DAG parse time
from aeries_hub.config_files import format_key_path, read_yaml, schema_problems
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.window import PullWindow

MAPPING_SCHEMA = SCHEMAS_DIR / "mapping.schema.json"
CHECKS_SCHEMA = SCHEMAS_DIR / "checks.schema.json"

DEFAULT_STUDENT_STATUS_CODES = {"active": [""], "pre_enrolled": ["P"]}

#: Values of the run that a mapping names as ``{run.NAME}``: they come from Aeries, never from the YAML (see
#: pipeline.aeries_run_values). Usable in literal ``rows``, ``constant``, ``template`` and ``if_blank``.
RUN_VALUES = {
    "district_name": "the district's name: the Name of Aeries school 0, the district office record",
    "school_year": "the school year Aeries served, as Aeries writes it: 2026-2027",
    "school_year_start_year": "the year it starts (Aeries' DatabaseYear): 2026",
    "school_year_end_year": "the year it ends (OneRoster's schoolYear): 2027",
    "school_year_first_day": "its first day (YYYY-MM-DD): the earliest StartDate of the schools' Terms",
    "school_year_last_day": "its last day (YYYY-MM-DD): the latest EndDate of the schools' Terms",
}
#: The run values read from the schools table (the others come from the year Aeries served).
RUN_VALUES_FROM_SCHOOLS = frozenset({"district_name", "school_year_first_day", "school_year_last_day"})

#: Conditions that compare a date column with the run's date (``{column: EndDate, before_run_date: false}``):
#: true keeps the rows whose date is before (after) it, false the others; a blank date is neither before nor
#: after it (an assignment without an end date has not ended). The run's date is held inside the school year
#: Aeries served, whose days come from the schools' terms (pipeline.dates_as_of).
DATE_CONDITIONS = ("before_run_date", "after_run_date")
RUN_VALUE = re.compile(r"\{run\.([^{}:!]*)\}")
#: Where ``{run.NAME}`` may stand: the last key of its path, or literal rows.
_RUN_VALUE_KEYS = ("constant", "template", "if_blank")


class MappingError(ValueError):
    """A mapping file is invalid; the message names the file, the key path and the problem."""


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # in | not_in | blank | before_run_date | after_run_date
    operand: Any


@dataclass(frozen=True)
class Lookup:
    alias: str
    table: str
    on: dict[str, str]
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class Preference:
    column: str
    order: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ValueSpec:
    kind: str  # source | constant | template | first_of | first_in_group
    argument: Any
    match: dict[str, str] | None = None
    default: str | None = None
    transform: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RecordSet:
    name: str
    table: str | None  # None: the record set is the literal ``rows``
    values: dict[str, ValueSpec]
    where: tuple[Condition, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    distinct_on: tuple[str, ...] = ()
    prefer: tuple[Preference, ...] = ()
    collect: dict[str, str] = field(default_factory=dict)  # column -> separator, over the merged rows
    explode: tuple[str, str] | None = None  # (list column, alias of its elements)
    explode_where: tuple[Condition, ...] = ()  # the elements kept (alias.Field conditions)
    rows: tuple[dict[str, str], ...] | None = None


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False
    max_length: int | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    severity: str = "reject"
    do_not_map: bool = False
    overwrite: bool = False
    escape_formulas: bool = True
    description: str | None = None


@dataclass(frozen=True)
class FileFormat:
    type: str = "delimited"  # delimited | jsonl
    delimiter: str = ","
    header: bool = True
    quoting: str = "minimal"
    encoding: str = "utf-8"
    line_ending: str = "lf"


@dataclass(frozen=True)
class Output:
    file: str
    format: FileFormat
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    records: tuple[RecordSet, ...]
    min_rows: int = 1
    checks: tuple[dict, ...] = ()
    references: tuple[Reference, ...] = ()
    nest: tuple[Nest, ...] = ()

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    @property
    def delivered_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.do_not_map]

    @property
    def raw_columns(self) -> list[str]:
        """Delivered columns whose values are written as they are, even when a spreadsheet would read a formula."""
        return [c.name for c in self.columns if not c.do_not_map and not c.escape_formulas]

    @property
    def uses_date_conditions(self) -> bool:
        """Whether building the file compares a date with the run's date (:data:`DATE_CONDITIONS`)."""
        return any(condition.op in DATE_CONDITIONS for r in self.records
                   for condition in (*r.where, *r.explode_where, *(c for k in r.lookups for c in k.where)))

    @property
    def needs(self) -> list[str]:
        """Files of the same mapping that must be built first (referenced or nested in this one)."""
        needed = [r.file for r in self.references] + [n.file for n in self.nest]
        return [file for file in dict.fromkeys(needed) if file != self.file]


@dataclass(frozen=True)
class Reference:
    """Every value of ``column`` (each part, with ``separator``) is a ``key`` of the rows of ``file``."""

    column: str
    file: str
    key: str
    separator: str | None = None
    severity: str = "error"


@dataclass(frozen=True)
class Nest:
    """The rows of ``file`` whose ``child_column`` equals this row's ``parent_column``, as a list named ``name``."""

    name: str
    file: str
    child_column: str
    parent_column: str


@dataclass(frozen=True)
class CrosswalkUse:
    """A column of another Aeries table whose values are looked up in the crosswalk (``check.used_by``), e.g. the
    staff's PrimaryAeriesSchool; ``id`` names its rows in the report."""

    table: str
    column: str
    id: str


@dataclass(frozen=True)
class CrosswalkCheck:
    """Rows of an Aeries table that should all be in the crosswalk; missing ones get a proposal by name.
    Values that ``used_by`` columns hold and that are in neither the crosswalk nor the table are listed with ids."""

    table: str
    column: str
    name: str
    vendor_name: str
    where: tuple[Condition, ...] = ()
    used_by: tuple[CrosswalkUse, ...] = ()


@dataclass(frozen=True)
class Crosswalk:
    """A district-maintained CSV file mapping Aeries values to the vendor's (``{crosswalk: NAME}`` step)."""

    name: str
    path: Path
    aeries: str
    vendor: str
    optional: bool = False
    check: CrosswalkCheck | None = None


@dataclass(frozen=True)
class HttpTarget:
    name: str
    conn_id: str
    scheduled_imports: str = "always"  # always | once


@dataclass(frozen=True)
class HttpDelivery:
    endpoint: str
    targets: dict[str, HttpTarget]
    target: str
    batch_size: int = 100


@dataclass(frozen=True)
class Incremental:
    """``source.incremental``: extract changed records only, with a full extraction every ``full_every_hours``
    and for a table whose changed records exceed ``max_changed_percent`` of it."""

    full_every_hours: float = 168.0
    max_changed_percent: float = 5.0


@dataclass(frozen=True)
class Guard:
    """The mass-change guard: a delivery that changes more than this waits for a person's approval."""

    max_removed_percent: float = 10.0
    max_changed_percent: float = 30.0
    min_rows: int = 10  # fewer added, changed or removed rows than this never need approval
    approval_timeout_hours: float = 24.0

    def exceeded(self, rows_before: int, removed: int, changed: int) -> list[str]:
        """Why a file's change needs approval (empty: it does not)."""
        reasons = []
        for what, count, limit in (("removed", removed, self.max_removed_percent), ("changed", changed, self.max_changed_percent)):
            percent = 100.0 * count / rows_before if rows_before else 0.0
            if count >= self.min_rows and percent > limit:
                reasons.append(f"{count} of {rows_before} rows {what} ({percent:.1f}%, guard.max_{what}_percent is {limit:g})")
        return reasons


@dataclass(frozen=True)
class Schedule:
    crons: tuple[str, ...]
    timezone: str


@dataclass(frozen=True)
class Mapping:
    name: str
    path: Path
    title: str
    description: str
    schedule: Schedule | None
    aeries_conn_id: str
    tables: tuple[str, ...]
    outputs: tuple[Output, ...]
    sftp_conn_id: str | None = None
    sftp_remote_dir: str | None = None
    http: HttpDelivery | None = None
    school_codes: tuple[int, ...] = ()
    include_pseudo_schools: bool = False
    student_statuses: tuple[str, ...] = ("active",)
    student_status_codes: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_STUDENT_STATUS_CODES))
    tags: tuple[str, ...] = ()
    owner: str = "data-engineering"
    window: PullWindow | None = None
    package_zip: str | None = None
    crosswalks: dict[str, Crosswalk] = field(default_factory=dict)
    guard: Guard = field(default_factory=Guard)
    incremental: Incremental | None = None
    run_values: frozenset[str] = frozenset()  # the {run.NAME} values its outputs use

    @property
    def dag_id(self) -> str:
        return f"aeries_to_{self.name}"

    def output(self, file: str) -> Output:
        return next(o for o in self.outputs if o.file == file)

    @property
    def delivered_outputs(self) -> list[Output]:
        """Outputs sent to the vendor: every output except those nested inside another."""
        nested = {n.file for o in self.outputs for n in o.nest}
        return [o for o in self.outputs if o.file not in nested]


def load_mapping(path: str | Path) -> Mapping:
    """Read, validate and return the mapping in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document = read_yaml(path, shown=where, error=MappingError)
    if not isinstance(document, dict):
        raise MappingError(f"{where}: (top): expected a mapping of keys, found {type(document).__name__}")
    _validate_schema(document, where)
    document["outputs"] = _apply_settings(document["outputs"], document.get("settings") or {}, ["outputs"], where)
    used = _check_run_values(document, where)
    mapping = dataclasses.replace(_build(document, path), run_values=used)
    _check_references(mapping, where)
    return mapping


def _validate_schema(document: dict, where: str) -> None:
    problems = schema_problems(document, _validator(), where)
    if problems:
        raise MappingError("\n".join(problems))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    mapping_schema = json.loads(MAPPING_SCHEMA.read_text())
    checks_schema = json.loads(CHECKS_SCHEMA.read_text())
    checks_resource = Resource.from_contents(checks_schema, default_specification=DRAFT202012)
    checks_uri = mapping_schema["$id"].rsplit("/", 1)[0] + "/checks.schema.json"
    registry = Registry().with_resource(checks_uri, checks_resource)
    if checks_schema.get("$id"):
        registry = registry.with_resource(checks_schema["$id"], checks_resource)
    return Draft202012Validator(mapping_schema, registry=registry)


_SETTING = re.compile(r"\{settings\.([a-z][a-z0-9_]*)(\|regex)?\}")


def _apply_settings(node, settings: dict, path: list, where: str):
    """Replace {settings.NAME} everywhere in the outputs, so a value is configured in one place.

    ``{settings.NAME|regex}`` gives the value escaped for a regular expression (a domain's dots match dots).
    """
    if isinstance(node, dict):
        return {k: _apply_settings(v, settings, path + [k], where) for k, v in node.items()}
    if isinstance(node, list):
        return [_apply_settings(v, settings, path + [i], where) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value(match):
            if match.group(1) not in settings:
                known = ", ".join(sorted(settings)) or "none"
                raise MappingError(f"{where}: {format_key_path(path)}: unknown setting {match.group(1)!r} (settings: {known})")
            value = str(settings[match.group(1)])
            return re.escape(value) if match.group(2) else value

        return _SETTING.sub(value, node)
    return node


def _check_run_values(document: dict, where: str) -> frozenset[str]:
    """The ``{run.NAME}`` values the outputs use; MappingError naming each unknown name or misplaced one."""
    used: set[str] = set()
    problems: list[str] = []

    def walk(node, path: list) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + [i])
        elif isinstance(node, str):
            for name in RUN_VALUE.findall(node):
                at = f"{where}: {format_key_path(path)}"
                if name not in RUN_VALUES:
                    problems.append(f"{at}: unknown run value {{run.{name}}} (run values: {', '.join(RUN_VALUES)})")
                elif path[-1] not in _RUN_VALUE_KEYS and "rows" not in path:
                    problems.append(f"{at}: {{run.{name}}} can be used in literal rows, constant, template and "
                                    "if_blank only")
                else:
                    used.add(name)

    walk(document["outputs"], ["outputs"])
    from_schools = sorted(used & RUN_VALUES_FROM_SCHOOLS)
    if from_schools and "schools" not in document["source"]["tables"]:
        names = ", ".join(f"{{run.{name}}}" for name in from_schools)
        problems.append(f"{where}: source.tables: {names} come from Aeries' schools table; add schools to source.tables")
    if problems:
        raise MappingError("\n".join(problems))
    return frozenset(used)


def _conditions(items) -> tuple[Condition, ...]:
    result = []
    for item in items or ():
        op = next(k for k in item if k != "column")
        result.append(Condition(column=item["column"], op=op, operand=item[op]))
    return tuple(result)


def value_spec(spec: dict) -> ValueSpec:
    """A value of a record set (or a write-back's ``aeries_match``), as its YAML gives it."""
    kind = next(k for k in ("source", "constant", "template", "first_of", "first_in_group") if k in spec)
    argument = spec[kind]
    if kind == "constant":
        argument = str(argument)
    if kind == "first_of":  # a column, or a column with its own transform steps (a fallback to reshape)
        argument = tuple(item if isinstance(item, str) else value_spec(item) for item in argument)
    if kind == "first_in_group":
        argument = (tuple(argument["by"]), tuple(argument["order"]))
    return ValueSpec(
        kind=kind,
        argument=argument,
        match={str(k).strip(): v for k, v in spec["match"].items()} if "match" in spec else None,
        default=spec.get("default"),
        transform=tuple(spec.get("transform", ())),
    )


def _record_set(rec: dict) -> RecordSet:
    if "rows" in rec:
        rows = tuple({column: str(value) for column, value in row.items()} for row in rec["rows"])
        return RecordSet(name=rec["name"], table=None, values={}, rows=rows)
    distinct = rec.get("distinct") or {}
    return RecordSet(
        name=rec["name"],
        table=rec["from"],
        values={name: value_spec(spec) for name, spec in rec["values"].items()},
        where=_conditions(rec.get("where")),
        lookups=tuple(
            Lookup(alias=alias, table=lk["table"], on=dict(lk["on"]), where=_conditions(lk.get("where")))
            for alias, lk in (rec.get("lookups") or {}).items()
        ),
        distinct_on=tuple(distinct.get("on", ())),
        prefer=tuple(
            Preference(column=p) if isinstance(p, str) else Preference(p["column"], tuple(p["order"]))
            for p in distinct.get("prefer", ())
        ),
        collect=dict(distinct.get("collect") or {}),
        explode=(rec["explode"]["column"], rec["explode"]["as"]) if "explode" in rec else None,
        explode_where=_conditions(rec["explode"].get("where")) if "explode" in rec else (),
    )


def _output(out: dict, files: dict[str, dict]) -> Output:
    def key_of(file: str) -> str:
        return (files.get(file) or {}).get("key", [""])[0]

    return Output(
        file=out["file"],
        format=FileFormat(**out["format"]),
        key=tuple(out["key"]),
        columns=tuple(Column(**col) for col in out["columns"]),
        records=tuple(_record_set(rec) for rec in out["records"]),
        min_rows=out.get("min_rows", 1),
        checks=tuple(out.get("checks", ())),
        references=tuple(
            Reference(
                column=ref["column"],
                file=ref["file"],
                key=ref.get("key") or key_of(ref["file"]),
                separator=ref.get("separator"),
                severity=ref.get("severity", "error"),
            )
            for ref in out.get("references", ())
        ),
        nest=tuple(
            Nest(name=name, file=spec["file"], child_column=child, parent_column=parent)
            for name, spec in (out.get("nest") or {}).items()
            for child, parent in spec["on"].items()
        ),
    )


def _crosswalks(doc: dict, path: Path) -> dict[str, Crosswalk]:
    include_dir = path.resolve().parent.parent
    result = {}
    for name, spec in (doc.get("crosswalks") or {}).items():
        check = spec.get("check")
        result[name] = Crosswalk(
            name=name,
            path=include_dir / spec["file"],
            aeries=spec["aeries"],
            vendor=spec["vendor"],
            optional=spec.get("optional", False),
            check=CrosswalkCheck(
                table=check["table"],
                column=check["column"],
                name=check["name"],
                vendor_name=check["vendor_name"],
                where=_conditions(check.get("where")),
                used_by=tuple(CrosswalkUse(**use) for use in check.get("used_by") or ()),
            )
            if check
            else None,
        )
    return result


def _http(spec: dict | None) -> HttpDelivery | None:
    if not spec:
        return None
    targets = {
        name: HttpTarget(name=name, conn_id=t["conn_id"], scheduled_imports=t.get("scheduled_imports", "always"))
        for name, t in spec["targets"].items()
    }
    return HttpDelivery(
        endpoint=spec["endpoint"], targets=targets, target=spec["target"], batch_size=spec.get("batch_size", 100)
    )


def _build(doc: dict, path: Path) -> Mapping:
    source = doc["source"]
    schedule = doc["schedule"]
    delivery = doc["delivery"]
    files = {out["file"]: out for out in doc["outputs"]}
    codes = dict(DEFAULT_STUDENT_STATUS_CODES)
    codes.update(source.get("student_status_codes") or {})
    crons = schedule and schedule["cron"]
    sftp = delivery.get("sftp") or {}
    return Mapping(
        name=doc["name"],
        path=path,
        title=doc.get("title", doc["name"]),
        description=doc["description"],
        schedule=Schedule(crons=(crons,) if isinstance(crons, str) else tuple(crons), timezone=schedule["timezone"])
        if schedule
        else None,
        aeries_conn_id=doc["aeries"]["conn_id"],
        tables=tuple(source["tables"]),
        outputs=tuple(_output(out, files) for out in doc["outputs"]),
        sftp_conn_id=sftp.get("conn_id"),
        sftp_remote_dir=sftp.get("remote_dir"),
        http=_http(delivery.get("http")),
        school_codes=tuple(source.get("school_codes", ())),
        include_pseudo_schools=bool(source.get("include_pseudo_schools", False)),
        student_statuses=tuple(source.get("student_statuses", ("active",))),
        student_status_codes=codes,
        tags=tuple(doc.get("tags", ())),
        owner=doc.get("owner", "data-engineering"),
        window=PullWindow.from_config(doc["window"]) if "window" in doc else None,
        package_zip=(delivery.get("package") or {}).get("zip"),
        crosswalks=_crosswalks(doc, path),
        guard=Guard(**doc.get("guard", {})),
        incremental=Incremental(**source["incremental"]) if "incremental" in source else None,
    )


def _check_references(mapping: Mapping, where: str) -> None:
    problems: list[str] = []
    if mapping.schedule:
        problems += _check_schedule(mapping.schedule)
    if mapping.window:
        problems += _check_timezone(mapping.window.timezone, "window.timezone")
    problems += _check_crosswalks(mapping)
    problems += _check_crosswalk_columns(mapping)
    problems += _check_delivery(mapping)
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
        for key in out.key:
            if key not in delivered:
                problems.append(f"{at}.key: {key!r} is not a delivered column of {out.file}")
        problems += _check_format(out, at)
        problems += _check_links(mapping, out, at)
        for r, rec in enumerate(out.records):
            problems += _check_record_set(mapping, out, rec, f"{at}.records[{r}]", f"{at}.columns")
    problems += _check_build_order(mapping)
    if problems:
        raise MappingError("\n".join(f"{where}: {p}" for p in problems))


def _table_problem(mapping: Mapping, table: str, key: str) -> list[str]:
    if table in mapping.tables:
        return []
    return [f"{key}: table {table!r} is not in source.tables ({', '.join(mapping.tables)})"]


def _check_record_set(mapping: Mapping, out: Output, rec: RecordSet, rat: str, columns_key: str) -> list[str]:
    names = [c.name for c in out.columns]
    if rec.rows is not None:
        return [
            f"{rat}.rows[{n}].{column}: not a column of {out.file}; add it to {columns_key}"
            for n, row in enumerate(rec.rows)
            for column in row
            if column not in names
        ]
    assert rec.table is not None  # a record set reads either literal rows or a table
    problems = _table_problem(mapping, rec.table, f"{rat}.from")
    aliases = {rec.explode[1]} if rec.explode else set()
    for lk in rec.lookups:
        aliases.add(lk.alias)
        problems += _table_problem(mapping, lk.table, f"{rat}.lookups.{lk.alias}.table")
    for column in rec.collect:
        if column not in rec.values:
            problems.append(f"{rat}.distinct.collect.{column}: {rec.name} gives no value for {column!r}")
    for column, spec in rec.values.items():
        if column not in names:
            problems.append(f"{rat}.values.{column}: not a column of {out.file}; add it to {columns_key}")
        for ref in _refs(spec):
            alias = ref.split(".", 1)[0] if "." in ref else None
            if alias and alias not in aliases:
                problems.append(f"{rat}.values.{column}: {ref!r} uses lookup {alias!r}, which {rat}.lookups does not define")
        for step in _steps(spec):
            name = crosswalk_step(step)[0]
            if name is not None and name not in mapping.crosswalks:
                known = ", ".join(sorted(mapping.crosswalks)) or "none"
                problems.append(f"{rat}.values.{column}.transform: crosswalk {name!r} is not defined (crosswalks: {known})")
    return problems + _check_columns(rec, rat)


# ----------------------------------------------------------------- Aeries columns a record set reads
# The check follows mapping/engine.py step by step, so that a mapping that loads never stops a build with an
# unknown column: the rows start as the ``from`` table's columns; ``explode`` replaces its list column by the
# element fields ``alias.Field``; each lookup's ``on`` reads those and the earlier lookups' ``alias.Column``
# on the left, and its own table's columns on the right (as does the lookup's ``where``); the record set's
# ``where``, ``distinct`` and ``values`` read every column once all the lookups are joined. Columns are the
# ones the Aeries registry knows (aeries_hub.aeries.tables.TABLES); a table it does not know is not checked here.


@dataclass(frozen=True)
class _Source:
    """Columns read through one name: the record set's table, a lookup alias or the explode alias."""

    columns: tuple[str, ...] | None  # None: a table the registry does not know (reported elsewhere)
    what: str  # "the Aeries table students", "the Aeries table schools (lookup school)", ...
    noun: str = "column"  # "field" for the elements of an exploded list column
    qualifier: str = ""  # "school." for a lookup, "" for the record set's own table


@dataclass
class _Scope:
    """The columns of a record set's rows at one step of the build (see the comment above)."""

    rat: str
    base: _Source
    aliases: dict[str, _Source] = field(default_factory=dict)
    later: tuple[str, ...] = ()  # lookups not joined yet at the step being checked
    exploded: tuple[str, str] | None = None  # (list column, alias)
    aliased: bool = True  # False: a table's own rows (a lookup's right side), where "a.B" is just a name

    def problem(self, ref: str, key: str, *, undefined_alias_reported: bool = False) -> list[str]:
        if "." in ref and self.aliased:
            alias, column = ref.split(".", 1)
            source = self.aliases.get(alias)
            if source is None:
                if alias in self.later:
                    return [f"{key}: {ref!r} uses lookup {alias!r}, which is not joined yet at this point "
                            f"(lookups are joined in the order written)"]
                if undefined_alias_reported:
                    return []
                return [f"{key}: {ref!r} uses lookup {alias!r}, which {self.rat}.lookups does not define"]
        else:
            source, column = self.base, ref
        if source.columns is None or column in source.columns:
            return []
        if source is self.base and self.exploded and column == self.exploded[0]:
            return [f"{key}: {ref!r} is exploded: read its fields as '{self.exploded[1]}.<Field>'"]
        close = _closest(column, source.columns)
        if close is not None:
            hint = f"did you mean '{source.qualifier}{close}'?"
        elif source is self.base and (elsewhere := self._in_an_alias(column)):
            hint = f"did you mean {elsewhere!r}?"
        else:
            hint = f"its {source.noun}s: {', '.join(source.columns) or 'none'}"
        return [f"{key}: {ref!r} is not a {source.noun} of {source.what}; {hint}"]

    def _in_an_alias(self, column: str) -> str | None:
        for alias, source in self.aliases.items():
            if source.columns and column in source.columns:
                return f"{alias}.{column}"
        return None


def _closest(name: str, pool: tuple[str, ...]) -> str | None:
    """The column meant by ``name``: the same but for case (StudentId -> StudentID), else a close spelling."""
    import difflib

    by_case = {c.lower(): c for c in pool}
    if name.lower() in by_case:
        return by_case[name.lower()]
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.8)
    return close[0] if close else None


def _table_source(table: str, what: str = "", qualifier: str = "") -> _Source:
    spec = TABLES.get(table)
    return _Source(
        columns=spec.column_names if spec else None,
        what=f"the Aeries table {table}{what}",
        qualifier=qualifier,
    )


def _check_columns(rec: RecordSet, rat: str) -> list[str]:
    """Every Aeries column ``rec`` reads, checked against the registry as the engine would resolve it."""
    problems: list[str] = []
    assert rec.table is not None  # only record sets that read a table have columns to check
    base = _table_source(rec.table)
    scope = _Scope(rat=rat, base=base)
    if rec.explode:
        list_column, alias = rec.explode
        fields = None
        if base.columns is not None:
            kind = TABLES[rec.table].column_type(list_column)
            if list_column not in base.columns:
                problems += _Scope(rat=rat, base=base, aliased=False).problem(list_column, f"{rat}.explode.column")
            elif not (isinstance(kind, dict) and "list" in kind):
                lists = [c for c in base.columns if isinstance(TABLES[rec.table].column_type(c), dict)]
                problems.append(
                    f"{rat}.explode.column: {list_column!r} is not a list column of {base.what} "
                    f"(its list columns: {', '.join(lists) or 'none'})"
                )
            else:
                fields = tuple(kind["list"])
            # The engine drops the exploded column: its elements are read as alias.Field.
            scope.base = _Source(tuple(c for c in base.columns if c != list_column), base.what)
            scope.exploded = rec.explode
        scope.aliases[alias] = _Source(
            columns=fields,  # None (unchecked) when the table or its list column is unknown: reported above
            what=f"the list column {list_column} of {base.what} (explode {alias})",
            noun="field",
            qualifier=f"{alias}.",
        )
        scope.later = tuple(lk.alias for lk in rec.lookups)
        for i, condition in enumerate(rec.explode_where):
            problems += scope.problem(condition.column, f"{rat}.explode.where[{i}].column")
    for n, lookup in enumerate(rec.lookups):
        at = f"{rat}.lookups.{lookup.alias}"
        scope.later = tuple(lk.alias for lk in rec.lookups[n:])
        theirs = _Scope(rat=rat, base=_table_source(lookup.table, f" (lookup {lookup.alias})"), aliased=False)
        for mine, their in lookup.on.items():
            problems += scope.problem(mine, f"{at}.on.{mine}")
            problems += theirs.problem(their, f"{at}.on.{mine}")
        for i, condition in enumerate(lookup.where):
            problems += theirs.problem(condition.column, f"{at}.where[{i}].column")
        scope.aliases[lookup.alias] = _table_source(lookup.table, f" (lookup {lookup.alias})", f"{lookup.alias}.")
    scope.later = ()
    for i, condition in enumerate(rec.where):
        problems += scope.problem(condition.column, f"{rat}.where[{i}].column")
    for i, ref in enumerate(rec.distinct_on):
        problems += scope.problem(ref, f"{rat}.distinct.on[{i}]")
    for i, preference in enumerate(rec.prefer):
        # A preference without an order was written as a bare column name.
        key = f"{rat}.distinct.prefer[{i}]" + ("" if preference.order is None else ".column")
        problems += scope.problem(preference.column, key)
    for column, spec in rec.values.items():
        for key, ref in _value_reads(spec):
            # An undefined alias in a value is already reported by _check_record_set.
            problems += scope.problem(ref, f"{rat}.values.{column}{key}", undefined_alias_reported=True)
    return problems


def _value_reads(spec: ValueSpec) -> list[tuple[str, str]]:
    """(key path below the value, column) for each column a value reads, as mapping/engine.py evaluates it."""
    if spec.kind == "source":
        reads = [(".source", spec.argument)]
    elif spec.kind == "first_of":
        reads = []
        for i, item in enumerate(spec.argument):
            if isinstance(item, str):
                reads.append((f".first_of[{i}]", item))
            else:
                reads += [(f".first_of[{i}]{key}", ref) for key, ref in _value_reads(item)]
    elif spec.kind == "first_in_group":
        by, order = spec.argument
        reads = [(f".first_in_group.by[{i}]", ref) for i, ref in enumerate(by)]
        reads += [(f".first_in_group.order[{i}]", ref) for i, ref in enumerate(order)]
    elif spec.kind == "template":
        reads = [(".template", ref) for ref in template_fields(spec.argument) if ref != "run_date"]
    else:
        reads = []
    for i, step in enumerate(spec.transform):
        if isinstance(step, dict) and "blank_if_equal_to" in step:
            reads.append((f".transform[{i}].blank_if_equal_to", step["blank_if_equal_to"]))
        if isinstance(step, dict) and isinstance(step.get("if_blank"), str) and "{" in step["if_blank"]:
            reads += [(f".transform[{i}].if_blank", ref) for ref in template_fields(step["if_blank"]) if ref != "run_date"]
        otherwise = crosswalk_step(step)[1]
        if otherwise:
            reads += [(f".transform[{i}].crosswalk.else", ref) for ref in template_fields(otherwise) if ref != "run_date"]
    return reads


def crosswalk_step(step) -> tuple[str | None, str | None]:
    """(crosswalk name, ``else`` template or None) of a ``{crosswalk: NAME}`` or ``{crosswalk: {name, else}}``
    step; (None, None) for another step."""
    argument = step.get("crosswalk") if isinstance(step, dict) else None
    if isinstance(argument, dict):
        return argument["name"], argument.get("else")
    return argument, None


def _check_crosswalk_columns(mapping: Mapping) -> list[str]:
    """A crosswalk ``check`` reads its table's ``column``, ``name`` and ``where`` columns, and the ``column`` and
    ``id`` of each ``used_by`` table (mapping/crosswalk.py)."""
    problems = []
    for name, crosswalk in mapping.crosswalks.items():
        check = crosswalk.check
        if check is None:
            continue
        at = f"crosswalks.{name}.check"
        scope = _Scope(rat=at, base=_table_source(check.table), aliased=False)
        problems += scope.problem(check.column, f"{at}.column")
        problems += scope.problem(check.name, f"{at}.name")
        for i, condition in enumerate(check.where):
            problems += scope.problem(condition.column, f"{at}.where[{i}].column")
        for i, use in enumerate(check.used_by):
            user = _Scope(rat=at, base=_table_source(use.table), aliased=False)
            problems += user.problem(use.column, f"{at}.used_by[{i}].column")
            problems += user.problem(use.id, f"{at}.used_by[{i}].id")
    return problems


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
            problems.append(f"{at}.{key}: {own_column!r} is not a delivered column of {out.file}")
        if their_column not in other.delivered_columns:
            problems.append(f"{at}.{key}: {their_column!r} is not a delivered column of {file}")
        if key.startswith("nest") and other.format.type != "jsonl":
            problems.append(f"{at}.{key}.file: {file} must be a jsonl output to be nested")
    return problems


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


def _check_crosswalks(mapping: Mapping) -> list[str]:
    problems = []
    for name, crosswalk in mapping.crosswalks.items():
        at = f"crosswalks.{name}"
        if not crosswalk.optional and not crosswalk.path.is_file():
            problems.append(f"{at}.file: {crosswalk.path} does not exist; create it (header {crosswalk.aeries},{crosswalk.vendor}) or set optional: true")
        if crosswalk.check:
            problems += _table_problem(mapping, crosswalk.check.table, f"{at}.check.table")
            for i, use in enumerate(crosswalk.check.used_by):
                problems += _table_problem(mapping, use.table, f"{at}.check.used_by[{i}].table")
    return problems


def _check_delivery(mapping: Mapping) -> list[str]:
    http = mapping.http
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


def template_fields(template: str) -> list[str]:
    """The columns a template reads: its fields but the run's date and ``run.NAME`` values."""
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template)
            if name and name != "run_date" and not name.startswith("run.")]


def _refs(spec: ValueSpec) -> list[str]:
    """The columns a value reads: its source, template fields, and columns named by its steps."""
    if spec.kind == "source":
        refs = [spec.argument]
    elif spec.kind == "first_of":
        refs = [ref for item in spec.argument for ref in ([item] if isinstance(item, str) else _refs(item))]
    elif spec.kind == "first_in_group":
        refs = [*spec.argument[0], *spec.argument[1]]
    elif spec.kind == "template":
        refs = template_fields(spec.argument)
    else:
        refs = []
    for step in spec.transform:
        if isinstance(step, dict) and "blank_if_equal_to" in step:
            refs.append(step["blank_if_equal_to"])
        if isinstance(step, dict) and isinstance(step.get("if_blank"), str):
            refs += template_fields(step["if_blank"])
        else_template = crosswalk_step(step)[1]
        if else_template:
            refs += template_fields(else_template)
    return [ref for ref in refs if ref != "run_date"]


def _steps(spec: ValueSpec) -> list:
    """The value's transform steps, and those of the fallbacks inside its ``first_of``."""
    steps = list(spec.transform)
    if spec.kind == "first_of":
        steps += [step for item in spec.argument if not isinstance(item, str) for step in _steps(item)]
    return steps
