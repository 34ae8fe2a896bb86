"""One record of an import: what Enroll accepts (:func:`record_errors`), its Overwrite merge, the batch body."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any, Mapping

from aeries_sandbox.emulator.errors import HttpError

__all__ = ["ID_FIELD", "REQUIRED_FIELDS", "record_errors", "merge_record", "parse_records", "field_value", "json_type"]

ID_FIELD = "students.student_district_id"
#: Present and not blank in every record; the date fields must also be real YYYY-MM-DD dates.
REQUIRED_FIELDS = (
    ID_FIELD,
    "students.fname",
    "students.lname",
    "students.DOB",
    "students.sis_school_year",
    "students_annual.sis_entrydate",
)
DATE_FIELDS = frozenset({"students.DOB", "students_annual.sis_entrydate"})
#: Top-level keys of a record that must be objects / lists when present (null clears them).
OBJECT_KEYS = ("students", "students_annual", "custom")
LIST_KEYS = ("guardians", "emergency_contacts")

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
               float: "a number", type(None): "null"}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def field_value(record: Mapping[str, Any], path: str) -> Any:
    node: Any = record
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def record_errors(record: Any) -> list[str]:
    """Why Enroll refuses ``record``, one message per problem naming the field (empty: importable)."""
    if not isinstance(record, Mapping):
        return [f"record: must be an object, not {json_type(record)}"]
    errors = []
    for key in OBJECT_KEYS + LIST_KEYS:
        value = record.get(key)
        wanted = dict if key in OBJECT_KEYS else list
        if value is not None and not isinstance(value, wanted):
            errors.append(f"{key}: must be {json_type(wanted())} or null, not {json_type(value)}")
    for path in REQUIRED_FIELDS:
        value = field_value(record, path)
        if value is None or (isinstance(value, str) and not value.strip()):
            errors.append(f"{path}: is required (missing or blank)")
        elif not isinstance(value, str):
            errors.append(f"{path}: must be a string, not {json_type(value)}")
        elif path in DATE_FIELDS and not _is_date(value):
            errors.append(f"{path}: {value!r} is not a YYYY-MM-DD date")
    return errors


def _is_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def merge_record(stored: Mapping[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """Enroll's Overwrite import: a null value clears the stored field (it is kept as null), an absent key
    keeps the stored value, objects merge key by key, lists and other values replace."""
    merged = dict(stored)
    for key, value in incoming.items():
        old = merged.get(key)
        merged[key] = merge_record(old, value) if isinstance(value, dict) and isinstance(old, dict) else copy.deepcopy(value)
    return merged


def parse_records(body: bytes) -> list[Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise HttpError(400, "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise HttpError(400, f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("records"), list):
        raise HttpError(400, 'the body must be a JSON object {"records": [...]}')
    extra = sorted(set(document) - {"records"})
    if extra:
        raise HttpError(400, f"unknown keys in the body: {', '.join(extra)} (only records)")
    if not document["records"]:
        raise HttpError(400, "records is empty: send at least one record")
    return document["records"]
