"""Data quality gates: check specs from YAML, run with Great Expectations Core 1.x inside Airflow tasks.

>>> checks = load_checks(QUALITY_DIR / "aeries_sources.yml")          # {table: [Check, ...]}
>>> outcome = validate_frame(frames["rosters"], checks["rosters"], name="rosters",
...                          tables=frames, docs_dir=run_dir / "quality")
>>> if outcome.has_errors:
...     raise AirflowFailException(outcome.error_message())
>>> outcome.accepted, outcome.rejected        # rejected has a _reject_reason column

Importing this package imports none of its modules: each name is imported on first use, so reading checks does not
import pandas (the runner does) and only ``validate_frame`` imports Great Expectations, on its first call.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each name lives. Resolved on first use (PEP 562), so that a task that only reads check files (an extract's
#: ``load_checks``, a report's ``failure_sentence``) does not import the runner and, with it, pandas and numpy.
_HOMES = {
    "EXPECTATIONS": "checks", "SEVERITIES": "checks", "Check": "checks", "CheckConfigError": "checks",
    "TableRef": "checks", "load_checks": "checks", "parse_checks": "checks",
    "failure_sentence": "messages",
    "REJECT_REASON": "runner", "CheckResult": "runner", "ValidationOutcome": "runner", "combine_reports": "runner",
    "validate_frame": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


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
