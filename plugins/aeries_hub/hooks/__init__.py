"""Hooks of the Aeries integration hub.

``from aeries_hub.hooks import AeriesHook, TABLES`` works, but the module is imported only on first use so
that DAG parsing does not pay for ``requests`` and the Airflow hook machinery.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = (
    "TABLES",
    "AeriesAuthError",
    "AeriesConfigError",
    "AeriesError",
    "AeriesHook",
    "AeriesNotFoundError",
    "AeriesRequestError",
    "AeriesTable",
    "ExtractResult",
    "rows_to_arrow",
    "table_spec",
)

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from aeries_hub.hooks import aeries

        return getattr(aeries, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
