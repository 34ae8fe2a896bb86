"""The work of each task of a vendor DAG: extract, validate, build, deliver, report.

Tasks pass paths and counts between them (never data frames): each task reads its inputs from the
run's staging folder and writes its outputs there, with a small JSON summary under ``summary/`` that the
report task reads even when a task failed. Heavy imports stay inside the functions so that DAG parsing
stays fast.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import Any

from aeries_hub.mapping.loader import Mapping, load_mapping
from aeries_hub.paths import MAPPINGS_DIR, QUALITY_DIR
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)

SOURCE_CHECKS_FILE = QUALITY_DIR / "aeries_sources.yml"

#: Tables that others point at come first (rosters point at students and sections, sections at courses).
VALIDATION_ORDER = ["schools", "terms", "courses", "staff", "teachers", "students", "contacts", "sections", "rosters"]


def mapping_for(mapping_file: str) -> Mapping:
    return load_mapping(MAPPINGS_DIR / mapping_file)


def _summary(run: RunFolder, name: str, document: dict) -> dict:
    run.write_json(f"summary/{name}.json", document)
    return document


def wait_for_window(mapping_file: str) -> bool:
    """Poke of the window sensor: True inside the mapping's pull window (or with the ignore_window param)."""
    from datetime import datetime, timezone

    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    mapping = mapping_for(mapping_file)
    window = mapping.window
    run = RunFolder.current()
    now = datetime.now(timezone.utc)
    if get_current_context()["params"].get("ignore_window") or window.contains(now):
        _summary(run, "wait_for_window", {"in_window": True, "window": window.describe()})
        return True
    opens = window.next_opening(now)
    reason = f"{now.astimezone(opens.tzinfo):%a %H:%M} is outside the allowed pull window ({window.describe()}); it next opens {opens:%a %Y-%m-%d %H:%M}"
    _summary(run, "wait_for_window", {"in_window": False, "reason": reason})
    if window.outside == "skip":
        raise AirflowSkipException(f"{reason}. Nothing was pulled from Aeries (window.outside is skip).")
    log.info("%s: waiting (window.outside is wait)", reason)
    return False


def extract_table(mapping_file: str, table: str) -> dict:
    """Pull one whole Aeries table into ``extract/<table>.parquet``."""
    from aeries_hub.hooks.aeries import AeriesHook

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    target = run.path("extract", f"{table}.parquet")
    hook = AeriesHook(aeries_conn_id=mapping.aeries_conn_id)
    result = hook.extract_to_parquet(table, target, school_codes=list(mapping.school_codes) or None)
    return _summary(
        run,
        f"extract_{table}",
        {
            "table": table,
            "rows": result.rows,
            "requests": result.requests,
            "retries": result.retries,
            "seconds": round(result.seconds, 3),
            "path": str(target),
        },
    )


def validate_sources(extracted: list[dict]) -> dict:
    """Run the Aeries source suites; write ``validated/<table>.parquet`` and rejects; stop on errors.

    Parents are validated before the tables that point at them, and references are checked against the
    parents' accepted rows, so a roster row of a rejected student is rejected too.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.hooks.aeries import TABLES
    from aeries_hub.quality import load_checks, validate_frame
    from aeries_hub.quality.checks import select_checks

    run = RunFolder.current()
    suites = load_checks(SOURCE_CHECKS_FILE)
    names = sorted((item["table"] for item in extracted), key=VALIDATION_ORDER.index)
    accepted: dict = {}
    summary: dict[str, Any] = {"tables": {}, "errors": []}
    with run.local_dir("quality/sources") as docs_dir:
        for name in names:
            frame = run.read_parquet(f"extract/{name}.parquet")
            checks = select_checks(suites.get(name, []), names)
            outcome = validate_frame(
                frame, checks, name=name, tables={**accepted, name: frame}, docs_dir=docs_dir, id_columns=TABLES[name].key
            )
            accepted[name] = sort_by_key(outcome.accepted, TABLES[name].key)
            run.write_parquet(f"validated/{name}.parquet", accepted[name])
            if len(outcome.rejected):
                run.write_bytes(f"rejects/source_{name}.csv", outcome.rejected.to_csv(index=False).encode())
            summary["tables"][name] = {
                "rows": len(frame),
                "accepted": len(outcome.accepted),
                "rejected": len(outcome.rejected),
                "checks": outcome.to_dict(),
            }
            if outcome.has_errors:
                summary["errors"].append(outcome.error_message())
    _summary(run, "validate_sources", summary)
    if summary["errors"]:
        raise AirflowFailException("Aeries data failed its error checks; nothing was delivered.\n" + "\n".join(summary["errors"]))
    return {name: {k: v for k, v in t.items() if k != "checks"} for name, t in summary["tables"].items()}


def sort_by_key(frame, key: tuple[str, ...]):
    """Rows in primary-key order, so that "the first matching row" of a lookup is well defined."""
    present = [k for k in key if k in frame.columns]
    return frame.sort_values(present, kind="mergesort").reset_index(drop=True) if present else frame


def build_file(mapping_file: str, file_name: str) -> dict:
    """Map the validated tables to one vendor file, check it, write ``output/<file>`` and its rejects."""
    from airflow.sdk.exceptions import AirflowFailException

    from aeries_hub.mapping.engine import RECORD_SET_COLUMN, apply_source_filters, build_output
    from aeries_hub.mapping.render import render_delimited
    from aeries_hub.quality import parse_checks, validate_frame

    mapping = mapping_for(mapping_file)
    output = next(o for o in mapping.outputs if o.file == file_name)
    run = RunFolder.current()
    tables = {name: run.read_parquet(f"validated/{name}.parquet") for name in mapping.tables}
    built = build_output(mapping, output, apply_source_filters(mapping, tables))
    index = mapping.outputs.index(output)
    checks = parse_checks(output_checks(output), where=f"{mapping.path.name}: outputs[{index}]")
    with run.local_dir(f"quality/{output.stem}") as docs_dir:
        outcome = validate_frame(built.frame, checks, name=output.stem, docs_dir=docs_dir, id_columns=output.key)
    if len(outcome.rejected):
        run.write_bytes(f"rejects/{output.stem}.csv", outcome.rejected.to_csv(index=False).encode())
    summary = {
        "file": output.file,
        "rows_built": len(built.frame),
        "rows": len(outcome.accepted),
        "rejected": len(outcome.rejected),
        "rejected_ids": _ids(outcome.rejected, output.key),
        "rows_by_record_set": built.rows_by_record_set,
        "merged_duplicates": built.merged_duplicates,
        "checks": outcome.to_dict(),
    }
    if outcome.has_errors:
        _summary(run, f"build_{output.stem}", summary)
        raise AirflowFailException(f"{output.file} failed its error checks; nothing was delivered.\n{outcome.error_message()}")
    data = render_delimited(outcome.accepted.drop(columns=[RECORD_SET_COLUMN]), output.delivered_columns, output.format, output.key)
    path = run.write_bytes(f"output/{output.file}", data)
    summary.update(path=str(path), bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    _summary(run, f"build_{output.stem}", summary)
    return {k: summary[k] for k in ("file", "rows", "rejected", "path", "bytes", "sha256")}


def output_checks(output) -> list[dict]:
    """The checks an output file's column rules imply, followed by the mapping's own checks."""
    checks: list[dict] = [
        {
            "expectation": "expect_table_row_count_to_be_between",
            "min_value": output.min_rows,
            "severity": "error",
            "description": f"{output.file} has at least {output.min_rows} rows",
        }
    ]
    key = list(output.key)
    checks.append(
        {
            "expectation": "expect_compound_columns_to_be_unique" if len(key) > 1 else "expect_column_values_to_be_unique",
            **({"column_list": key} if len(key) > 1 else {"column": key[0]}),
            "severity": "error",
            "description": f"{' + '.join(key)} is unique in {output.file}",
        }
    )
    for column in output.columns:
        if column.do_not_map:
            continue
        name, severity = column.name, column.severity
        if column.required:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": r"\S",
                    "severity": severity,
                    "description": f"{name} is required",
                }
            )
        if column.max_length:
            checks.append(
                {
                    "expectation": "expect_column_value_lengths_to_be_between",
                    "column": name,
                    "max_value": column.max_length,
                    "severity": severity,
                    "description": f"{name} is at most {column.max_length} characters",
                }
            )
        if column.allowed:
            checks.append(
                {
                    "expectation": "expect_column_values_to_be_in_set",
                    "column": name,
                    "value_set": list(column.allowed),
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} is one of {', '.join(column.allowed)}",
                }
            )
        if column.pattern:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": column.pattern,
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} matches {column.pattern}",
                }
            )
    if output.format.quoting == "none":
        separator = output.format.delimiter
        for column in output.delivered_columns:
            checks.append(
                {
                    "expectation": "expect_column_values_to_not_match_regex",
                    "column": column,
                    "regex": f"[{re.escape(separator)}\r\n]",
                    "severity": "reject",
                    "description": f"{column} contains the delimiter {separator!r} or a line break, which {output.file} cannot quote",
                }
            )
    return checks + list(output.checks)


def _ids(frame, key: tuple[str, ...]) -> list[str]:
    if not len(frame):
        return []
    columns = [k for k in key if k in frame.columns]
    return ["/".join(str(v) for v in row) for row in frame[columns].itertuples(index=False, name=None)][:1000]


def package(mapping_file: str, built: list[dict]) -> list[dict]:
    """Put every built file into one zip (``delivery.package.zip``), with fixed timestamps so that a re-run
    of the same data gives the same bytes."""
    import io
    import zipfile

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in built:
            with run.path("output", item["file"]).open("rb") as handle:
                data = handle.read()
            info = zipfile.ZipInfo(item["file"], date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    data = buffer.getvalue()
    run.write_bytes(f"output/{mapping.package_zip}", data)
    rows = sum(item["rows"] for item in built)
    log.info("Packaged %d files (%d rows) into %s, %d bytes", len(built), rows, mapping.package_zip, len(data))
    return [{"file": mapping.package_zip, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}]


def deliver(mapping_file: str, built: list[dict]) -> dict:
    """Send every built file to the vendor; a dry run (the ``dry_run`` param) stops before sending."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowSkipException

    from aeries_hub.delivery.sftp import deliver_file

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    if get_current_context()["params"].get("dry_run"):
        _summary(run, "deliver", {"dry_run": True, "files": []})
        raise AirflowSkipException("dry_run is on: files were built and checked but not delivered")
    receipts = []
    started = time.monotonic()
    for item in built:
        remote = f"{mapping.sftp_remote_dir.rstrip('/')}/{item['file']}"
        receipt = deliver_file(mapping.sftp_conn_id, run.path("output", item["file"]), remote)
        receipts.append({**receipt.to_dict(), "rows": item["rows"]})
        log.info("Delivered %s (%d rows, %d bytes, sha256 %s)", remote, item["rows"], receipt.bytes, receipt.sha256)
    return _summary(run, "deliver", {"dry_run": False, "files": receipts, "seconds": round(time.monotonic() - started, 3)})


def report(mapping_file: str) -> dict:
    """Gather every stage's summary into ``report.json``, log it, and fail when the run ended in Error."""
    from airflow.sdk.exceptions import AirflowFailException

    mapping = mapping_for(mapping_file)
    run = RunFolder.current()
    stages = {name[: -len(".json")]: run.read_json(f"summary/{name}") for name in run.list("summary")}
    document = summarize_run(mapping, stages)
    document["staging"] = str(run.root)
    run.write_json("report.json", document)
    for line in report_lines(document):
        log.info("%s", line)
    if document["status"] == "Error":
        raise AirflowFailException(f"{mapping.name} run ended in Error; see {run.root}/report.json")
    return document


def summarize_run(mapping: Mapping, stages: dict[str, dict]) -> dict:
    extracted = {s["table"]: s["rows"] for name, s in stages.items() if name.startswith("extract_")}
    sources = stages.get("validate_sources", {})
    builds = {name[len("build_"):]: s for name, s in stages.items() if name.startswith("build_")}
    delivery = stages.get("deliver")
    outcomes = [t["checks"] for t in sources.get("tables", {}).values()] + [b["checks"] for b in builds.values()]
    checks = {key: sum(o.get(key, 0) for o in outcomes) for key in ("passed", "warned", "failed")}
    rejected = sum(t.get("rejected", 0) for t in sources.get("tables", {}).values()) + sum(
        b.get("rejected", 0) for b in builds.values()
    )
    expected_tables = set(mapping.tables)
    expected_files = {o.stem for o in mapping.outputs}
    finished = (
        set(extracted) == expected_tables
        and not sources.get("errors")
        and "validate_sources" in stages
        and all(stem in builds and "sha256" in builds[stem] for stem in expected_files)
        and delivery is not None
    )
    window = stages.get("wait_for_window", {})
    if window.get("in_window") is False and not extracted:
        status = "Skipped"
    elif not finished or checks["failed"]:
        status = "Error"
    elif rejected:
        status = "Completed with errors"
    else:
        status = "Completed"
    return {
        "integration": mapping.name,
        "status": status,
        "dry_run": bool(delivery and delivery.get("dry_run")),
        "extracted": extracted,
        "checks": checks,
        "rejected": rejected,
        "files": {
            stem: {k: b.get(k) for k in ("file", "rows", "rejected", "rejected_ids", "merged_duplicates", "sha256")}
            for stem, b in builds.items()
        },
        "delivered": (delivery or {}).get("files", []),
        "errors": sources.get("errors", []),
        **({"reason": window["reason"]} if status == "Skipped" else {}),
    }


def report_lines(document: dict) -> list[str]:
    lines = [f"{document['integration']}: {document['status']}" + (" (dry run)" if document["dry_run"] else "")]
    if document.get("reason"):
        lines.append(document["reason"])
    lines.append("extracted: " + ", ".join(f"{t} {n}" for t, n in sorted(document["extracted"].items())))
    c = document["checks"]
    lines.append(f"checks: {c['passed']} passed, {c['warned']} warned, {c['failed']} failed; {document['rejected']} rows rejected")
    for stem, f in document["files"].items():
        lines.append(f"built {f['file']}: {f['rows']} rows, {f['rejected']} rejected")
    for d in document["delivered"]:
        lines.append(f"delivered {d['remote_path']} over {d['conn_id']}: {d['rows']} rows, {d['bytes']} bytes, sha256 {d['sha256']}")
    if document.get("staging"):
        lines.append(f"report: {document['staging']}/report.json")
    return lines
