"""The inbound guard: which planned writes of a run wait for a person's approval, and why.

A write-back may insert new students (and their contacts) at once. These wait for approval in the Airflow UI
(the ``approve_writes`` task): an update of a student the write-back did not create (an existing Aeries
student), a contact added to or changed on such a student, and any change of an address, phone or e-mail.
Past the file's mass-change limits (``guard.max_students_changed`` existing students, or
``guard.max_students_changed_percent`` of the students the run read), every write of the run waits. The
review names students by id and fields by name only: it is shown in the UI and kept, the values are not.
"""

from __future__ import annotations

import re

from aeries_hub.mapping.models import MappingError
from aeries_hub.writeback.kinds.base import kind_of
from aeries_hub.writeback.spec import WriteBack

#: A change of one of these fields (addresses, phones, e-mail addresses) always waits for approval.
CONTACT_DETAIL = re.compile(r"Address|Phone|E-?mail", re.IGNORECASE)
#: Request flags that are sent in a body but are not fields of the record.
FLAGS = {"CreateInLinkedGradebooksToo"}
WRITE_ACTIONS = ("insert", "update")
#: Why a write to a student the write-back did not create waits for approval.
EXISTING_STUDENT_WRITES = {("student", "update"): "update of an existing Aeries student",
                           ("contact", "insert"): "contact added to an existing Aeries student",
                           ("contact", "update"): "contact of an existing Aeries student changed"}


def fields_of(write: dict) -> list[str]:
    """The Aeries fields a planned write sets (names only)."""
    rows = write["body"] if isinstance(write["body"], list) else [write["body"]]
    keys = {name for row in rows for name in row}  # a Scores body is a list of {StudentID, NumberCorrect, ...}
    return sorted(keys - FLAGS - ({"StudentID"} if write["kind"] == "scores" else set()))


def students_of(write: dict) -> list[str]:
    """The StudentIDs of existing Aeries students a planned write changes ([] for a new student and its contacts,
    and for a new assignment)."""
    if write["kind"] == "scores":
        return sorted({str(row["StudentID"]) for row in write["body"]})
    parts = write["path"].split("/")
    if write["kind"] == "course request":
        return [parts[3]]
    if write["kind"] in ("student", "contact") and parts[0] != "schools" and parts[1] != "{student}":
        return [parts[1]]
    return []


def review(writeback: WriteBack, plan: list[dict], *, students_read: int, created: set[str]) -> dict:
    """What of ``plan`` needs approval: ``needs_approval``, the ``reasons``, the number of existing students it
    changes and ``waiting`` (each write that waits: record, kind, action, students, fields, why). ``created``
    are the StudentIDs this write-back inserted earlier. Raises MappingError for a field outside
    ``guard.allowed_fields`` (the loader refuses such a file; this is the last check before anything is sent)."""
    guard = writeback.guard
    allowed = guard.allowed_fields
    writes = [w for w in plan if w["action"] in WRITE_ACTIONS]
    record_kinds = kind_of(writeback).record_kinds  # guard.allowed_fields' kind of record of each planned write
    for write in writes:
        kind = record_kinds[write["kind"]]
        refused = [name for name in fields_of(write) if name not in allowed.get(kind, ())]
        if refused:
            raise MappingError(f"{writeback.path.name}: record {write['record']}: the plan writes {kind} field(s) "
                               f"{', '.join(refused)}, which guard.allowed_fields.{kind} does not allow; "
                               "nothing was sent")
    changed = sorted({sid for write in writes for sid in students_of(write)}, key=lambda sid: (len(sid), sid))
    share = 100 * len(changed) / students_read if students_read else 0.0
    reasons, over = [], False
    if len(changed) > guard.max_students_changed:
        reasons.append(f"it changes {len(changed)} existing students, more than guard.max_students_changed "
                       f"({guard.max_students_changed})")
        over = True
    if share > guard.max_students_changed_percent:
        reasons.append(f"it changes {share:.1f}% of the {students_read} students it read, more than "
                       f"guard.max_students_changed_percent ({guard.max_students_changed_percent:g}%)")
        over = True
    waiting = []
    for write in writes:
        why = "over the mass-change limits" if over else _why(write, created)
        if why:
            waiting.append({"record": write["record"], "kind": write["kind"], "action": write["action"],
                            "students": students_of(write), "fields": fields_of(write), "why": why})
    for why in dict.fromkeys(w["why"] for w in waiting if not over):
        reasons.append(f"{sum(w['why'] == why for w in waiting)} writes: {why}")
    return {"needs_approval": bool(waiting), "reasons": reasons, "students_changed": len(changed),
            "students_read": students_read, "changed_students": changed, "waiting": waiting}


def _why(write: dict, created: set[str]) -> str:
    """Why one write needs approval on its own ("" when it does not)."""
    if write["kind"] not in ("student", "contact"):
        return ""
    students = students_of(write)
    if students and students[0] not in created:
        return EXISTING_STUDENT_WRITES[(write["kind"], write["action"])]
    if write["action"] == "update" and any(CONTACT_DETAIL.search(name) for name in fields_of(write)):
        return "address, phone or e-mail changed"
    return ""
