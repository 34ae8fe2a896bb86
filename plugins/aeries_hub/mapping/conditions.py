"""Record-set conditions (``where``, a lookup's ``where``, ``explode.where``) as a mask of the rows they keep."""

from __future__ import annotations

from datetime import date

import pandas as pd

from aeries_hub.mapping.models import DATE_CONDITIONS, Condition, MappingError
from aeries_hub.mapping.values import read_column


def conditions_mask(frame: pd.DataFrame, conditions: tuple[Condition, ...], where: str,
                    run_date: date | None = None, run=None) -> pd.Series:
    """The rows meeting every condition; ``run`` (the build's RunValues) is what an expression's run values and
    today() read."""
    mask = pd.Series(True, index=frame.index)
    for i, cond in enumerate(conditions):
        if cond.op == "expr":
            mask &= cond.operand.mask(frame, run, f"{where}[{i}].expr")
            continue
        values = read_column(frame, cond.column, f"{where}[{i}].column").str.strip()
        if cond.op == "blank":
            mask &= values.eq("") if cond.operand else values.ne("")
        elif cond.op in DATE_CONDITIONS:
            mask &= _date_condition(values, cond, run_date, f"{where}[{i}]")
        else:
            wanted = {str(v).strip() for v in cond.operand}
            hit = values.isin(wanted)
            mask &= hit if cond.op == "in" else ~hit
    return mask


def _date_condition(values: pd.Series, cond: Condition, run_date: date | None, where: str) -> pd.Series:
    """The rows meeting a :data:`DATE_CONDITIONS` condition; Aeries dates are ``YYYY-MM-DD[THH:MM:SS]``."""
    if run_date is None:
        raise MappingError(f"{where}.{cond.op}: needs the run's date, which this build was not given")
    days = pd.to_datetime(values.str[:10], format="%Y-%m-%d", errors="coerce")
    unreadable = values.ne("") & days.isna()
    if unreadable.any():
        raise MappingError(f"{where}.column: {cond.column!r} is not a date in {int(unreadable.sum())} rows "
                           f"(e.g. {values[unreadable].iloc[0]!r}); Aeries dates are YYYY-MM-DD[THH:MM:SS]")
    day = pd.Timestamp(run_date)
    hit = (days < day) if cond.op == "before_run_date" else (days > day)
    hit = hit & days.notna()
    return hit if cond.operand else ~hit


