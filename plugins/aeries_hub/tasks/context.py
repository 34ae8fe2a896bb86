"""What a vendor DAG's task reads besides its arguments: its mapping, from the file name the DAG passes."""

from __future__ import annotations

from aeries_hub import paths
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import Mapping


def mapping_for(mapping_file: str) -> Mapping:
    return load_mapping(paths.MAPPINGS_DIR / mapping_file)


def delivers_nothing(params) -> bool:
    """A dry run: the ``dry_run`` param, or a ``rollover_preview`` (next school year's data, never delivered)."""
    return bool(params.get("dry_run") or params.get("rollover_preview"))
