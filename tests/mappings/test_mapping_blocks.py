"""The tests each shipped or library mapping file holds (its ``tests:`` block, docs/mappings.md "Testing a mapping"), one
pytest test each: given Aeries rows through the run's real stages, the rows the files must hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.mapping_tests import read_tests, run_mapping_test
from aeries_hub.paths import MAPPINGS_DIR

#: The shipped mappings and the library's (include/mappings/library/, enabled by copying).
FILES = [*sorted(MAPPINGS_DIR.glob("*.yml")), *sorted((MAPPINGS_DIR / "library").glob("*.yml"))]
CASES = [(path, case) for path in FILES for case in read_tests(path)]


@pytest.mark.parametrize("path, case", CASES, ids=[f"{path.relative_to(MAPPINGS_DIR).with_suffix('')}::{case.name}" for path, case in CASES])
def test_mapping_block(path: Path, case, tmp_path):
    failures = run_mapping_test(load_mapping(path), case, tmp_path)
    assert not failures, "\n".join(failures)


def test_shipped_mappings_hold_tests():
    tested = sorted({path.name for path, _ in CASES})
    assert {"xello.yml", "stemscopes.yml", "canvas.yml"} <= set(tested), tested
