"""The library of standard formats (include/mappings/library/): each file is a valid mapping, off until a district
copies it into include/mappings/, and the DAG factory does not load it where it is."""

from __future__ import annotations

import pytest

from aeries_hub.dag_factory import load_mappings
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR

LIBRARY = sorted((MAPPINGS_DIR / "library").glob("*.yml"))


def test_the_library_holds_the_four_standard_formats():
    assert [path.name for path in LIBRARY] == ["canvas.yml", "clever.yml", "oneroster12.yml", "sds_v21.yml"]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda path: path.name)
def test_a_library_mapping_loads_and_runs_only_when_triggered(path):
    mapping = load_mapping(path)
    assert mapping.dag_id == f"aeries_to_{path.stem}"
    assert mapping.schedule is None


def test_the_dag_factory_loads_no_library_file():
    mappings, problems = load_mappings(MAPPINGS_DIR)
    assert problems == []
    assert not {mapping.dag_id for mapping in mappings} & {f"aeries_to_{path.stem}" for path in LIBRARY}
