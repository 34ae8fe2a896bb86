"""The validate_sources task: the extracted Aeries tables checked before anything is built from them."""

from __future__ import annotations

import dataclasses

from aeries_hub.run.summary import SourceValidation, read_run, write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for


def validate_sources(mapping_file: str, extracted: list[dict]) -> dict:
    """Run the Aeries source suites (:func:`aeries_hub.quality.aeries_sources.validate_tables`); write
    ``validated/<table>.parquet`` and rejects; stop on errors. The summary also settles what every build takes
    from Aeries (:func:`aeries_hub.extract.school_year.settle_run_values`). When nothing it depends on changed since
    the last completed run, that run's files are taken instead (:mod:`aeries_hub.run.reuse`). Returns the rows
    accepted per table."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.extract.school_year import settle_run_values
    from aeries_hub.quality.aeries_sources import validate_tables
    from aeries_hub.run import reuse
    from aeries_hub.run.report import failed_checks

    run = RunFolder.current()
    mapping = mapping_for(mapping_file)
    params = get_current_context()["params"]
    plan = reuse.reuse_validation(reuse.plan_validation(mapping, run, params), mapping, run, params)
    if isinstance(plan, SourceValidation):
        write_summary(run, "validate_sources", plan)
        return {name: table["accepted"] for name, table in plan.tables.items()}
    tables = [item["table"] for item in extracted]
    summary = SourceValidation(**validate_tables(mapping, run, tables, params, earlier=plan.tables,
                                                 extracts_sha256=plan.inputs["extracts"]))
    if summary.errors:
        write_summary(run, "validate_sources", summary)
        # The summary's errors show each failing check's sample rows (student values): the log names their ids.
        why = failed_checks(mapping, summary, {})
        if summary.volumes.get("message") in summary.errors:
            why.append(summary.volumes["message"])
        raise AirflowFailException("Aeries data failed its error checks; nothing was delivered.\n" + "\n".join(why))
    try:
        day, as_of, values = settle_run_values(mapping, run, read_run(run).extracts.values())
    except AirflowFailException:
        write_summary(run, "validate_sources", summary)  # the report still counts the checks
        raise
    write_summary(run, "validate_sources", dataclasses.replace(
        summary, run_date=day.isoformat(), dates_as_of=as_of.isoformat(), run_values=values,
        **reuse.recorded_validation(plan, run)))
    return {name: table["accepted"] for name, table in summary.tables.items()}
