"""First contact with a district's Aeries: what the certificate may read and how this server behaves.

A district engineer runs it once before the first delivery (the DAG ``aeries_first_contact``, or
``python -m aeries_hub.first_contact --conn-id aeries_default --out DIR``). It only reads (GET), with a bounded
number of requests: systeminfo, the school list, one record of each school's students, and per table one school
(the first reportable school with students) or the district-wide list, plus four requests per paged endpoint.

It finds: the security areas the certificate has (200) or lacks (403), the Aeries version, time zone and school
years; per table the rows of the sample school and the fields served against the columns the hub knows
(:mod:`aeries_hub.aeries.tables`); per paged endpoint whether ``StartingRecord``/``EndingRecord`` are honoured, from which
record number they count and whether the server caps the rows per request; Flex schools (``ScheduleType``
``"Flexible"``, as Aeries' demo server answers for its Flex schools 884 and 894: derekpovah/aeries-api,
``spec/support/fixtures/schools.json``; or ``UsingSectionStaffInMasterSchedule``: their teachers come from section
staff, see AeriesHook), pseudo-schools (school 0, ``DoNotReport``, schools without students) and
schools with a blank ``ShortName``. The result is a report (JSON and Markdown) and the connection extras the hook
should use (``suggested_extra.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aeries_hub.aeries.collect import read_table
from aeries_hub.aeries.tables import TABLES, AeriesTable

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook

log = logging.getLogger(__name__)

REPORT_JSON = "first_contact.json"
REPORT_MARKDOWN = "first_contact.md"
SUGGESTED_EXTRA = "suggested_extra.json"
DISTRICT_OFFICE = 0


# --------------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------------
def school_year_start(value: Any) -> int | None:
    """The year a school year starts: ``2020``, ``"2020"`` and ``"2020-2021"`` all give 2020 (None: unreadable)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    head = text.split("-", 1)[0].strip()
    return int(head) if head.isdigit() and len(head) == 4 else None


def check_system(hook: AeriesHook) -> dict[str, Any]:
    """``systeminfo``: version, time zone, the default school year and, when served, the years available."""
    info = hook.get_system_info()
    available_raw = info.get("AvailableDatabaseYears")
    available = None
    if isinstance(available_raw, list):
        available = sorted({y for y in (school_year_start(v) for v in available_raw) if y is not None})
    return {
        "aeries_version": info.get("AeriesVersion"),
        "time_zone": info.get("LocalTimeZoneName"),
        "database_year": info.get("DatabaseYear"),
        "database_year_start": school_year_start(info.get("DatabaseYear")),
        "available_database_years": available,
        "connection_database_year": hook.database_year,
    }


def _access_error(exc: Exception) -> dict[str, Any]:
    from aeries_hub.aeries.errors import AeriesAuthError

    if isinstance(exc, AeriesAuthError):
        access = "refused" if exc.status == 401 else "missing"
        return {"access": access, "status": exc.status, "error": str(exc)}
    return {"access": "error", "status": getattr(exc, "status", None), "error": str(exc)}


def check_schools(hook: AeriesHook) -> dict[str, Any]:
    """The school list, with Flex schools, pseudo-schools and blank short names; each school's first student."""
    from aeries_hub.aeries.errors import AeriesError
    from aeries_hub.aeries.section_staff import uses_section_staff

    try:
        schools = hook.get_json("schools", security_area=TABLES["schools"].security_area)
    except AeriesError as exc:
        return {"checked": False, **_access_error(exc)}
    schools = sorted((s for s in schools if isinstance(s, dict)), key=lambda s: s.get("SchoolCode", 0))
    students = TABLES["students"]
    with_students: dict[int, bool] = {}
    students_unknown = ""
    for school in schools:
        code = school.get("SchoolCode")
        if code == DISTRICT_OFFICE:
            continue
        try:
            first = hook.get_json(students.path_for(code), params={"StartingRecord": 1, "EndingRecord": 1},
                                  security_area=students.security_area)
        except AeriesError as exc:
            students_unknown = str(exc)
            break
        with_students[code] = bool(first)
    codes = [s.get("SchoolCode") for s in schools]
    pseudo = {
        "district_office": [c for c in codes if c == DISTRICT_OFFICE],
        "do_not_report": [s["SchoolCode"] for s in schools if s.get("DoNotReport") is True],
        "without_students": None if students_unknown else [c for c, has in with_students.items() if not has],
    }
    return {
        "checked": True,
        "access": "granted",
        "schools": codes,
        "names": {str(s.get("SchoolCode")): s.get("Name") for s in schools},
        "flex": [s["SchoolCode"] for s in schools if uses_section_staff(s)],
        "pseudo_schools": pseudo,
        "blank_short_name": [s["SchoolCode"] for s in schools if not str(s.get("ShortName") or "").strip()],
        "students_unknown": students_unknown or None,
        "sample_school": _sample_school(schools, with_students, pseudo),
    }


def _sample_school(schools: list[dict[str, Any]], with_students: dict[int, bool],
                   pseudo: dict[str, list[Any] | None]) -> int | None:
    """The school the per-school checks read: the first reportable school with students (or any school)."""
    excluded = set(pseudo["district_office"] or ()) | set(pseudo["do_not_report"] or ())
    candidates = [s["SchoolCode"] for s in schools if s["SchoolCode"] not in excluded]
    for code in candidates:
        if with_students.get(code):
            return code
    return candidates[0] if candidates else None


def check_table(hook: AeriesHook, spec: AeriesTable, school: int | None) -> tuple[dict[str, Any], list[Any]]:
    """One table: access, rows (of ``school`` or the district) and fields served against the known columns.
    Returns the entry and the raw answer of the one request without a range (reused by the paging check)."""
    from aeries_hub.aeries.errors import AeriesError

    entry: dict[str, Any] = {"endpoint": spec.endpoint, "security_area": spec.security_area,
                             "school": school if spec.per_school else None}
    if spec.per_school and school is None:
        # Without a school list the area can still be checked: a list under a school without records is [].
        school = DISTRICT_OFFICE
        entry.update(school=school, note="no school list to sample: access checked at school 0")
    path = spec.path_for(school) if spec.per_school else spec.endpoint
    try:
        raw = hook.get_json(path, security_area=spec.security_area)
    except AeriesError as exc:
        return {**entry, **_access_error(exc)}, []
    raw = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    rows: int | None = len(raw)
    if spec.paged:
        try:  # the hook pages (and survives servers that ignore or cap paging); it needs the school list
            rows = len(read_table(hook, spec.name, school_codes=[school] if school is not None else None))
        except AeriesError as exc:
            rows = None
            entry["rows_error"] = str(exc)
    served = sorted({name for row in raw if isinstance(row, dict) for name in row})
    known = spec.column_names
    entry.update(access="granted", rows=rows)
    if raw:
        entry["fields"] = {
            "served": len(served),
            "known": len(known),
            # a per-school list's SchoolCode is the school asked for: the hook adds it where Aeries leaves it out
            "missing": [c for c in known if c not in served and not (spec.per_school and c == "SchoolCode")
                        and c not in spec.added_columns],
            "extra": [f for f in served if f not in known],
        }
    else:
        entry["fields"] = None  # nothing to look at
    return entry, raw


def _ranged(hook: AeriesHook, spec: AeriesTable, path: str, first: int, last: int) -> list[Any]:
    answer = hook.get_json(path, params={"StartingRecord": first, "EndingRecord": last},
                           security_area=spec.security_area)
    return answer if isinstance(answer, list) else []


def check_paging(hook: AeriesHook, spec: AeriesTable, school: int, total: int, unranged: list[Any]) -> dict[str, Any]:
    """Does ``spec``'s endpoint honour StartingRecord/EndingRecord, from which record number, with what row cap?
    ``total`` is the school's record count (read by the hook, which survives every behaviour below) and
    ``unranged`` the answer to a request without a range."""
    path = spec.path_for(school)
    result: dict[str, Any] = {"endpoint": spec.endpoint, "school": school, "records": total, "pages": None,
                              "counts_from": None, "row_cap": None, "largest_answer": len(unranged)}
    if total < 3:
        result["note"] = f"school {school} has {total} records: at least 3 are needed to tell"
        return result
    first_two = _ranged(hook, spec, path, 1, 2)
    second_three = _ranged(hook, spec, path, 2, 3)
    if len(first_two) > 2 or len(second_three) > 2:
        result["pages"] = False
        result["note"] = f"asked for records 1-2, got {len(first_two)}: the range is ignored"
    elif len(first_two) == 2 and len(second_three) == 2 and first_two[1] == second_three[0]:
        result["pages"] = True
    else:
        result["note"] = (f"records 1-2 ({len(first_two)} rows) and 2-3 ({len(second_three)} rows) do not overlap "
                          "by one record")
    if result["pages"]:
        if unranged and first_two[0] == unranged[0]:
            result["counts_from"] = 1
        elif len(unranged) > 1 and first_two[0] == unranged[1]:
            result["counts_from"] = 0
        whole = _ranged(hook, spec, path, 1, total)
        result["largest_answer"] = max(len(whole), len(unranged))
        # Records 1 to total of a server counting from 0 leave out its record 0: one short, no cap.
        if len(whole) < total - (1 if result["counts_from"] == 0 else 0):
            result["row_cap"] = len(whole)
    elif len(unranged) < total:
        result["row_cap"] = len(unranged)
    return result


def suggest_extra(paging: dict[str, dict[str, Any]], page_size: int) -> tuple[dict[str, Any], list[str]]:
    """The connection extras the hook should use, and why."""
    caps = [p["row_cap"] for p in paging.values() if p.get("row_cap")]
    reasons: list[str] = []
    extra: dict[str, Any] = {}
    if caps:
        extra["page_size"] = min(caps)
        extra["probe_short_pages"] = True
        reasons.append(f"the server answers at most {min(caps)} rows per request: page_size {min(caps)}")
    elif paging and all(p.get("pages") is not False and p.get("largest_answer", 0) >= page_size
                        for p in paging.values() if p.get("pages") is not None):
        checked = [p for p in paging.values() if p.get("pages") is not None]
        if checked:
            extra["probe_short_pages"] = False
            reasons.append(f"answers of {page_size} rows and more came whole: a page shorter than page_size "
                           f"({page_size}) is the end, so probe_short_pages can be false")
    if "probe_short_pages" not in extra:
        extra["probe_short_pages"] = True
        if not caps:
            reasons.append("no cap was seen, but no answer was as long as page_size either: keep probing short pages")
    return extra, reasons


def run_checks(hook: AeriesHook) -> dict[str, Any]:
    """Every check; the report (JSON-friendly, no certificate in it)."""
    settings = hook.settings
    report: dict[str, Any] = {"connection": hook.aeries_conn_id, "base_url": settings.base_url,
                              "api_version": settings.api_version, "page_size": settings.page_size}
    report["system"] = check_system(hook)
    schools = check_schools(hook)
    report["schools"] = schools
    sample = schools.get("sample_school")
    tables: dict[str, Any] = {}
    paging: dict[str, Any] = {}
    for name, spec in TABLES.items():
        entry, unranged = check_table(hook, spec, sample)
        tables[name] = entry
        if spec.paged and entry.get("access") == "granted" and entry.get("rows") is not None and sample is not None:
            paging[name] = check_paging(hook, spec, sample, entry["rows"], unranged)
    report["tables"] = tables
    report["paging"] = paging
    areas: dict[str, str] = {}
    for entry in tables.values():
        if entry["access"] in ("granted", "missing", "refused"):
            areas[entry["security_area"]] = entry["access"]
    report["security_areas"] = areas
    report["suggested_extra"], report["suggestion_reasons"] = suggest_extra(paging, settings.page_size)
    report["findings"] = findings(report)
    return report


def findings(report: dict[str, Any]) -> list[str]:
    """What the district should act on, one sentence each."""
    found: list[str] = []
    missing = sorted(area for area, access in report["security_areas"].items() if access == "missing")
    if missing:
        found.append("the certificate lacks the security areas " + ", ".join(missing)
                     + ": grant Read in Aeries under Security > API Security")
    if "refused" in report["security_areas"].values():
        found.append("the certificate was not accepted (HTTP 401): check the connection's password")
    system = report["system"]
    wanted = system["connection_database_year"]
    available = system["available_database_years"]
    if available is None:
        found.append("systeminfo does not list AvailableDatabaseYears: the served year cannot be checked ahead")
    elif wanted is not None and wanted not in available:
        found.append(f"the connection asks for database_year {wanted}, which Aeries does not offer "
                     f"(available: {', '.join(map(str, available))})")
    schools = report["schools"]
    if schools.get("checked"):
        if schools["flex"]:
            found.append(f"Flex schools {schools['flex']}: teachers come from section staff, TCH may be empty")
        pseudo = schools["pseudo_schools"]
        if pseudo["do_not_report"] or pseudo["without_students"]:
            found.append(f"pseudo-schools: DoNotReport {pseudo['do_not_report']}, without students "
                         f"{_text(pseudo['without_students'])}")
        if schools["blank_short_name"]:
            found.append(f"schools with a blank ShortName: {schools['blank_short_name']}")
    caps = [entry["row_cap"] for entry in report["paging"].values() if entry["row_cap"]]
    for entry in report["paging"].values():
        if entry["pages"] is False:
            found.append(f"{entry['endpoint']} ignores StartingRecord/EndingRecord")
            if caps and entry["largest_answer"] >= min(caps):
                # Paging cannot reach records past the cap of an answer that ignores the range.
                found.append(f"{entry['endpoint']} answered {entry['largest_answer']} rows at school "
                             f"{entry['school']}, the row cap: records past the cap may be unreachable; ask Aeries "
                             "support about the cap")
        if entry["counts_from"] == 0:
            found.append(f"{entry['endpoint']} counts records from 0, not 1")
        if entry["row_cap"]:
            found.append(f"{entry['endpoint']} answers at most {entry['row_cap']} rows per request")
    for name, entry in report["tables"].items():
        fields = entry.get("fields")
        if fields and fields["missing"]:
            found.append(f"{name}: Aeries does not serve {', '.join(fields['missing'])}")
    return found


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------
def render_markdown(report: dict[str, Any]) -> str:
    """The report as a page a person reads."""
    system = report["system"]
    lines = [
        f"# First contact with Aeries: connection `{report['connection']}`",
        "",
        f"Base URL {report['base_url']}, API v{report['api_version']}, Aeries {system['aeries_version']}, "
        f"time zone {system['time_zone']}.",
        f"Default school year {system['database_year']}; available years: "
        + (", ".join(map(str, system["available_database_years"]))
           if system["available_database_years"] is not None else "not listed by systeminfo") + ".",
        "",
        "## To act on",
        "",
        *([f"- {item}" for item in report["findings"]] or ["- nothing"]),
        "",
        "## Security areas",
        "",
        "| area | access |",
        "|---|---|",
        *[f"| {area} | {access} |" for area, access in report["security_areas"].items()],
        "",
        "## Tables",
        "",
        "| table | endpoint | school | access | rows | fields missing | fields extra |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in report["tables"].items():
        fields = entry.get("fields") or {}
        lines.append(
            f"| {name} | {entry['endpoint']} | {'' if entry['school'] is None else entry['school']} | "
            f"{entry['access']} | {_text(entry.get('rows'))} | {', '.join(fields.get('missing', []))} | "
            f"{', '.join(fields.get('extra', []))} |"
        )
    lines += ["", "## Paging", "", "| endpoint | school | records | pages | counts from | row cap |",
              "|---|---|---|---|---|---|"]
    for entry in report["paging"].values():
        lines.append(f"| {entry['endpoint']} | {entry['school']} | {entry['records']} | {_text(entry['pages'])} | "
                     f"{_text(entry['counts_from'])} | {_text(entry['row_cap'])} |")
    schools = report["schools"]
    lines += ["", "## Schools", ""]
    if schools.get("checked"):
        pseudo = schools["pseudo_schools"]
        lines += [
            f"- schools: {schools['schools']}",
            f"- Flex schools (ScheduleType Flexible, or section staff in the master schedule): {schools['flex']}",
            f"- district office: {pseudo['district_office']}; DoNotReport: {pseudo['do_not_report']}; "
            f"without students: {_text(pseudo['without_students'])}",
            f"- blank ShortName: {schools['blank_short_name']}",
            f"- per-school checks read school {schools['sample_school']}",
        ]
    else:
        lines.append(f"- not checked: {schools.get('error')}")
    lines += ["", "## Suggested connection extras", "",
              f"Merge into the extra of connection `{report['connection']}`:", "", "```json",
              json.dumps(report["suggested_extra"], indent=2, sort_keys=True), "```", "",
              *[f"- {reason}" for reason in report["suggestion_reasons"]], ""]
    return "\n".join(lines)


def _text(value: Any) -> str:
    return "unknown" if value is None else ("yes" if value is True else "no" if value is False else str(value))


def write_report(report: dict[str, Any], write_bytes) -> list[str]:
    """Write the three files through ``write_bytes(name, data)`` (private files); returns their names."""
    write_bytes(REPORT_JSON, json.dumps(report, indent=2, sort_keys=True, default=str).encode())
    write_bytes(REPORT_MARKDOWN, render_markdown(report).encode())
    write_bytes(SUGGESTED_EXTRA, json.dumps(report["suggested_extra"], indent=2, sort_keys=True).encode())
    return [REPORT_JSON, REPORT_MARKDOWN, SUGGESTED_EXTRA]


def log_summary(report: dict[str, Any]) -> None:
    log.info("First contact with Aeries over connection %r: %d findings", report["connection"], len(report["findings"]))
    for item in report["findings"]:
        log.info("- %s", item)
    log.info("Suggested connection extras: %s", json.dumps(report["suggested_extra"], sort_keys=True))


def run_in_airflow(aeries_conn_id: str = "aeries_default") -> dict[str, Any]:
    """The DAG's task: run the checks, write the files into the run's staging folder, log the summary."""
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import RunFolder

    with AeriesHook(aeries_conn_id=aeries_conn_id) as hook:
        report = run_checks(hook)
    folder = RunFolder.current()
    names = write_report(report, lambda name, data: folder.write_bytes(name, data))
    log_summary(report)
    return {"files": [str(folder.path(name)) for name in names], "findings": len(report["findings"]),
            "suggested_extra": report["suggested_extra"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aeries_hub.first_contact", description=__doc__.split("\n")[0])
    parser.add_argument("--conn-id", default="aeries_default",
                        help="the Aeries connection (from AIRFLOW_CONN_* or Airflow's secrets backend)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the report files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import write_private

    with AeriesHook(aeries_conn_id=args.conn_id) as hook:
        report = run_checks(hook)
    names = write_report(report, lambda name, data: write_private(args.out / name, data))
    log_summary(report)
    for name in names:
        print(args.out / name)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
