"""Concurrent per-school paging with speculative prefetch, and the statistics of a hook call's requests.

A paged Aeries endpoint is asked for ``StartingRecord``/``EndingRecord`` ranges, ``max_concurrency`` at a time
per hook. Paging is checked, not trusted: see :func:`fetch_units` and :class:`UnitPages`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from aeries_hub.aeries.errors import AeriesError, AeriesPageTooLarge, RequestCancelled
from aeries_hub.aeries.logs import log
from aeries_hub.aeries.records import as_list, decode_page
from aeries_hub.aeries.tables import AeriesTable

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook

#: What one page costs Aeries in single-record requests, before the hub has measured it on the server (the default
#: of ``[aeries_hub] incremental_page_cost``, :mod:`aeries_hub.extract.fetch`). docs/benchmarks.md, "District scale:
#: incremental runs".
DEFAULT_PAGE_COST = 5.0


class RequestStats:
    """Counters of the requests of one hook call (pages, requests, retries by cause, what paging found);
    shared by the worker threads of that call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.pages = 0
        self.retry_causes: Counter[str] = Counter()
        self.paging: dict[str, Any] = {}
        self.section_staff_teachers: dict[str, int] = {}  # school code -> teachers made from its section staff
        self.started = time.monotonic()

    def add_request(self) -> None:
        with self._lock:
            self.requests += 1

    def add_retry(self, cause: str) -> None:
        with self._lock:
            self.retry_causes[cause] += 1

    @property
    def retries(self) -> int:
        return sum(self.retry_causes.values())

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def describe_retries(self) -> str:
        if not self.retry_causes:
            return "0 retries"
        causes = ", ".join(f"{cause} {n}" for cause, n in sorted(self.retry_causes.items()))
        return f"{self.retries} retries ({causes})"


def fetch_units(
    hook: AeriesHook, spec: AeriesTable, units: Sequence[int | None], stats: RequestStats,
    prepare: Callable[[int | None, Any], Any], *, raw: bool = False,
) -> list[tuple[int | None, list[Any]]]:
    """Fetch every page of every unit (a school code, or None for a district-wide table).

    Runs at most ``max_concurrency`` requests at once. Pages a unit certainly needs come first; idle
    workers then fetch later pages ahead (``prefetch_pages``) for units whose first page came back
    full. Pages past the last one are discarded (and so are their errors). Each page's records go
    through ``prepare(unit, rows)`` in the worker thread that fetched it (while other requests are in
    flight). Returns ``(unit, prepared pages in page order)`` in unit order.

    Paging is checked, not trusted (Aeries documents ``StartingRecord``/``EndingRecord`` for the student
    endpoints only): a first page longer than asked, or a later page that starts with the first page's
    first record, means the server ignores the range, so the unit is its first answer, once. A short
    first page is followed by one probe of the records after it (``probe_short_pages``): if the server
    has more, it caps the rows per request, and the unit is paged by that cap. See :class:`_UnitPages`.

    ``raw``: the pages of an extract: each body decoded by msgspec (:func:`~aeries_hub.aeries.records.decode_page`)
    after its request gave back its slot; an error in ``prepare`` is raised naming the table, the school and the
    page. A page larger than the connection's ``max_page_bytes`` is an error naming them too, either way.
    """
    settings = hook.settings
    page_size = settings.page_size
    prefetch = settings.prefetch_pages if spec.paged else 0
    endpoint = _EndpointPaging(probe=settings.probe_short_pages)
    states = [_UnitPages(unit, page_size) for unit in units]
    # The units not complete yet, in unit order: what each step looks through, so that a step costs the units in
    # progress, not all of them (1,000 schools of one page each: 1,000 steps over 1,000 units, the GIL held).
    open_units = dict(enumerate(states))
    progress = _Progress(hook, spec, len(units))
    stop = threading.Event()
    in_flight: dict[Future, tuple[int, _UnitPages, int, int]] = {}
    # An extract's pages are parsed after their request gave back its slot (the hook's max_concurrency): as many more pages
    # as there are slots may be on their way, so that the server has the next request while a page is parsed
    # (20,000 students, medians of 5 on a loaded machine: students 4.15 -> 3.02 s, contacts 6.73 -> 5.75 s). At one
    # request at a time, each answer is still seen before the next request is chosen (what paging learns from a page
    # applies to the next). A table that is not paged answers a school in one small request: there the extra threads
    # only take turns at the GIL (500,000 students, alternated in one process, medians of 5: teachers 1.53 -> 1.34 s
    # and 1.52 -> 1.31 s of CPU, sections 3.31 -> 2.97 s; the paged rosters 8.96 s against 9.87 s with twice the threads).
    workers = settings.max_concurrency * (2 if raw and spec.paged and settings.max_concurrency > 1 else 1)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"aeries-{spec.name}")

    def fetch(unit: int | None, page: int, size: int) -> tuple[int, str | None, Any]:
        params = None
        if spec.paged:
            params = {"StartingRecord": (page - 1) * size + 1, "EndingRecord": page * size}
        try:
            return fetch_records(unit, params)
        except AeriesError as exc:  # which page of which school of which table: the same error, its place first
            if not raw and not isinstance(exc, AeriesPageTooLarge):
                raise
            where = f"school {unit}, " if spec.per_school else ""
            records = f" (records {params['StartingRecord']}-{params['EndingRecord']})" if params else ""
            exc.args = (hook.redact(f"Aeries {spec.name}: {where}page {page}{records}: {exc}"), *exc.args[1:])
            raise

    def fetch_records(unit: int | None, params: dict[str, int] | None) -> tuple[int, str | None, Any]:
        path = spec.path_for(unit) if spec.per_school else spec.endpoint
        data = hook.request(path, stats=stats, security_area=spec.security_area, params=params, stop=stop,
                            decode=decode_page if raw else None, max_bytes=settings.max_page_bytes)
        rows = as_list(data, path)
        first = json.dumps(rows[0], sort_keys=True, default=str) if rows else None
        return len(rows), first, prepare(unit, rows)

    def next_candidate() -> tuple[int, _UnitPages, int] | None:
        for index, state in open_units.items():  # pages certainly needed first
            page = state.needed_page()
            if page is not None:
                return index, state, page
        if len(in_flight) >= settings.max_concurrency:
            return None  # a speculative page waits for a slot of its own
        for index, state in open_units.items():  # then speculative pages
            page = state.speculative_page(prefetch)
            if page is not None:
                return index, state, page
        return None

    try:
        while True:
            while len(in_flight) < workers:
                candidate = next_candidate()
                if candidate is None:
                    break
                index, state, page = candidate
                state.pending.add(page)
                state.failed.discard(page)
                in_flight[pool.submit(fetch, state.unit, page, state.size)] = (index, state, page, state.size)
            if not in_flight:
                break
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                index, state, page, size = in_flight.pop(future)
                state.pending.discard(page)
                try:
                    count, first, rows = future.result()
                except RequestCancelled:
                    continue
                except Exception:
                    if size == state.size and state.is_needed(page):
                        raise
                    state.failed.add(page)  # speculative: refetched if it turns out to be needed
                    continue
                if size != state.size:  # asked before the unit's page size changed (a cap was found)
                    continue
                if not spec.paged:
                    state.record_unpaged(count, rows)
                else:
                    problem = state.record(page, count, first, rows, endpoint)
                    if problem:
                        raise AeriesError(_paging_problem(hook, spec, state.unit, problem))
                progress.page(count)
                if state.complete and index in open_units:
                    del open_units[index]
                    progress.unit_done()
            if not open_units:
                break  # only speculative pages past the end can still be in flight
    finally:
        # Abandon what is left (speculative pages, or the rest after a failure): queued pages never
        # start, running ones stop before their next attempt. Nothing waits for them.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
    for state in states:
        stats.pages += state.final or 0
    if spec.paged:
        _report_paging(hook, spec, endpoint, page_size, stats)
    return [(state.unit, state.pages_in_order()) for state in states]


def _paging_problem(hook: AeriesHook, spec: AeriesTable, unit: int | None, problem: str) -> str:
    where = f"{spec.endpoint.format(school_code=unit)} (school {unit})" if spec.per_school else spec.endpoint
    return hook.redact(f"Aeries connection {hook.aeries_conn_id!r}: {where} {problem}")


def _report_paging(hook: AeriesHook, spec: AeriesTable, endpoint: _EndpointPaging, page_size: int,
                   stats: RequestStats) -> None:
    """Warn once per extract about what the server does with paging, and keep it in ``stats.paging`` (for
    :class:`~aeries_hub.aeries.parquet.ExtractResult`)."""
    path = spec.endpoint.format(school_code="{sc}") if spec.per_school else spec.endpoint
    schools = ", ".join(str(unit) for unit in sorted(endpoint.ignored_at, key=str))
    if endpoint.ignored_at:
        where = f"{path} at school(s) {schools}" if spec.per_school else path
        log.warning(
            "Aeries connection %r: %s ignores StartingRecord/EndingRecord (an answer longer than asked, or the "
            "same records again for the next range): each was read whole from one answer, kept once",
            hook.aeries_conn_id, where,
        )
    if endpoint.cap is not None:
        log.warning(
            "Aeries connection %r: %s returns at most %d rows per request (asked for %d): read in pages of %d "
            "instead. Set the connection extra page_size to %d to save the probe requests",
            hook.aeries_conn_id, path, endpoint.cap, page_size, endpoint.cap, endpoint.cap,
        )
    stats.paging = endpoint.summary()


#: A progress line every this many pages, besides one per tenth of the schools done (a long district-wide table,
#: or one school of many pages, still shows that it moves).
PROGRESS_EVERY_PAGES = 200


class _Progress:
    """The progress lines of one extract, at a bounded rate (never per request): the pages answered, the rows so far
    and the share of schools done, each time another tenth of the schools is done and every
    ``PROGRESS_EVERY_PAGES`` pages. Counts only: no record's values."""

    def __init__(self, hook: AeriesHook, spec: AeriesTable, units: int) -> None:
        self.hook, self.spec, self.units = hook, spec, units
        self.pages = self.rows = self.done = 0
        self.tenths_logged = 0
        self.pages_logged = 0
        self.started = time.monotonic()

    def page(self, rows: int) -> None:
        self.pages += 1
        self.rows += rows
        if self.pages - self.pages_logged >= PROGRESS_EVERY_PAGES:
            self._log()

    def unit_done(self) -> None:
        self.done += 1
        tenths = self.done * 10 // self.units
        if self.units > 1 and tenths > self.tenths_logged:
            self.tenths_logged = tenths
            self._log()

    def _log(self) -> None:
        self.pages_logged = self.pages
        schools = (f"{self.done} of {self.units} schools done ({self.done * 100 // self.units}%), "
                   if self.spec.per_school else "")
        log.info("Aeries %s progress: %s%d pages, %d rows so far, %.1f s (connection %r)", self.spec.name, schools,
                 self.pages, self.rows, time.monotonic() - self.started, self.hook.aeries_conn_id)


#: A unit that still returns full pages after this many is an error, never an endless loop.
MAX_PAGES_PER_UNIT = 100_000


@dataclass
class _EndpointPaging:
    """What one extract learned about how the server pages one endpoint; shared by its units (schools)."""

    probe: bool = True
    ignores: bool = False  # the server answers every range with the whole list
    ignored_at: list[Any] = field(default_factory=list)
    cap: int | None = None  # the server returns at most this many rows per request
    end_floor: int = 0  # the longest short first page known to be a unit's end (a cap, if any, is not below it)
    probes: int = 0

    def note_ignored(self, unit: Any) -> None:
        self.ignores = True
        if unit not in self.ignored_at:
            self.ignored_at.append(unit)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.ignored_at:
            found["ignored_by_server"] = sorted(self.ignored_at, key=str)
        if self.cap is not None:
            found["row_cap"] = self.cap
        if self.probes:
            found["probes"] = self.probes
        return found


class _UnitPages:
    """Paging state of one school (or of a district-wide table).

    Page ``p`` asks for records ``(p - 1) * size + 1`` to ``p * size``. ``size`` starts as the connection's
    ``page_size``; it becomes the length of a short first page while that page is probed (the probe is page 2
    at that size), and stays so when the probe shows a row cap.
    """

    def __init__(self, unit: int | None, size: int) -> None:
        self.unit = unit
        self.size = size
        self.asked = size  # the rows page 1 asks for (the connection's page_size)
        self.pages: dict[int, Any] = {}  # page -> its prepared rows
        self.counts: dict[int, int] = {}  # page -> how many records it held
        self.first_record: str | None = None  # the first record of page 1 (JSON), to recognise the same page again
        self.pending: set[int] = set()
        self.failed: set[int] = set()
        self.final: int | None = None  # the last page, once known
        self.probing = False  # page 2 is a probe: is the short page 1 the end, or a cap?

    def contiguous_full(self) -> int:
        n = 0
        while n + 1 in self.pages and self.counts[n + 1] == self.size and self.final != n + 1:
            n += 1
        return n

    def is_needed(self, page: int) -> bool:
        return (self.final is None or page <= self.final) and self.contiguous_full() >= page - 1

    def needed_page(self) -> int | None:
        page = self.contiguous_full() + 1
        if self.final is not None and page > self.final:
            return None
        if page in self.pages or page in self.pending:
            return None
        return page

    def speculative_page(self, prefetch: int) -> int | None:
        if self.final is not None or prefetch <= 0 or self.probing:
            return None
        full = self.contiguous_full()
        if full == 0:  # speculate only once a full first page shows that this unit has more
            return None
        first = full + 1
        for page in range(first + 1, first + 1 + prefetch):
            if page not in self.pages and page not in self.pending and page not in self.failed:
                return page
        return None

    def record_unpaged(self, count: int, rows: Any) -> None:
        self.pages[1], self.counts[1], self.final = rows, count, 1

    def _end(self, page: int) -> None:
        self.final = page if self.final is None else min(self.final, page)

    def record(self, page: int, count: int, first: str | None, rows: Any, endpoint: _EndpointPaging) -> str | None:
        """Keep one page's answer and decide what comes next; returns a problem to raise, or None."""
        size = self.size
        if page > 1 and count and first == self.first_record:  # the same records again: the range is ignored
            endpoint.note_ignored(self.unit)
            self.probing = False
            self._end(1)
            return self._maybe_cut(self.counts[1])
        if count > size:
            if page > 1:
                return (f"returned {count} records for records {(page - 1) * size + 1}-{page * size} (more than "
                        "asked, and not the first page again): its paging is inconsistent. Set the connection extra "
                        "page_size above the largest list, or ask Aeries support")
            endpoint.note_ignored(self.unit)  # the whole list at once: nothing more to ask for
            self.pages[1], self.counts[1], self.first_record = rows, count, first
            self._end(1)
            return None
        self.pages[page], self.counts[page] = rows, count
        if page == 1:
            self.first_record = first
            if endpoint.ignores or count == 0:
                self._end(1)
                return self._maybe_cut(count) if endpoint.ignores else None
            if count < size:
                self._short_first_page(count, endpoint)
            return None
        if self.probing and page == 2:
            self.probing = False
            if count == 0:  # page 1 was the end after all
                endpoint.end_floor = max(endpoint.end_floor, size)
                self._end(1)
                return None
            endpoint.cap = size if endpoint.cap is None else endpoint.cap
        if count < size:
            self._end(page)
        elif page >= MAX_PAGES_PER_UNIT and self.final is None:
            return (f"still returned full pages of {size} after {page} pages ({page * size} records): stopped "
                    "instead of paging on. Check that the server honours StartingRecord/EndingRecord")
        return None

    def _maybe_cut(self, count: int) -> str | None:
        """The unit is the first answer of a server that ignores the range: one exactly as long as what was asked
        for may be cut there by a cap on the rows per request too, and the records after it would be lost."""
        if count != self.asked:
            return None
        return (f"ignores StartingRecord/EndingRecord and answered exactly {count} records, as many as asked for: "
                f"if it also returns at most {count} rows per request, the records after them are missing, so none "
                f"was kept. If the list holds exactly {count} records, set the connection extra page_size above the "
                "largest list; else ask Aeries support how to read the whole list")

    def _short_first_page(self, count: int, endpoint: _EndpointPaging) -> None:
        """Page 1 held fewer records than asked: the unit's end, or the server's row cap?"""
        if count == endpoint.cap:
            self.size = count  # a full page at the known cap: page on by the cap
        elif not endpoint.probe or count < max(endpoint.end_floor, endpoint.cap or 0):
            self._end(1)  # below the cap, or below a page known to be an end (a cap is not below that)
        else:
            endpoint.probes += 1
            self.size = count
            self.probing = True

    @property
    def complete(self) -> bool:
        return self.final is not None and all(page in self.pages for page in range(1, self.final + 1))

    def pages_in_order(self) -> list[Any]:
        if self.final is None:  # pragma: no cover - the loop only ends once every unit is complete
            raise RuntimeError(f"paging of {self.unit} did not finish")
        return [self.pages[page] for page in range(1, self.final + 1)]

