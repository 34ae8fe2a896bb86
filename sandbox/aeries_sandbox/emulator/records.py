"""Compact records: how the emulator holds a district's rows in memory.

A JSON object parsed into a dict costs about 20 bytes per field for the dict and a fresh object per value: a
student (77 fields) took 3.4 KB, and serving a 500,000-student district 12 GB. A :class:`Record` is a read-only mapping
of a shape (its keys in order, shared by every record with the same keys) and a tuple of values, the values
interned while a district is loaded (the same date, code or name is one object): a student record takes
about 1.4 KB.

A record reads as the dict it was made from (``record["StudentID"]``, ``get``, ``dict(record)``,
``{**record, **changes}``, ``==`` with a dict) and :func:`json_default` gives ``json.dumps`` the same dict, keys
in the same order, so every answer keeps its bytes. The writes never change a record: they put a new dict in
its place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Iterable

__all__ = ["Record", "Compactor", "json_default"]


class Record(Mapping[str, Any]):
    """A read-only mapping: ``shape`` (key -> position, in key order; shared) and the values in that order."""

    __slots__ = ("_shape", "_values")

    def __init__(self, shape: dict[str, int], values: tuple[Any, ...]) -> None:
        self._shape = shape
        self._values = values

    def __getitem__(self, key: str) -> Any:
        position = self._shape.get(key)
        if position is None:
            raise KeyError(key)
        return self._values[position]

    def get(self, key: str, default: Any = None) -> Any:
        position = self._shape.get(key)
        return default if position is None else self._values[position]

    def __contains__(self, key: object) -> bool:
        return key in self._shape

    def __iter__(self) -> Iterator[str]:
        return iter(self._shape)

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict[str, Any]:
        """The record as a dict, nested records too (a fresh copy each time)."""
        return {key: _plain(value) for key, value in zip(self._shape, self._values)}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._shape.keys() == other._shape.keys() and self.as_dict() == other.as_dict()
        if isinstance(other, Mapping):
            return self.as_dict() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as a dict's

    def __repr__(self) -> str:
        return repr(self.as_dict())


def _plain(value: Any) -> Any:
    if type(value) is Record:
        return value.as_dict()
    if type(value) is list:
        return [_plain(item) for item in value]
    return value


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: a record is encoded as the dict it was made from (its nested
    records are handed back to this function by the encoder)."""
    if type(value) is Record:
        return dict(zip(value._shape, value._values))
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class Compactor:
    """Makes records of dicts, sharing shapes and equal values (never one of another type: 1, 1.0 and True are
    equal but keep their JSON). One compactor per load or generated district: drop it afterwards."""

    def __init__(self) -> None:
        self._shapes: dict[tuple[str, ...], dict[str, int]] = {}
        self._memo: dict[Any, Any] = {}

    def rows(self, rows: Iterable[Mapping[str, Any]]) -> list[Any]:
        """The rows as records (a record stays as it is)."""
        return [row if type(row) is Record else self.record(row) for row in rows]

    def record(self, row: Mapping[str, Any]) -> Record:
        keys = tuple(row)
        shape = self._shapes.get(keys)
        if shape is None:
            shape = self._shapes[keys] = {self.value(key): position for position, key in enumerate(keys)}
        values = row.values()
        try:  # the fast way, in C: every value is hashable (no list or object) ...
            interned = tuple(map(self._memo.setdefault, values, values))
        except TypeError:
            return Record(shape, tuple([self.value(value) for value in values]))
        if list(map(type, interned)) != list(map(type, values)):  # ... but 0 may have been taken for False
            interned = tuple([found if type(found) is type(value) else value for found, value in zip(interned, values)])
        return Record(shape, interned)

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            return self.record(value)
        if kind is list:
            return [self.value(item) for item in value]
        if kind is str or kind is int:
            found = self._memo.setdefault(value, value)
            return found if type(found) is kind else value
        return value
