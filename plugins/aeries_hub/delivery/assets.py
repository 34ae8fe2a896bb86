"""The Assets a DAG's delivered files update, and the event each delivery adds: the run's report in brief, where
it delivered (a fingerprint, no credentials) and the receipt."""

from __future__ import annotations

from aeries_hub.delivery.state import delivery_fingerprint
from aeries_hub.mapping.models import Mapping
from aeries_hub.run.report import summarize_run
from aeries_hub.run.summary import read_run
from aeries_hub.staging import RunFolder


def delivered_asset(mapping: Mapping, file: str):
    """The Asset a delivered file updates; each delivery adds an event whose extra is the run's report."""
    from airflow.sdk import Asset

    return Asset(name=f"{mapping.dag_id}/{file}", uri=f"aeries-hub://{mapping.dag_id}/{file}", group="vendor-delivery")


def emit_asset_events(mapping: Mapping, run: RunFolder, receipts: list[dict], context) -> None:
    report = summarize_run(mapping, read_run(run)).to_json()
    summary = {k: report[k] for k in ("integration", "status", "extracted", "checks", "rejected", "rejected_by_vendor", "changes")}
    fingerprint = delivery_fingerprint(mapping, context["params"])
    for receipt in receipts:
        context["outlet_events"][delivered_asset(mapping, receipt["file"])].extra = {
            **summary,
            "run_id": context["run_id"],
            "target_fingerprint": fingerprint,
            "delivered": {k: v for k, v in receipt.items() if k not in ("rejected", "results")},
        }

