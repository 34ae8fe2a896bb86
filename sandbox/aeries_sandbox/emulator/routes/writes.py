"""The write routes (POST): InsertStudent, UpdateStudent(Address), contacts, assignments, scores, course requests.

Each action parses the body, then validates and applies the write under ``DistrictIndex.lock``
(:mod:`aeries_sandbox.emulator.writes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from aeries_sandbox.emulator import writes as write_ops
from aeries_sandbox.emulator.errors import HttpError
from aeries_sandbox.emulator.http import json_bytes
from aeries_sandbox.emulator.routes import gradebooks
from aeries_sandbox.emulator.routes.common import parse_int
from aeries_sandbox.emulator.write_fields import parse_json_body

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.app import EmulatorApp

__all__ = ["WriteAction", "resolve_write"]


#: A write route's action: ``(query parameters, raw body) -> (status, answer body)``.
WriteAction = Callable[[dict[str, str], bytes], tuple[int, bytes]]


def resolve_write(app: EmulatorApp, method: str, api: list[str]) -> tuple[str, WriteAction] | None:
    """``(route name, action)`` for a write request, or None (then 405 if a GET route matches, else 404).

    An action takes the query parameters and the raw body and returns ``(status, body)``."""
    if method != "POST" or not api:
        return None
    ix = app.index
    lower = [segment.lower() for segment in api]
    n = len(api)
    numbers = [parse_int(segment) for segment in api]

    def run(operation: Callable[..., tuple[int, Any]], *args: Any) -> WriteAction:
        def action(params: dict[str, str], body: bytes) -> tuple[int, bytes]:
            try:
                payload: Any = parse_json_body(body)
            except HttpError as exc:
                payload = exc  # path ids are checked first (404), then the body
            with ix.lock:
                resolved = [arg() if callable(arg) else arg for arg in args]
                status, answer = operation(ix, *resolved, payload)
            return status, json_bytes(answer)
        return action

    if lower[0] == "schools" and n == 3 and numbers[1] is not None and lower[2] == "insertstudent":
        return "InsertStudent", run(write_ops.insert_student, numbers[1])
    if lower[0] == "schools" and n == 5 and numbers[1] is not None and lower[2] == "students" \
            and numbers[3] is not None and lower[4] == "courserequests":
        return "InsertCourseRequest", run(write_ops.insert_course_request, numbers[1], numbers[3])
    if n == 2 and numbers[1] is not None and lower[0] in ("updatestudent", "updatestudentaddress", "insertcontact"):
        route, operation = {"updatestudent": ("UpdateStudent", write_ops.update_student),
                            "updatestudentaddress": ("UpdateStudentAddress", write_ops.update_student_address),
                            "insertcontact": ("InsertContact", write_ops.insert_contact)}[lower[0]]
        return route, run(operation, numbers[1])
    if n == 3 and lower[0] == "updatecontact" and numbers[1] is not None and numbers[2] is not None:
        return "UpdateContact", run(write_ops.update_contact, numbers[1], numbers[2])
    if lower[0] == "gradebooks":
        if n == 3 and numbers[1] is not None and lower[2] == "assignments":
            return "InsertAssignment", run(write_ops.insert_assignment, numbers[1])
        if n == 5 and numbers[1] is not None and lower[2] == "assignments" and numbers[3] is not None \
                and lower[4] == "scores":
            gradebook, assignment = numbers[1], numbers[3]
            return "UpdateScores", run(write_ops.update_scores, lambda: gradebooks.assignment(app, gradebook, assignment))
        if n == 4 and lower[1] == "assignments" and lower[3] == "scores":
            unique_id = api[2]
            return "UpdateScores", run(write_ops.update_scores, lambda: gradebooks.assignment_by_uid(app, unique_id))
    return None
