"""A mapping's ``source`` section applied to the extracted tables: the schools it names, Aeries' pseudo-schools it
leaves out, and the student statuses it keeps."""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.models import Mapping
from aeries_hub.mapping.text import TEXT, text

#: The columns :func:`left_out_schools` reads, per table.


def left_out_schools(mapping: Mapping, schools: pd.DataFrame | None, students: pd.DataFrame | None) -> list[dict]:
    """Aeries' pseudo-schools, which the mapping leaves out unless ``source.include_pseudo_schools``: school 0
    (the district itself), schools with ``DoNotReport`` true (99 Transfer School), and schools no student
    record is listed under (the 900-902 "X ..." schools), each as ``{"code", "name", "reasons"}`` in code order.

    Without a students table (not in ``source.tables``) the last rule cannot be applied and is not. A school
    the mapping names in ``source.school_codes`` is never left out.
    """
    if mapping.include_pseudo_schools or schools is None or "SchoolCode" not in schools.columns:
        return []
    codes = text(schools["SchoolCode"]).str.strip()
    names = text(schools["Name"]).str.strip() if "Name" in schools.columns else pd.Series("", index=schools.index)
    flagged = (text(schools["DoNotReport"]).str.strip().str.lower().isin(["true", "1", "y"])
               if "DoNotReport" in schools.columns else pd.Series(False, index=schools.index))
    enrolled = None
    if students is not None and "SchoolCode" in students.columns:
        enrolled = set(text(students["SchoolCode"]).str.strip())
    chosen = {str(code) for code in mapping.school_codes}
    result = []
    for code, name, do_not_report in zip(codes, names, flagged):
        reasons = []
        if code == "0":
            reasons.append("school 0 is the district itself")
        if do_not_report:
            reasons.append("DoNotReport is true")
        if enrolled is not None and code not in enrolled and code != "0":
            reasons.append("no student is enrolled")
        if reasons and code not in chosen:
            result.append({"code": int(code) if code.isdigit() else code, "name": name, "reasons": reasons})
    return sorted(result, key=lambda school: (not isinstance(school["code"], int), str(school["code"]).zfill(20)))


def describe_left_out(schools: list[dict]) -> str | None:
    """One line for the report and the log: each left-out school with its name and why."""
    if not schools:
        return None
    listed = "; ".join(f"{s['code']} {s['name']!r} ({', '.join(s['reasons'])})" for s in schools)
    return f"left out as pseudo-schools (source.include_pseudo_schools sends them): {listed}"


def apply_source_filters(mapping: Mapping, tables: dict[str, pd.DataFrame], left_out: Sequence[dict] = ()) -> dict[str, pd.DataFrame]:
    """Keep the schools and student statuses the mapping asks for (``source`` section), without the rows of the
    ``left_out`` schools (:func:`left_out_schools`) in the tables tied to a school by SchoolCode."""
    filtered = dict(tables)
    if mapping.school_codes:
        wanted = {str(code) for code in mapping.school_codes}
        for name, frame in tables.items():
            column = TABLES[name].school_column
            if column and column in frame.columns:
                filtered[name] = frame[text(frame[column]).str.strip().isin(wanted)]
    if left_out:
        unwanted = {str(school["code"]) for school in left_out}
        for name, frame in filtered.items():
            if TABLES[name].school_column == "SchoolCode" and "SchoolCode" in frame.columns:
                filtered[name] = frame[~text(frame["SchoolCode"]).str.strip().isin(unwanted)]
    students = filtered.get("students")
    if students is not None and "InactiveStatusCode" in students.columns:
        codes = text(students["InactiveStatusCode"]).str.strip()
        status = pd.Series("inactive", index=students.index, dtype=TEXT)
        status[codes.isin(mapping.student_status_codes.get("pre_enrolled", []))] = "pre_enrolled"
        status[codes.isin(mapping.student_status_codes.get("active", []))] = "active"
        filtered["students"] = students[status.isin(mapping.student_statuses)]
    return filtered

