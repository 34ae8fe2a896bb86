"""Load and validate a vendor mapping file (include/mappings/*.yml).

Validation happens in two passes: the JSON Schema in plugins/aeries_hub/schemas/mapping.schema.json (whose transform steps
are checked against the registry of :mod:`aeries_hub.mapping.steps`), then the cross-references a schema cannot
express (:mod:`aeries_hub.mapping.rules`, :mod:`aeries_hub.mapping.references`). Every problem is reported as
``<file>:<line>: <key path>: <problem>`` so that the import error shown in the Airflow UI points at the line to fix.
Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import lru_cache
from pathlib import Path

from aeries_hub.calendar_policy import CalendarPolicy
from aeries_hub.config_files import (
    KeyLines,
    did_you_mean,
    format_key_path,
    loaded_once_per_content,
    read_yaml_with_lines,
    schema_problems,
)
from aeries_hub.mapping import steps
from aeries_hub.mapping.expressions import Expression, compile_expression, compile_in_place
from aeries_hub.mapping.models import (
    DEFAULT_STUDENT_STATUS_CODES,
    RUN_VALUE,
    RUN_VALUES,
    RUN_VALUES_FROM_SCHOOLS,
    CellRule,
    Column,
    Condition,
    Crosswalk,
    CrosswalkCheck,
    CrosswalkUse,
    FileFormat,
    Guard,
    HttpDelivery,
    HttpTarget,
    HttpUpload,
    Incremental,
    Lookup,
    Mapping,
    MappingError,
    Nest,
    Output,
    Preference,
    RecordSet,
    Reference,
    RowRule,
    Schedule,
    ValueSpec,
    condition_placeholder_problems,
    template_problems,
)
from aeries_hub.mapping.row_rules import FileMatch, GroupCount
from aeries_hub.mapping.rules import crosswalk_files_present, mapping_problems
from aeries_hub.mapping.sharing import district_policy, policy_unchanged, sharing_problems, with_restricted_columns
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.window import PullWindow

MAPPING_SCHEMA = SCHEMAS_DIR / "mapping.schema.json"
CHECKS_SCHEMA = SCHEMAS_DIR / "checks.schema.json"

#: Where ``{run.NAME}`` may stand: the last key of its path, or literal rows.
_RUN_VALUE_KEYS = ("constant", "template", "if_blank")


def _still_valid(mapping: Mapping) -> bool:
    return crosswalk_files_present(mapping) and policy_unchanged(mapping)


@loaded_once_per_content(still_valid=_still_valid)
def load_mapping(path: Path) -> Mapping:
    """Read, validate and return the mapping in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document, lines = read_yaml_with_lines(path, shown=where, error=MappingError)
    if not isinstance(document, dict):
        raise MappingError(f"{where}: (top): expected a mapping of keys, found {type(document).__name__}")
    _validate_schema(document, lines)
    document["outputs"] = _apply_settings(document["outputs"], document.get("settings") or {}, ["outputs"], lines)
    used = _check_texts(document, lines)
    mapping = dataclasses.replace(_build(document, path), run_values=used)
    problems = mapping_problems(mapping)
    if not problems:
        policy = district_policy()
        mapping = with_restricted_columns(dataclasses.replace(mapping, policy=policy), policy)
        problems = sharing_problems(mapping, policy)
    if problems:
        raise MappingError("\n".join(lines.located(problem) for problem in problems))
    return mapping


def _validate_schema(document: dict, lines: KeyLines) -> None:
    problems = schema_problems(document, _validator(), lines.shown, lines=lines)
    if problems:
        raise MappingError("\n".join(problems))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    mapping_schema = json.loads(MAPPING_SCHEMA.read_text())
    # The file's step definition is for editors; the loader checks each step against the registry itself.
    mapping_schema["$defs"]["step"] = {steps.SCHEMA_KEYWORD: True}
    checks_schema = json.loads(CHECKS_SCHEMA.read_text())
    checks_resource = Resource.from_contents(checks_schema, default_specification=DRAFT202012)
    checks_uri = mapping_schema["$id"].rsplit("/", 1)[0] + "/checks.schema.json"
    registry = Registry().with_resource(checks_uri, checks_resource)
    if checks_schema.get("$id"):
        registry = registry.with_resource(checks_schema["$id"], checks_resource)
    validator = validators.extend(Draft202012Validator, {steps.SCHEMA_KEYWORD: steps.schema_keyword})
    return validator(mapping_schema, registry=registry)


_SETTING = re.compile(r"\{settings\.([a-z][a-z0-9_]*)(\|regex)?\}")


def _apply_settings(node, settings: dict, path: list, lines: KeyLines):
    """Replace {settings.NAME} everywhere in the outputs, so a value is configured in one place.

    ``{settings.NAME|regex}`` gives the value escaped for a regular expression (a domain's dots match dots).
    """
    if isinstance(node, dict):
        return {k: _apply_settings(v, settings, path + [k], lines) for k, v in node.items()}
    if isinstance(node, list):
        return [_apply_settings(v, settings, path + [i], lines) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value(match):
            if match.group(1) not in settings:
                known = ", ".join(sorted(settings)) or "none"
                raise MappingError(lines.located(f"{format_key_path(path)}: unknown setting {match.group(1)!r}"
                                                 f"{did_you_mean(match.group(1), settings)}; settings: {known}"))
            value = str(settings[match.group(1)])
            return re.escape(value) if match.group(2) else value

        return _SETTING.sub(value, node)
    return node


def _check_texts(document: dict, lines: KeyLines) -> frozenset[str]:
    """The ``{run.NAME}`` values the outputs use; MappingError naming each unknown name or misplaced one, and
    each template whose braces do not pair."""
    # Expressions first: each is replaced by its compiled form, so that the walk below sees no text of theirs.
    settings = document.get("settings") or {}
    problems, used = compile_in_place(document["outputs"], settings, ["outputs"])
    problems += compile_in_place(document.get("crosswalks") or {}, settings, ["crosswalks"])[0]

    def walk(node, path: list) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + [key])
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + [i])
        elif isinstance(node, str):
            for name in RUN_VALUE.findall(node):
                at = format_key_path(path)
                if name not in RUN_VALUES:
                    problems.append(f"{at}: unknown run value {{run.{name}}}{did_you_mean(name, RUN_VALUES)}; run values: "
                                    f"{', '.join(RUN_VALUES)}")
                elif path[-1] not in _RUN_VALUE_KEYS and "rows" not in path:
                    problems.append(f"{at}: {{run.{name}}} can be used in literal rows, constant, template and "
                                    "if_blank only")
                else:
                    used.add(name)

    walk(document["outputs"], ["outputs"])
    problems += template_problems(document["outputs"], ["outputs"])
    problems += condition_placeholder_problems(document, [])
    from_schools = sorted(used & RUN_VALUES_FROM_SCHOOLS)
    if from_schools and "schools" not in document["source"]["tables"]:
        names = ", ".join(f"{{run.{name}}}" for name in from_schools)
        problems.append(f"source.tables: {names} come from Aeries' schools table; add schools to source.tables")
    if problems:
        raise MappingError("\n".join(lines.located(problem) for problem in problems))
    return frozenset(used)


def _conditions(items) -> tuple[Condition, ...]:
    result = []
    for item in items or ():
        if "expr" in item:
            result.append(Condition(column="", op="expr", operand=_expression(item["expr"], condition=True)))
            continue
        op = next(k for k in item if k != "column")
        result.append(Condition(column=item["column"], op=op, operand=item[op]))
    return tuple(result)


def value_spec(spec: dict) -> ValueSpec:
    """A value of a record set (or a write-back's ``aeries_match``), as its YAML gives it."""
    kind = next(k for k in ("source", "constant", "template", "first_of", "first_in_group", "expr") if k in spec)
    argument = spec[kind]
    if kind == "expr":
        argument = _expression(argument)
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


def _expression(written: str | Expression, condition: bool = False) -> Expression:
    """An expression the loader compiled in place (:func:`compile_in_place`), or one written elsewhere (a
    write-back's ``aeries_match``), compiled here."""
    if isinstance(written, Expression):
        return written
    return compile_expression(written, expect="condition" if condition else "value")


def _column_or_expression(entry: str | dict) -> str | Expression:
    return _expression(entry["expr"]) if isinstance(entry, dict) else entry


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
            Lookup(alias=alias, table=lk["table"], on=dict(lk["on"]), where=_conditions(lk.get("where")),
                   prefer=tuple(map(_preference, lk.get("prefer") or ())))
            for alias, lk in (rec.get("lookups") or {}).items()
        ),
        distinct_on=tuple(_column_or_expression(entry) for entry in distinct.get("on", ())),
        prefer=tuple(map(_preference, distinct.get("prefer", ()))),
        collect=dict(distinct.get("collect") or {}),
        explode=(rec["explode"]["column"], rec["explode"]["as"]) if "explode" in rec else None,
        explode_where=_conditions(rec["explode"].get("where")) if "explode" in rec else (),
    )


def _preference(written) -> Preference:
    if isinstance(written, str):
        return Preference(column=written)
    if "where" in written:
        return Preference(column="", where=_conditions(written["where"]))
    order = written["order"]
    if isinstance(order, str):  # ascending | descending
        return Preference(written["column"], descending=order == "descending")
    return Preference(written["column"], tuple(order))


def _row_rules(out: dict) -> dict:
    """``counts:``, ``matches:`` and ``cells:`` of an output, for :class:`Output`."""
    def rule(spec: dict, made) -> RowRule:
        return RowRule(rule=made, severity=spec.get("severity", "error"), description=spec.get("description"))

    cells = out.get("cells")
    return {
        "counts": tuple(rule(c, GroupCount(per=tuple(c["per"]), where=_conditions(c.get("where")), exactly=c.get("exactly"),
                                           at_least=c.get("at_least"), at_most=c.get("at_most")))
                        for c in out.get("counts") or ()),
        "matches": tuple(rule(m, FileMatch(column=m["column"], file=m["file"], on=tuple(m["on"].items()),
                                           equals=m["equals"], where=_conditions(m.get("where"))))
                         for m in out.get("matches") or ()),
        "cells": CellRule(forbid=tuple(cells["forbid"]), severity=cells.get("severity", "reject"),
                          description=cells.get("description")) if cells else None,
    }


def _output(out: dict, files: dict[str, dict]) -> Output:
    def key_of(file: str) -> str:
        return (files.get(file) or {}).get("key", [""])[0]

    key = [_column_or_expression(entry) for entry in out["key"]]
    return Output(
        file=out["file"],
        format=FileFormat(**out["format"]),
        key=tuple(entry.text if isinstance(entry, Expression) else entry for entry in key),
        key_expressions={entry.text: entry for entry in key if isinstance(entry, Expression)},
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
                where=_conditions(ref.get("where")),
                description=ref.get("description"),
            )
            for ref in out.get("references", ())
        ),
        **_row_rules(out),
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
        http_upload=HttpUpload(**delivery["http_upload"]) if "http_upload" in delivery else None,
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
        allowed_fields=dict((doc.get("sharing") or {}).get("allow") or {}),
        calendar=CalendarPolicy.from_config(doc.get("calendar")),
    )

