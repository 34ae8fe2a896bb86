"""The gates before a vendor DAG pulls from Aeries: the pull window sensor, and the target gate (the once-per-schedule
gate of an http target that takes one scheduled import only)."""

from __future__ import annotations

import logging

from aeries_hub.delivery.base import delivery_for
from aeries_hub.run.summary import TargetGateSummary, WindowSummary, write_summary
from aeries_hub.staging import RunFolder
from aeries_hub.tasks.context import mapping_for

log = logging.getLogger(__name__)


def wait_for_window(mapping_file: str) -> bool:
    """Poke of the window sensor: True inside the mapping's pull window (or with the ignore_window param)."""
    from datetime import datetime, timezone

    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    window = mapping.window
    assert window, "the pull window sensor of a mapping without window"
    run = RunFolder.current()
    now = datetime.now(timezone.utc)
    if get_current_context()["params"].get("ignore_window") or window.contains(now):
        write_summary(run, "wait_for_window", WindowSummary(in_window=True, window=window.describe()))
        return True
    opens = window.next_opening(now)
    reason = f"{now.astimezone(opens.tzinfo):%a %H:%M} is outside the allowed pull window ({window.describe()}); it next opens {opens:%a %Y-%m-%d %H:%M}"
    write_summary(run, "wait_for_window", WindowSummary(in_window=False, reason=reason))
    if window.outside == "skip":
        raise AirflowSkipException(f"{reason}. Nothing was pulled from Aeries (window.outside is skip).")
    log.info("%s: waiting (window.outside is wait)", reason)
    return False


def check_target(mapping_file: str) -> dict:
    """Gate of a delivery whose target may refuse this run (:meth:`aeries_hub.delivery.base.Delivery.skip_reason`:
    an http target that takes one scheduled import only, once that import happened): the run skips with the reason."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    context = get_current_context()
    delivery = delivery_for(mapping)
    target = delivery.target_name(context["params"])
    run = RunFolder.current()
    reason = delivery.skip_reason(context)
    if reason:
        write_summary(run, "check_target", TargetGateSummary(target=target, skipped=True, reason=reason))
        raise AirflowSkipException(reason)
    write_summary(run, "check_target", TargetGateSummary(target=target))
    return {"target": target, "skipped": False}
