"""Which row comes first among rows that compete: a distinct key's rows (``distinct.prefer``) and a lookup's matching
rows (``lookups.<alias>.prefer``), as :class:`~aeries_hub.mapping.models.Preference` ranks them.

Preferences apply in the order written; rows they do not tell apart keep their order (a stable sort): for a lookup
the looked-up table's key order, for ``distinct`` the order the rows were read in.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from aeries_hub.mapping.conditions import conditions_mask
from aeries_hub.mapping.models import Preference
from aeries_hub.mapping.values import RunValues, read_column


def preference_keys(frame: pd.DataFrame, prefer: tuple[Preference, ...], where: str,
                    run_date: date | None = None, run: RunValues | None = None) -> tuple[pd.DataFrame, list[bool]]:
    """One sort key per preference (columns ``__prefer0``...) and whether each sorts ascending. ``where`` is the
    key path of the list (``...distinct.prefer``), for errors."""
    keys = pd.DataFrame(index=frame.index)
    ascending = []
    for i, pref in enumerate(prefer):
        name, at = f"__prefer{i}", f"{where}[{i}]"
        if pref.where:  # the rows meeting the conditions (0) before the others (1)
            keys[name] = (~conditions_mask(frame, pref.where, f"{at}.where", run_date, run)).astype("int64")
            ascending.append(True)
            continue
        values = read_column(frame, pref.column, at).str.strip()
        if pref.order is not None:
            rank = {v: n for n, v in enumerate(pref.order)}
            keys[name] = values.map(lambda v, rank=rank: rank.get(v, len(rank)))
        else:  # whole numbers as numbers when every value is one (then none is blank), else text
            keys[name] = pd.to_numeric(values, errors="coerce").fillna(float("inf")) if values.str.isdigit().all() else values
        ascending.append(not pref.descending)
    return keys, ascending


def preferred_order(frame: pd.DataFrame, prefer: tuple[Preference, ...], where: str,
                    run_date: date | None = None, run: RunValues | None = None) -> np.ndarray:
    """The positions of ``frame``'s rows, preferred first (a stable sort: ties keep their order)."""
    keys, ascending = preference_keys(frame, prefer, where, run_date, run)
    ordered = keys.reset_index(drop=True).sort_values(list(keys.columns), ascending=ascending, kind="mergesort")
    return ordered.index.to_numpy()
