"""Airflow import error for invalid mapping files; this file defines no DAG.

When a file in include/mappings/ or include/writebacks/ fails validation, this file raises, so the Airflow UI lists an import
error naming the mapping file, the key path and the problem. The valid mappings keep their DAGs: they are
built by vendor_integrations.py, which Airflow parses separately.
"""

from aeries_hub.dag_factory import raise_for_invalid_mappings
from aeries_hub.paths import MAPPINGS_DIR, WRITEBACKS_DIR

raise_for_invalid_mappings(MAPPINGS_DIR, WRITEBACKS_DIR)
