"""How an incremental extraction fetches what changed: a school's whole list, page by page, or its changed records
one request each, whichever costs Aeries less.

A single-record request (``schools/{sc}/students/{id}``) and a page (``schools/{sc}/students``, ``page_size``
records) cost Aeries different amounts; both are mostly per-request overhead at these sizes. Per unit (a school,
or the whole table for a district-wide one such as staff), with ``k`` changed keys there and ``n`` rows in the
snapshot, a full extraction of the unit takes ``n // page_size + 1`` requests (paging ends at the first short
page). The unit is fetched by pages when

    k > pages * page_cost

where ``page_cost`` (``[aeries_hub] incremental_page_cost``) is what one page costs in single-record requests.
Measured against the emulator at 100,000 students (``bench/district_scale.py``, concurrency 4, pages of 500
students): see :data:`DEFAULT_PAGE_COST` and docs/benchmarks.md. A slow Aeries server whose cost is per row, not
per request, has a higher ratio: measure it, and set the option.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Iterable

from aeries_hub.aeries.collect import collect_table, table_spec
from aeries_hub.aeries.errors import AeriesNotFoundError
from aeries_hub.aeries.paging import RequestStats
from aeries_hub.aeries.records import rename_pre_v5
from aeries_hub.extract.merge import group_of, sortable
from aeries_hub.extract.plans import PLANS, TABLES_SCHOOL_COLUMN

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook

log = logging.getLogger(__name__)

#: One page of 500 students cost the emulator 2.3 single-student requests on a quieter machine and 5.4 under load
#: (27.0 and 63.8 ms against 11.8 ms, 4 at a time, at 100,000 students; schedules 1.4 and 2.3): docs/benchmarks.md,
#: "pages or records". 5 kept the 1% run's extraction under a full one's in both.
DEFAULT_PAGE_COST = 5.0


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


def fetch_pages(hook: AeriesHook, table: str, units: set, stats: RequestStats):
    """Every row of the units, as a full extraction pages them (an Arrow table)."""
    spec = table_spec(table)
    codes = None if None in units else sorted(units, key=sortable)
    return collect_table(hook, spec, codes, stats, as_arrow=True)


def fetch_groups(hook: AeriesHook, table: str, groups: set[tuple], stats: RequestStats) -> list[dict[str, Any]]:
    """The rows of every group now, one request per group, ``max_concurrency`` at a time with the hook's retries."""
    plan = PLANS[table]
    spec = table_spec(table)
    ordered = sorted(groups, key=lambda g: tuple(map(sortable, g)))

    def fetch(group: tuple) -> list[dict[str, Any]]:
        values = dict(zip(plan.group, group))
        path = plan.fetch.format(**values)
        try:
            rows = hook.get_records(path, security_area=spec.security_area, stats=stats)
        except AeriesNotFoundError:
            return []  # gone: its rows are removed
        if hook.settings.api_version < 5:
            rows = [rename_pre_v5(row) for row in rows]
        if spec.per_school:
            rows = [row if "SchoolCode" in row else {"SchoolCode": values["SchoolCode"], **row} for row in rows]
        # a list endpoint may answer more than the group (an Aeries filter ignored): keep the group's rows only
        return [row for row in rows if group_of(row, plan.group) == group]

    with ThreadPoolExecutor(max_workers=hook.settings.max_concurrency, thread_name_prefix=f"aeries-{table}-changes") as pool:
        return [row for rows in pool.map(fetch, ordered) for row in rows]
