"""The model of a vendor mapping file: the dataclasses :func:`aeries_hub.mapping.loader.load_mapping` returns, the
error it raises, and the names and syntax a mapping may use (run values, date conditions, templates).

Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aeries_hub.calendar_policy import CalendarPolicy
from aeries_hub.window import PullWindow

DEFAULT_STUDENT_STATUS_CODES = {"active": [""], "pre_enrolled": ["P"]}

#: Values of the run that a mapping names as ``{run.NAME}``: they come from Aeries, never from the YAML (see
#: extract.school_year.aeries_run_values). Usable in literal ``rows``, ``constant``, ``template`` and ``if_blank``.
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
#: Aeries served, whose days come from the schools' terms (extract.school_year.dates_as_of).
DATE_CONDITIONS = ("before_run_date", "after_run_date")
RUN_VALUE = re.compile(r"\{run\.([^{}:!]*)\}")


class MappingError(ValueError):
    """A mapping file is invalid; the message names the file, the line, the key path and the problem."""


@dataclass(frozen=True)
class Condition:
    column: str  # "" for an expression
    op: str  # in | not_in | blank | before_run_date | after_run_date | expr (operand: an expressions.Expression)
    operand: Any

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the condition reads."""
        return tuple(self.operand.columns) if self.op == "expr" else (self.column,)

    @property
    def key(self) -> str:
        """The key below the condition that names what it reads (for errors)."""
        return "expr" if self.op == "expr" else "column"


@dataclass(frozen=True)
class Preference:
    """Rows ranked by ``column``: ascending, ``descending``, or ``order``'s values first; or the rows meeting
    ``where`` first (``column`` is then "")."""

    column: str
    order: tuple[str, ...] | None = None
    descending: bool = False
    where: tuple[Condition, ...] = ()

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(column for condition in self.where for column in condition.columns) if self.where else (self.column,)


@dataclass(frozen=True)
class Lookup:
    alias: str
    table: str
    on: dict[str, str]
    where: tuple[Condition, ...] = ()
    prefer: tuple[Preference, ...] = ()  # which matching row is joined (then the table's key order)


@dataclass(frozen=True)
class ValueSpec:
    kind: str  # source | constant | template | first_of | first_in_group | expr (argument: an expressions.Expression)
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
    distinct_on: tuple[Any, ...] = ()  # a column, or an expressions.Expression (``{expr: "lower(EmailAddress)"}``)
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
    counts: tuple[RowRule, ...] = ()  # each a mapping.row_rules.GroupCount
    matches: tuple[RowRule, ...] = ()  # each a mapping.row_rules.FileMatch
    cells: CellRule | None = None
    #: The key entries written ``{expr: ...}``, by the name of the column that holds their values in the built
    #: rows (the expression's text; not delivered): expressions over the file's delivered columns.
    key_expressions: dict[str, Any] = field(default_factory=dict)
    #: Delivered columns of a field the data-sharing policy restricts: never shown in reports, even in a key.
    restricted_columns: frozenset[str] = frozenset()

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    @property
    def delivered_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.do_not_map]

    @property
    def built_columns(self) -> list[str]:
        """The columns of the built rows: the delivered ones, then those of the key's expressions."""
        return self.delivered_columns + list(self.key_expressions)

    @property
    def raw_columns(self) -> list[str]:
        """Delivered columns whose values are written as they are, even when a spreadsheet would read a formula."""
        return [c.name for c in self.columns if not c.do_not_map and not c.escape_formulas]

    @property
    def uses_date_conditions(self) -> bool:
        """Whether building the file compares a date with the run's date (:data:`DATE_CONDITIONS`)."""
        return any(condition.op in DATE_CONDITIONS for r in self.records
                   for condition in (*r.where, *r.explode_where, *(c for k in r.lookups for c in k.where),
                                     *(c for p in (*r.prefer, *(p for k in r.lookups for p in k.prefer)) for c in p.where)))

    @property
    def needs(self) -> list[str]:
        """Files of the same mapping that must be built first (referenced or nested in this one)."""
        needed = [r.file for r in self.references] + [n.file for n in self.nest] + [m.rule.file for m in self.matches]
        return [file for file in dict.fromkeys(needed) if file != self.file]


@dataclass(frozen=True)
class Reference:
    """Every value of ``column`` (each part, with ``separator``) is a ``key`` of the rows of ``file``."""

    column: str
    file: str
    key: str
    separator: str | None = None
    severity: str = "error"
    where: tuple[Condition, ...] = ()  # only the rows of ``file`` meeting these
    description: str | None = None


@dataclass(frozen=True)
class RowRule:
    """A check of an output's ``counts:`` or ``matches:``: the rule (mapping.row_rules), what a failure does and
    its reason."""

    rule: Any
    severity: str = "error"
    description: str | None = None


@dataclass(frozen=True)
class CellRule:
    """``cells:``: texts no delivered cell may hold."""

    forbid: tuple[str, ...]
    severity: str = "reject"
    description: str | None = None

    @property
    def line_breaks(self) -> bool:
        """Whether it forbids a line break, which the one-line rewrite of delimited values would hide."""
        return any("\n" in text or "\r" in text for text in self.forbid)


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
class HttpUpload:
    """``delivery.http_upload``: one file posted to an import API, whose import job is polled until it ends."""

    conn_id: str
    endpoint: str
    params: dict[str, str | int | bool] = field(default_factory=dict)
    timeout_minutes: float = 60.0
    poll_seconds: float = 30.0


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
class DistrictPolicy:
    """The district's data-sharing policy (include/district_policy.yml, :mod:`aeries_hub.mapping.sharing`)."""

    path: Path
    restricted: dict[str, str]  # table.Column -> what it is ("birth date")


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
    http_upload: HttpUpload | None = None
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
    calendar: CalendarPolicy = field(default_factory=CalendarPolicy)
    run_values: frozenset[str] = frozenset()  # the {run.NAME} values its outputs use
    allowed_fields: dict[str, str] = field(default_factory=dict)  # sharing.allow: table.Column -> the reason
    policy: DistrictPolicy | None = None  # the data-sharing policy it was checked against

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


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be filled (a brace without its pair), or None."""
    import string

    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"{template!r} is not a template: {exc} (a brace in the text is written {{{{ or }}}})"
    return None


#: The texts filled as templates (``{Column}``): the last key of their path, or the last two.
TEMPLATE_KEYS = ("template", "if_blank", ("crosswalk", "else"))


def template_problems(node: Any, path: list) -> list[str]:
    """``<key path>: <problem>`` for each template below ``node`` (at ``path``) whose braces do not pair; literal
    rows are data, not templates. Mappings and write-backs (``aeries_match``) write templates the same way."""
    from aeries_hub.config_files import format_key_path

    if isinstance(node, dict):
        return [problem for key, value in node.items() for problem in template_problems(value, path + [key])]
    if isinstance(node, list):
        return [problem for i, value in enumerate(node) for problem in template_problems(value, path + [i])]
    if isinstance(node, str) and path and "rows" not in path and (
            path[-1] in TEMPLATE_KEYS or tuple(path[-2:]) in TEMPLATE_KEYS):
        problem = template_problem(node)
        return [f"{format_key_path(path)}: {problem}"] if problem else []
    return []


def template_fields(template: str) -> list[str]:
    """The columns a template reads: its fields but the run's date and ``run.NAME`` values."""
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template)
            if name and name != "run_date" and not name.startswith("run.")]



#: A placeholder as templates write it: ``{Column}``, ``{alias.Column}``, ``{run_date:%Y}``.
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?(?:[:!][^{}]*)?\}")


def condition_placeholder_problems(node: Any, path: list) -> list[str]:
    """``<key path>: <problem>`` for each value of an ``in`` or ``not_in`` condition below ``node`` that holds a
    template placeholder: conditions compare literal values, so ``"{SchoolCode}"`` would be compared as that
    text and never match. ``{run.NAME}`` is reported by the run values' own check; settings are already filled."""
    from aeries_hub.config_files import format_key_path

    problems: list[str] = []
    if isinstance(node, list):
        for i, item in enumerate(node):
            problems += condition_placeholder_problems(item, path + [i])
        return problems
    if not isinstance(node, dict):
        return problems
    for key, value in node.items():
        if key == "where" and isinstance(value, list):
            for i, condition in enumerate(value):
                for op in ("in", "not_in"):
                    for j, literal in enumerate(condition.get(op) or () if isinstance(condition, dict) else ()):
                        found = [p for p in _PLACEHOLDER.findall(str(literal)) if not RUN_VALUE.fullmatch(p)]
                        if found:
                            problems.append(
                                f"{format_key_path(path + [key, i, op, j])}: {literal!r} would be compared as literal "
                                f"text: a condition's values are not templates, {found[0]} is never filled in. To "
                                "compare with another column, look its row up (lookups, on) or write an expression "
                                "condition (see Expressions in docs/mappings.md); a setting is written "
                                "{settings.NAME}")
        problems += condition_placeholder_problems(value, path + [key])
    return problems
