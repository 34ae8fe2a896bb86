"""Where the project's configuration lives.

``include/`` sits beside ``plugins/`` in the repository and in the Docker image (/opt/airflow/include);
set AERIES_HUB_INCLUDE_DIR to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

INCLUDE_DIR = Path(os.environ.get("AERIES_HUB_INCLUDE_DIR") or Path(__file__).resolve().parents[2] / "include")
MAPPINGS_DIR = INCLUDE_DIR / "mappings"
WRITEBACKS_DIR = INCLUDE_DIR / "writebacks"
SCHEMAS_DIR = INCLUDE_DIR / "schemas"
QUALITY_DIR = INCLUDE_DIR / "quality"
