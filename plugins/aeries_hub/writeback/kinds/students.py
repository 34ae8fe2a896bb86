"""The ``students`` write-back kind: vendor records become Aeries students and their contacts.

A student is found in Aeries by the ``match`` fields: inserted at its school when it is not there, else updated
where it differs; its contacts likewise, matched by ``contacts.match`` (ignoring case) among the student's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aeries_hub.aeries.collect import read_table
from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import did_you_mean
from aeries_hub.mapping.loader import value_spec
from aeries_hub.mapping.models import ValueSpec
from aeries_hub.writeback.kinds.base import Planned, Validated
from aeries_hub.writeback.records import ID, ROW, SCHOOL, exported_records, field_checks, mapped, row, text
from aeries_hub.writeback.spec import Field, WriteBack, parse_fields, sftp_pattern

if TYPE_CHECKING:
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.staging import RunFolder


@dataclass(frozen=True)
class Contacts:
    source: str  # the path of the list of contacts in a vendor record
    match: tuple[str, ...]
    fields: tuple[Field, ...]
    #: How Aeries' side of a match field is read (a mapping's value spec over the Aeries contact); others: the field.
    aeries_match: dict[str, ValueSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class Students:
    """The ``students`` section: where a record's id and school are, its match keys, fields and contacts."""

    record_id: str
    school: str
    match: tuple[str, ...]
    fields: tuple[Field, ...]
    contacts: Contacts | None = None


def students_of(writeback: WriteBack) -> Students:
    """The ``students`` section of a write-back of this kind."""
    assert isinstance(writeback.section, Students), writeback.kind
    return writeback.section


def contacts_of(writeback: WriteBack) -> Contacts:
    """The ``students.contacts`` section (only called when the write-back has one)."""
    contacts = students_of(writeback).contacts
    assert contacts is not None, writeback.path.name
    return contacts


def columns_read(spec: ValueSpec) -> list[str]:
    """The columns a source or first_of value reads."""
    items = spec.argument if spec.kind == "first_of" else (spec.argument,)
    return [item if isinstance(item, str) else item.argument for item in items]


class StudentsKind:
    key = "students"
    record_kinds = {"student": "students", "contact": "contacts"}
    new_id_name = "student_id"
    writable_fields: dict[str, tuple[str, ...]] = {
        "students": (*TABLES["students"].writable_column_names, "BirthDate"),  # InsertStudent's name for Birthdate
        "contacts": TABLES["contacts"].writable_column_names}
    security_areas = {"student": "Student Data", "contact": "Contacts"}

    def load(self, section: dict[str, Any], common: dict[str, Any], origin: dict[str, Any]) -> WriteBack:
        contacts = section.get("contacts")
        students = Students(
            record_id=section["id"],
            school=section["school"],
            match=tuple(section["match"]),
            fields=parse_fields(section["fields"]),
            contacts=Contacts(source=contacts["from"], match=tuple(contacts["match"]),
                              fields=parse_fields(contacts["fields"]),
                              aeries_match={name: value_spec(spec)
                                            for name, spec in (contacts.get("aeries_match") or {}).items()})
            if contacts
            else None,
        )
        # The default SFTP pattern of a students export is *.jsonl, whatever its format.
        pattern = sftp_pattern(origin, common["source"], "jsonl")
        return WriteBack(**common, pattern=pattern, kind=self.key, section=students)

    def problems(self, writeback: WriteBack) -> list[str]:
        spec = students_of(writeback)
        problems = []
        aeries_student = self.writable_fields["students"]
        names = [f.name for f in spec.fields]
        for student_field in spec.fields:
            if student_field.name not in aeries_student:
                problems.append(f"students.fields.{student_field.name}: not a field of an Aeries student"
                                f"{did_you_mean(student_field.name, aeries_student)}")
        for key in spec.match:
            if key not in names:
                problems.append(f"students.match: {key!r} is not one of students.fields ({', '.join(names)})")
        if spec.contacts:
            aeries_contact = self.writable_fields["contacts"]
            contact_names = [f.name for f in spec.contacts.fields]
            for contact_field in spec.contacts.fields:
                if contact_field.name not in aeries_contact:
                    problems.append(f"students.contacts.fields.{contact_field.name}: not a field of an Aeries "
                                    f"contact{did_you_mean(contact_field.name, aeries_contact)}")
            for key in spec.contacts.match:
                if key not in contact_names:
                    problems.append(f"students.contacts.match: {key!r} is not one of students.contacts.fields")
            for key, value in spec.contacts.aeries_match.items():
                at = f"students.contacts.aeries_match.{key}"
                if key not in spec.contacts.match:
                    problems.append(f"{at}: {key!r} is not one of students.contacts.match")
                if value.kind not in ("source", "first_of"):
                    problems.append(f"{at}: give source or first_of (the Aeries contact's columns), not {value.kind}")
                    continue
                for column in columns_read(value):
                    if column not in aeries_contact:
                        problems.append(f"{at}: {column!r} is not a field of an Aeries contact"
                                        f"{did_you_mean(column, aeries_contact)}")
        return problems

    def written_fields(self, writeback: WriteBack) -> dict[str, dict[str, str]]:
        spec = students_of(writeback)
        contacts = spec.contacts.fields if spec.contacts else ()
        return {"students": {f.name: f"students.fields.{f.name}" for f in spec.fields},
                "contacts": {f.name: f"students.contacts.fields.{f.name}" for f in contacts}}

    def validate(self, writeback: WriteBack, run: RunFolder, fetched: dict) -> Validated:
        """Map each vendor record to Aeries fields and check it; a record that fails any check (or one of its
        contacts does) is rejected whole."""
        import pandas as pd

        from aeries_hub.delivery.http import record_field
        from aeries_hub.quality import parse_checks, validate_frame
        from aeries_hub.quality.runner import REJECT_REASON

        spec = students_of(writeback)
        contact_fields = spec.contacts.fields if spec.contacts else ()
        students: list[dict] = []
        contacts: list[dict] = []
        unreadable: list[dict] = []
        for where, record in exported_records(writeback, run, fetched, unreadable):
            record_id = str(record_field(record, spec.record_id) or where)
            students.append(row(record, spec.fields, record_id, where)
                            | {SCHOOL: text(record_field(record, spec.school))})
            if spec.contacts:
                for contact in record_field(record, spec.contacts.source) or []:
                    contacts.append(row(contact, spec.contacts.fields, record_id, where))
        student_frame = pd.DataFrame(students, columns=[ID, ROW, SCHOOL] + [f.name for f in spec.fields])
        contact_frame = pd.DataFrame(contacts, columns=[ID, ROW] + [f.name for f in contact_fields])
        where = f"{writeback.path.name}: students"
        with run.local_dir("quality/exports") as docs_dir:
            checked = validate_frame(student_frame, parse_checks(field_checks(spec.fields, "student"),
                                                                 where=f"{where}.fields"),
                                     name="students", docs_dir=docs_dir, id_columns=[ID])
            rejected = [checked.rejected[[ID, REJECT_REASON]]]
            if spec.contacts and len(contact_frame):
                contact_checks = parse_checks(field_checks(spec.contacts.fields, "contact"),
                                              where=f"{where}.contacts.fields")
                contacts_checked = validate_frame(contact_frame, contact_checks, name="contacts", docs_dir=docs_dir,
                                                  id_columns=[ID])
                rejected.append(contacts_checked.rejected[[ID, REJECT_REASON]])
        rejects = pd.concat(rejected + [pd.DataFrame(unreadable, columns=[ID, REJECT_REASON])], ignore_index=True)
        bad = set(rejects[ID])
        accepted = checked.accepted[~checked.accepted[ID].isin(bad)].drop(columns=[REJECT_REASON], errors="ignore")
        run.write_parquet("validated/students.parquet", mapped(accepted, spec.fields))
        run.write_parquet("validated/contacts.parquet", mapped(contact_frame[~contact_frame[ID].isin(bad)],
                                                               contact_fields))
        return Validated(rejects, records=len(student_frame) + len(unreadable), accepted=len(accepted))

    def plan(self, writeback: WriteBack, hook: AeriesHook, run: RunFolder) -> Planned:
        students = run.read_parquet("validated/students.parquet")
        contacts = run.read_parquet("validated/contacts.parquet")
        aeries_students = read_table(hook, "students")
        aeries_contacts = read_table(hook, "contacts") if students_of(writeback).contacts and len(contacts) else []
        plan = build_plan(writeback, students.to_dict("records"), contacts.to_dict("records"), aeries_students,
                          aeries_contacts)
        return Planned(plan, students_read=len({row["StudentID"] for row in aeries_students}))

    def id_field(self, write: dict) -> str | None:
        return "StudentID" if write["kind"] == "student" and write["action"] == "insert" else None

    def inserted(self, writeback: WriteBack, write: dict, path: str, hook: AeriesHook,
                 rows_of: Callable[[str], list[dict]]) -> Any:
        body, parts = write["body"], path.split("/")
        if write["kind"] == "student":
            match = students_of(writeback).match
            key = [str(body.get(k, "")) for k in match]
            return next((row["StudentID"] for row in rows_of("students")
                         if [text(aeries_value(row, k)) for k in match] == key), None)
        if write["kind"] == "contact":
            contact_key = tuple(str(body.get(k, "")).lower() for k in contacts_of(writeback).match)
            theirs = [row for row in rows_of("contacts") if str(row.get("StudentID")) == parts[1]]
            return True if contact_key in contact_match_keys(writeback, theirs) else None
        return None

    def not_stored(self, write: dict, answer: Any) -> list[str]:
        """Aeries ignores, without an error, a field its field level security denies the certificate (support
        article 14000068040): the answer, the stored record, is the only sign. A field the answer does not show
        is not judged."""
        records = [r for r in (answer if isinstance(answer, list) else [answer]) if isinstance(r, dict)]
        if not records:
            return []
        missing = []
        for name, sent in write["body"].items():
            shown = next((n for n in (name, _ANSWERED_AS.get(name)) if n and n in records[0]), None)
            if shown is not None and any(same(record.get(shown), str(sent)) is False for record in records):
                missing.append(name)
        return missing


#: Where a write body names a field other than Aeries' answer does (InsertStudent's body spells them as Aeries'
#: PowerShell client does).
_ANSWERED_AS = {"BirthDate": "Birthdate", "Race1Code": "RaceCode1", "Race2Code": "RaceCode2", "Race3Code": "RaceCode3",
                "Race4Code": "RaceCode4", "Race5Code": "RaceCode5", "NextSchool": "NextSchoolCode",
                "CorrespondanceLanguageCode": "CorrespondenceLanguageCode", "AddressZip": "AddressZipCode"}


def build_plan(writeback: WriteBack, students: list[dict], contacts: list[dict], aeries_students: list[dict],
               aeries_contacts: list[dict]) -> list[dict]:
    """The writes, in order: each student, then its contacts. Pure: the same inputs give the same plan."""
    spec = students_of(writeback)
    field_names = [f.name for f in spec.fields]
    index: dict[tuple, dict] = {}
    for aeries_row in aeries_students:
        key = tuple(text(aeries_value(aeries_row, k)) for k in spec.match)
        if all(key):
            index.setdefault(key, aeries_row)
    plan = []
    for record in students:
        new = {name: record[name] for name in field_names if record[name] != ""}
        existing = index.get(tuple(record[k] for k in spec.match))
        if existing is None:
            plan.append({"record": record[ID], "kind": "student", "action": "insert", "target": f"school {record[SCHOOL]}",
                         "path": f"schools/{int(record[SCHOOL])}/InsertStudent", "body": new,
                         "changes": {k: [None, v] for k, v in new.items()}})
            student_id = None
        else:
            student_id = existing["StudentID"]
            changes = {k: [text(aeries_value(existing, k)) or None, v] for k, v in new.items()
                       if same(aeries_value(existing, k), v) is False}
            plan.append({"record": record[ID], "kind": "student", "action": "update" if changes else "unchanged",
                         "target": f"student {student_id}", "path": f"UpdateStudent/{student_id}",
                         "body": {k: v[1] for k, v in changes.items()}, "changes": changes})
        if spec.contacts:
            plan += _contact_writes(writeback, record[ID], student_id,
                                    [c for c in contacts if c[ID] == record[ID]], aeries_contacts)
    return plan


def _contact_writes(writeback: WriteBack, record_id: str, student_id: Any, contacts: list[dict],
                    aeries_contacts: list[dict]) -> list[dict]:
    spec = contacts_of(writeback)
    theirs = [c for c in aeries_contacts if c.get("StudentID") == student_id] if student_id is not None else []
    existing: dict[tuple[str, ...], tuple[dict | None, dict[str, str]]] = {
        key: (c, dict(zip(spec.match, key))) for c, key in zip(theirs, contact_match_keys(writeback, theirs))}
    writes = []
    for contact in contacts:
        new = {f.name: contact[f.name] for f in spec.fields if contact[f.name] != ""}
        found, matched = existing.get(tuple(contact[k].lower() for k in spec.match), (None, {}))
        # A new student's id is known only once it is inserted: "{student}" is filled in then.
        who = f"student {student_id}" if student_id is not None else "the new student"
        if found is None:
            writes.append({"record": record_id, "kind": "contact", "action": "insert", "target": who,
                           "path": f"InsertContact/{student_id if student_id is not None else '{student}'}",
                           "body": new, "changes": {k: [None, v] for k, v in new.items()}})
            continue
        # The match fields found the contact (ignoring case, read as aeries_match says): they are not rewritten
        # for a difference of case, nor filled in where Aeries knows the contact by its MailingName.
        changes = {k: [text(found.get(k)) or None, v] for k, v in new.items()
                   if same(found.get(k), v) is False and matched.get(k) != v.lower()}
        writes.append({"record": record_id, "kind": "contact", "action": "update" if changes else "unchanged",
                       "target": f"{who}, contact {found['SequenceNumber']}",
                       "path": f"UpdateContact/{student_id}/{found['SequenceNumber']}",
                       "body": {k: v[1] for k, v in changes.items()}, "changes": changes})
    return writes


def contact_match_keys(writeback: WriteBack, aeries_contacts: list[dict]) -> list[tuple[str, ...]]:
    """Each Aeries contact's match key (``contacts.match``, lower case), its fields read as ``contacts.aeries_match``
    says (a contact whose names are blank, known by its MailingName, read as the outbound mappings read it)."""
    spec = contacts_of(writeback)
    if not spec.aeries_match or not aeries_contacts:
        return [tuple(text(c.get(k)).lower() for k in spec.match) for c in aeries_contacts]
    import pandas as pd

    from aeries_hub.mapping.text import text as text_column
    from aeries_hub.mapping.values import evaluate_value

    read = set(spec.match) | {c for value in spec.aeries_match.values() for c in columns_read(value)}
    frame = pd.DataFrame([{k: text(c.get(k)) for k in read} for c in aeries_contacts])
    keys = [evaluate_value(spec.aeries_match[k], frame, f"{writeback.path.name}: students.contacts.aeries_match.{k}")
            if k in spec.aeries_match else text_column(frame[k]) for k in spec.match]
    return list(zip(*(key.str.lower().tolist() for key in keys)))


def aeries_value(row: dict, name: str) -> Any:
    """A field of an Aeries student as the write-back names it (BirthDate is InsertStudent's name for Birthdate)."""
    return row.get("Birthdate") if name == "BirthDate" else row.get(name)


def same(aeries: Any, new: str) -> bool:
    """Whether Aeries already holds ``new`` (dates compared by day, digits of phones, case of codes kept)."""
    old = text(aeries)
    if old[:10] == new and len(new) == 10 and old[4:5] == "-":
        return True
    if old.replace("-", "").replace(" ", "") == new.replace("-", "").replace(" ", "").replace("(", "").replace(")", ""):
        return True
    return old == new


KIND = StudentsKind()
