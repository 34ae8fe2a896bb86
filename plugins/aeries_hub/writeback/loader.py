"""Write-back files (``include/writebacks/*.yml``): which vendor records become which Aeries writes.

Validated against ``include/schemas/writeback.schema.json``; every problem names the file and the key path. What
the file writes is one section, read and checked by its kind (:mod:`aeries_hub.writeback.kinds`).
Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from aeries_hub import paths
from aeries_hub.config_files import read_yaml, schema_problems
from aeries_hub.mapping.loader import MAPPING_SCHEMA
from aeries_hub.mapping.models import MappingError, Schedule
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.writeback.kinds.base import KINDS, kind_of
from aeries_hub.writeback.spec import (
    DEFAULT_MAX_FETCH_SECONDS,
    DEFAULT_MAX_FILE_BYTES,
    SOURCES,
    Guard,
    WriteBack,
)

WRITEBACK_SCHEMA = SCHEMAS_DIR / "writeback.schema.json"


def writeback_for(writeback_file: str) -> WriteBack:
    """The write-back of a file name of ``include/writebacks/``."""
    return load_writeback(paths.WRITEBACKS_DIR / writeback_file)


def load_writeback(path: str | Path) -> WriteBack:
    """Read, validate and return the write-back in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document = read_yaml(path, shown=where, error=MappingError)
    problems = schema_problems(document, _validator(), where)
    if isinstance(document, dict):
        sections = [key for key in KINDS if key in document]
        if len(sections) != 1:  # the schema's oneOf says this less clearly ("'students' is required")
            top = f"{where}: (top): "
            has = "neither" if not sections else "both" if len(sections) == 2 else "all of them"
            problems = [f"{top}give exactly one of: {', '.join(KINDS)} (it has {has})"] + [
                line for line in problems if not (line.startswith(top) and any(key in line for key in KINDS))]
    source = document.get("source") if isinstance(document, dict) else None
    if isinstance(source, dict):
        kinds = [key for key in SOURCES if key in source]
        if len(kinds) != 1:  # the schema's oneOf says this less clearly ("'sftp' is required")
            at = f"{where}: source: "
            has = "neither" if not kinds else "both"
            problems = [line for line in problems if not (line.startswith(at) and any(key in line for key in SOURCES))]
            problems.append(f"{at}give exactly one of: {', '.join(SOURCES)} (it has {has})")
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
    problems = kind.problems(writeback, where)
    if problems:
        raise MappingError("\n".join(problems))
    _check_allowed_fields(writeback, where)
    return writeback


def _check_allowed_fields(writeback: WriteBack, where: str) -> None:
    """Every field the write-back writes must be in ``guard.allowed_fields`` of its kind of record."""
    allowed = writeback.guard.allowed_fields
    writeback_kind = kind_of(writeback)
    kinds = tuple(dict.fromkeys(writeback_kind.record_kinds.values()))
    problems = [f"{where}: guard.allowed_fields.{kind}: this write-back writes {writeback.kind}, whose records are "
                f"{', '.join(kinds)}" for kind in allowed if kind not in kinds]
    for kind, fields in writeback_kind.written_fields(writeback).items():
        for name, key in fields.items():
            if name not in allowed.get(kind, ()):
                problems.append(f"{where}: {key}: field {name} is not in guard.allowed_fields.{kind} (the {kind} "
                                f"fields this write-back may write: {', '.join(allowed.get(kind, ())) or 'none'}); "
                                "add it there only if the write-back must write it")
    if problems:
        raise MappingError("\n".join(problems))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    mapping_schema = json.loads(MAPPING_SCHEMA.read_text())  # aeries_match values are a mapping's values
    registry = Registry().with_resource(mapping_schema["$id"], Resource.from_contents(
        mapping_schema, default_specification=DRAFT202012))
    return Draft202012Validator(json.loads(WRITEBACK_SCHEMA.read_text()), registry=registry)
