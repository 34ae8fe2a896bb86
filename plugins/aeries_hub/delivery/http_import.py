"""Delivery over ``delivery.http``: a run's JSON Lines files posted to the import API of the run's target (one of
the mapping's ``targets``), a file unchanged since the target received it not sent again, a ``test_record`` run
sending one record, and the once-per-schedule latch of a target that takes one scheduled import only."""

from __future__ import annotations

import logging

from aeries_hub.mapping.loader import Mapping
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)


def http_target(mapping: Mapping, params: dict):
    assert mapping.http is not None, "an http target of a mapping that delivers over sftp"
    name = params.get("target") or mapping.http.target
    try:
        return mapping.http.targets[name]
    except KeyError:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"target {name!r} is not one of delivery.http.targets ({', '.join(mapping.http.targets)})") from None


def sandbox_latch(mapping: Mapping, target: str) -> str:
    """The Airflow Variable recording the one scheduled import of a ``scheduled_imports: once`` target."""
    return f"aeries_hub.{mapping.dag_id}.{target}.scheduled_import"


def scheduled_once(target, context) -> bool:
    """A run that is not manual, to a target that takes one scheduled import only."""
    return target.scheduled_imports == "once" and context["dag_run"].run_type != "manual"


def deliver_http(mapping: Mapping, run: RunFolder, built: list[dict], context, last: dict) -> list[dict]:
    from datetime import datetime, timezone

    from airflow.sdk import Variable

    from aeries_hub.delivery.http import deliver_records
    from aeries_hub.staging import safe_segment

    assert mapping.http is not None, "an http delivery of a mapping that delivers over sftp"
    target = http_target(mapping, context["params"])
    test_record = str(context["params"].get("test_record") or "").strip()
    receipts = []
    for item in built:
        output = mapping.output(item["file"])
        path = run.path("output", item["file"])
        if not test_record and last.get("files", {}).get(item["file"], {}).get("sha256") == item["sha256"]:
            receipts.append(_unchanged_http_receipt(mapping, target, item, last))
            log.info(
                "%s is unchanged since the %s target received it in run %s (sha256 %s): not sent again",
                item["file"], target.name, last["run_id"], item["sha256"],
            )
            continue
        if test_record:
            path = run.write_bytes(f"output/test_record/{item['file']}", _one_record(path, output, test_record))
        receipt = deliver_records(
            target.conn_id,
            mapping.http.endpoint,
            path,
            batch_size=mapping.http.batch_size,
            idempotency_prefix=safe_segment(f"{mapping.dag_id}-{context['run_id']}-{output.stem}"),
            id_field=output.key[0],
        )
        document = receipt.to_dict()
        rows = 1 if test_record else item["rows"]
        if document["rejected"]:
            import pandas as pd

            from aeries_hub.quality.runner import rejects_csv

            rejected = pd.DataFrame([{"id": r["id"], "_reject_reason": "; ".join(r["errors"])} for r in document["rejected"]])
            run.write_bytes(f"rejects/delivery_{output.stem}.csv", rejects_csv(rejected))
        receipts.append({**document, "file": item["file"], "rows": rows, "target": target.name, "test_record": test_record or None})
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


def _unchanged_http_receipt(mapping: Mapping, target, item: dict, last: dict) -> dict:
    assert mapping.http is not None, "an http receipt of a mapping that delivers over sftp"
    return {
        "file": item["file"],
        "conn_id": target.conn_id,
        "url": mapping.http.endpoint,
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

