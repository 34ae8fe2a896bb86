"""Load and validate a vendor mapping file (include/mappings/*.yml).

Validation happens in two passes: the JSON Schema in include/schemas/mapping.schema.json, then the
cross-references a schema cannot express (tables named in ``source.tables``, lookup aliases, output
columns). Every problem is reported as ``<file>: <key path>: <problem>`` so that the import error shown in
the Airflow UI points at the line to fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from aeries_hub.config_files import format_key_path, read_yaml
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.window import PullWindow

MAPPING_SCHEMA = SCHEMAS_DIR / "mapping.schema.json"
CHECKS_SCHEMA = SCHEMAS_DIR / "checks.schema.json"

DEFAULT_STUDENT_STATUS_CODES = {"active": [""], "pre_enrolled": ["P"]}


class MappingError(ValueError):
    """A mapping file is invalid; the message names the file, the key path and the problem."""


@dataclass(frozen=True)
class Condition:
    column: str
    op: str  # in | not_in | blank
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
    kind: str  # source | constant | template | first_of
    argument: Any
    match: dict[str, str] | None = None
    default: str | None = None
    transform: tuple[Any, ...] = ()


@dataclass(frozen=True)
class RecordSet:
    name: str
    table: str
    values: dict[str, ValueSpec]
    where: tuple[Condition, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    distinct_on: tuple[str, ...] = ()
    prefer: tuple[Preference, ...] = ()
    explode: tuple[str, str] | None = None  # (list column, alias of its elements)


@dataclass(frozen=True)
class Column:
    name: str
    required: bool = False
    max_length: int | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    severity: str = "reject"
    do_not_map: bool = False
    description: str | None = None


@dataclass(frozen=True)
class FileFormat:
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

    @property
    def stem(self) -> str:
        return Path(self.file).stem

    @property
    def delivered_columns(self) -> list[str]:
        return [c.name for c in self.columns if not c.do_not_map]


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
    sftp_conn_id: str
    sftp_remote_dir: str
    school_codes: tuple[int, ...] = ()
    student_statuses: tuple[str, ...] = ("active",)
    student_status_codes: dict[str, list[str]] = field(default_factory=lambda: dict(DEFAULT_STUDENT_STATUS_CODES))
    tags: tuple[str, ...] = ()
    owner: str = "data-engineering"
    window: PullWindow | None = None
    package_zip: str | None = None

    @property
    def dag_id(self) -> str:
        return f"aeries_to_{self.name}"


def load_mapping(path: str | Path) -> Mapping:
    """Read, validate and return the mapping in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document = read_yaml(path, shown=where, error=MappingError)
    if not isinstance(document, dict):
        raise MappingError(f"{where}: (top): expected a mapping of keys, found {type(document).__name__}")
    _validate_schema(document, where)
    document["outputs"] = _apply_settings(document["outputs"], document.get("settings") or {}, ["outputs"], where)
    mapping = _build(document, path)
    _check_references(mapping, where)
    return mapping


def _validate_schema(document: dict, where: str) -> None:
    validator = _validator()
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return
    from jsonschema.exceptions import best_match

    lines = []
    for error in _deepest_per_path(errors)[:5]:
        error = best_match([error]) if error.context else error
        lines.append(f"{where}: {format_key_path(error.absolute_path)}: {_describe(error)}")
    raise MappingError("\n".join(lines))


def _deepest_per_path(errors: list) -> list:
    """For oneOf failures the most useful message is the deepest one; keep one error per key path."""
    picked: dict[tuple, Any] = {}
    for error in errors:
        candidate = error
        while candidate.context:
            candidate = max(candidate.context, key=lambda e: len(e.absolute_path))
        key = tuple(candidate.absolute_path)
        picked.setdefault(key, candidate)
    return list(picked.values())


def _describe(error) -> str:
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' (?:was|were) unexpected", error.message) or [error.message]
        allowed = sorted(error.schema.get("properties", {}))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {extra[0]!r}{hint}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "oneOf" and all(set(sub) == {"required"} for sub in error.validator_value):
        choices = ", ".join(sub["required"][0] for sub in error.validator_value)
        return f"give exactly one of: {choices}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


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


_SETTING = re.compile(r"\{settings\.([a-z][a-z0-9_]*)\}")


def _apply_settings(node, settings: dict, path: list, where: str):
    """Replace {settings.NAME} everywhere in the outputs, so a value is configured in one place."""
    if isinstance(node, dict):
        return {k: _apply_settings(v, settings, path + [k], where) for k, v in node.items()}
    if isinstance(node, list):
        return [_apply_settings(v, settings, path + [i], where) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value(match):
            if match.group(1) not in settings:
                known = ", ".join(sorted(settings)) or "none"
                raise MappingError(f"{where}: {format_key_path(path)}: unknown setting {match.group(1)!r} (settings: {known})")
            return str(settings[match.group(1)])

        return _SETTING.sub(value, node)
    return node


def _conditions(items) -> tuple[Condition, ...]:
    result = []
    for item in items or ():
        op = next(k for k in item if k != "column")
        result.append(Condition(column=item["column"], op=op, operand=item[op]))
    return tuple(result)


def _value(spec: dict) -> ValueSpec:
    kind = next(k for k in ("source", "constant", "template", "first_of") if k in spec)
    argument = spec[kind]
    if kind == "constant":
        argument = str(argument)
    if kind == "first_of":
        argument = tuple(argument)
    return ValueSpec(
        kind=kind,
        argument=argument,
        match={str(k).strip(): v for k, v in spec["match"].items()} if "match" in spec else None,
        default=spec.get("default"),
        transform=tuple(spec.get("transform", ())),
    )


def _build(doc: dict, path: Path) -> Mapping:
    source = doc["source"]
    schedule = doc["schedule"]
    outputs = []
    for out in doc["outputs"]:
        records = []
        for rec in out["records"]:
            distinct = rec.get("distinct") or {}
            records.append(
                RecordSet(
                    name=rec["name"],
                    table=rec["from"],
                    values={name: _value(spec) for name, spec in rec["values"].items()},
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
                    explode=(rec["explode"]["column"], rec["explode"]["as"]) if "explode" in rec else None,
                )
            )
        outputs.append(
            Output(
                file=out["file"],
                format=FileFormat(**out["format"]),
                key=tuple(out["key"]),
                columns=tuple(Column(**col) for col in out["columns"]),
                records=tuple(records),
                min_rows=out.get("min_rows", 1),
                checks=tuple(out.get("checks", ())),
            )
        )
    codes = dict(DEFAULT_STUDENT_STATUS_CODES)
    codes.update(source.get("student_status_codes") or {})
    crons = schedule and schedule["cron"]
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
        outputs=tuple(outputs),
        sftp_conn_id=doc["delivery"]["sftp"]["conn_id"],
        sftp_remote_dir=doc["delivery"]["sftp"]["remote_dir"],
        school_codes=tuple(source.get("school_codes", ())),
        student_statuses=tuple(source.get("student_statuses", ("active",))),
        student_status_codes=codes,
        tags=tuple(doc.get("tags", ())),
        owner=doc.get("owner", "data-engineering"),
        window=PullWindow.from_config(doc["window"]) if "window" in doc else None,
        package_zip=(doc["delivery"].get("package") or {}).get("zip"),
    )


def _check_references(mapping: Mapping, where: str) -> None:
    problems: list[str] = []
    if mapping.schedule:
        problems += _check_schedule(mapping.schedule)
    if mapping.window:
        problems += _check_timezone(mapping.window.timezone, "window.timezone")
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
        for r, rec in enumerate(out.records):
            rat = f"{at}.records[{r}]"
            if rec.table not in mapping.tables:
                problems.append(f"{rat}.from: table {rec.table!r} is not in source.tables ({', '.join(mapping.tables)})")
            aliases = {rec.explode[1]} if rec.explode else set()
            for lk in rec.lookups:
                aliases.add(lk.alias)
                if lk.table not in mapping.tables:
                    problems.append(
                        f"{rat}.lookups.{lk.alias}.table: table {lk.table!r} is not in source.tables "
                        f"({', '.join(mapping.tables)})"
                    )
            for column, spec in rec.values.items():
                if column not in names:
                    problems.append(f"{rat}.values.{column}: not a column of {out.file}; add it to {at}.columns")
                for ref in _refs(spec):
                    alias = ref.split(".", 1)[0] if "." in ref else None
                    if alias and alias not in aliases:
                        problems.append(
                            f"{rat}.values.{column}: {ref!r} uses lookup {alias!r}, which {rat}.lookups does not define"
                        )
    if problems:
        raise MappingError("\n".join(f"{where}: {p}" for p in problems))


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
    import string

    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _refs(spec: ValueSpec) -> list[str]:
    if spec.kind == "source":
        return [spec.argument]
    if spec.kind == "first_of":
        return list(spec.argument)
    if spec.kind == "template":
        return template_fields(spec.argument)
    return []
