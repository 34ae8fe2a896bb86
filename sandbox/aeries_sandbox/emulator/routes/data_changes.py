"""The ``*DataChanges`` routes (GET): the keys of the records changed since a date and time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.index import STUDENT_CHANGE_AREAS
from aeries_sandbox.emulator.routes.common import parse_int

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.app import EmulatorApp

__all__ = ["DATA_CHANGE_AREAS", "resolve_data_changes", "data_changes"]

DATA_CHANGE_AREAS = {
    "studentdatachanges": ("StudentDataChanges", STUDENT_CHANGE_AREAS),
    "staffdatachanges": ("StaffDataChanges", None),
    "coursedatachanges": ("CourseDataChanges", None),
    "sectiondatachanges": ("SectionDataChanges", None),
    "sectionrosterdatachanges": ("SectionRosterDataChanges", None),
}
_LOG_AREA = {"StaffDataChanges": "staff", "CourseDataChanges": "course", "SectionDataChanges": "section",
             "SectionRosterDataChanges": "section_roster"}


def resolve_data_changes(app: EmulatorApp, head: str, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
    """``{Area}DataChanges[/{student area}]/{year}/{month}/{day}/{hour}/{minute}``."""
    route, student_areas = DATA_CHANGE_AREAS[head]
    parts = api[1:]
    if student_areas is not None:
        if not parts or parts[0].lower() not in student_areas:
            return None
        area, parts = parts[0].lower(), parts[1:]
    else:
        area = _LOG_AREA[route]
    if len(parts) != 5:
        return None
    numbers = [parse_int(x) for x in parts]
    if any(x is None for x in numbers):
        return None
    return route, lambda p: json_bytes(data_changes(app, area, numbers))


def data_changes(app: EmulatorApp, area: str, numbers: list[int | None]) -> list[dict[str, Any]]:
    year, month, day, hour, minute = (int(x) for x in numbers)  # type: ignore[arg-type]
    try:
        since = datetime(year, month, day, hour, minute)
    except ValueError as exc:
        raise HttpError(400, f"The date and time are not valid: {exc}") from None
    return app.index.changes_since(area, since.strftime("%Y-%m-%dT%H:%M:%S"))
