"""The validate_sources task: the extracted Aeries tables checked before anything is built from them."""

from __future__ import annotations

from aeries_hub.run.summary import write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for


def validate_sources(mapping_file: str, extracted: list[dict]) -> dict:
    """Run the Aeries source suites (:func:`aeries_hub.quality.aeries_sources.validate_tables`); write
    ``validated/<table>.parquet`` and rejects; stop on errors."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.quality.aeries_sources import validate_tables

    run = RunFolder.current()
    mapping = mapping_for(mapping_file)
    tables = [item["table"] for item in extracted]
    summary = validate_tables(mapping, run, tables, get_current_context()["params"])
    write_summary(run, "validate_sources", summary)
    if summary["errors"]:
        raise AirflowFailException("Aeries data failed its error checks; nothing was delivered.\n" + "\n".join(summary["errors"]))
    return {name: {k: v for k, v in t.items() if k != "checks"} for name, t in summary["tables"].items()}
