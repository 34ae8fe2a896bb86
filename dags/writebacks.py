"""Airflow DAGs that write vendor exports into Aeries: one per file in include/writebacks/ (see
aeries_hub.dag_factory.build_writeback_dags). This docstring names airflow and dag for Airflow's safe mode.
"""

from aeries_hub.dag_factory import build_writeback_dags
from aeries_hub.paths import MAPPINGS_DIR, WRITEBACKS_DIR

globals().update(build_writeback_dags(WRITEBACKS_DIR, MAPPINGS_DIR))
