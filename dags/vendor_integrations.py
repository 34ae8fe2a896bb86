"""Airflow DAGs: one per vendor mapping file in include/mappings/ (built by aeries_hub.dag_factory).

Airflow's safe mode only parses files that mention both "airflow" and "dag"; this docstring does.
"""

from aeries_hub.dag_factory import build_dags
from aeries_hub.paths import MAPPINGS_DIR, WRITEBACKS_DIR

globals().update(build_dags(MAPPINGS_DIR, WRITEBACKS_DIR))
