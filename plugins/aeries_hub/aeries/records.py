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


class RawPage:
    """A page of a list endpoint as its records' JSON texts, unparsed (one ``msgspec.Raw`` each), for
    :func:`aeries_hub.aeries.arrow.raw_page_to_arrow` to parse into Arrow at once."""

    __slots__ = ("records", "_first")

    def __init__(self, records: list[Any]) -> None:
        self.records = records
        self._first: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.records)

    @property
    def first(self) -> Any:
        """The first record, parsed (None for an empty page)."""
        if self._first is None and self.records:
            self._first = json.loads(bytes(self.records[0]))
        return self._first

    def rows(self) -> list[Any]:
        """Every record, parsed as the hook parses an answer (``json.loads``)."""
        return json.loads(b"[" + b",".join(self.records) + b"]")


def split_records(body: bytes) -> Any:
    """The hook's decoder (``AeriesHook.request(decode=)``) of a page: a JSON list (or one object, one record) as a
    :class:`RawPage`, validated but not parsed; null or another JSON value as parsed (:func:`as_list` judges it).
    ValueError (retried by the hook) for a body that is not UTF-8 JSON."""
    import msgspec

    text = body[3:] if body.startswith(codecs.BOM_UTF8) else body
    str(text, "utf-8")  # not UTF-8: UnicodeDecodeError, as json.loads of the decoded text would raise
    head = text.lstrip()[:1]
    if head == b"[":
        return RawPage(msgspec.json.decode(text, type=list[msgspec.Raw]))
    if head == b"{":
        return RawPage([msgspec.json.decode(text, type=msgspec.Raw)])
    return json.loads(text)
