"""Write-back files (``include/writebacks/*.yml``): which vendor records become which Aeries writes.

Validated against ``include/schemas/writeback.schema.json``; every problem names the file and the key path.
Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aeries_hub.config_files import read_yaml, schema_problems
from aeries_hub.mapping.loader import MappingError, Schedule
from aeries_hub.paths import SCHEMAS_DIR
from aeries_hub.tables import TABLES

WRITEBACK_SCHEMA = SCHEMAS_DIR / "writeback.schema.json"


@dataclass(frozen=True)
class Field:
    """An Aeries field and where its value is in a vendor record."""

    name: str
    path: str
    values: dict[str, str] | None = None  # vendor value -> Aeries value; others are rejected
    required: bool = False
    pattern: str | None = None


@dataclass(frozen=True)
class Contacts:
    source: str  # the path of the list of contacts in a vendor record
    match: tuple[str, ...]
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class WriteBack:
    name: str
    path: Path
    title: str
    description: str
    schedule: Schedule | None
    aeries_conn_id: str
    sftp_conn_id: str
    remote_dir: str
    pattern: str
    record_id: str
    school: str
    match: tuple[str, ...]
    fields: tuple[Field, ...]
    contacts: Contacts | None = None
    enabled: bool = False
    owner: str = "data-engineering"
    tags: tuple[str, ...] = ()

    @property
    def dag_id(self) -> str:
        return f"{self.name}_to_aeries"


def load_writeback(path: str | Path) -> WriteBack:
    """Read, validate and return the write-back in ``path``; raise MappingError naming what is wrong."""
    path = Path(path)
    where = path.name
    document = read_yaml(path, shown=where, error=MappingError)
    problems = schema_problems(document, _validator(), where)
    if problems:
        raise MappingError("\n".join(problems))
    students = document["students"]
    fields = _fields(students["fields"])
    contacts = students.get("contacts")
    writeback = WriteBack(
        name=document["name"],
        path=path,
        title=document.get("title", document["name"]),
        description=document["description"],
        schedule=Schedule(crons=(document["schedule"]["cron"],), timezone=document["schedule"]["timezone"])
        if document.get("schedule")
        else None,
        aeries_conn_id=document["aeries"]["conn_id"],
        sftp_conn_id=document["source"]["sftp"]["conn_id"],
        remote_dir=document["source"]["sftp"]["remote_dir"],
        pattern=document["source"]["sftp"].get("pattern", "*.jsonl"),
        record_id=students["id"],
        school=students["school"],
        match=tuple(students["match"]),
        fields=fields,
        contacts=Contacts(source=contacts["from"], match=tuple(contacts["match"]), fields=_fields(contacts["fields"]))
        if contacts
        else None,
        enabled=document.get("enabled", False),
        owner=document.get("owner", "data-engineering"),
        tags=tuple(document.get("tags", ())),
    )
    _check(writeback, where)
    return writeback


def _fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    result = []
    for name, value in spec.items():
        if isinstance(value, str):
            value = {"path": value}
        result.append(Field(name=name, path=value["path"], values=value.get("values"),
                            required=value.get("required", False), pattern=value.get("pattern")))
    return tuple(result)


def _check(writeback: WriteBack, where: str) -> None:
    problems = []
    aeries_student = set(TABLES["students"].column_names) | {"BirthDate"}  # InsertStudent's name for Birthdate
    names = [f.name for f in writeback.fields]
    for field in writeback.fields:
        if field.name not in aeries_student:
            problems.append(f"{where}: students.fields.{field.name}: not a field of an Aeries student")
    for key in writeback.match:
        if key not in names:
            problems.append(f"{where}: students.match: {key!r} is not one of students.fields ({', '.join(names)})")
    if writeback.contacts:
        aeries_contact = set(TABLES["contacts"].column_names)
        contact_names = [f.name for f in writeback.contacts.fields]
        for field in writeback.contacts.fields:
            if field.name not in aeries_contact:
                problems.append(f"{where}: students.contacts.fields.{field.name}: not a field of an Aeries contact")
        for key in writeback.contacts.match:
            if key not in contact_names:
                problems.append(f"{where}: students.contacts.match: {key!r} is not one of students.contacts.fields")
    if problems:
        raise MappingError("\n".join(problems))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(WRITEBACK_SCHEMA.read_text()))
