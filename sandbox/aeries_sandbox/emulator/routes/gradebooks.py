"""The gradebook routes (GET): gradebooks, their assignments (by number or UniqueID) and scores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aeries_sandbox.emulator import writes as write_ops
from aeries_sandbox.emulator.district import int_key
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.routes.common import one, parse_int

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.app import EmulatorApp

__all__ = ["resolve_gradebooks", "gradebook", "assignments_of", "assignment", "assignment_by_uid"]


def resolve_gradebooks(app: EmulatorApp, api: list[str]) -> tuple[str, Callable[[dict[str, str]], bytes]] | None:
    """``gradebooks/{gn}[/assignments[/{an}[/scores[/{StudentID}]]]]`` and ``gradebooks/assignments/{UniqueID}
    [/scores[/{StudentID}]]``."""
    n = len(api)
    lower = [segment.lower() for segment in api]
    if n >= 3 and lower[1] == "assignments":  # by UniqueID
        unique_id = api[2]
        rest = lower[3:]

        def find():
            return assignment_by_uid(app, unique_id)
    else:
        number = parse_int(api[1]) if n >= 2 else None
        if number is None:
            return None
        if n == 2:
            return "gradebooks", lambda p: json_bytes(gradebook(app, number))
        if lower[2] != "assignments":
            return None
        if n == 3:
            return "assignments", lambda p: json_bytes(assignments_of(app, number))
        assignment_number = parse_int(api[3])
        if assignment_number is None:
            return None
        rest = lower[4:]

        def find():
            return assignment(app, number, assignment_number)
    if not rest:
        return "assignments", lambda p: json_bytes(find())
    if rest[0] != "scores" or len(rest) > 2:
        return None
    if len(rest) == 1:
        return "scores", lambda p: json_bytes(write_ops.score_rows(app.index, find()))
    student_id = parse_int(rest[1])
    if student_id is None:
        return None
    return "scores", lambda p: json_bytes([row for row in write_ops.score_rows(app.index, find())
                                       if int_key(row.get("StudentID")) == student_id])


def gradebook(app: EmulatorApp, number: int) -> dict[str, Any]:
    return one(app.index.gradebook_by_number, number, f"Gradebook {number} was not found")


def assignments_of(app: EmulatorApp, number: int) -> list[dict[str, Any]]:
    gradebook(app, number)
    return app.index.assignments_by_gradebook.get(number, [])


def assignment(app: EmulatorApp, number: int, assignment_number: int) -> dict[str, Any]:
    gradebook(app, number)
    return one(app.index.assignment_by_key, (number, assignment_number),
               f"Assignment {assignment_number} was not found in gradebook {number}")


def assignment_by_uid(app: EmulatorApp, unique_id: str) -> dict[str, Any]:
    return one(app.index.assignment_by_uid, unique_id.upper(), f"Assignment {unique_id} was not found")
