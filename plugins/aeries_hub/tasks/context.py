"""What a vendor DAG's task reads besides its arguments: its mapping, from the file name the DAG passes."""

from __future__ import annotations

from aeries_hub import paths
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import Mapping


def mapping_for(mapping_file: str) -> Mapping:
    return load_mapping(paths.MAPPINGS_DIR / mapping_file)
