"""Teachers from section staff, at schools whose sections name their staff instead of teacher (TCH) records.

At a school that schedules with section staff (Flex scheduling), "TCH records are not used and may not exist"
(Aeries API documentation, support article 14000077926): the teachers table of such a school is completed from
its sections' ``SectionStaffMembers`` and the district's staff (STF) records.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Sequence

from aeries_hub.aeries.errors import AeriesNotFoundError
from aeries_hub.aeries.logs import log
from aeries_hub.aeries.paging import DEFAULT_PAGE_COST, RequestStats, fetch_units
from aeries_hub.aeries.records import path_segment
from aeries_hub.aeries.tables import TABLES

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook


def teachers_from_section_staff(hook: AeriesHook, schools: list[dict[str, Any]], fetched: dict[int | None, list[Any]],
                                stats: RequestStats) -> dict[int, list[dict[str, Any]]]:
    """The teachers missing at each school of ``schools`` that uses section staff (:func:`uses_section_staff`),
    by school code: each staff member named in its sections' ``SectionStaffMembers`` who has no teacher record
    there (in ``fetched``, the school's pages of teachers) becomes one, built from the staff (STF) record
    (:func:`section_staff_teachers`, the records from :func:`staff_records`). The counts per school go in
    ``stats.section_staff_teachers`` (and the extract's result and log)."""
    codes = [s["SchoolCode"] for s in schools if uses_section_staff(s)]
    if not codes:
        return {}
    sections = dict(fetch_units(hook, TABLES["sections"], codes, stats, lambda _unit, rows: rows))
    rows_of = {code: [row for page in sections.get(code, []) for row in page] for code in codes}
    known_of = {code: {_id_key(value) for page in fetched.get(code, []) for value in _column_values(page, "StaffID1")}
                for code in codes}
    needed = {staff_id for code in codes for staff_id in active_members(rows_of[code], known_of[code])}
    teacher_rows = sum(len(page) if isinstance(page, list) else page.num_rows
                       for pages in fetched.values() for page in pages)
    staff_by_id = staff_records(hook, needed, teacher_rows, stats)
    added: dict[int, list[dict[str, Any]]] = {}
    for code in codes:
        known = known_of[code]
        rows = section_staff_teachers(code, rows_of[code], staff_by_id, known)
        stats.section_staff_teachers[str(code)] = len(rows)
        log.info("Aeries teachers: school %s uses section staff (Flex scheduling): %d teachers from its "
                 "sections' staff members and their staff records, %d teacher (TCH) records", code, len(rows),
                 len(known - {None}))
        if rows:
            added[code] = rows
    return added


def staff_records(hook: AeriesHook, staff_ids: set[Any], teacher_rows: int,
                  stats: RequestStats) -> dict[Any, dict[str, Any]]:
    """The staff (STF) records of ``staff_ids``, by ID (an ID Aeries does not know is left out), fetched the cheaper
    way: one request each (``staff/{ID}``, ``max_concurrency`` at a time), or the district's whole staff list in
    one unpaged request. The list holds every staff member, at least as many as the district's ``teacher_rows``:
    it costs about ``teacher_rows // page_size + 1`` pages of :data:`~aeries_hub.aeries.paging.DEFAULT_PAGE_COST`
    single requests each, and is taken when the IDs are more than that (a district of 40,000 staff and one Flex
    school with 44 teachers: 44 requests, not 40,000 records; docs/benchmarks.md)."""
    if not staff_ids:
        return {}
    spec = TABLES["staff"]
    list_cost = (teacher_rows // hook.settings.page_size + 1) * DEFAULT_PAGE_COST
    if len(staff_ids) > list_cost:
        staff = [row for _, pages in fetch_units(hook, spec, [None], stats, lambda _unit, rows: rows)
                 for page in pages for row in page]
        how = "the district's staff list"
    else:
        def fetch(staff_id: Any) -> list[dict[str, Any]]:
            try:
                return hook.get_records(f"{spec.endpoint}/{path_segment(staff_id)}", security_area=spec.security_area, stats=stats)
            except AeriesNotFoundError:
                return []  # no staff record: the member's own names are used

        with ThreadPoolExecutor(max_workers=hook.settings.max_concurrency, thread_name_prefix="aeries-section-staff") as pool:
            staff = [row for rows in pool.map(fetch, sorted(staff_ids, key=str)) for row in rows]
        how = "one request each"
    log.info("Aeries teachers: the staff records of %d section staff members: %s (%d teacher records, a page "
             "of %d costs %g single requests)", len(staff_ids), how, teacher_rows, hook.settings.page_size,
             DEFAULT_PAGE_COST)
    return {key: row for row in staff if (key := _id_key(row.get("ID"))) in staff_ids}


def uses_section_staff(school: dict[str, Any]) -> bool:
    """A school whose sections name their staff in ``SectionStaffMembers`` instead of teacher (TCH) records:
    ``ScheduleType`` "Flexible" (Flex scheduling), or ``UsingSectionStaffInMasterSchedule`` ("Use Staff In
    Sections", on by default at a Flex school and possible at others: support article 14000108571)."""
    return (str(school.get("ScheduleType") or "").strip().lower() == "flexible"
            or school.get("UsingSectionStaffInMasterSchedule") is True)


def section_staff_teachers(school_code: int, sections: Sequence[dict[str, Any]], staff_by_id: dict[Any, dict[str, Any]],
                           teacher_staff_ids: set[Any]) -> list[dict[str, Any]]:
    """One teacher-shaped record per staff member of the school's sections who is active there on some
    section (member ``InactiveStatusCode`` blank) and has no teacher record at the school (``teacher_staff_ids``):
    ``StaffID1`` the staff ID, names, e-mail and ``InactiveStatusCode`` from the staff record (from the member
    when there is none), ``TeacherNumber`` null, ``FromSectionStaff`` true, and ``SectionStaffStartDate`` /
    ``SectionStaffEndDate`` the earliest start and latest end of those assignments (null when one is open), so
    that a mapping can leave out a teacher whose every assignment ended or has not begun. In staff ID order."""
    members = active_members(sections, teacher_staff_ids)
    records = []
    for staff_id in sorted(members):
        assignments = members[staff_id]
        staff = staff_by_id.get(staff_id) or {}
        names = staff if staff else assignments[0]
        starts = [str(m.get("StartDate") or "").strip() for m in assignments]
        ends = [str(m.get("EndDate") or "").strip() for m in assignments]
        records.append({
            "SchoolCode": school_code, "TeacherNumber": None, "DisplayName": "",
            "FirstName": names.get("FirstName") or "", "LastName": names.get("LastName") or "", "Room": "",
            "EmailAddress": staff.get("EmailAddress") or "", "StaffID1": staff_id, "StaffID2": None, "StaffID3": None,
            "InactiveStatusCode": staff.get("InactiveStatusCode") or "", "LowGrade": None, "HighGrade": None,
            "FromSectionStaff": True,
            "SectionStaffStartDate": None if "" in starts else min(starts),
            "SectionStaffEndDate": None if "" in ends else max(ends),
        })
    return records


def active_members(sections: Sequence[dict[str, Any]], teacher_staff_ids: set[Any]) -> dict[Any, list[dict[str, Any]]]:
    """The assignments of each staff member active on some section of ``sections`` (member ``InactiveStatusCode``
    blank) who has no teacher record at the school (``teacher_staff_ids``), by staff ID."""
    members: dict[Any, list[dict[str, Any]]] = {}
    for section in sections:
        for member in section.get("SectionStaffMembers") or ():
            staff_id = _id_key(member.get("StaffID"))
            if staff_id is None or staff_id in teacher_staff_ids or str(member.get("InactiveStatusCode") or "").strip():
                continue
            members.setdefault(staff_id, []).append(member)
    return members


def _id_key(value: Any) -> Any:
    """A staff ID as a number when it is one (``"994001"`` and ``994001`` are one staff member); None when blank."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _column_values(page: Any, column: str) -> list[Any]:
    """The values of one column of a prepared page (a list of records, or an Arrow table)."""
    if isinstance(page, list):
        return [row.get(column) for row in page]
    return page.column(column).to_pylist() if column in page.column_names else []
