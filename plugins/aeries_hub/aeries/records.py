"""Aeries' JSON answers as records: a list endpoint's records, a single object, pre-v5 field names."""

from __future__ import annotations

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
