"""Write-back files (``include/writebacks/*.yml``): which vendor records become which Aeries writes.

Validated against ``plugins/aeries_hub/schemas/writeback.schema.json``, written from the models of
:mod:`aeries_hub.writeback.schema_models` (the transform steps of ``aeries_match`` against the step registry of
:mod:`aeries_hub.mapping.steps`); what the file writes is one section, read and checked by its
kind (:mod:`aeries_hub.writeback.kinds`). Every problem reads ``<file>:<line>: <key path>: <problem>``, as a
mapping's do. docs/writeback-reference.md lists every key (:mod:`aeries_hub.writeback.reference`).
Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from aeries_hub import paths
from aeries_hub.config_files import KeyLines, loaded_once_per_content, read_yaml_with_lines, schema_problems
from aeries_hub.mapping import steps
from aeries_hub.mapping.loader import MAPPING_SCHEMA
from aeries_hub.mapping.models import MappingError, Schedule, template_problems
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.writeback.kinds.base import KINDS, kind_of
from aeries_hub.writeback.spec import (
    DEFAULT_MAX_FETCH_SECONDS,
    DEFAULT_MAX_FILE_BYTES,
    SOURCES,
    Guard,
    WriteBack,
    source_problems,
)

WRITEBACK_SCHEMA = SCHEMAS_DIR / "writeback.schema.json"


def writeback_for(writeback_file: str) -> WriteBack:
    """The write-back of a file name of ``include/writebacks/``."""
    return load_writeback(paths.WRITEBACKS_DIR / writeback_file)


@loaded_once_per_content()
def load_writeback(path: Path) -> WriteBack:
    """Read, validate and return the write-back in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    document, lines = read_yaml_with_lines(path, shown=path.name, error=MappingError)
    problems = _schema_problems(document, lines) or [lines.located(p) for p in template_problems(document, [])]
    if problems:
        raise MappingError("\n".join(problems))
    source_key = "http" if "http" in document["source"] else "sftp"
    origin = document["source"][source_key]
    common = {
        "name": document["name"],
        "path": path,
        "title": document.get("title", document["name"]),
        "description": document["description"],
        "schedule": Schedule(crons=(document["schedule"]["cron"],), timezone=document["schedule"]["timezone"])
        if document.get("schedule")
        else None,
        "aeries_conn_id": document["aeries"]["conn_id"],
        "source": source_key,
        "sftp_conn_id": origin["conn_id"] if source_key == "sftp" else "",
        "remote_dir": origin.get("remote_dir", ""),
        "http_conn_id": origin["conn_id"] if source_key == "http" else "",
        "endpoint": origin.get("endpoint", ""),
        "format": origin.get("format", "jsonl"),
        "delimiter": origin.get("delimiter", ","),
        "quoting": origin.get("quoting", "minimal"),
        "max_file_bytes": origin.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES),
        "max_fetch_seconds": float(origin.get("max_fetch_seconds", DEFAULT_MAX_FETCH_SECONDS)),
        "enabled": document.get("enabled", False),
        "guard": Guard(**{k: v for k, v in document["guard"].items() if k != "allowed_fields"}, allowed_fields={
            record_kind: tuple(names) for record_kind, names in document["guard"]["allowed_fields"].items()}),
        "owner": document.get("owner", "data-engineering"),
        "tags": tuple(document.get("tags", ())),
    }
    kind_key = next(key for key in KINDS if key in document)
    kind = KINDS[kind_key]
    writeback = kind.load(document[kind_key], common, origin)
    problems = kind.problems(writeback) + source_problems(writeback)
    if problems:
        raise MappingError("\n".join(lines.located(problem) for problem in problems))
    problems = _allowed_fields_problems(writeback)
    if problems:
        raise MappingError("\n".join(lines.located(problem) for problem in problems))
    return writeback


def _schema_problems(document, lines: KeyLines) -> list[str]:
    """What breaks the schema, located; "give exactly one of" a section, and of a source, said by the loader (the
    schema's oneOf would say "'students' is required")."""
    problems = schema_problems(document, _validator(), lines.shown, lines=lines)
    if not isinstance(document, dict):
        return problems
    sections = [key for key in KINDS if key in document]
    if len(sections) != 1:
        has = "neither" if not sections else "both" if len(sections) == 2 else "all of them"
        problems.insert(0, lines.located(f"(top): give exactly one of: {', '.join(KINDS)} (it has {has})",
                                         sections[-1] if sections else "(top)"))
    source = document.get("source")
    if isinstance(source, dict) and len([key for key in SOURCES if key in source]) != 1:
        has = "neither" if not any(key in source for key in SOURCES) else "both"
        problems.append(lines.located(f"source: give exactly one of: {', '.join(SOURCES)} (it has {has})"))
    return problems


def _allowed_fields_problems(writeback: WriteBack) -> list[str]:
    """Every field the write-back writes must be in ``guard.allowed_fields`` of its kind of record."""
    allowed = writeback.guard.allowed_fields
    writeback_kind = kind_of(writeback)
    kinds = tuple(dict.fromkeys(writeback_kind.record_kinds.values()))
    problems = [f"guard.allowed_fields.{kind}: this write-back writes {writeback.kind}, whose records are "
                f"{', '.join(kinds)}" for kind in allowed if kind not in kinds]
    for kind, fields in writeback_kind.written_fields(writeback).items():
        for name, key in fields.items():
            if name not in allowed.get(kind, ()):
                problems.append(f"{key}: field {name} is not in guard.allowed_fields.{kind} (the {kind} "
                                f"fields this write-back may write: {', '.join(allowed.get(kind, ())) or 'none'}); "
                                "add it there only if the write-back must write it")
    return problems


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    mapping_schema = json.loads(MAPPING_SCHEMA.read_text())  # aeries_match values are a mapping's values
    # As the mapping loader does: each transform step is checked against the step registry itself.
    mapping_schema["$defs"]["step"] = {steps.SCHEMA_KEYWORD: True}
    registry = Registry().with_resource(mapping_schema["$id"], Resource.from_contents(
        mapping_schema, default_specification=DRAFT202012))
    writeback_schema = json.loads(WRITEBACK_SCHEMA.read_text())
    # The file's "exactly one of" sections and sources are for editors; the loader says it more plainly itself.
    del writeback_schema["oneOf"], writeback_schema["properties"]["source"]["oneOf"]
    validator = validators.extend(Draft202012Validator, {steps.SCHEMA_KEYWORD: steps.schema_keyword})
    return validator(writeback_schema, registry=registry)
