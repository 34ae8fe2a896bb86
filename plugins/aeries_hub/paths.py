"""Where the project's configuration lives.

``include/`` (the district's mappings, write-backs, crosswalks, check suites and data-sharing policy) sits beside ``plugins/`` in the
repository and in the Docker image (/opt/airflow/include); set AERIES_HUB_INCLUDE_DIR to point elsewhere. The
JSON Schemas of those formats belong to the package that reads them: they are package data
(``aeries_hub/schemas/``), installed with it wherever it is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

INCLUDE_DIR = Path(os.environ.get("AERIES_HUB_INCLUDE_DIR") or Path(__file__).resolve().parents[2] / "include")
MAPPINGS_DIR = INCLUDE_DIR / "mappings"
WRITEBACKS_DIR = INCLUDE_DIR / "writebacks"
SCHEMAS_DIR = Path(__file__).resolve().parent / "schemas"
QUALITY_DIR = INCLUDE_DIR / "quality"
#: The district's data-sharing policy every mapping is checked against (aeries_hub.mapping.sharing).
DISTRICT_POLICY = INCLUDE_DIR / "district_policy.yml"
