"""How an incremental extraction fetches what changed: a school's whole list, page by page, or its changed records
one request each, whichever costs Aeries less.

A single-record request (``schools/{sc}/students/{id}``) and a page (``schools/{sc}/students``, ``page_size``
records) cost different amounts. Per unit (a school, or the whole table for a district-wide one such as staff),
with ``k`` changed keys there and ``n`` rows in the snapshot, a full extraction of the unit takes
``n // page_size + 1`` requests (paging ends at the first short page). The unit is fetched by pages when

    k > pages * page_cost

where ``page_cost`` is what one page costs in single-record requests (:func:`page_cost_of`): the ratio of what a page
and a single record took on this server in this table's last extractions (wall seconds per request, the
connection's ``max_concurrency`` at a time, kept in the extract snapshot's JSON as ``request_seconds``), bounded
by :data:`MEASURED_PAGE_COST_BOUNDS`; until both are known (the first incremental run after a full one has
fetched no single record yet), ``[aeries_hub] incremental_page_cost``. Measured figures: docs/benchmarks.md,
"District scale: incremental runs".
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Collection, Iterable

from aeries_hub.aeries.arrow import only_columns
from aeries_hub.aeries.collect import collect_table, table_spec
from aeries_hub.aeries.errors import AeriesNotFoundError
from aeries_hub.aeries.paging import DEFAULT_PAGE_COST, RequestStats
from aeries_hub.aeries.records import path_segment, rename_pre_v5
from aeries_hub.extract.merge import group_of, sortable
from aeries_hub.extract.plans import PLANS, TABLES_SCHOOL_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook

log = logging.getLogger(__name__)

#: A measured page cost is used within these bounds: a page is one request at least, and a measurement far above
#: what any server showed is taken for noise (a single-record run timed during a pause of the server).
MEASURED_PAGE_COST_BOUNDS = (1.0, 100.0)
#: Seconds per request timed over fewer requests than this are not kept: too few to mean anything.
MIN_TIMED_REQUESTS = 20


def page_cost_setting() -> float:
    """``[aeries_hub] incremental_page_cost``: what one page costs Aeries in single-record requests (> 0)."""
    from airflow.sdk import conf

    text = conf.get("aeries_hub", "incremental_page_cost", fallback=str(DEFAULT_PAGE_COST))
    try:
        cost = float(text)
    except ValueError:
        cost = 0.0
    if not 0 < cost < 1e6:
        raise ValueError(f"[aeries_hub] incremental_page_cost is {text!r}; give what one page costs Aeries in "
                         f"single-record requests, e.g. {DEFAULT_PAGE_COST:g}")
    return cost


def page_cost_of(request_seconds: dict[str, float] | None, setting: float) -> tuple[float, str]:
    """What one page costs in single-record requests, and where the figure comes from: seconds per page over
    seconds per single record as measured on this server (``request_seconds``, the snapshot's), bounded by
    :data:`MEASURED_PAGE_COST_BOUNDS`; ``setting`` when either is unknown."""
    page, record = (request_seconds or {}).get("page"), (request_seconds or {}).get("record")
    if not page or not record:
        return setting, "incremental_page_cost"
    low, high = MEASURED_PAGE_COST_BOUNDS
    return min(max(page / record, low), high), f"measured: {page * 1000:.1f} ms a page, {record * 1000:.2f} ms a record"


def timed(seconds: float, requests: int) -> float | None:
    """Seconds per request, or None when too few requests were timed (:data:`MIN_TIMED_REQUESTS`)."""
    return seconds / requests if requests >= MIN_TIMED_REQUESTS else None


def unit_of(table: str, group: tuple) -> Any:
    """The unit a group's rows are paged in: its school, or None (the one list of a district-wide table)."""
    if not table_spec(table).per_school:
        return None
    return group[PLANS[table].group.index("SchoolCode")]


def units_to_page(table: str, snapshot, groups: Iterable[tuple], page_size: int, page_cost: float) -> set:
    """The units whose changed groups cost more one by one than the unit's pages (module docstring)."""
    import pyarrow.compute as pc

    changed: dict[Any, int] = {}
    for group in groups:
        unit = unit_of(table, group)
        changed[unit] = changed.get(unit, 0) + 1
    school = TABLES_SCHOOL_COLUMN.get(table, "SchoolCode")
    if table_spec(table).per_school and school in snapshot.column_names:
        counts = pc.value_counts(snapshot[school]).to_pylist()
        rows = {item["values"]: item["counts"] for item in counts}
    else:
        rows = {None: snapshot.num_rows}
    return {unit for unit, keys in changed.items() if keys > (rows.get(unit, 0) // page_size + 1) * page_cost}


def fetch_pages(hook: AeriesHook, table: str, units: set, stats: RequestStats, timing: dict[str, float],
                columns: Collection[str] | None = None):
    """Every row of the units, as a full extraction pages them (an Arrow table; with ``columns``, only those of its
    columns, as a full extraction keeps them); ``timing["page"]``: seconds per request (:func:`timed`)."""
    spec = table_spec(table)
    codes = None if None in units else sorted(units, key=sortable)
    started, requests = time.perf_counter(), stats.requests
    fetched = collect_table(hook, spec, codes, stats, as_arrow=True, keep=columns)
    _time(timing, "page", time.perf_counter() - started, stats.requests - requests)
    return only_columns(fetched, columns)


def _time(timing: dict[str, float], kind: str, seconds: float, requests: int) -> None:
    per_request = timed(seconds, requests)
    if per_request is not None:
        timing[kind] = per_request


def fetch_groups(hook: AeriesHook, table: str, groups: set[tuple], stats: RequestStats,
                 timing: dict[str, float], columns: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The rows of every group now (with ``columns``, only those of their fields), one request per group,
    ``max_concurrency`` at a time with the hook's retries; ``timing["record"]``: seconds per request (:func:`timed`)."""
    plan = PLANS[table]
    spec = table_spec(table)
    ordered = sorted(groups, key=lambda g: tuple(map(sortable, g)))

    def fetch(group: tuple) -> list[dict[str, Any]]:
        values = dict(zip(plan.group, group))
        path = plan.fetch.format(**{name: path_segment(value) for name, value in values.items()})
        try:
            rows = hook.get_records(path, security_area=spec.security_area, stats=stats)
        except AeriesNotFoundError:
            return []  # gone: its rows are removed
        if hook.settings.api_version < 5:
            rows = [rename_pre_v5(row) for row in rows]
        if spec.per_school:
            rows = [row if "SchoolCode" in row else {"SchoolCode": values["SchoolCode"], **row} for row in rows]
        # a list endpoint may answer more than the group (an Aeries filter ignored): keep the group's rows only
        rows = [row for row in rows if group_of(row, plan.group) == group]
        return rows if columns is None else [{k: v for k, v in row.items() if k in columns} for row in rows]

    started, requests = time.perf_counter(), stats.requests
    with ThreadPoolExecutor(max_workers=hook.settings.max_concurrency, thread_name_prefix=f"aeries-{table}-changes") as pool:
        fetched = [row for rows in pool.map(fetch, ordered) for row in rows]
    _time(timing, "record", time.perf_counter() - started, stats.requests - requests)
    return fetched
