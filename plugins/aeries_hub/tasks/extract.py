"""The extract tasks: one whole Aeries table into ``extract/<table>.parquet``, in full or incrementally."""

from __future__ import annotations

from aeries_hub.aeries.collect import extract_to_parquet
from aeries_hub.extract.school_year import aeries_for_run
from aeries_hub.mapping.models import Mapping
from aeries_hub.run.summary import ExtractSummary, write_summary
from aeries_hub.staging import RunFolder, make_private
from aeries_hub.tasks.context import mapping_for


def extract_table(mapping_file: str, table: str) -> dict:
    """Pull one whole Aeries table into ``extract/<table>.parquet``, from the school year Aeries serves for the
    run's date (see AeriesHook.check_database_year); the summary says which year that is, and why when it is
    not the run's. Returns the table and its rows (validate_sources takes the tables)."""
    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    target = run.path("extract", f"{table}.parquet")
    hook, year = aeries_for_run(mapping.aeries_conn_id, mapping, run)
    if mapping.incremental:
        summary = ExtractSummary.from_json({**_extract_incrementally(mapping, hook, table, target), **year.to_dict()})
    else:
        result = extract_to_parquet(hook, table, target, school_codes=list(mapping.school_codes) or None)
        summary = ExtractSummary(
            table=table, rows=result.rows, requests=result.requests, retries=result.retries,
            seconds=round(result.seconds, 3), path=str(target), **year.to_dict(),
            teachers_from_section_staff=result.section_staff_teachers or None,
        )
    make_private(target)
    write_summary(run, f"extract_{table}", summary)
    return {"table": table, "rows": summary.rows}


def _extract_incrementally(mapping: Mapping, hook, table: str, target) -> dict:
    """``source.incremental``: only what changed since the DAG's extract snapshot, merged into it (see
    :mod:`aeries_hub.extract.incremental`); a full extraction when the snapshot is too old or the run asks for one."""
    from airflow.sdk import get_current_context

    from aeries_hub.extract import incremental
    from aeries_hub.extract.fetch import page_cost_setting
    from aeries_hub.quality import load_checks
    from aeries_hub.quality.aeries_sources import SOURCE_CHECKS_FILE
    from aeries_hub.staging import staging_base

    assert mapping.incremental, "an incremental extraction of a mapping without source.incremental"
    snapshot = incremental.ExtractSnapshot(staging_base(), mapping.dag_id, mapping.aeries_conn_id, hook.database_year)
    return incremental.extract_table(
        hook, table, target, snapshot=snapshot, school_codes=list(mapping.school_codes) or None,
        full_every_hours=mapping.incremental.full_every_hours,
        max_changed_percent=mapping.incremental.max_changed_percent,
        force_full=bool(get_current_context()["params"].get("full_extract")),
        columns=incremental.kept_columns(mapping, table, load_checks(SOURCE_CHECKS_FILE)),
        page_cost=page_cost_setting(),
    )

