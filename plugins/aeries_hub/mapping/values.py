"""A value of a record set evaluated over a build's rows: its columns (by name, or why a name cannot be read),
templates of them, the run's values, match codes and transform steps (:mod:`aeries_hub.mapping.steps`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from aeries_hub.config_files import closest
from aeries_hub.mapping.models import RUN_VALUE, MappingError, ValueSpec
from aeries_hub.mapping.steps import apply_step
from aeries_hub.mapping.text import TEXT, is_blank, text

#: The template field for the run's date: ``{run_date:%Y-%m-%d}`` (a strftime format after the colon).
RUN_DATE = "run_date"


@dataclass(frozen=True)
class RunValues:
    """What a build knows besides the tables: the crosswalk files, the run's date, and what Aeries said.

    ``crosswalks`` is {name: {aeries value: vendor value}}; ``run_date`` is the run's date in the mapping's
    time zone (templates use it as ``{run_date:%Y-%m-%d}``), so a re-run of a run builds the same bytes;
    ``aeries`` holds the ``{run.NAME}`` values (models.RUN_VALUES: the district's name, the school year served).
    """

    crosswalks: dict[str, dict[str, str]] = field(default_factory=dict)
    run_date: date | None = None
    aeries: dict[str, str] = field(default_factory=dict)
    #: The day date conditions compare with (extract.school_year.dates_as_of: the run's date held inside the school year
    #: Aeries served); the run's date when not given.
    dates_as_of: date | None = None

    @property
    def conditions_date(self) -> date | None:
        return self.dates_as_of or self.run_date

    def value(self, name: str, where: str) -> str:
        """The run value ``{run.NAME}``; MappingError when this build was not given it."""
        try:
            return self.aeries[name]
        except KeyError:
            raise MappingError(f"{where}: {{run.{name}}} needs a value from Aeries, which this build was not given") from None

    def fill(self, text: str, where: str) -> str:
        """``text`` with each ``{run.NAME}`` replaced by its value."""
        return RUN_VALUE.sub(lambda match: self.value(match.group(1), where), text) if "{run." in text else text


@dataclass(frozen=True)
class Rows:
    """The rows a value's steps transform, as a step may read them: another column, a template of columns."""

    frame: pd.DataFrame
    run: RunValues
    where: str  # the key path of the value's steps (``...values.X.transform``), for errors

    def column(self, ref: str) -> pd.Series:
        return read_column(self.frame, ref, self.where)

    def template(self, template_text: str) -> pd.Series:
        return template(template_text, self.frame, self.where, self.run)


def read_column(frame: pd.DataFrame, ref: str, where: str) -> pd.Series:
    if ref not in frame.columns:
        raise MappingError(f"{where}: {_unknown_column(frame, ref)}")
    return text(frame[ref])


def _unknown_column(frame: pd.DataFrame, ref: str) -> str:
    """Why ``ref`` cannot be read: the columns that can (those of its lookup, for ``alias.Column``) and the
    closest name when there is one (``StudentId`` -> ``StudentID``)."""
    alias = ref.split(".", 1)[0] + "." if "." in ref else ""
    pool = sorted(c for c in frame.columns if isinstance(c, str) and (c.startswith(alias) if alias else "." not in c))
    if alias and not pool:
        return f"column {ref!r} does not exist: no lookup or explode is named {alias[:-1]!r}"
    meant = closest(ref, pool, cutoff=0.8)
    hint = f" (did you mean {meant!r}?)" if meant else ""
    return f"column {ref!r} does not exist{hint}; columns available: {', '.join(pool) or 'none'}"


def evaluate_value(spec: ValueSpec, frame: pd.DataFrame, where: str) -> pd.Series:
    """A value spec on ``frame``'s rows as text, outside a build (no crosswalks or run values): a write-back reads
    Aeries' side of a match the way the outbound mappings read it (``contacts.aeries_match``)."""
    return evaluate(spec, frame, where, RunValues())


def evaluate(spec: ValueSpec, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    if spec.kind == "constant":
        values = pd.Series(run.fill(spec.argument, f"{where}.constant"), index=frame.index, dtype=TEXT)
    elif spec.kind == "source":
        values = read_column(frame, spec.argument, where)
    elif spec.kind == "first_of":
        values = pd.Series("", index=frame.index, dtype=TEXT)
        for i, item in enumerate(spec.argument):
            if isinstance(item, str):
                candidate = read_column(frame, item, where)
            else:
                candidate = evaluate(item, frame, f"{where}.first_of[{i}]", run)
            values = values.where(~is_blank(values), candidate)
    elif spec.kind == "expr":
        values = spec.argument.text_values(frame, run, f"{where}.expr")
    elif spec.kind == "first_in_group":
        by, order = spec.argument
        values = _first_in_group(frame, by, order, where=f"{where}.first_in_group")
    else:
        values = template(spec.argument, frame, where, run)
    if spec.match is not None:
        trimmed = values.str.strip()
        matched = trimmed.map(spec.match)
        fallback = values if spec.default is None else pd.Series(spec.default, index=frame.index, dtype=TEXT)
        values = matched.astype(TEXT).where(trimmed.isin(spec.match.keys()), fallback)
    rows = Rows(frame, run, f"{where}.transform")
    for step in spec.transform:
        values = apply_step(step, values, rows)
    return values


def _first_in_group(frame: pd.DataFrame, by: tuple[str, ...], order: tuple[str, ...], where: str) -> pd.Series:
    """"true" on the first row of each group of equal ``by`` values, in ``order`` (numbers as numbers, blanks
    last; ties keep the earlier column's order, then the rows' order), "false" on the others."""
    keys = pd.DataFrame(index=frame.index)
    for i, ref in enumerate(by):
        keys[f"__by{i}"] = read_column(frame, ref, f"{where}.by[{i}]").str.strip()
    for i, ref in enumerate(order):
        keys[f"__order{i}"] = _order_key(read_column(frame, ref, f"{where}.order[{i}]").str.strip())
    ordered = keys.sort_values([f"__order{i}" for i in range(len(order))], kind="mergesort")
    first = ordered.index[~ordered.duplicated(subset=[f"__by{i}" for i in range(len(by))], keep="first")]
    values = pd.Series("false", index=frame.index, dtype=TEXT)
    values.loc[first] = "true"
    return values


def _order_key(values: pd.Series) -> pd.Series:
    """Sort key of a column: numbers when every non-blank value is a whole number (blanks sort last), else text."""
    filled = values.where(values.ne(""))
    if bool(filled.dropna().str.fullmatch(r"-?\d+").all()):
        return pd.to_numeric(filled, errors="coerce").fillna(float("inf"))
    return values.where(values.ne(""), "\U0010ffff")


def template(template: str, frame: pd.DataFrame, where: str, run: RunValues) -> pd.Series:
    """The template filled, row by row: ``{Column}`` with the row's trimmed value, ``{run_date:FORMAT}`` and
    ``{run.NAME}`` with the run's."""
    result = pd.Series("", index=frame.index, dtype=TEXT)
    for literal, name, spec, _ in string.Formatter().parse(template):
        if literal:
            result = result + literal
        if name == RUN_DATE:
            if run.run_date is None:
                raise MappingError(f"{where}: {{{RUN_DATE}}} needs the run's date, which this build was not given")
            result = result + format(run.run_date, spec or "%Y-%m-%d")
        elif name and name.startswith("run."):
            result = result + format(run.value(name[len("run."):], where), spec or "")
        elif name:
            result = result + read_column(frame, name, where).str.strip()
    return result


