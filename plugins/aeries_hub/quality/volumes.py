"""The extract volume check: rows per Aeries table and school compared with the last delivery, so that a partial
answer from Aeries does not make the vendor drop the missing records."""

from __future__ import annotations

import logging

from aeries_hub.delivery.state import delivered_state
from aeries_hub.mapping.models import Mapping

log = logging.getLogger(__name__)


def volume_check(mapping: Mapping, volumes: dict, params: dict) -> dict:
    """Rows per table and school (``extract_volumes``) compared with the last delivery: a far smaller extract
    is a failed check (unless the run's ``allow_extract_drop`` param says the drop is real)."""
    from aeries_hub.changes import volume_drops

    last = delivered_state(mapping, params).read().manifest or {}
    drops = volume_drops(volumes, last.get("sources", {}), last.get("run_id", ""))
    allowed = bool(params.get("allow_extract_drop"))
    message = ""
    if drops:
        message = (
            "Aeries returned far fewer rows than at the last delivery (a partial answer would make the vendor "
            "drop those records):\n  " + "\n  ".join(drops) + "\nRe-run once Aeries answers in full; if the drop "
            "is real (a school closed or left the integration), trigger the DAG with allow_extract_drop on."
        )
        (log.warning if allowed else log.error)("%s", message)
    return {"tables": volumes, "drops": drops, "allowed": allowed, "message": message}
