"""Incremental extraction with Aeries' ``*DataChanges`` endpoints (mapping key ``source.incremental``).

Each DAG keeps, per Aeries connection and DatabaseYear, the last extraction of every table outside its run
folders: ``<staging>/<dag_id>/_extract_snapshot/<conn_id>-<year>/<table>.parquet`` and ``<table>.json``
(``extracted_at``: the district-local time the extraction started; ``last_full_at``: the same for the last
full extraction; rows, sha256 of the parquet, the settings it was taken with). The JSON is written after the
parquet and names its sha256, so a half-written snapshot is never used. The staging retention DAG leaves the
folder alone.

A run extracts a table incrementally when it is one of :data:`PLANS` and its snapshot is younger than
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
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

log = logging.getLogger(__name__)

SNAPSHOT_FOLDER = "_extract_snapshot"
#: Changes are asked for since the last extraction's start minus this: clock skew, and minute granularity.
OVERLAP = timedelta(minutes=15)
#: What fetching changed records is weighed against: a full extraction's requests, each ``page_size`` rows
#: transferred counting as one more request (measured on the emulator: a page of 500 students takes about as
#: long as three single-student requests).
#: The latest offset behind UTC of any place (UTC-12): the district-local time assumed when Aeries tells
#: neither its clock nor its time zone, so that no change is ever missed (some are fetched twice).
_EARLIEST_OFFSET = timedelta(hours=-12)

#: Windows time-zone names of US districts -> IANA names. Aeries' ``LocalTimeZoneName`` is either the zone's id
#: ("Pacific Standard Time") or its display name, as in Aeries' documented systeminfo answer
#: ("(UTC-08:00) Pacific Time (US & Canada)"; aeripy's fixture spells the offset "(UTC-0:8:00)"): the display
#: name is matched without its offset.
_WINDOWS_ZONES = {
    "Pacific Standard Time": "America/Los_Angeles",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "Mountain Time (US & Canada)": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Arizona": "America/Phoenix",
    "Central Standard Time": "America/Chicago",
    "Central Time (US & Canada)": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Eastern Time (US & Canada)": "America/New_York",
    "Alaskan Standard Time": "America/Anchorage",
    "Alaska": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Hawaii": "Pacific/Honolulu",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
}

#: "(UTC-08:00) Pacific Time (US & Canada)": the offset prefix of a Windows display name, however its digits are
#: grouped ("-08:00", "-0:8:00", "+05:30"), and the name after it.
_DISPLAY_NAME = re.compile(r"^\(UTC(?:(?P<sign>[+-])(?P<digits>[\d:]+))?\)\s*(?P<name>.*)$")

#: ``*DataChanges`` route -> the security area it needs.
_CHANGE_AREAS = {
    "StudentDataChanges": "Student Data",
    "StaffDataChanges": "Staff Data",
    "SectionDataChanges": "Master Schedule",
    "SectionRosterDataChanges": "Class Schedules/History",
}


@dataclass(frozen=True)
class Plan:
    """How one table is extracted incrementally.

    ``changes``: the change endpoints (without the date); ``group``: the columns whose rows one fetch of
    ``fetch`` (formatted with them) returns in full; ``order``: how Aeries orders a school's rows.
    """

    changes: tuple[str, ...]
    group: tuple[str, ...]
    fetch: str
    order: tuple[str, ...]


_STUDENT = ("SchoolCode", "StudentID")
PLANS: dict[str, Plan] = {
    "students": Plan(("StudentDataChanges/student", "StudentDataChanges/enrollment"), _STUDENT,
                     "schools/{SchoolCode}/students/{StudentID}", ("StudentID", "StudentNumber")),
    "contacts": Plan(("StudentDataChanges/contact",), _STUDENT, "schools/{SchoolCode}/contacts/{StudentID}",
                     ("StudentID", "SequenceNumber")),
    # A schedule changes with a class change of the student, an enrolment change (a withdrawal drops classes)
    # or a change of a section's roster (its students, old and new, are fetched again).
    "rosters": Plan(("StudentDataChanges/class", "StudentDataChanges/enrollment", "SectionRosterDataChanges"), _STUDENT,
                    "schools/{SchoolCode}/classes/{StudentID}", ("StudentID", "SequenceNumber")),
    "sections": Plan(("SectionDataChanges",), ("SchoolCode", "SectionNumber"),
                     "schools/{SchoolCode}/sections/{SectionNumber}", ("SectionNumber",)),
    "staff": Plan(("StaffDataChanges",), ("ID",), "staff/{ID}", ("ID",)),
}
ALWAYS_FULL_REASON = "always full (a small table)"
#: The column whose schools order a full extraction's rows (staff: none, one district-wide list by ID).
TABLES_SCHOOL_COLUMN = {"staff": None}


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


# --------------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------------
def district_now(hook, stats, clock: Callable[[], datetime] | None = None) -> datetime:
    """The district's local time now (naive), as Aeries stamps changes: Aeries' own ``CurrentDateTime`` from
    systeminfo; else the hook's clock in Aeries' ``LocalTimeZoneName``; else the earliest local time anywhere."""
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    info: dict[str, Any] = {}
    try:
        from aeries_hub.hooks.aeries import _single

        info = _single(hook._request("systeminfo", stats=stats, security_area=None, with_cert=False, max_retries=2)) or {}
    except Exception as exc:  # noqa: BLE001 - the fallbacks below are safe
        log.warning("Aeries systeminfo did not answer (%s); the district's time comes from this machine's clock", exc)
    return local_time(info, now)


def local_time(info: dict[str, Any], now_utc: datetime) -> datetime:
    current = info.get("CurrentDateTime")
    if isinstance(current, str):
        try:
            return datetime.fromisoformat(current.strip()).replace(tzinfo=None, microsecond=0)
        except ValueError:
            pass
    name = str(info.get("LocalTimeZoneName") or "").strip()
    display = _DISPLAY_NAME.match(name)
    zone_name = _WINDOWS_ZONES.get(display["name"] if display else name, name)
    if zone_name:
        try:
            from zoneinfo import ZoneInfo

            return now_utc.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None, microsecond=0)
        except (KeyError, ValueError, OSError):
            pass
    # An unknown display name still states its standard offset: during daylight saving time that is an hour
    # early, which, like the earliest zone below, only asks for changes again.
    offset = _standard_offset(display) if display else None
    return (now_utc.astimezone(timezone.utc) + (_EARLIEST_OFFSET if offset is None else offset)).replace(
        tzinfo=None, microsecond=0)


def _standard_offset(display: re.Match[str]) -> timedelta | None:
    if not display["sign"]:
        return timedelta(0)
    digits = display["digits"].replace(":", "")
    if not digits.isdigit() or len(digits) not in (3, 4):
        return None
    hours, minutes = int(digits[:-2]), int(digits[-2:])
    if hours > 14 or minutes >= 60:
        return None
    return (1 if display["sign"] == "+" else -1) * timedelta(hours=hours, minutes=minutes)


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
# Merging (in Arrow: a snapshot of millions of schedule rows never becomes Python objects)
# --------------------------------------------------------------------------------------------------
def _sortable(value: Any) -> tuple:
    if value is None:
        return (2, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def group_of(row: dict[str, Any], columns: Iterable[str]) -> tuple:
    return tuple(row.get(c) for c in columns)


def _mask(snapshot, column: str, values: Iterable[Any]):
    """A boolean array: which rows have ``column`` in ``values``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = [v for v in set(values) if v is not None]
    if not values or column not in snapshot.column_names:
        import numpy as np

        return pa.array(np.zeros(snapshot.num_rows, dtype=bool))
    try:
        return pc.is_in(snapshot[column], value_set=pa.array(values).cast(snapshot.schema.field(column).type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # other key types: compare as text
        wanted = {str(v) for v in values}
        return pa.array([str(v) in wanted for v in snapshot[column].to_pylist()], type=pa.bool_())


def rows_where(snapshot, column: str, values: Iterable[Any]) -> list[dict[str, Any]]:
    """The snapshot's rows whose ``column`` is one of ``values``, as dicts (a few rows, never the table)."""
    return snapshot.filter(_mask(snapshot, column, values)).to_pylist()


def _group_positions(snapshot, columns: tuple[str, ...], groups: set[tuple]) -> list[int]:
    """Positions of the snapshot's rows whose values of ``columns`` are one of ``groups``."""
    import pyarrow.compute as pc

    candidates = pc.indices_nonzero(_mask(snapshot, columns[-1], (g[-1] for g in groups)))
    rows = snapshot.select(list(columns)).take(candidates).to_pylist()
    return [position for position, row in zip(candidates.to_pylist(), rows) if group_of(row, columns) in groups]


def merge_tables(table: str, snapshot, groups: set[tuple], fetched: list[dict[str, Any]]):
    """The snapshot (an Arrow table) without the rows of ``groups``, plus ``fetched`` (those groups' rows now):
    the table a full extraction gives, in its order (schools in the snapshot's order, new ones after by code,
    then Aeries' order in a school) and with its column types."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from aeries_hub.hooks.aeries import rows_to_arrow

    plan = PLANS[table]
    snapshot = snapshot.replace_schema_metadata(None)
    keep = np.ones(snapshot.num_rows, dtype=bool)
    keep[_group_positions(snapshot, plan.group, groups)] = False
    kept = snapshot.filter(pa.array(keep))
    fresh = _conform(kept, rows_to_arrow(table, fetched))
    if fresh is None:  # a type a full extraction would infer otherwise: the same conversion over every row
        log.warning("Aeries %s: changed records bring other column types; the merge converts every row", table)
        merged = rows_to_arrow(table, kept.to_pylist() + fetched)
    else:
        kept, fresh = fresh
        merged = pa.concat_tables([kept, fresh])
    school = TABLES_SCHOOL_COLUMN.get(table, "SchoolCode")
    keys = [(c, "ascending") for c in plan.order if c in merged.column_names]
    if school and school in merged.column_names:
        order = pc.unique(snapshot[school]).to_pylist()  # in the order of first appearance
        order += sorted({r.get(school) for r in fetched} - set(order), key=_sortable)
        rank = pc.index_in(merged[school], value_set=pa.array(order, type=merged.schema.field(school).type))
        merged = merged.append_column("__rank", rank)
        keys.insert(0, ("__rank", "ascending"))
    merged = merged.take(pc.sort_indices(merged, sort_keys=keys))
    if "__rank" in merged.column_names:
        merged = merged.drop_columns(["__rank"])
    return _null_columns_as_extracted(table, merged)


def _conform(kept, fresh):
    """``(kept, fresh)`` with the same columns and types (each side gets the other's extra columns as nulls), or
    None when a column's values would make a full extraction infer another type than the snapshot has."""
    import pyarrow as pa

    if fresh.num_rows == 0:
        fresh = pa.table({name: pa.nulls(0, kept.schema.field(name).type) for name in kept.column_names})
    for name in fresh.column_names:
        if name not in kept.column_names:
            column = fresh[name]
            data_type = column.type if not pa.types.is_null(column.type) else pa.string()
            kept = kept.append_column(pa.field(name, data_type), pa.nulls(kept.num_rows, data_type))
    columns = []
    for field in kept.schema:
        if field.name not in fresh.column_names or fresh[field.name].null_count == fresh.num_rows:
            columns.append(pa.nulls(fresh.num_rows, field.type))
        elif fresh.schema.field(field.name).type == field.type:
            columns.append(fresh[field.name])
        else:  # e.g. a column null in every kept row: a full extraction takes the fetched values' type
            return None
    return kept, pa.table(columns, schema=kept.schema)


def _null_columns_as_extracted(table: str, merged):
    """A column null in every row has the type a full extraction gives it: the registry's, else text."""
    import pyarrow as pa

    from aeries_hub.hooks.aeries import _arrow_type, table_spec

    known = dict(table_spec(table).columns)
    for index, field in enumerate(merged.schema):
        if merged.num_rows and merged[field.name].null_count == merged.num_rows:
            target = _arrow_type(known[field.name]) if field.name in known else (
                pa.list_(pa.string()) if pa.types.is_list(field.type) else pa.string())
            if target != field.type:
                merged = merged.set_column(index, pa.field(field.name, target), pa.nulls(merged.num_rows, target))
    return merged


def changed_share(table: str, snapshot, changed: int) -> float:
    """``changed`` groups (students, sections, staff members) as a percentage of the snapshot's groups."""
    import pyarrow.compute as pc

    columns = [c for c in PLANS[table].group if c in snapshot.column_names]
    if not snapshot.num_rows or not columns:
        return 100.0 if changed else 0.0
    groups = snapshot.select(columns).group_by(columns).aggregate([]).num_rows if len(columns) > 1 else len(pc.unique(snapshot[columns[0]]))
    return 100.0 * changed / max(groups, 1)


# --------------------------------------------------------------------------------------------------
# Fetching changes
# --------------------------------------------------------------------------------------------------
def _since_path(route: str, since: datetime) -> str:
    return f"{route}/{since.year}/{since.month}/{since.day}/{since.hour}/{since.minute}"


def changed_groups(hook, table: str, since: datetime, stats, snapshot, school_codes: set[int] | None) -> set[tuple]:
    """The groups (values of ``PLANS[table].group``) whose rows must be fetched again."""
    from aeries_hub.hooks.aeries import _as_list

    plan = PLANS[table]
    keys: list[dict[str, Any]] = []
    for route in plan.changes:
        path = _since_path(route, since)
        answer = _as_list(hook._request(path, stats=stats, security_area=_CHANGE_AREAS[route.split("/")[0]]), path)
        keys += _section_students(hook, answer, stats, snapshot) if route == "SectionRosterDataChanges" else answer
    groups: set[tuple] = set()
    if plan.group == _STUDENT:  # every school the student has rows at, and the school the change names
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


def _section_students(hook, sections: list[dict[str, Any]], stats, snapshot) -> list[dict[str, Any]]:
    """The students whose rows in a changed section differ between the snapshot and Aeries' roster of that
    section now (``sections/{sn}/students``): those who joined, left, or whose row there changed (in the
    columns the snapshot keeps)."""
    from aeries_hub.hooks.aeries import _as_list

    kept = set(snapshot.column_names)

    def by_student(rows) -> dict[Any, set]:
        found: dict[Any, set] = {}
        for row in rows:
            values = tuple(sorted((k, str(v)) for k, v in row.items() if v is not None and k in kept))
            found.setdefault(row.get("StudentID"), set()).add(values)
        return found

    wanted = sorted({(s.get("SchoolCode"), s.get("SectionNumber")) for s in sections}, key=lambda k: tuple(map(_sortable, k)))
    in_sections = rows_where(snapshot, "SectionNumber", (section for _, section in wanted))
    students = []
    for school, section in wanted:
        path = f"schools/{school}/sections/{section}/students"
        now = _as_list(hook._request(path, stats=stats, security_area="Class Schedules/History"), path)
        now = [row if "SchoolCode" in row else {"SchoolCode": school, **row} for row in now]
        before = by_student(r for r in in_sections if (r.get("SchoolCode"), r.get("SectionNumber")) == (school, section))
        after = by_student(now)
        students += [{"SchoolCode": school, "StudentID": student} for student in {*before, *after}
                     if before.get(student) != after.get(student)]
    return students


def fetch_groups(hook, table: str, groups: set[tuple], stats) -> list[dict[str, Any]]:
    """The rows of every group now, fetched ``max_concurrency`` at a time with the hook's retries."""
    from aeries_hub.hooks.aeries import AeriesNotFoundError, _as_list, _rename_pre_v5, table_spec

    plan = PLANS[table]
    spec = table_spec(table)
    ordered = sorted(groups, key=lambda g: tuple(map(_sortable, g)))

    def fetch(group: tuple) -> list[dict[str, Any]]:
        values = dict(zip(plan.group, group))
        path = plan.fetch.format(**values)
        try:
            rows = _as_list(hook._request(path, stats=stats, security_area=spec.security_area), path)
        except AeriesNotFoundError:
            return []  # gone: its rows are removed
        if hook.settings.api_version < 5:
            rows = [_rename_pre_v5(row) for row in rows]
        if spec.per_school:
            rows = [row if "SchoolCode" in row else {"SchoolCode": values["SchoolCode"], **row} for row in rows]
        # a list endpoint may answer more than the group (an Aeries filter ignored): keep the group's rows only
        return [row for row in rows if group_of(row, plan.group) == group]

    with ThreadPoolExecutor(max_workers=hook.settings.max_concurrency, thread_name_prefix=f"aeries-{table}-changes") as pool:
        return [row for rows in pool.map(fetch, ordered) for row in rows]


# --------------------------------------------------------------------------------------------------
# The task
# --------------------------------------------------------------------------------------------------
def kept_columns(mapping, table: str, source_checks: dict[str, list]) -> set[str]:
    """The columns of ``table`` that the DAG of ``mapping`` reads, the only ones its extract and snapshot keep:
    those its files read (with its source filters), its source checks test or look up, its crosswalk checks
    read, the table's key, what incremental extraction groups and orders by, SchoolCode (the volume
    check counts rows per school) and what tells a pseudo-school (``engine.PSEUDO_SCHOOL_COLUMNS``)."""
    from aeries_hub.hooks.aeries import table_spec
    from aeries_hub.mapping.engine import columns_read_by
    from aeries_hub.mapping.models import RUN_VALUES_FROM_SCHOOLS
    from aeries_hub.mapping.source_filters import PSEUDO_SCHOOL_COLUMNS
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
            kept |= {check.column, check.name, *(condition.column for condition in check.where)}
    if table == "schools" and (mapping.run_values & RUN_VALUES_FROM_SCHOOLS
                               or any(output.uses_date_conditions for output in mapping.outputs)):
        kept |= {"Name", "Terms"}  # the district's name and the school year's days (pipeline.aeries_run_values)
    return kept


def _only(arrow_table, columns: set[str] | None):
    """``arrow_table`` with only ``columns`` (in its own order, its metadata kept)."""
    if columns is None or set(arrow_table.column_names) <= columns:
        return arrow_table
    return arrow_table.select([name for name in arrow_table.column_names if name in columns])


def _parquet_bytes(hook, table: str, arrow_table) -> bytes:
    """The merged table as the hook's extract writes one (the same schema metadata)."""
    import pyarrow.parquet as pq

    from aeries_hub.hooks.aeries import table_spec

    spec = table_spec(table)
    arrow_table = arrow_table.replace_schema_metadata({
        b"aeries.table": spec.name.encode(),
        b"aeries.key": ",".join(spec.key).encode(),
        b"aeries.api_version": str(hook.settings.api_version).encode(),
        b"aeries.database_year": str(hook.settings.database_year or "").encode(),
    })
    buffer = io.BytesIO()
    pq.write_table(arrow_table, buffer)
    return buffer.getvalue()


def extract_table(hook, table: str, target, *, snapshot: ExtractSnapshot, school_codes: list[int] | None,
                  full_every_hours: float, force_full: bool, max_changed_percent: float = 5.0,
                  clock: Callable[[], datetime] | None = None, columns: set[str] | None = None) -> dict:
    """Extract ``table`` into ``target`` (a path), incrementally when the snapshot allows it; update the snapshot.
    With ``columns`` (:func:`kept_columns`), the extract and the snapshot keep only those: a snapshot outlives
    the retention period, and holds no student data the DAG does not deliver or check.
    Returns the extract summary: rows, requests, retries, seconds, mode, reason, changed_keys."""
    import pyarrow.parquet as pq

    from aeries_hub.hooks.aeries import _Stats

    stats = _Stats()
    started = district_now(hook, stats, clock) if table in PLANS else None  # the small tables need no clock
    settings = {"school_codes": sorted(school_codes or []), "api_version": hook.settings.api_version,
                **({"columns": sorted(columns)} if columns is not None else {})}
    state = snapshot.state(table) if table in PLANS else None
    mode, reason = choose_mode(table, state, started or datetime.min, full_every_hours, force_full=force_full,
                               settings=settings)
    changed_keys = None
    from_section_staff: dict[str, int] = {}
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
            merged = _only(merge_tables(table, previous, groups, fetch_groups(hook, table, groups, stats)), columns)
            data = _parquet_bytes(hook, table, merged)
            with target.open("wb") as handle:
                handle.write(data)
            count, last_full = merged.num_rows, state["last_full_at"]
    if mode == "full":
        result = hook.extract_to_parquet(table, target, school_codes=school_codes)
        stats.requests += result.requests
        for cause, n in result.retry_causes.items():
            stats.retry_causes[cause] += n
        with target.open("rb") as handle:
            data = handle.read()
        extracted = pq.read_table(io.BytesIO(data))
        kept = _only(extracted, columns)
        if kept is not extracted:
            buffer = io.BytesIO()
            pq.write_table(kept, buffer)
            data = buffer.getvalue()
            with target.open("wb") as handle:
                handle.write(data)
        count, last_full = result.rows, started and _stamp(started)
        from_section_staff = result.section_staff_teachers
    if started is not None:
        snapshot.save(table, data, {"table": table, "extracted_at": _stamp(started), "last_full_at": last_full,
                                    "rows": count, "mode": mode, "settings": settings})
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
