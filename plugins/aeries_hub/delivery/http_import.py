"""Delivery over ``delivery.http``: a run's JSON Lines files posted to the import API of the run's target (one of
the mapping's ``targets``), a file unchanged since the target received it not sent again, a ``test_record`` run
sending one record, and the once-per-schedule latch of a target that takes one scheduled import only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aeries_hub.mapping.models import HttpDelivery, HttpTarget, Mapping
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpImportDelivery:
    mapping: Mapping
    spec: HttpDelivery

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> HttpImportDelivery | None:
        return cls(mapping, mapping.http) if mapping.http else None

    def params(self) -> dict:
        from airflow.sdk import Param

        key = self.mapping.delivered_outputs[0].key[0]
        return {
            "target": Param(
                self.spec.target,
                type="string",
                enum=list(self.spec.targets),
                description="Which of the vendor's instances receives the records.",
            ),
            # Nullable, so that the trigger form treats it as optional (a plain string is a required field there).
            "test_record": Param(
                None,
                type=["null", "string"],
                description=f"Send only the record whose {key} is this, after showing its mapped values in the deliver task's log.",
            ),
        }

    def needs_target_gate(self) -> bool:
        """A target that takes one scheduled import only (a vendor sandbox) is checked before the run pulls."""
        return any(t.scheduled_imports == "once" for t in self.spec.targets.values())

    def skip_reason(self, context: Any) -> str | None:
        """Once the one scheduled import of a ``scheduled_imports: once`` target happened, later scheduled runs skip
        with the reason; manual runs always go on."""
        from airflow.sdk import Variable

        target = self.target(context["params"])
        done = None
        if scheduled_once(target, context):
            done = Variable.get(sandbox_latch(self.mapping, target.name), default=None)
        if not done:
            return None
        return (
            f"Scheduled imports to the {target.name} target run once and already ran ({done}); "
            f"trigger the DAG by hand, point delivery.http.target elsewhere, or delete the Airflow Variable "
            f"{sandbox_latch(self.mapping, target.name)} to schedule it again"
        )

    def target(self, params: dict) -> HttpTarget:
        name = params.get("target") or self.spec.target
        try:
            return self.spec.targets[name]
        except KeyError:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"target {name!r} is not one of delivery.http.targets ({', '.join(self.spec.targets)})") from None

    def target_name(self, params: dict) -> str:
        return self.target(params).name

    def target_address(self, params: dict) -> tuple[str, str]:
        target = self.target(params)
        return target.conn_id, f"{target.name}{self.spec.endpoint}"

    def deliver(self, run: RunFolder, built: list[dict], context: Any, state: Any) -> list[dict]:
        from datetime import datetime, timezone

        from airflow.sdk import Variable

        from aeries_hub.delivery import DeliveryError
        from aeries_hub.delivery.http import deliver_records
        from aeries_hub.staging import safe_segment

        mapping = self.mapping
        last = state.read().current or {}
        target = self.target(context["params"])
        test_record = str(context["params"].get("test_record") or "").strip()
        receipts = []
        for item in built:
            output = mapping.output(item["file"])
            path = run.path("output", item["file"])
            if not test_record and last.get("files", {}).get(item["file"], {}).get("sha256") == item["sha256"]:
                receipts.append(_unchanged_http_receipt(self.spec.endpoint, target, item, last))
                log.info(
                    "%s is unchanged since the %s target received it in run %s (sha256 %s): not sent again",
                    item["file"], target.name, last["run_id"], item["sha256"],
                )
                continue
            if test_record:
                path = run.write_bytes(f"output/test_record/{item['file']}", _one_record(path, output, test_record))
            rows = 1 if test_record else item["rows"]
            about = {"file": item["file"], "rows": rows, "target": target.name, "test_record": test_record or None}
            try:
                receipt = deliver_records(
                    target.conn_id,
                    self.spec.endpoint,
                    path,
                    batch_size=self.spec.batch_size,
                    idempotency_prefix=safe_segment(f"{mapping.dag_id}-{context['run_id']}-{output.stem}"),
                    id_field=output.key[0],
                )
            except DeliveryError as exc:  # what the target took before, this file's answered batches included
                exc.received = receipts + [{**partial, **about, "partial": True} for partial in exc.received]
                raise
            document = receipt.to_dict()
            if document["rejected"]:
                import pandas as pd

                from aeries_hub.quality.runner import rejects_csv

                rejected = pd.DataFrame([{"id": r["id"], "_reject_reason": "; ".join(r["errors"])} for r in document["rejected"]])
                run.write_bytes(f"rejects/delivery_{output.stem}.csv", rejects_csv(rejected))
            receipts.append({**document, **about})
            log.info(
                "Posted %s to %s (%s target): %d records in %d batches, %d imported, %d rejected by the vendor",
                item["file"], document["url"], target.name, document["records_sent"], document["batches"],
                document["imported"], len(document["rejected"]),
            )
        if scheduled_once(target, context) and not test_record:
            stamp = f"run {context['run_id']} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            Variable.set(sandbox_latch(mapping, target.name), stamp)
            log.info("Scheduled imports to the %s target are now off (%s)", target.name, sandbox_latch(mapping, target.name))
        return receipts

    def files_at_target(self, names: list[str]) -> tuple[str, list[str]]:
        return "", []  # an import API cannot be listed


def sandbox_latch(mapping: Mapping, target: str) -> str:
    """The Airflow Variable recording the one scheduled import of a ``scheduled_imports: once`` target."""
    return f"aeries_hub.{mapping.dag_id}.{target}.scheduled_import"


def scheduled_once(target, context) -> bool:
    """A run that is not manual, to a target that takes one scheduled import only."""
    return target.scheduled_imports == "once" and context["dag_run"].run_type != "manual"


def _unchanged_http_receipt(endpoint: str, target: HttpTarget, item: dict, last: dict) -> dict:
    return {
        "file": item["file"],
        "conn_id": target.conn_id,
        "url": endpoint,
        "target": target.name,
        "rows": item["rows"],
        "bytes": item["bytes"],
        "sha256": item["sha256"],
        "already_there": True,
        "records_sent": 0,
        "batches": 0,
        "imported": 0,
        "rejected": [],
        "test_record": None,
        "previous_run_id": last["run_id"],
    }


def _one_record(path, output, record_id: str) -> bytes:
    """The line of a jsonl file whose key (``output.key[0]``, a dotted path) is ``record_id``; logged in full."""
    import json

    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.delivery.http import record_field

    with path.open("rb") as handle:
        for line in handle:
            record = json.loads(line)
            if str(record_field(record, output.key[0]) or "").strip() == record_id:
                log.info("test_record %s: sending only this record:\n%s", record_id, json.dumps(record, indent=2, ensure_ascii=False))
                return line
    raise AirflowFailException(
        f"test_record {record_id}: no record of {output.file} has {output.key[0]} {record_id}; the mapping may "
        f"filter it out or a check rejected it (see rejects/{output.stem}.csv)"
    )

