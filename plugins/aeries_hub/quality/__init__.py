"""Data quality gates: check specs from YAML, run with Great Expectations Core 1.x inside Airflow tasks.

>>> checks = load_checks(QUALITY_DIR / "aeries_sources.yml")          # {table: [Check, ...]}
>>> outcome = validate_frame(frames["rosters"], checks["rosters"], name="rosters",
...                          tables=frames, docs_dir=run_dir / "quality")
>>> if outcome.has_errors:
...     raise AirflowFailException(outcome.error_message())
>>> outcome.accepted, outcome.rejected        # rejected has a _reject_reason column

Importing this package does not import Great Expectations; ``validate_frame`` does, on first use.
"""

from aeries_hub.quality.checks import (
    EXPECTATIONS,
    SEVERITIES,
    Check,
    CheckConfigError,
    TableRef,
    load_checks,
    parse_checks,
)
from aeries_hub.quality.messages import failure_sentence
from aeries_hub.quality.runner import (
    REJECT_REASON,
    CheckResult,
    ValidationOutcome,
    combine_reports,
    validate_frame,
)

__all__ = [
    "EXPECTATIONS",
    "REJECT_REASON",
    "SEVERITIES",
    "Check",
    "CheckConfigError",
    "CheckResult",
    "TableRef",
    "ValidationOutcome",
    "combine_reports",
    "failure_sentence",
    "load_checks",
    "parse_checks",
    "validate_frame",
]
