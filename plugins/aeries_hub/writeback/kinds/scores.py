"""The ``scores`` write-back kind (a grade push): one vendor row is one student's score on one assignment of one
class; the scores of an assignment go to the class's Aeries section gradebook in one Scores POST.

Only classes and students the outbound DAG ``scores.delivered_by`` last delivered (its ``classes`` and
``rosters`` snapshot) push scores; a class is an Aeries section (``organization_id`` = SchoolCode, ``code`` =
CourseID-SectionNumber).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aeries_hub import paths
from aeries_hub.writeback.kinds.base import Planned, Validated
from aeries_hub.writeback.records import ID, ROW, checked_rows, exported_records, field_checks, text
from aeries_hub.writeback.spec import Field, WriteBack, sftp_pattern

if TYPE_CHECKING:
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import RunFolder

#: The Aeries security areas of the grade push: assignments (Read to plan, "- Update" to create one) and scores.
GRADEBOOK_AREA = "Gradebook Data"
SCORES_AREA = "Gradebook Scores"
#: The columns of a validated score row (scores: paths -> these names).
SCORE_COLUMNS = ("class_id", "student", "assignment", "title", "points_possible", "score", "date")


@dataclass(frozen=True)
class Scores:
    """The ``scores`` section: where the columns of a row are, and what the outbound DAG delivered."""

    delivered_by: str  # the outbound DAG whose last delivery says which classes and roster rows the vendor has
    class_id: str  # paths of the columns of a row
    student: str
    assignment: str  # the vendor's assignment id, kept in the Aeries assignment's ExternalID
    score: str
    title: str = ""  # optional: matches an Aeries assignment's Description; the Description of a new one
    points_possible: str = ""  # optional: NumberCorrectPossible (and PointsPossible) of a new assignment
    date: str = ""  # optional: DateCompleted of the score (and DateDue of a new assignment)
    create_assignments: bool = False
    user_crosswalk: str = ""  # a crosswalk of the delivered_by mapping that renamed StudentIDs (vendor ids -> back)


def scores_of(writeback: WriteBack) -> Scores:
    """The ``scores`` section of a write-back of this kind."""
    assert isinstance(writeback.section, Scores), writeback.kind
    return writeback.section


class ScoresKind:
    key = "scores"
    record_kinds = {"assignment": "assignments", "scores": "scores"}
    new_id_name = "assignment_number"
    writable_fields: dict[str, tuple[str, ...]] = {
        "assignments": ("Description", "ExternalID", "NumberCorrectPossible", "PointsPossible", "DateDue"),
        "scores": ("NumberCorrect", "DateCompleted")}
    security_areas = {"assignment": GRADEBOOK_AREA, "scores": SCORES_AREA}

    def load(self, section: dict[str, Any], common: dict[str, Any], origin: dict[str, Any]) -> WriteBack:
        scores = Scores(
            delivered_by=section["delivered_by"], class_id=section["class"], student=section["student"],
            assignment=section["assignment"], score=section["score"], title=section.get("title", ""),
            points_possible=section.get("points_possible", ""), date=section.get("date", ""),
            create_assignments=section.get("create_assignments", False),
            user_crosswalk=section.get("user_crosswalk", ""),
        )
        pattern = sftp_pattern(origin, common["source"], common["format"])
        return WriteBack(**common, pattern=pattern, kind=self.key, section=scores)

    def problems(self, writeback: WriteBack) -> list[str]:
        spec = scores_of(writeback)
        problems = []
        if spec.create_assignments and not spec.points_possible:
            problems.append("scores.points_possible: required with create_assignments: true "
                            "(a new Aeries assignment needs its NumberCorrectPossible)")
        if spec.user_crosswalk and not spec.delivered_by.startswith("aeries_to_"):
            problems.append(f"scores.user_crosswalk: only for scores.delivered_by an outbound DAG "
                            f"(aeries_to_<mapping>), not {spec.delivered_by!r}")
        return problems

    def written_fields(self, writeback: WriteBack) -> dict[str, dict[str, str]]:
        spec = scores_of(writeback)
        scores = {"NumberCorrect": "scores.score", **({"DateCompleted": "scores.date"} if spec.date else {})}
        assignments = {}
        if spec.create_assignments:
            assignments = {name: "scores.create_assignments"
                           for name in self.writable_fields["assignments"] if name != "DateDue"}
            assignments.update({"DateDue": "scores.date"} if spec.date else {})
        return {"assignments": assignments, "scores": scores}

    def validate(self, writeback: WriteBack, run: RunFolder, fetched: dict) -> Validated:
        """Each row -> one score (class, student, assignment, score and the optional title, points possible,
        date); a row without a class, student, assignment or score is rejected here, everything else is checked
        by the plan."""
        import pandas as pd

        from aeries_hub.delivery.http import record_field
        from aeries_hub.quality import parse_checks

        spec = scores_of(writeback)
        paths_of = {"class_id": spec.class_id, "student": spec.student, "assignment": spec.assignment,
                    "title": spec.title, "points_possible": spec.points_possible, "score": spec.score, "date": spec.date}
        rows: list[dict] = []
        unreadable: list[dict] = []
        for where, record in exported_records(writeback, run, fetched, unreadable):
            row = {name: (text(record_field(record, path)) if path else "") for name, path in paths_of.items()}
            parts = [row["class_id"], row["assignment"], row["student"]]
            rows.append({ID: "/".join(parts) if all(parts) else where, ROW: where, **row})
        frame = pd.DataFrame(rows, columns=[ID, ROW, *SCORE_COLUMNS])
        required = [Field(name=name, path=name, required=True) for name in ("class_id", "student", "assignment", "score")]
        checks = parse_checks(field_checks(required, "score"), where=f"{writeback.path.name}: scores")
        accepted, rejects = checked_rows(run, frame, checks, "scores", unreadable)
        run.write_parquet("validated/scores.parquet", accepted.reset_index(drop=True))
        return Validated(rejects, records=len(frame) + len(unreadable), accepted=len(accepted))

    def plan(self, writeback: WriteBack, hook: AeriesHook, run: RunFolder) -> Planned:
        """Read what the plan needs from Aeries (only for delivered classes the export names): each section's
        gradebooks, their assignments and the scores those hold; then :func:`build_score_plan`."""
        rows = run.read_parquet("validated/scores.parquet").to_dict("records")
        classes, rosters = delivered_classes(writeback)
        by_class = {c["class_id"]: c for c in classes}
        gradebooks: dict[str, list[dict]] = {}
        assignments: dict[int, list[dict]] = {}
        scores: dict[tuple[int, int], list[dict]] = {}
        for class_id in sorted({r["class_id"] for r in rows if r["class_id"] in by_class}):
            section = class_section(by_class[class_id])
            if section is None:
                continue
            gradebooks[class_id] = hook.get_json(f"schools/{section[0]}/sections/{section[1]}/gradebooks",
                                                 security_area=GRADEBOOK_AREA) or []
            for gradebook in gradebooks[class_id]:
                number = int(gradebook["GradebookNumber"])
                if number in assignments:
                    continue
                assignments[number] = hook.get_json(f"gradebooks/{number}/assignments",
                                                    security_area=GRADEBOOK_AREA) or []
                for assignment in assignments[number]:
                    an = int(assignment["AssignmentNumber"])
                    scores[(number, an)] = hook.get_json(f"gradebooks/{number}/assignments/{an}/scores",
                                                         security_area=SCORES_AREA) or []
        plan = build_score_plan(writeback, rows, classes, rosters, gradebooks, assignments, scores,
                                student_ids(writeback))
        return Planned(plan, students_read=len({r["user_id"] for r in rosters if r.get("role", "S") == "S"}))

    def id_field(self, write: dict) -> str | None:
        return "AssignmentNumber" if write["kind"] == "assignment" and write["action"] == "insert" else None

    def inserted(self, writeback: WriteBack, write: dict, path: str, hook: AeriesHook,
                 rows_of: Callable[[str], list[dict]]) -> Any:
        if write["kind"] != "assignment":
            return None
        gradebook = path.split("/")[1]
        assignments = hook.get_json(f"gradebooks/{gradebook}/assignments", security_area=GRADEBOOK_AREA) or []
        return next((a["AssignmentNumber"] for a in assignments
                     if text(a.get("ExternalID")) == str(write["body"]["ExternalID"])), None)

    def not_stored(self, write: dict, answer: Any) -> list[str]:
        return []


def delivered_classes(writeback: WriteBack) -> tuple[list[dict], list[dict]]:
    """The ``classes`` and ``rosters`` rows the outbound DAG ``scores.delivered_by`` last delivered over SFTP."""
    from aeries_hub.changes import DeliveredState
    from aeries_hub.staging import staging_base

    delivered_by = scores_of(writeback).delivered_by
    state = DeliveredState(staging_base(), delivered_by, "sftp")
    classes, rosters = state.snapshot("classes"), state.snapshot("rosters")
    if classes is None or rosters is None:
        raise RuntimeError(f"{writeback.path.name}: {delivered_by} has not delivered classes and rosters "
                           f"yet (no snapshot in {state.root}): no score can be checked, nothing is planned")
    import pandas as pd

    def as_text(frame: pd.DataFrame) -> list[dict]:
        return [{k: "" if pd.isna(v) else text(v) for k, v in r.items()} for r in frame.astype(object).to_dict("records")]

    return as_text(classes), as_text(rosters)


def class_section(row: dict) -> tuple[int, int] | None:
    """(SchoolCode, SectionNumber) of a delivered class: ``organization_id`` and the end of ``code``
    (CourseID-SectionNumber), which hold even when a crosswalk renamed the class_id."""
    school, code = text(row.get("organization_id")), text(row.get("code"))
    section = code.rsplit("-", 1)[-1] if "-" in code else ""
    return (int(school), int(section)) if school.isdigit() and section.isdigit() else None


def student_ids(writeback: WriteBack) -> dict[str, str]:
    """Vendor user id -> Aeries StudentID, from ``scores.user_crosswalk`` read backwards ({} without one)."""
    spec = scores_of(writeback)
    if not spec.user_crosswalk:
        return {}
    from aeries_hub.mapping.crosswalk import read_rows, translation
    from aeries_hub.mapping.loader import load_mapping

    mapping = load_mapping(paths.MAPPINGS_DIR / f"{spec.delivered_by[len('aeries_to_'):]}.yml")
    crosswalk = mapping.crosswalks.get(spec.user_crosswalk)
    if crosswalk is None:
        raise RuntimeError(f"{writeback.path.name}: scores.user_crosswalk: {mapping.path.name} has no crosswalk "
                           f"{spec.user_crosswalk!r} ({', '.join(mapping.crosswalks) or 'none'})")
    return {vendor: aeries for aeries, vendor in translation(crosswalk, read_rows(crosswalk)).items()}


def _number(value: str) -> int | float | None:
    """A score or points as a number (int when whole), or None when it is not a finite number."""
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(text(value))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _find_assignment(assignments: list[dict], external_id: str, title: str) -> dict | None:
    """The gradebook's assignment for a vendor assignment: its ExternalID, else (ignoring case) its Description."""
    for assignment in assignments:
        if text(assignment.get("ExternalID")) == external_id:
            return assignment
    if title:
        for assignment in assignments:
            if not text(assignment.get("ExternalID")) and text(assignment.get("Description")).lower() == title.lower():
                return assignment
    return None


def build_score_plan(writeback: WriteBack, rows: list[dict], classes: list[dict], rosters: list[dict],
                     gradebooks: dict[str, list[dict]], assignments: dict[int, list[dict]],
                     scores: dict[tuple[int, int], list[dict]], ids: dict[str, str] | None = None) -> list[dict]:
    """The grade push, pure: only a delivered class with its teacher and a student on its delivered roster push
    scores (seed 000). Per row ``rejected`` (naming the row and why) or ``unchanged`` (Aeries holds that
    score, or a later row of the export scores the same student); then, per assignment, an ``insert`` of an
    assignment the gradebook lacks (``create_assignments``) and one ``update`` of its scores (one Scores POST
    with every changed score; ``changes`` maps ``student {id}`` to [old, new]). ``ids`` maps the vendor's user ids
    back to StudentIDs (a user_ids crosswalk); other user ids are StudentIDs. Nothing here writes."""
    spec = scores_of(writeback)
    by_class = {c["class_id"]: c for c in classes}
    on_roster = {(r["class_id"], r["user_id"]) for r in rosters if r.get("role", "S") == "S"}
    last_row = {}  # (class, assignment, student) -> the row that counts: the last one
    for row in rows:
        last_row[(row["class_id"], row["assignment"], row["student"])] = row[ROW]
    plan: list[dict] = []
    batches: dict[tuple, dict] = {}  # (gradebook, assignment key) -> the planned writes of one assignment
    for row in rows:
        class_id, student, assignment_id = row["class_id"], row["student"], row["assignment"]
        entry = {"record": row[ID], "row": row[ROW], "kind": "score"}

        def reject(why: str, row=row, entry=entry) -> None:
            plan.append({**entry, "action": "rejected", "target": row[ID], "reason": f"{row[ID]}: {why}"})

        if class_id not in by_class:
            reject(f"class {class_id} was not delivered to PowerSchool Learning")
            continue
        if "teacher_id" in by_class[class_id] and not by_class[class_id]["teacher_id"]:
            reject(f"class {class_id} was delivered to PowerSchool Learning without a teacher")
            continue
        if (class_id, student) not in on_roster:
            reject(f"student {student} is not on the roster delivered for class {class_id}")
            continue
        student_id = (ids or {}).get(student, student)
        if not student_id.isdigit():
            reject(f"student {student} is not an Aeries StudentID")
            continue
        score = _number(row["score"])
        if score is None:
            reject(f"score '{row['score']}' is not a number")
            continue
        if row["date"] and not re.match(r"^(\d{4}-\d{2}-\d{2}([T ].*)?|\d{1,2}/\d{1,2}/\d{4})$", row["date"]):
            reject(f"date '{row['date']}' is not a date (YYYY-MM-DD or MM/DD/YYYY)")
            continue
        books = sorted(gradebooks.get(class_id) or [], key=lambda g: int(g["GradebookNumber"]))
        if not books:
            section = class_section(by_class[class_id])
            where = f"section {section[1]} at school {section[0]}" if section else "its section"
            reject(f"class {class_id} ({where}) has no gradebook in Aeries")
            continue
        found, gradebook = None, books[0]
        for book in books:  # the gradebook that already has the assignment, else the section's first
            found = _find_assignment(assignments.get(int(book["GradebookNumber"]), []), assignment_id, row["title"])
            if found:
                gradebook = book
                break
        gn = int(gradebook["GradebookNumber"])
        shown = f"assignment {assignment_id}" + (f" ('{row['title']}')" if row["title"] else "")
        if found is None:
            key: tuple[int, int | str] = (gn, f"new {assignment_id}")
            if key not in batches:
                if not spec.create_assignments:
                    reject(f"{shown} is not in gradebook {gn} (create_assignments is off)")
                    continue
                possible = _number(row["points_possible"])
                if possible is None or possible <= 0:
                    reject(f"{shown} is not in gradebook {gn} and cannot be created: points possible "
                           f"'{row['points_possible']}' is not a number greater than 0")
                    continue
                record = f"{class_id}/{assignment_id}"
                body = {"Description": row["title"] or assignment_id, "ExternalID": assignment_id,
                        "NumberCorrectPossible": possible, "PointsPossible": possible, "CreateInLinkedGradebooksToo": False}
                if row["date"]:
                    body["DateDue"] = row["date"]
                insert = {"record": record, "row": row[ROW], "kind": "assignment", "action": "insert",
                          "target": f"gradebook {gn}", "path": f"gradebooks/{gn}/Assignments", "body": body,
                          "changes": {k: [None, v] for k, v in body.items() if k != "CreateInLinkedGradebooksToo"}}
                batches[key] = {"record": record, "insert": insert, "possible": possible, "have": {},
                                "path": f"gradebooks/{gn}/assignments/{{assignment}}/Scores",
                                "target": f"gradebook {gn}, new assignment {assignment_id}", "rows": []}
        else:
            an = int(found["AssignmentNumber"])
            key = (gn, an)
            if key not in batches:
                have = {int(s["StudentID"]): s.get("NumberCorrect") for s in scores.get((gn, an), [])}
                batches[key] = {"record": f"{class_id}/{assignment_id}", "insert": None,
                                "possible": _number(str(found.get("NumberCorrectPossible") or 0)), "have": have,
                                "path": f"gradebooks/{gn}/assignments/{an}/Scores",
                                "target": f"gradebook {gn}, assignment {an}", "rows": []}
        batch = batches[key]
        if not 0 <= score <= batch["possible"]:
            reject(f"score {row['score']} is outside 0 to {batch['possible']} (NumberCorrectPossible of "
                   f"{batch['target'].split(', ', 1)[1]} in gradebook {gn})")
            continue
        if last_row[(class_id, assignment_id, student)] != row[ROW]:
            plan.append({**entry, "action": "unchanged", "target": batch["target"], "body": {}, "changes": {},
                         "note": f"a later row ({last_row[(class_id, assignment_id, student)]}) scores it again"})
            continue
        old = batch["have"].get(int(student_id))
        if old is not None and _number(str(old)) == score:
            plan.append({**entry, "action": "unchanged", "target": batch["target"], "body": {}, "changes": {},
                         "note": f"Aeries already holds {score}"})
            continue
        batch["rows"].append((int(student_id), _number(str(old)) if old is not None else None, score, row["date"]))
    for batch in batches.values():
        if not batch["rows"]:
            continue
        if batch["insert"]:
            plan.append(batch["insert"])
        scores_body = [{"StudentID": sid, "NumberCorrect": new, **({"DateCompleted": date} if date else {})}
                for sid, _old, new, date in batch["rows"]]
        plan.append({"record": batch["record"], "kind": "scores", "action": "update", "target": batch["target"],
                     "path": batch["path"], "body": scores_body,
                     "changes": {f"student {sid}": [old, new] for sid, old, new, _date in batch["rows"]}})
    return plan


KIND = ScoresKind()
