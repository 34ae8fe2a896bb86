"""The gates before a vendor DAG pulls from Aeries: the pull window sensor, and the once-per-schedule gate of an
http target that takes one scheduled import only."""

from __future__ import annotations

import logging

from aeries_hub.delivery.http_import import http_target, sandbox_latch, scheduled_once
from aeries_hub.run.summary import write_summary
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
        write_summary(run, "wait_for_window", {"in_window": True, "window": window.describe()})
        return True
    opens = window.next_opening(now)
    reason = f"{now.astimezone(opens.tzinfo):%a %H:%M} is outside the allowed pull window ({window.describe()}); it next opens {opens:%a %Y-%m-%d %H:%M}"
    write_summary(run, "wait_for_window", {"in_window": False, "reason": reason})
    if window.outside == "skip":
        raise AirflowSkipException(f"{reason}. Nothing was pulled from Aeries (window.outside is skip).")
    log.info("%s: waiting (window.outside is wait)", reason)
    return False


def check_target(mapping_file: str) -> dict:
    """Gate of an http delivery whose target takes one scheduled import only (a vendor sandbox): once that
    import happened, later scheduled runs skip with the reason; manual runs always go on."""
    from airflow.sdk import Variable, get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    context = get_current_context()
    target = http_target(mapping, context["params"])
    run = RunFolder.current()
    done = None
    if scheduled_once(target, context):
        done = Variable.get(sandbox_latch(mapping, target.name), default=None)
    if done:
        reason = (
            f"Scheduled imports to the {target.name} target run once and already ran ({done}); "
            f"trigger the DAG by hand, point delivery.http.target elsewhere, or delete the Airflow Variable "
            f"{sandbox_latch(mapping, target.name)} to schedule it again"
        )
        write_summary(run, "check_target", {"target": target.name, "skipped": True, "reason": reason})
        raise AirflowSkipException(reason)
    return write_summary(run, "check_target", {"target": target.name, "skipped": False})

