"""Rows that share a key of several columns, on numbers: the same rows as pandas' ``duplicated`` finds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aeries_hub.row_keys import combined_codes, shares_a_key


def test_rows_that_share_a_key_are_the_rows_pandas_finds_duplicated():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({name: rng.integers(0, size, 5_000) for name, size in (("a", 4), ("b", 30), ("c", 50))})
    numbered = [pd.factorize(frame[name]) for name in frame.columns]
    keys = combined_codes(((codes, len(values)) for codes, values in numbered), len(frame))
    assert (shares_a_key(keys) == frame.duplicated(keep=False).to_numpy()).all()
    assert shares_a_key(np.zeros(0, dtype=np.int64)).tolist() == []
    assert shares_a_key(np.array([7])).tolist() == [False]


def test_keys_past_62_bits_are_numbered_again_so_no_two_keys_meet():
    # nine columns of 256 values: 2**72 combinations; wrapped around 2**64, the first column would be lost
    rows = 256
    columns = [(np.arange(rows, dtype=np.int64), 256)] + [(np.zeros(rows, dtype=np.int64), 256)] * 8
    keys = combined_codes(columns, rows)
    assert len(set(keys.tolist())) == rows
    assert not shares_a_key(keys).any()
