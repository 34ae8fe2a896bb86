"""Checks across rows and files that no Great Expectations expectation states: a count per group of rows
(``counts:`` of a mapping's output, "exactly one primary role per user") and a column that equals a column of
the matching row of another file (``matches:``, "primaryOrg is the org of the user's primary role").

Each rule says, row by row, whether the row meets it (a True/False helper column, null where the row is not
tested); the runner hands that column to GX as ``expect_column_values_to_be_in_set [True]``, so a rule has the
severities, rejects and reports of every other check (quality/helpers.py). A group rule also names each group
that fails it, with its count (ids only: the group's own columns).

Light at import (dataclasses only): pandas and the conditions of :mod:`aeries_hub.mapping.conditions` are imported
when a rule is evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from aeries_hub.mapping.models import Condition


def conditions_text(conditions: tuple[Condition, ...]) -> str:
    """``isPrimary in [true] and type in [school]``: conditions in words, for labels and reasons."""
    words = []
    for condition in conditions:
        operand = condition.operand
        if isinstance(operand, (list, tuple)):
            operand = "[" + ", ".join(map(str, operand)) + "]"
        elif isinstance(operand, bool):
            operand = str(operand).lower()
        words.append(f"{condition.column} {condition.op.replace('_', ' ')} {operand}")
    return " and ".join(words)


@dataclass(frozen=True)
class GroupCount:
    """Per group of rows with equal ``per`` values, the rows meeting ``where`` (every row without it) number
    ``exactly``, or at least ``at_least`` and at most ``at_most``. Rows with a blank ``per`` value are in no group
    and not tested."""

    per: tuple[str, ...]
    where: tuple[Condition, ...] = ()
    exactly: int | None = None
    at_least: int | None = None
    at_most: int | None = None
    run_date: date | None = None  # for date conditions: the day they compare with (set when a build runs)

    expectation = "count_per_group"

    @property
    def columns(self) -> tuple[str, ...]:
        return self.per

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.per + tuple(c.column for c in self.where)))

    @property
    def wanted(self) -> str:
        """``exactly 1``, ``at most 1``, ``1 to 3``."""
        if self.exactly is not None:
            return f"exactly {self.exactly}"
        if self.at_least is not None and self.at_most is not None:
            return f"{self.at_least} to {self.at_most}"
        return f"at least {self.at_least}" if self.at_least is not None else f"at most {self.at_most}"

    @property
    def counted(self) -> str:
        rows = "row" if (self.exactly, self.at_least, self.at_most) in ((1, None, None), (None, 1, None), (None, None, 1)) else "rows"
        return f"{rows} where {conditions_text(self.where)}" if self.where else rows

    @property
    def label(self) -> str:
        return f"per {', '.join(self.per)}: {self.wanted} {self.counted}"

    def sentence(self) -> str:
        return f"its {', '.join(self.per)} has not {self.wanted} {self.counted}"

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"per": list(self.per)}
        if self.where:
            spec["where"] = [{"column": c.column, c.op: c.operand} for c in self.where]
        spec.update({k: v for k, v in (("exactly", self.exactly), ("at_least", self.at_least),
                                        ("at_most", self.at_most)) if v is not None})
        return spec

    def _counts(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Each row's group id (blank per value: untested), the group's count, and which rows are untested."""
        import pandas as pd

        from aeries_hub.mapping.conditions import conditions_mask

        ids = _key_text(frame, self.per)
        untested = ids.isna()
        counted = conditions_mask(frame, self.where, "where", self.run_date) if self.where else pd.Series(True, index=frame.index)
        counts = counted.astype("int64").groupby(ids, sort=False).transform("sum")
        return ids, counts, untested

    def _meets(self, counts: pd.Series) -> pd.Series:
        if self.exactly is not None:
            return counts.eq(self.exactly)
        ok = counts.ge(self.at_least) if self.at_least is not None else counts.ge(0)
        return ok & counts.le(self.at_most) if self.at_most is not None else ok

    def meets(self, frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
        _, counts, untested = self._counts(frame)
        return self._meets(counts.fillna(0)).to_numpy(dtype=bool), untested.to_numpy(dtype=bool)

    def failing_groups(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """Every group that fails, in the order it first occurs: ``{"ids": "u1", "count": 2}``."""
        ids, counts, untested = self._counts(frame)
        tested = ~untested
        failing = tested & ~self._meets(counts.fillna(0))
        first = ~ids[failing].duplicated()
        return [{"ids": key, "count": int(count)}
                for key, count in zip(ids[failing][first], counts[failing][first])]


@dataclass(frozen=True)
class FileMatch:
    """``column`` equals ``equals`` of a row of ``file`` (only its rows meeting ``where``) whose ``on`` columns
    hold this row's: ``on`` is {column of this file: column of that file}. A row with a blank ``on`` value is not
    tested; a row with no matching row fails. With several matching rows, it equals one of them."""

    column: str
    file: str
    on: tuple[tuple[str, str], ...]
    equals: str
    where: tuple[Condition, ...] = ()
    run_date: date | None = None  # for date conditions: the day they compare with (set when a build runs)

    expectation = "equals_in_file"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def reads(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.column, *(mine for mine, _ in self.on))))

    @property
    def _rows(self) -> str:
        subset = f" where {conditions_text(self.where)}" if self.where else ""
        on = ", ".join(theirs if theirs == mine else f"{theirs} = {mine}" for mine, theirs in self.on)
        return f"the row of {self.file}{subset} with its {on}"

    @property
    def label(self) -> str:
        return f"{self.column} equals {self.equals} of {self._rows}"

    def sentence(self) -> str:
        return f"{self.column} is not the {self.equals} of {self._rows}"

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"column": self.column, "file": self.file, "on": dict(self.on), "equals": self.equals}
        if self.where:
            spec["where"] = [{"column": c.column, c.op: c.operand} for c in self.where]
        return spec

    def meets(self, frame: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
        import pandas as pd

        from aeries_hub.mapping.conditions import conditions_mask
        from aeries_hub.quality.checks import CheckConfigError

        if self.file not in tables:
            given = ", ".join(sorted(tables)) or "none"
            raise CheckConfigError(f"{self.label}: {self.file!r} was not given to the runner (tables given: {given})")
        other = tables[self.file]
        absent = [c for c in (*(theirs for _, theirs in self.on), self.equals) if c not in other.columns]
        if absent:
            raise CheckConfigError(f"{self.label}: {self.file} has no column {absent[0]!r}")
        other = other[conditions_mask(other, self.where, "where", self.run_date).to_numpy()] if self.where else other
        mine = _key_text(frame, [m for m, _ in self.on])
        theirs = _key_text(other, [t for _, t in self.on])
        pairs = pd.MultiIndex.from_arrays([theirs.fillna("\x00").to_numpy(),
                                           _text(other[self.equals]).to_numpy()])
        mine_pairs = pd.MultiIndex.from_arrays([mine.fillna("\x00").to_numpy(), _text(frame[self.column]).to_numpy()])
        return mine_pairs.isin(pairs), mine.isna().to_numpy(dtype=bool)


def _text(values: pd.Series) -> pd.Series:
    """Trimmed text, blank for null."""
    from aeries_hub.mapping.text import text

    return text(values).fillna("").str.strip()


def _key_text(frame: pd.DataFrame, columns) -> pd.Series:
    """The row's values of ``columns`` joined with ``/`` (``994/101``), null where one of them is blank."""
    parts = [_text(frame[c]) for c in columns]
    blank = parts[0].eq("")
    joined = parts[0]
    for part in parts[1:]:
        blank |= part.eq("")
        joined = joined + "/" + part
    return joined.where(~blank)


def row_rule_problems(outputs: dict, out, at: str) -> list[str]:
    """What an output's ``counts:``, ``matches:`` and ``references[].where`` name that its files lack: ``outputs``
    is {file: Output} of the mapping, ``out`` the output at key path ``at``."""
    problems = []

    def not_in(file_output, column: str, key: str) -> list[str]:
        if column in file_output.delivered_columns:
            return []
        return [f"{key}: {column!r} is not a delivered column of {file_output.file} "
                f"({', '.join(file_output.delivered_columns)})"]

    for i, written in enumerate(out.counts):
        count: GroupCount = written.rule
        key = f"{at}.counts[{i}]"
        if count.exactly is None and count.at_least is None and count.at_most is None:
            problems.append(f"{key}: give exactly, at_least or at_most (the number of rows each group has)")
        elif count.exactly is not None and (count.at_least is not None or count.at_most is not None):
            problems.append(f"{key}: give exactly, or at_least and at_most, not both")
        elif count.at_least is not None and count.at_most is not None and count.at_least > count.at_most:
            problems.append(f"{key}: at_least ({count.at_least}) is more than at_most ({count.at_most})")
        for n, column in enumerate(count.per):
            problems += not_in(out, column, f"{key}.per[{n}]")
        for n, condition in enumerate(count.where):
            problems += not_in(out, condition.column, f"{key}.where[{n}].column")
    for i, written in enumerate(out.matches):
        match: FileMatch = written.rule
        key = f"{at}.matches[{i}]"
        other = outputs.get(match.file)
        if other is None:
            problems.append(f"{key}.file: {match.file!r} is not an output of this mapping ({', '.join(outputs)})")
            continue
        problems += not_in(out, match.column, f"{key}.column")
        for mine, theirs in match.on:
            problems += not_in(out, mine, f"{key}.on.{mine}") + not_in(other, theirs, f"{key}.on.{mine}")
        problems += not_in(other, match.equals, f"{key}.equals")
        for n, condition in enumerate(match.where):
            problems += not_in(other, condition.column, f"{key}.where[{n}].column")
    for i, reference in enumerate(out.references):
        other = outputs.get(reference.file)
        for n, condition in enumerate(reference.where if other is not None else ()):
            problems += not_in(other, condition.column, f"{at}.references[{i}].where[{n}].column")
    return problems
