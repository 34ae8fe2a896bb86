"""Check specs for the runner's tests, as a checks file would hold them."""

from __future__ import annotations

from aeries_hub.quality import Check, parse_checks

WHERE = "test.yml: students"


def checks(*specs: dict) -> list[Check]:
    return parse_checks(list(specs), where=WHERE)


def spec(expectation: str, severity: str = "error", **kwargs) -> dict:
    return {"expectation": expectation, "severity": severity, **kwargs}
