"""Incremental extraction with Aeries' ``*DataChanges`` endpoints (mapping key ``source.incremental``).

Each DAG keeps, per Aeries connection and DatabaseYear, the last extraction of every table outside its run
folders: ``<staging>/<dag_id>/_extract_snapshot/<conn_id>-<year>/<table>.parquet`` and ``<table>.json``
(``extracted_at``: the district-local time the extraction started; ``last_full_at``: the same for the last
full extraction; rows, sha256 of the parquet, the settings it was taken with; ``request_seconds``: what a page and
a single record last took on this server, :func:`aeries_hub.extract.fetch.page_cost_of`). The JSON is written after the
parquet and names its sha256, so a half-written snapshot is never used. The staging retention DAG leaves the
folder alone.

A run extracts a table incrementally when it is one of :data:`~aeries_hub.extract.plans.PLANS` and its snapshot is younger than
``full_every_hours`` since its last full extraction: it asks the table's change endpoints for the keys changed
since ``extracted_at - OVERLAP``, fetches each changed record (student, contact, staff member, section) or
student's schedule, replaces those keys' rows in the snapshot and writes the merged table, in the order and
with the types a full extraction gives. Aeries lists changed keys only, never deletions: a record that is gone
comes back as 404 or ``[]``, and its rows are removed. Schools, terms, teachers and courses are small and
always extracted in full.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable, Iterable

from aeries_hub.aeries.arrow import only_columns
from aeries_hub.aeries.collect import extract_to_parquet, table_spec
from aeries_hub.aeries.paging import DEFAULT_PAGE_COST, RequestStats
from aeries_hub.aeries.parquet import extract_metadata
from aeries_hub.extract.district_time import district_now
from aeries_hub.extract.fetch import (
    fetch_groups,
    fetch_pages,
    page_cost_of,
    timed,
    unit_of,
    units_to_page,
)
from aeries_hub.extract.merge import changed_share, group_of, merge_tables, rows_where, sortable
from aeries_hub.extract.plans import ALWAYS_FULL_REASON, PLANS, STUDENT_GROUP

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook

log = logging.getLogger(__name__)

SNAPSHOT_FOLDER = "_extract_snapshot"
#: Changes are asked for since the last extraction's start minus this: clock skew, and minute granularity.
OVERLAP = timedelta(minutes=15)


# --------------------------------------------------------------------------------------------------
# The snapshot
# --------------------------------------------------------------------------------------------------
class ExtractSnapshot:
    """The last extraction of every table of one DAG from one Aeries connection and DatabaseYear."""

    def __init__(self, base, dag_id: str, conn_id: str, database_year: int | None):
        from aeries_hub.staging import safe_segment

        key = f"{conn_id}-{database_year if database_year is not None else 'default'}"
        self.root = base / safe_segment(dag_id) / SNAPSHOT_FOLDER / safe_segment(key)

    def state(self, table: str) -> dict[str, Any] | None:
        """The table's JSON, or None when there is none or its parquet is not the one it names."""
        path = self.root / f"{table}.json"
        if not path.exists():
            return None
        with path.open("rb") as handle:
            state = json.load(handle)
        data = self.read_bytes(table)
        if data is None or hashlib.sha256(data).hexdigest() != state.get("sha256"):
            log.warning("Extract snapshot of %s in %s does not match its JSON; it is not used", table, self.root)
            return None
        return state

    def read_bytes(self, table: str) -> bytes | None:
        path = self.root / f"{table}.parquet"
        if not path.exists():
            return None
        with path.open("rb") as handle:
            return handle.read()

    def save(self, table: str, data: bytes, state: dict[str, Any]) -> None:
        """The parquet first, then the JSON that names its sha256 (a reader trusts only a matching pair)."""
        from aeries_hub.staging import write_private

        write_private(self.root / f"{table}.parquet", data)
        document = {**state, "sha256": hashlib.sha256(data).hexdigest()}
        write_private(self.root / f"{table}.json", json.dumps(document, indent=2, sort_keys=True).encode())


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# Which mode
# --------------------------------------------------------------------------------------------------
def choose_mode(table: str, state: dict[str, Any] | None, now_local: datetime, full_every_hours: float, *,
                force_full: bool, settings: dict[str, Any]) -> tuple[str, str]:
    """``("full" | "incremental", why)`` before any change is asked for."""
    if table not in PLANS:
        return "full", ALWAYS_FULL_REASON
    if force_full:
        return "full", "the full_extract param is on"
    if state is None:
        return "full", "no extract snapshot yet"
    if state.get("settings") != settings:
        return "full", "the snapshot was taken with other settings (schools, API version)"
    age = (now_local - datetime.fromisoformat(state["last_full_at"])).total_seconds() / 3600
    if age >= full_every_hours or age < 0:
        return "full", f"the last full extraction was {age:.0f} h ago (full_every_hours {full_every_hours:g})"
    return "incremental", f"changes since {state['extracted_at']} (last full extraction {age:.0f} h ago)"


# --------------------------------------------------------------------------------------------------
# Fetching changes
# --------------------------------------------------------------------------------------------------
def changed_groups(hook: AeriesHook, table: str, since: datetime, stats: RequestStats | None, snapshot,
                   school_codes: set[int] | None) -> set[tuple]:
    """The groups (values of ``PLANS[table].group``) whose rows must be fetched again."""
    plan = PLANS[table]
    keys: list[dict[str, Any]] = []
    for route in plan.changes:
        answer = hook.get_data_changes(route, since, stats=stats)
        keys += _section_students(hook, answer, stats, snapshot) if route == "SectionRosterDataChanges" else answer
    groups: set[tuple] = set()
    if plan.group == STUDENT_GROUP:  # every school the student has rows at, and the school the change names
        schools_of: dict[Any, set] = {}
        for row in rows_where(snapshot, "StudentID", (k.get("StudentID") for k in keys)):
            schools_of.setdefault(row.get("StudentID"), set()).add(row.get("SchoolCode"))
        for key in keys:
            student = key.get("StudentID")
            groups.update((school, student) for school in {key.get("SchoolCode"), *schools_of.get(student, ())})
    else:
        groups = {group_of(key, plan.group) for key in keys}
    if "SchoolCode" in plan.group:
        position = plan.group.index("SchoolCode")
        groups = {g for g in groups if g[position] not in (None, 0)
                  and (school_codes is None or g[position] in school_codes)}
    return groups


def _section_students(hook: AeriesHook, sections: list[dict[str, Any]], stats: RequestStats | None,
                      snapshot) -> list[dict[str, Any]]:
    """The students whose rows in a changed section differ between the snapshot and Aeries' roster of that
    section now (``sections/{sn}/students``): those who joined, left, or whose row there changed (in the
    columns the snapshot keeps)."""
    kept = set(snapshot.column_names)

    def by_student(rows) -> dict[Any, set]:
        found: dict[Any, set] = {}
        for row in rows:
            values = tuple(sorted((k, str(v)) for k, v in row.items() if v is not None and k in kept))
            found.setdefault(row.get("StudentID"), set()).add(values)
        return found

    wanted = sorted({(s.get("SchoolCode"), s.get("SectionNumber")) for s in sections}, key=lambda k: tuple(map(sortable, k)))
    in_sections = rows_where(snapshot, "SectionNumber", (section for _, section in wanted))
    students = []
    for school, section in wanted:
        path = f"schools/{school}/sections/{section}/students"
        now = hook.get_records(path, security_area="Class Schedules/History", stats=stats)
        now = [row if "SchoolCode" in row else {"SchoolCode": school, **row} for row in now]
        before = by_student(r for r in in_sections if (r.get("SchoolCode"), r.get("SectionNumber")) == (school, section))
        after = by_student(now)
        students += [{"SchoolCode": school, "StudentID": student} for student in {*before, *after}
                     if before.get(student) != after.get(student)]
    return students


# --------------------------------------------------------------------------------------------------
# The task
# --------------------------------------------------------------------------------------------------
def kept_columns(mapping, table: str, source_checks: dict[str, list]) -> set[str]:
    """The columns of ``table`` that the DAG of ``mapping`` reads, the only ones its extract and snapshot keep:
    those its files read (with its source filters), its source checks test or look up, its crosswalk checks
    read, the table's key, what incremental extraction groups and orders by, SchoolCode (the volume
    check counts rows per school) and what tells a pseudo-school (``reads.PSEUDO_SCHOOL_COLUMNS``)."""
    from aeries_hub.aeries.collect import table_spec
    from aeries_hub.mapping.models import RUN_VALUES_FROM_SCHOOLS
    from aeries_hub.mapping.reads import PSEUDO_SCHOOL_COLUMNS, columns_read_by
    from aeries_hub.quality.checks import referenced_columns

    kept = set(table_spec(table).key) | {"SchoolCode"} | PSEUDO_SCHOOL_COLUMNS.get(table, set())
    if table in PLANS:
        kept |= set(PLANS[table].group) | set(PLANS[table].order)
    for output in mapping.outputs:
        kept |= columns_read_by(mapping, output).get(table, set())
    for checks in source_checks.values():
        kept |= referenced_columns(checks).get(table, set())
    for check in source_checks.get(table, []):
        kept |= set(check.columns)
    for crosswalk in mapping.crosswalks.values():
        check = crosswalk.check
        if check and check.table == table:
            kept |= {check.column, check.name, *(column for condition in check.where for column in condition.columns)}
    if table == "schools" and (mapping.run_values & RUN_VALUES_FROM_SCHOOLS
                               or any(output.uses_date_conditions for output in mapping.outputs)):
        kept |= {"Name", "Terms"}  # the district's name and the school year's days (extract.school_year.aeries_run_values)
    return kept


def _fetch_and_merge(hook: AeriesHook, table: str, handed: list, groups: set[tuple], stats: RequestStats,
                     request_seconds: dict[str, float] | None, setting: float, timing: dict[str, float],
                     columns: set[str] | None = None):
    """The snapshot (``handed``: a list of its Arrow table, which the merge takes out, so that the table goes once
    merged) with the changed groups' rows now: the schools with many changes paged whole, the others' changed
    records one by one (:mod:`aeries_hub.extract.fetch`), with only ``columns`` of what they fetch (the
    snapshot's); ``timing`` gets what a page and a record took."""
    merged = handed.pop()
    page_cost, source = page_cost_of(request_seconds, setting)
    units = units_to_page(table, merged, groups, hook.settings.page_size, page_cost)
    singles = {group for group in groups if unit_of(table, group) not in units}
    if units:
        merged = merge_tables(table, merged, set(), fetch_pages(hook, table, units, stats, timing, columns), units)
    if singles:
        merged = merge_tables(table, merged, singles, fetch_groups(hook, table, singles, stats, timing, columns))
    log.info("Aeries %s: %d changed keys; %d units paged whole (%d of the keys), %d records fetched one by one "
             "(a page costs %.1f single-record requests, %s)", table, len(groups), len(units),
             len(groups) - len(singles), len(singles), page_cost, source)
    return merged


def _parquet_bytes(hook: AeriesHook, table: str, arrow_table) -> bytes:
    """The merged table as the hook's extract writes one (the same schema metadata)."""
    import pyarrow.parquet as pq

    arrow_table = arrow_table.replace_schema_metadata(extract_metadata(table_spec(table), hook.settings))
    buffer = io.BytesIO()
    pq.write_table(arrow_table, buffer)
    return buffer.getvalue()


def extract_table(hook: AeriesHook, table: str, target, *, snapshot: ExtractSnapshot, school_codes: list[int] | None,
                  full_every_hours: float, force_full: bool, max_changed_percent: float = 5.0,
                  clock: Callable[[], datetime] | None = None, columns: set[str] | None = None,
                  page_cost: float = DEFAULT_PAGE_COST) -> dict:
    """Extract ``table`` into ``target`` (a path), incrementally when the snapshot allows it; update the snapshot.
    With ``columns`` (:func:`kept_columns`), the extract and the snapshot keep only those: a snapshot outlives
    the retention period, and holds no student data the DAG does not deliver or check. ``page_cost``
    (``[aeries_hub] incremental_page_cost``) is used until the snapshot has measured what a page and a single
    record cost (:func:`aeries_hub.extract.fetch.page_cost_of`).
    Returns the extract summary: rows, requests, retries, seconds, mode, reason, changed_keys."""
    import pyarrow.parquet as pq

    stats = RequestStats()
    started = district_now(hook, stats, clock) if table in PLANS else None  # the small tables need no clock
    settings: dict[str, Any] = {"school_codes": sorted(school_codes or []), "api_version": hook.settings.api_version,
                                **({"columns": sorted(columns)} if columns is not None else {})}
    state = snapshot.state(table) if table in PLANS else None
    mode, reason = choose_mode(table, state, started or datetime.min, full_every_hours, force_full=force_full,
                               settings=settings)
    changed_keys = None
    from_section_staff: dict[str, int] = {}
    timing: dict[str, float] = {}  # seconds per page and per single record, when timed in this extraction
    if mode == "incremental":
        assert state is not None
        stored = snapshot.read_bytes(table)
        assert stored is not None  # a state is read only beside the snapshot whose sha256 it names
        previous = pq.read_table(io.BytesIO(stored))
        since = datetime.fromisoformat(state["extracted_at"]) - OVERLAP
        codes = set(settings["school_codes"]) or None
        groups = changed_groups(hook, table, since, stats, previous, codes)
        changed_keys = len(groups)
        share = changed_share(table, previous, len(groups))
        if share > max_changed_percent:
            mode = "full"
            reason = (f"{len(groups)} changed keys, {share:.1f}% of the table: over incremental.max_changed_percent "
                      f"({max_changed_percent:g}%), a full extraction costs Aeries less")
        else:
            if groups:
                handed = [previous]  # the snapshot's rows go once merged: a district's students are 0.2 GB in Arrow
                del previous, stored
                merged = only_columns(_fetch_and_merge(hook, table, handed, groups, stats,
                                                       state.get("request_seconds"), page_cost, timing, columns), columns)
                data, count = _parquet_bytes(hook, table, merged), merged.num_rows
            else:  # nothing changed: the extract is the snapshot, byte for byte (it was written as an extract)
                data, count = stored, previous.num_rows
            with target.open("wb") as handle:
                handle.write(data)
            last_full = state["last_full_at"]
    if mode == "full":
        result = extract_to_parquet(hook, table, target, school_codes=school_codes, columns=columns)
        stats.requests += result.requests
        for cause, n in result.retry_causes.items():
            stats.retry_causes[cause] += n
        with target.open("rb") as handle:
            data = handle.read()
        count, last_full = result.rows, started and _stamp(started)
        from_section_staff = result.section_staff_teachers
        per_page = timed(result.seconds, result.requests)
        if per_page is not None:
            timing["page"] = per_page
    if started is not None:
        request_seconds = {**((state or {}).get("request_seconds") or {}), **timing}
        snapshot.save(table, data, {"table": table, "extracted_at": _stamp(started), "last_full_at": last_full,
                                    "rows": count, "mode": mode, "settings": settings,
                                    **({"request_seconds": request_seconds} if request_seconds else {})})
    summary = {
        "table": table,
        "database_year": hook.database_year,
        "rows": count,
        "requests": stats.requests,
        "retries": stats.retries,
        "seconds": round(stats.seconds, 3),
        "path": str(target),
        "mode": mode,
        "reason": reason,
        "changed_keys": changed_keys,
        **({"teachers_from_section_staff": from_section_staff} if from_section_staff else {}),
    }
    log.info("Aeries %s: %s extraction (%s): %d rows, %s changed keys, %d requests in %.2f s",
             table, mode, reason, count, "no" if changed_keys is None else changed_keys, stats.requests, stats.seconds)
    return summary


def describe_extraction(extract_summaries: Iterable[dict]) -> str | None:
    """One report line: which tables were extracted incrementally (changed keys, requests) and which in full."""
    summaries = [s for s in extract_summaries if s.get("mode")]
    if not summaries:
        return None
    incremental = sorted(s["table"] for s in summaries if s["mode"] == "incremental")
    full = sorted(s["table"] for s in summaries if s["mode"] == "full")
    parts = []
    if incremental:
        keys = sum(s.get("changed_keys") or 0 for s in summaries if s["mode"] == "incremental")
        requests = sum(s.get("requests") or 0 for s in summaries if s["mode"] == "incremental")
        parts.append(f"incremental for {', '.join(incremental)} ({keys} changed keys, {requests} requests)")
    if full:
        reasons = sorted({s["reason"] for s in summaries if s["mode"] == "full" and s.get("reason") != ALWAYS_FULL_REASON})
        parts.append(f"full for {', '.join(full)}" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return "extraction: " + "; ".join(parts)
