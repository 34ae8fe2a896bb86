"""Each stage's summary, ``summary/<task>.json`` in the run's staging folder: written by the task, read by the report
(even when a later task failed), the Asset events and the delivery checks."""

from __future__ import annotations

from aeries_hub.staging import RunFolder


def write_summary(run: RunFolder, name: str, document: dict) -> dict:
    run.write_json(f"summary/{name}.json", document)
    return document


def read_summaries(run: RunFolder) -> dict[str, dict]:
    """Every stage summary of the run so far, by task id."""
    return {name[: -len(".json")]: run.read_json(f"summary/{name}") for name in run.list("summary")}
