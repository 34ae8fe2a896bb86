"""Every row of a logical Aeries table: the schools list, terms embedded in it, per-school pages, teachers from
section staff; as records (:func:`read_table`), or as one Arrow table built page by page and written as one
Parquet file (:func:`extract_to_parquet`).

    rows = read_table(hook, "students", school_codes=[994])
    result = extract_to_parquet(hook, "students", run.path("extract", "students.parquet"))
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Collection, Iterable

from aeries_hub.aeries.arrow import concat_pages, only_columns, page_columns, rows_to_arrow_page
from aeries_hub.aeries.errors import AeriesConfigError
from aeries_hub.aeries.logs import log
from aeries_hub.aeries.paging import RequestStats, fetch_units
from aeries_hub.aeries.parquet import ExtractResult, extract_metadata, write_parquet
from aeries_hub.aeries.records import as_list, check_records, rename_pre_v5, with_school_code
from aeries_hub.aeries.section_staff import teachers_from_section_staff
from aeries_hub.aeries.tables import DISTRICT_OFFICE, TABLES, AeriesTable

if TYPE_CHECKING:  # pragma: no cover
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.aeries.hook import AeriesHook


def read_table(hook: AeriesHook, table: str, *, school_codes: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """All rows of a logical table (see ``TABLES``), optionally limited to some schools."""
    spec = table_spec(table)
    stats = RequestStats()
    rows = collect_table(hook, spec, school_codes, stats)
    log.info(
        "Aeries %s: %d rows, %d pages, %d requests, %s in %.2f s (connection %r%s)",
        spec.name, len(rows), stats.pages, stats.requests, stats.describe_retries(), stats.seconds,
        hook.aeries_conn_id, year_note(hook.settings.database_year),
    )
    return rows


def extract_to_parquet(hook: AeriesHook, table: str, path: ObjectStoragePath | str | os.PathLike[str], *,
                       school_codes: Iterable[int] | None = None, via_records: bool = False,
                       columns: Collection[str] | None = None) -> ExtractResult:
    """Write one logical table as one Parquet file (``s3://`` etc. through ObjectStoragePath); ``via_records``: see
    :func:`collect_table`. ``columns``: only those of the table's columns (in its order; each column's type is the
    one it has in the whole table), the others converted from no page (``extract.incremental.kept_columns``)."""
    spec = table_spec(table)
    stats = RequestStats()
    keep = None if columns is None else frozenset(columns)
    arrow_table = collect_table(hook, spec, school_codes, stats, as_arrow=True, via_records=via_records, keep=keep)
    arrow_table = only_columns(arrow_table, keep)
    arrow_table = arrow_table.replace_schema_metadata(
        {**(arrow_table.schema.metadata or {}), **extract_metadata(spec, hook.settings)}
    )
    write_parquet(arrow_table, path)
    result = ExtractResult.of(spec.name, arrow_table, stats, path)
    log.info(
        "Aeries %s: %d rows, %d pages, %d requests, %s in %.2f s -> %s (connection %r%s)",
        spec.name, result.rows, result.pages, result.requests, stats.describe_retries(), result.seconds,
        result.path, hook.aeries_conn_id, year_note(hook.settings.database_year),
    )
    return result


def table_spec(table: str) -> AeriesTable:
    """The registry entry of ``table``; AeriesConfigError naming the known tables otherwise."""
    try:
        return TABLES[table]
    except KeyError:
        raise AeriesConfigError(f"Unknown Aeries table {table!r}; known tables: {', '.join(TABLES)}") from None


def year_note(database_year: int | None) -> str:
    """``", DatabaseYear 2026"`` for a log line, or "" when the district's default year is read."""
    return f", DatabaseYear {database_year}" if database_year is not None else ""


def read_schools(hook: AeriesHook, stats: RequestStats, *, count_page: bool = False) -> list[dict[str, Any]]:
    """The district's schools list (``GET schools``, SchoolCode 0 the district office included)."""
    data = hook.request("schools", stats=stats, security_area="Schools")
    if count_page:
        stats.pages += 1
    return as_list(data, "schools")


def select_schools(hook: AeriesHook, schools: list[dict[str, Any]], school_codes: Iterable[int] | None,
                   *, keep_district_office: bool) -> list[dict[str, Any]]:
    """The schools of ``school_codes`` (None or empty: all), in the list's order; a code not in the list is
    logged and skipped."""
    wanted = None if school_codes is None else {int(code) for code in school_codes}
    if wanted is not None and not wanted:
        wanted = None
    selected = []
    for school in schools:
        code = school.get("SchoolCode")
        if code == DISTRICT_OFFICE and not keep_district_office:
            continue
        if wanted is not None and code not in wanted:
            continue
        selected.append(school)
    if wanted is not None:
        missing = sorted(wanted - {s.get("SchoolCode") for s in schools})
        if missing:
            log.warning(
                "Aeries connection %r: school codes %s are not in the schools list%s; they are skipped",
                hook.aeries_conn_id, ", ".join(map(str, missing)), year_note(hook.settings.database_year),
            )
    return selected


#: An answer of a table that is not paged with fewer records than this (a school's 30-odd teachers) is converted to
#: Arrow with its neighbours once all have come: converted alone, it pays a call per kept column for a few dozen
#: values while the other threads wait for the GIL (teachers at 500,000 students, medians of 5: 1.42 -> 1.08 s, the
#: limit 1.04 s). Larger answers are converted as they come, while the next are fetched (a school's 200 sections
#: converted at the end: 3.02 -> 4.38 s).
SMALL_ANSWER_ROWS = 100
#: Records of small answers converted at a time.
SMALL_ANSWERS_BATCH_ROWS = 50_000


def collect_table(hook: AeriesHook, spec: AeriesTable, school_codes: Iterable[int] | None, stats: RequestStats, *,
                  as_arrow: bool = False, via_records: bool = False, keep: Collection[str] | None = None) -> Any:
    """Every row of ``spec`` for the selected schools: a list of records, or (``as_arrow``) one Arrow
    table built page by page as the pages arrive, so that a table of millions of rows is never held as
    Python records: each page's JSON decoded by msgspec, or (``via_records``, the reference the tests and the
    benchmark compare it with) by ``json.loads``. ``keep``: the columns the pages need to be converted to Arrow
    (others may be left out, and the caller selects), and ``StaffID1`` for teachers, which the section-staff step
    reads (:mod:`~aeries_hub.aeries.section_staff`)."""
    raw = as_arrow and not via_records
    settings = hook.settings
    codes = None if school_codes is None else [int(c) for c in school_codes]
    page_keep = keep if keep is None or spec.name != "teachers" else frozenset(keep) | {"StaffID1"}

    def prepare(unit: int | None, rows: Any) -> Any:
        school_code = unit if spec.per_school else None
        check_records(rows)
        rows = with_school_code(rows, school_code)
        if settings.api_version < 5:
            rows = [rename_pre_v5(row) for row in rows]
        if not as_arrow or (not spec.paged and len(rows) < SMALL_ANSWER_ROWS):
            return rows  # (a small answer: converted with its neighbours, _converted_pages)
        return rows_to_arrow_page(spec.name, rows, page_keep)

    if spec.name == "schools":
        schools = read_schools(hook, stats, count_page=True)
        parts = [prepare(None, select_schools(hook, schools, codes, keep_district_office=True))]
    elif not spec.per_school:
        parts = [page for _, pages in fetch_units(hook, spec, [None], stats, prepare, raw=raw) for page in pages]
    else:
        schools = select_schools(hook, read_schools(hook, stats), codes, keep_district_office=False)
        embedded: dict[int, list[Any]] = {}
        if spec.name == "terms" and settings.terms_from_schools:
            for school in schools:
                if isinstance(school.get("Terms"), list):
                    terms = [{"SchoolCode": school["SchoolCode"], **term} for term in school["Terms"]]
                    embedded[school["SchoolCode"]] = [prepare(school["SchoolCode"], terms)]
        to_fetch = [s["SchoolCode"] for s in schools if s["SchoolCode"] not in embedded]
        fetched = dict(fetch_units(hook, spec, to_fetch, stats, prepare, raw=raw)) if to_fetch else {}
        if spec.name == "teachers":
            for code, rows in teachers_from_section_staff(hook, schools, fetched, stats).items():
                fetched[code] = [*fetched.get(code, []), prepare(code, rows)]
        parts = [page for school in schools
                 for page in embedded.get(school["SchoolCode"]) or fetched.get(school["SchoolCode"], [])]
    if as_arrow:
        return concat_pages(spec.name, _converted_pages(spec.name, parts, page_keep))
    return [row for part in parts for row in part]


def _converted_pages(table: str, parts: list[Any], keep: Collection[str] | None) -> list[Any]:
    """``parts`` as Arrow pages: the records of consecutive small answers converted together, up to
    :data:`SMALL_ANSWERS_BATCH_ROWS` at a time, in their order, each batch's columns in the order its answers
    converted one by one would have given them."""
    pages: list[Any] = []
    gathered: list[Any] = []
    order: dict[str, None] = {}

    def convert() -> None:
        pages.append(rows_to_arrow_page(table, gathered, keep).select(list(order)))
        gathered.clear()
        order.clear()

    for part in parts:
        if isinstance(part, list):
            gathered.extend(part)
            order.update(page_columns(table, part, keep))
            if len(gathered) < SMALL_ANSWERS_BATCH_ROWS:
                continue
        if gathered:
            convert()
        if not isinstance(part, list):
            pages.append(part)
    if gathered:
        convert()
    return pages
