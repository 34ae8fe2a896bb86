"""Validation of the extracted Aeries tables against ``include/quality/aeries_sources.yml``: accepted rows to
``validated/<table>.parquet``, rejected ones to ``rejects/source_<table>.csv``, the extract volume check, the
pseudo-schools the run leaves out, and the coverage of the mapping's checked crosswalks."""

from __future__ import annotations

import logging
from typing import Any

from aeries_hub.mapping.models import Mapping
from aeries_hub.paths import QUALITY_DIR
from aeries_hub.quality.volumes import volume_check
from aeries_hub.run.rejects import rejected_ids
from aeries_hub.run.reuse import EarlierTables, table_inputs
from aeries_hub.staging import RunFolder

log = logging.getLogger(__name__)

SOURCE_CHECKS_FILE = QUALITY_DIR / "aeries_sources.yml"

#: Tables that others point at come first (rosters point at students and sections, sections at courses; programs
#: and contacts at students). A registry table not listed is validated after these.
VALIDATION_ORDER = ["schools", "terms", "courses", "staff", "teachers", "students", "contacts", "programs", "sections",
                    "rosters"]


def validate_tables(mapping: Mapping, run: RunFolder, tables: list[str], params: dict,
                    earlier: EarlierTables | None = None, extracts_sha256: dict[str, str] | None = None) -> dict:
    """Run the Aeries source suites over the extracted ``tables``; the summary has ``errors`` when the run must stop.

    Parents are validated before the tables that point at them, and references are checked against the
    parents' accepted rows, so a roster row of a rejected student is rejected too. Then the mapping's
    checked crosswalks are compared with the accepted rows: missing entries are reported with proposals.

    With ``earlier`` (the last completed run, when only extracts changed since) and each extract's sha256, a table
    whose inputs are those that run recorded is taken from it instead (:class:`aeries_hub.run.reuse.EarlierTables`).
    """
    import pyarrow

    from aeries_hub.aeries.tables import TABLES
    from aeries_hub.mapping.crosswalk import checked_columns
    from aeries_hub.quality import load_checks, validate_frame
    from aeries_hub.quality.checks import referenced_columns, select_checks
    from aeries_hub.quality.runner import rejects_csv
    from aeries_hub.quality.volumes import extract_volumes

    suites = load_checks(SOURCE_CHECKS_FILE)
    names = sorted(tables, key=lambda table: VALIDATION_ORDER.index(table) if table in VALIDATION_ORDER
                   else len(VALIDATION_ORDER))
    # Of the accepted rows, only what comes later is kept in memory (all is in validated/): the columns later
    # checks refer to, and those the checks of crosswalks read.
    referenced = referenced_columns(c for name in names for c in select_checks(suites.get(name, []), names))
    for table, columns in checked_columns(mapping).items():
        referenced.setdefault(table, set()).update(columns)
    accepted: dict = {}
    volumes: dict = {}  # counted as each table is read: the extracted frames are not all kept at once
    summary: dict[str, Any] = {"tables": {}, "errors": []}
    with run.local_dir("quality/sources") as docs_dir:
        for name in names:
            checks = select_checks(suites.get(name, []), names)
            inputs = None
            if extracts_sha256 and name in extracts_sha256:
                inputs = table_inputs(extracts_sha256[name], names, {
                    parent: accepted[parent][sorted(columns)] for parent, columns in referenced_columns(checks).items()
                    if parent != name and parent in accepted})
            taken = earlier.take(run, name, inputs) if earlier is not None and inputs else None
            if earlier is not None and taken is not None:
                counted = run.read_parquet(f"extract/{name}.parquet", columns={"SchoolCode", *TABLES[name].key[:1]})
                volumes.update(extract_volumes({name: counted}))
                summary["tables"][name] = taken
                accepted[name] = run.read_parquet(f"validated/{name}.parquet", columns=referenced.get(name, set()))
                log.info("validate_sources takes %s from %s: its extract and what its checks read are unchanged",
                         name, earlier.previous_run)
                continue
            frame = run.read_parquet(f"extract/{name}.parquet")
            volumes.update(extract_volumes({name: frame}))
            outcome = validate_frame(
                frame, checks, name=name, tables={**accepted, name: frame}, docs_dir=docs_dir, id_columns=TABLES[name].key,
                data_docs=False,
            )
            frame = None  # its rows are in outcome.accepted and outcome.rejected: one copy less while sorting
            accepted[name] = outcome.accepted = sort_by_key(outcome.accepted, TABLES[name].key)
            run.write_parquet(f"validated/{name}.parquet", accepted[name])
            if len(outcome.rejected):
                run.write_bytes(f"rejects/source_{name}.csv", rejects_csv(outcome.rejected))
            summary["tables"][name] = {
                "rows": outcome.row_count,
                "accepted": len(outcome.accepted),
                "rejected": len(outcome.rejected),
                "rejected_ids": rejected_ids(outcome.rejected, TABLES[name].key),
                "checks": outcome.to_dict(),
                **({"inputs": inputs} if inputs else {}),
            }
            if outcome.has_errors:
                summary["errors"].append(outcome.error_message())
            accepted[name] = accepted[name][[c for c in accepted[name].columns if c in referenced.get(name, ())]]
            del outcome
            pyarrow.default_memory_pool().release_unused()  # give the table's buffers back before the next
    summary["volumes"] = volume_check(mapping, volumes, params)
    if summary["volumes"]["drops"] and not summary["volumes"]["allowed"]:
        summary["errors"].append(summary["volumes"]["message"])
    summary["left_out_schools"] = left_out = left_out_schools(mapping, run)
    if not summary["errors"]:
        summary["crosswalks"] = _crosswalk_coverage(mapping, accepted, left_out)
    return summary


def left_out_schools(mapping: Mapping, run: RunFolder) -> list[dict]:
    """The pseudo-schools this run leaves out (``engine.left_out_schools``), from the validated schools and
    students; logged, and listed in the report."""
    from aeries_hub.mapping.reads import PSEUDO_SCHOOL_COLUMNS
    from aeries_hub.mapping.source_filters import describe_left_out
    from aeries_hub.mapping.source_filters import left_out_schools as pseudo

    frames = {table: run.read_parquet(f"validated/{table}.parquet", columns=columns) if run.exists(f"validated/{table}.parquet") else None
              for table, columns in PSEUDO_SCHOOL_COLUMNS.items()}
    schools = pseudo(mapping, frames["schools"], frames["students"])
    if schools:
        log.info("%s", describe_left_out(schools))
    return schools


def _crosswalk_coverage(mapping: Mapping, accepted: dict, left_out: list[dict]) -> dict:
    from aeries_hub.mapping.crosswalk import coverage_lines, crosswalk_coverage

    coverage = crosswalk_coverage(mapping, accepted, left_out)
    for name, entry in coverage.items():
        for line in coverage_lines(name, entry):
            log.warning("%s", line)
    return coverage


def sort_by_key(frame, key: tuple[str, ...]):
    """Rows in primary-key order, so that "the first matching row" of a lookup is well defined."""
    present = [k for k in key if k in frame.columns]
    return frame.sort_values(present, kind="mergesort").reset_index(drop=True) if present else frame

