"""Rows that share a key of one or more columns, found on numbers: each column's values are numbered, a row's
numbers combined into one integer, and the rows whose integer another row has found on the sorted integers. A hash
table of a file's millions of distinct keys (pandas' ``duplicated``, ``factorize`` of the combined keys) holds
several times the keys themselves; the mapping engine's ``distinct`` and the uniqueness checks of several columns
use this instead."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def combined_codes(columns: Iterable[tuple[np.ndarray, int]], rows: int) -> np.ndarray:
    """One integer per row that two rows share exactly when every column's number does: ``columns`` gives each
    column's numbers (0 to its width - 1) and its width. The integers are numbered again only where the next
    column's would not fit in 62 bits."""
    import pandas as pd

    combined = np.zeros(rows, dtype=np.int64)
    bound = 1  # every combined integer is below this
    for codes, width in columns:
        width = max(int(width), 1)
        if bound * width >= 1 << 62:
            combined, numbered = pd.factorize(combined)
            bound = len(numbered)
        combined *= width
        combined += codes
        bound *= width
    return combined


def shares_a_key(keys: np.ndarray) -> np.ndarray:
    """Per row, whether another row has its key (an integer of :func:`combined_codes`): found on the keys sorted."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    same = ordered[1:] == ordered[:-1]
    del ordered
    shares = np.zeros(len(keys), dtype=bool)
    shares[order[1:][same]] = True
    shares[order[:-1][same]] = True
    return shares
