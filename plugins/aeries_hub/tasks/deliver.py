"""The package and deliver tasks: the run's files zipped when the mapping asks for it, and sent to the vendor."""

from __future__ import annotations

import time

from aeries_hub.delivery import DeliveryError
from aeries_hub.delivery.assets import emit_asset_events
from aeries_hub.delivery.base import delivery_for
from aeries_hub.delivery.disclosures import disclosure_entries, record_disclosures
from aeries_hub.delivery.holds import HELD_FOLDER, hold_files, hold_of_run
from aeries_hub.delivery.package import package_files
from aeries_hub.delivery.state import check_still_compared, delivered_state, remember_delivery
from aeries_hub.run.summary import DeliverySummary, write_summary
from aeries_hub.staging import RunFolder, staging_base
from aeries_hub.tasks.context import delivers_nothing, mapping_for


def package(mapping_file: str, built: list[dict]) -> list[dict]:
    """Put every built file into one zip (``delivery.package.zip``), with fixed timestamps so that a re-run
    of the same data gives the same bytes."""
    mapping = mapping_for(mapping_file)
    assert mapping.package_zip, "the package task of a mapping without delivery.package"
    return package_files(RunFolder.current(), built, mapping.package_zip)


def deliver(mapping_file: str, built: list[dict]) -> dict:
    """Send every built file to the vendor, and record what it received in the disclosure log; a dry run (the
    ``dry_run`` param) stops before sending, and so does a blackout of the mapping's calendar (the task is skipped,
    the report says Held). Part of the changes is held when the approver chose so or an additions-only window is open
    (:mod:`aeries_hub.delivery.holds`). Returns the files delivered (their receipts are in the summary)."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    from aeries_hub.calendar_policy import blackout_line
    from aeries_hub.extract.school_year import run_date

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    context = get_current_context()
    if delivers_nothing(context["params"]):
        write_summary(run, "deliver", DeliverySummary(dry_run=True))
        what = "rollover_preview" if context["params"].get("rollover_preview") else "dry_run"
        raise AirflowSkipException(f"{what} is on: files were built and checked but not delivered")
    blackout = mapping.calendar.blackout_on(run_date(mapping))
    if blackout:
        reason = blackout_line(blackout)
        write_summary(run, "deliver", DeliverySummary(held_because=reason))
        raise AirflowSkipException(reason)
    started = time.monotonic()
    state = delivered_state(mapping, context["params"])
    check_still_compared(run, state, context["run_id"])
    delivery = delivery_for(mapping)
    hold = hold_of_run(mapping, run)
    held = None
    if hold and not context["params"].get("test_record"):
        built, held = hold_files(mapping, run, state.read(), built, hold)
    target = delivery.target_name(context["params"])
    try:
        receipts = delivery.deliver(run, built, context, state)
    except DeliveryError as exc:
        # What the target took before the failure was disclosed all the same (an HTTP import's answered batches).
        record_disclosures(staging_base(), disclosure_entries(mapping, exc.received, context["run_id"], target))
        if exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{exc} (not retried: another attempt would fail the same way)") from exc
    record_disclosures(staging_base(), disclosure_entries(mapping, receipts, context["run_id"], target))
    write_summary(run, "deliver", DeliverySummary(files=receipts, seconds=round(time.monotonic() - started, 3), held=held))
    if not context["params"].get("test_record"):
        remember_delivery(mapping, run, state, receipts, context["run_id"], HELD_FOLDER if held else "built")
    emit_asset_events(mapping, run, receipts, context)
    return {"files": [receipt["file"] for receipt in receipts]}

