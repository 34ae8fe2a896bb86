"""The write endpoints of the emulator: Aeries' validation, then a change to the in-memory district.

Each public function takes the server's :class:`~aeries_sandbox.emulator.index.DistrictIndex`, the path ids and
the parsed JSON body, and returns ``(status, answer)``; a rule violation raises
:class:`~aeries_sandbox.emulator.errors.HttpError` (400 with the first violation found, 404 for an id in the path
that does not exist). Nothing is changed unless the whole request is valid (a score array is all-or-nothing).
Callers hold ``index.lock`` so that one write is validated and applied at a time.

Records are copied on write: an update replaces the record in every index with an updated copy, so the
:class:`~aeries_sandbox.emulator.district.District` the server was started with is never changed.

The rules (field names, lengths, which fields are required, answers) are listed in README.md ("Writes").
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from aeries_sandbox.emulator.district import blank_contact, blank_student
from aeries_sandbox.emulator.errors import HttpError

if TYPE_CHECKING:  # pragma: no cover
    from aeries_sandbox.emulator.index import DistrictIndex

__all__ = [
    "parse_json_body",
    "insert_student",
    "update_student",
    "update_student_address",
    "insert_contact",
    "update_contact",
    "insert_assignment",
    "update_scores",
    "insert_course_request",
    "score_rows",
]

_INT32_MAX = 2_147_483_647
_FOUR = Decimal("0.0001")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _bad(message: str) -> HttpError:
    return HttpError(400, message)


def int_key(value: Any) -> Any:
    """Numbers as ints (a replayed extract or a JSON body may have "0994"); anything else as it is."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


# -- bodies ------------------------------------------------------------------------------------------------
def parse_json_body(body: bytes) -> Any:
    """The request body as JSON (400 when it is missing or not JSON)."""
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise _bad("The request body is empty; send a JSON payload with Content-Type: application/json.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(f"The request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).") from None


def _object(payload: Any, what: str) -> dict[str, Any]:
    if isinstance(payload, HttpError):  # the body did not parse: reported once the path ids are known to exist
        raise payload
    if not isinstance(payload, dict):
        raise _bad(f"The request body must be a JSON object ({what}).")
    return payload


# -- field conversion --------------------------------------------------------------------------------------
def parse_date(value: Any, name: str) -> str:
    """``"2027-01-05"``, ``"2027/01/05"``, ``"01/05/2027"`` or an ISO date-time -> ``"2027-01-05T00:00:00"``."""
    if not isinstance(value, str):
        raise _bad(f"{name} '{value}' is not a valid date.")
    text = value.strip()
    match = _DATE.fullmatch(text)
    try:
        if match:
            day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        elif _US_DATE.fullmatch(text):
            month, day_number, year = (int(x) for x in _US_DATE.fullmatch(text).groups())  # type: ignore[union-attr]
            day = date(year, month, day_number)
        else:
            raise ValueError(text)
    except ValueError:
        raise _bad(f"{name} '{value}' is not a valid date.") from None
    return f"{day.isoformat()}T00:00:00"


def _decimal(value: Any, name: str, prefix: str = "") -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise _bad(f"{prefix}{name} '{_show(value)}' is not a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(f"{prefix}{name} '{_show(value)}' is not a number.") from None
    if not number.is_finite():
        raise _bad(f"{prefix}{name} '{_show(value)}' is not a number.")
    # kept to 4 decimals, rounded half away from zero as SQL Server's decimal(…, 4) columns do
    return number.quantize(_FOUR, ROUND_HALF_UP) if number.as_tuple().exponent < -4 else number  # type: ignore[operator]


def _number(value: Decimal) -> int | float:
    """A Decimal as JSON shows it: ``10`` or ``8.5``."""
    return int(value) if value == value.to_integral_value() else float(value)


def _mark(value: Decimal) -> str:
    """``Decimal("8.50")`` -> ``"8.5"``, ``Decimal("10")`` -> ``"10"``."""
    return format(value.normalize(), "f")


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def _whole(value: Any, name: str, low: int = 0, high: int = _INT32_MAX) -> int:
    if isinstance(value, bool):
        raise _bad(f"{name} '{_show(value)}' is not a whole number.")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,10}\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise _bad(f"{name} '{_show(value)}' is not a whole number.")
    if not low <= value <= high:
        raise _bad(f"{name} {value} is out of range ({low} to {high}).")
    return value


def _text(value: Any, name: str, max_length: int) -> str:
    if isinstance(value, (bool, list, dict)):
        raise _bad(f"{name} must be a string.")
    text = str(value)
    if len(text) > max_length:
        raise _bad(f"{name} must be {max_length} character{'s' if max_length != 1 else ''} or fewer.")
    return text


def _yes_no(value: Any, name: str) -> str:
    if value is True:
        return "Y"
    if value is False:
        return "N"
    if isinstance(value, str) and value.strip().upper() in ("Y", "N", ""):
        return value.strip().upper()
    raise _bad(f"{name} must be Y or N.")


def _phone(value: Any, name: str) -> str:
    text = _text(value, name, 30).strip()
    if not text:
        return ""
    digits = re.sub(r"[\s().+\-]", "", text)
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise _bad(f"{name} '{text}' is not a valid phone number.")
    return digits


def _email(value: Any, name: str) -> str:
    text = _text(value, name, 50).strip()
    if text and not _EMAIL.fullmatch(text):
        raise _bad(f"{name} '{text}' is not a valid e-mail address.")
    return text


def _digits(value: Any, name: str, length: int) -> str:
    text = _text(value, name, 20).strip()
    if text and not (text.isdigit() and len(text) == length):
        raise _bad(f"{name} '{text}' must be {length} digits.")
    return text


def _state(value: Any, name: str) -> str:
    text = _text(value, name, 20).strip().upper()
    if text and not re.fullmatch(r"[A-Z]{2}", text):
        raise _bad(f"{name} '{text}' must be a 2-letter state code.")
    return text


def _grade(value: Any, name: str) -> int:
    try:
        grade = _whole(value, name, -2, 18)
    except HttpError:
        raise _bad(f"{name} '{_show(value)}' is not valid; Aeries grades are -2 to 18.") from None
    return grade


def _gender(value: Any, name: str) -> str:
    text = _text(value, name, 1).strip().upper() if isinstance(value, str) else value
    if text not in ("M", "F", "X"):
        raise _bad(f"{name} '{_show(value)}' is not valid; use M, F or X.")
    return text


def _status(value: Any, name: str) -> str:
    text = _text(value, name, 1)
    return text if text.strip() else " "


Converter = Callable[[Any, str], Any]


def _max(length: int) -> Converter:
    return lambda value, name: _text(value, name, length)


def _yes_no_blank(value: Any, name: str) -> str:
    text = value.strip().upper() if isinstance(value, str) else value
    if text not in ("Y", "N", ""):
        raise _bad(f"{name} must be Y, N or blank.")
    return text


def _date_field(value: Any, name: str) -> str:
    return parse_date(value, name)


#: Student fields the write endpoints take: (record field, body names (the first is used in messages), converter).
#: Body names follow Aeries' insert/update payloads (``BirthDate``, ``Race1Code``, ``NextSchool``,
#: ``CorrespondanceLanguageCode``); the names the Student object is read with are accepted too.
STUDENT_FIELDS: tuple[tuple[str, tuple[str, ...], Converter], ...] = (
    ("LastName", ("LastName",), _max(100)),
    ("FirstName", ("FirstName",), _max(100)),
    ("MiddleName", ("MiddleName",), _max(100)),
    ("LastNameAlias", ("LastNameAlias",), _max(100)),
    ("FirstNameAlias", ("FirstNameAlias",), _max(100)),
    ("MiddleNameAlias", ("MiddleNameAlias",), _max(100)),
    ("Gender", ("Gender",), _gender),
    ("Grade", ("Grade",), _grade),
    ("Birthdate", ("BirthDate", "Birthdate"), _date_field),
    ("InactiveStatusCode", ("InactiveStatusCode",), _status),
    ("ParentGuardianName", ("ParentGuardianName",), _max(50)),
    ("HomePhone", ("HomePhone",), _phone),
    ("StudentMobilePhone", ("StudentMobilePhone",), _phone),
    ("MailingAddress", ("MailingAddress",), _max(55)),
    ("MailingAddressCity", ("MailingAddressCity",), _max(30)),
    ("MailingAddressState", ("MailingAddressState",), _state),
    ("MailingAddressZipCode", ("MailingAddressZipCode",), lambda v, n: _digits(v, n, 5)),
    ("MailingAddressZipExt", ("MailingAddressZipExt",), lambda v, n: _digits(v, n, 4)),
    ("ResidenceAddress", ("ResidenceAddress",), _max(55)),
    ("ResidenceAddressCity", ("ResidenceAddressCity",), _max(30)),
    ("ResidenceAddressState", ("ResidenceAddressState",), _state),
    ("ResidenceAddressZipCode", ("ResidenceAddressZipCode",), lambda v, n: _digits(v, n, 5)),
    ("ResidenceAddressZipExt", ("ResidenceAddressZipExt",), lambda v, n: _digits(v, n, 4)),
    ("EthnicityCode", ("EthnicityCode",), _yes_no_blank),
    ("RaceCode1", ("Race1Code", "RaceCode1"), _max(3)),
    ("RaceCode2", ("Race2Code", "RaceCode2"), _max(3)),
    ("RaceCode3", ("Race3Code", "RaceCode3"), _max(3)),
    ("RaceCode4", ("Race4Code", "RaceCode4"), _max(3)),
    ("RaceCode5", ("Race5Code", "RaceCode5"), _max(3)),
    ("SchoolEnterDate", ("SchoolEnterDate",), _date_field),
    ("DistrictEnterDate", ("DistrictEnterDate",), _date_field),
    ("LanguageFluencyCode", ("LanguageFluencyCode",), _max(1)),
    ("HomeLanguageCode", ("HomeLanguageCode",), _max(2)),
    ("CorrespondenceLanguageCode", ("CorrespondanceLanguageCode", "CorrespondenceLanguageCode"), _max(2)),
    ("ParentEmailAddress", ("ParentEmailAddress",), _email),
    ("StudentEmailAddress", ("StudentEmailAddress",), _email),
    ("StudentPersonalEmailAddress", ("StudentPersonalEmailAddress",), _email),
    ("NetworkLoginID", ("NetworkLoginID",), _max(50)),
    ("NextSchoolCode", ("NextSchool", "NextSchoolCode"), lambda v, n: _whole(v, n, 0, 32767)),
    ("NextGrade", ("NextGrade",), _grade),
)
STUDENT_REQUIRED = ("LastName", "FirstName", "Grade", "Birthdate")
ADDRESS_FIELDS = tuple(spec for spec in STUDENT_FIELDS if spec[0].startswith(("MailingAddress", "ResidenceAddress")))

CONTACT_FIELDS: tuple[tuple[str, tuple[str, ...], Converter], ...] = (
    ("MailingName", ("MailingName",), _max(50)),
    ("NamePrefix", ("NamePrefix",), _max(5)),
    ("FirstName", ("FirstName",), _max(20)),
    ("LastName", ("LastName",), _max(50)),
    ("MiddleName", ("MiddleName",), _max(20)),
    ("NameSuffix", ("NameSuffix",), _max(10)),
    ("Address", ("Address",), _max(50)),
    ("AddressCity", ("AddressCity",), _max(24)),
    ("AddressState", ("AddressState",), _state),
    ("AddressZipCode", ("AddressZip", "AddressZipCode"), lambda v, n: _digits(v, n, 5)),
    ("AddressZipExt", ("AddressZipExt",), lambda v, n: _digits(v, n, 4)),
    ("RelationshipToStudentCode", ("RelationshipToStudentCode",), _max(2)),
    ("LivesWithStudentIndicator", ("LivesWithStudentIndicator",), _yes_no),
    ("HomePhone", ("HomePhone",), _phone),
    ("WorkPhone", ("WorkPhone",), _phone),
    ("WorkPhoneExt", ("WorkPhoneExt",), _max(5)),
    ("CellPhone", ("CellPhone",), _phone),
    ("EmailAddress", ("EmailAddress",), _email),
    ("AccessToPortal", ("AccessToPortal",), _yes_no),
    ("ContactOrder", ("ContactOrder",), lambda v, n: _whole(v, n, 1, 32767)),
    ("CorrespondanceLanguageCode", ("CorrespondanceLanguageCode", "CorrespondenceLanguageCode"), _max(2)),
    ("NotificationPreferenceCode", ("NotificationPreferenceCode",), _max(1)),
    ("PrimaryContact", ("PrimaryContact",), _yes_no),
    ("MiscCode", ("MiscCode",), _max(2)),
    ("MailTagCode", ("MailTagCode",), _max(1)),
    ("Comments", ("Comments",), _max(255)),
)
CONTACT_REQUIRED = ("FirstName", "LastName")


def _read_fields(body: Mapping[str, Any], specs: Iterable[tuple[str, tuple[str, ...], Converter]],
                 required: Iterable[str] = ()) -> dict[str, Any]:
    """The converted values of the fields present (null = omitted); 400 for the first bad or missing one.

    Names are matched case-insensitively, as ASP.NET model binding does; properties the model lacks are ignored.
    """
    lowered = {str(key).lower(): value for key, value in body.items()}
    values: dict[str, Any] = {}
    missing = set(required)
    for field, names, convert in specs:
        present = [name for name in names if name.lower() in lowered and lowered[name.lower()] is not None]
        if not present:
            if field in missing:
                raise _bad(f"{names[0]} is required.")
            continue
        value = lowered[present[0].lower()]
        if field in missing and isinstance(value, str) and not value.strip():
            raise _bad(f"{names[0]} is required.")
        values[field] = convert(value, names[0])
    return values


# -- students ----------------------------------------------------------------------------------------------
def _school(index: DistrictIndex, school: int) -> dict[str, Any]:
    record = index.school_by_code.get(school)
    if record is None:
        raise HttpError(404, f"School {school} was not found")
    return record


def _check_grade(index: DistrictIndex, school: int, grade: int, name: str = "Grade") -> None:
    record = index.school_by_code.get(school) or {}
    low, high = int_key(record.get("LowGradeLevel")), int_key(record.get("HighGradeLevel"))
    if isinstance(low, int) and isinstance(high, int) and (low, high) != (0, 0) and not low <= grade <= high:
        raise _bad(f"{name} {grade} is not offered at school {school} (grades {low} to {high}).")


def _check_next_school(index: DistrictIndex, values: Mapping[str, Any]) -> None:
    next_school = values.get("NextSchoolCode")
    if next_school is not None and next_school not in index.school_by_code:
        raise _bad(f"NextSchool {next_school} is not a school in the district.")


def insert_student(index: DistrictIndex, school: int, payload: Any) -> tuple[int, Any]:
    """``POST schools/{sc}/InsertStudent``: a student who has never been enrolled in the district."""
    _school(index, school)
    if school == 0:
        raise _bad("Students cannot be added to school 0 (the district office).")
    body = _object(payload, "a Student")
    values = _read_fields(body, STUDENT_FIELDS, STUDENT_REQUIRED)
    _check_grade(index, school, values["Grade"])
    _check_next_school(index, values)
    lowered = {str(key).lower(): value for key, value in body.items()}
    student_id = lowered.get("studentid")
    if student_id is not None:
        student_id = _whole(student_id, "StudentID", 1)
        if student_id in index.student_records:
            raise _bad(f"Student ID {student_id} already exists in the district; InsertStudent is only for students "
                       "who have never been enrolled in the district.")
    else:
        student_id = index.next_student_id()
    state_id = lowered.get("statestudentid")
    state_id = _text(state_id, "StateStudentID", 10).strip() if state_id is not None else ""
    if state_id and state_id in index.state_student_ids:
        raise _bad(f"State Student ID {state_id} already belongs to student {index.state_student_ids[state_id]}; "
                   "InsertStudent is only for students who have never been enrolled in the district.")
    grade = values["Grade"]
    enter = values.get("SchoolEnterDate") or f"{index.info.get('SchoolYearStart', '2026-08-13')}T00:00:00"
    record: dict[str, Any] = {
        **blank_student(), "StudentID": student_id, "OldStudentID": 0, "SchoolCode": school,
        "StudentNumber": index.next_student_number(school), "StateStudentID": state_id,
        "LastName": "", "FirstName": "", "MiddleName": "", "LastNameAlias": "", "FirstNameAlias": "",
        "MiddleNameAlias": "", "Gender": "", "Grade": grade, "Birthdate": None, "ParentGuardianName": "",
        "HomePhone": "", "StudentMobilePhone": "", "MailingAddress": "", "MailingAddressCity": "",
        "MailingAddressState": "", "MailingAddressZipCode": "", "ResidenceAddress": "", "ResidenceAddressCity": "",
        "ResidenceAddressState": "", "ResidenceAddressZipCode": "", "EthnicityCode": "", "RaceCode1": "",
        "RaceCode2": "", "RaceCode3": "", "RaceCode4": "", "RaceCode5": "", "SchoolEnterDate": enter,
        "SchoolLeaveDate": None, "DistrictEnterDate": values.get("DistrictEnterDate") or enter, "CounselorNumber": 0,
        "Track": "", "InactiveStatusCode": " ", "FamilyKey": 0, "LanguageFluencyCode": "", "HomeLanguageCode": "",
        "CorrespondenceLanguageCode": "", "ParentEmailAddress": "", "StudentEmailAddress": "",
        "NetworkLoginID": "", "HomeRoomTeacherNumber": "0",
        "NextSchoolCode": school, "NextGrade": min(grade + 1, 18), "RecordsReleaseCode": "",
    }
    record.update(values)
    index.add_student(record)
    index.add_change("student", record)
    return 200, record


def _student_records(index: DistrictIndex, student_id: int) -> list[dict[str, Any]]:
    records = index.student_records.get(student_id)
    if not records:
        raise HttpError(404, f"Student {student_id} was not found")
    return sorted(records, key=lambda r: int_key(r.get("SchoolCode")))


def _apply_student_update(index: DistrictIndex, records: list[dict[str, Any]],
                          values: Mapping[str, Any]) -> tuple[int, Any]:
    if "Grade" in values:
        for record in records:
            _check_grade(index, int_key(record.get("SchoolCode")), values["Grade"])
    _check_next_school(index, values)
    updated = []
    for record in records:
        new = {**record, **values}
        if new != record:
            index.replace_student(record, new)
            index.add_change("student", new)
        updated.append(new)
    return 200, updated


def update_student(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateStudent/{StudentID}``: the fields given, on every school record of the student."""
    records = _student_records(index, student_id)
    values = _read_fields(_object(payload, "the Student fields to update"), STUDENT_FIELDS)
    return _apply_student_update(index, records, values)


def update_student_address(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateStudentAddress/{StudentID}``: mailing/residence address, a Correction or a Change."""
    records = _student_records(index, student_id)
    body = _object(payload, "an address update")
    lowered = {str(key).lower(): value for key, value in body.items()}
    kind = lowered.get("correctionorchange")
    if kind is None or (isinstance(kind, str) and not kind.strip()):
        raise _bad("CorrectionOrChange is required (Correction or Change).")
    if not isinstance(kind, str) or kind.strip().lower() not in ("correction", "change"):
        raise _bad(f"CorrectionOrChange '{_show(kind)}' is not valid; use Correction or Change.")
    if lowered.get("effectivestartdate") is not None:
        parse_date(lowered["effectivestartdate"], "EffectiveStartDate")
    values = _read_fields(body, ADDRESS_FIELDS)
    return _apply_student_update(index, records, values)


# -- contacts ----------------------------------------------------------------------------------------------
def insert_contact(index: DistrictIndex, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST InsertContact/{StudentID}``: a new contact with the next sequence number."""
    records = _student_records(index, student_id)
    values = _read_fields(_object(payload, "a Contact"), CONTACT_FIELDS, CONTACT_REQUIRED)
    existing = index.contacts_by_id.get(student_id, [])
    if existing:
        school = int_key(existing[0].get("SchoolCode"))
    else:
        active = [r for r in records if str(r.get("InactiveStatusCode") or " ").strip() == ""]
        school = int_key((active or records)[0].get("SchoolCode"))
    sequence = max((int_key(c.get("SequenceNumber")) for c in existing), default=0) + 1
    record: dict[str, Any] = {
        **blank_contact(), "StudentID": student_id, "SchoolCode": school, "SequenceNumber": sequence,
        "MailingName": f"{values.get('FirstName', '')} {values.get('LastName', '')}".strip(),
        "LivesWithStudentIndicator": "N", "ContactOrder": sequence, "PrimaryContact": "N",
    }
    record.update(values)
    index.add_contact(record)
    index.add_change("contact", records[0])
    return 200, record


def update_contact(index: DistrictIndex, student_id: int, sequence: int, payload: Any) -> tuple[int, Any]:
    """``POST UpdateContact/{StudentID}/{Seq}``: the fields given."""
    records = _student_records(index, student_id)
    contact = next((c for c in index.contacts_by_id.get(student_id, []) if int_key(c.get("SequenceNumber")) == sequence),
                   None)
    if contact is None:
        raise HttpError(404, f"Contact {sequence} was not found for student {student_id}")
    values = _read_fields(_object(payload, "the Contact fields to update"), CONTACT_FIELDS)
    new = {**contact, **values}
    if new != contact:
        index.replace_contact(contact, new)
        index.add_change("contact", records[0])
    return 200, new


# -- gradebooks --------------------------------------------------------------------------------------------
def _today() -> str:
    return f"{datetime.now().date().isoformat()}T00:00:00"


def insert_assignment(index: DistrictIndex, gradebook_number: int, payload: Any) -> tuple[int, Any]:
    """``POST gradebooks/{gn}/Assignments``: 201 with the new assignment (and its copies in linked gradebooks)."""
    gradebook = index.gradebook_by_number.get(gradebook_number)
    if gradebook is None:
        raise HttpError(404, f"Gradebook {gradebook_number} was not found")
    body = _object(payload, "an AssignmentInsert")
    lowered = {str(key).lower(): value for key, value in body.items()}
    description = lowered.get("description")
    if description is None:
        raise _bad("Description is required.")
    description = _text(description, "Description", 255)
    possible: dict[str, Decimal | None] = {}
    for name in ("NumberCorrectPossible", "PointsPossible"):
        value = lowered.get(name.lower())
        possible[name] = None if value is None else _decimal(value, name)
        if possible[name] is not None and possible[name] < 0:  # type: ignore[operator]
            raise _bad(f"{name} must not be negative.")
    correct = possible["NumberCorrectPossible"] or possible["PointsPossible"] or Decimal(0)
    points = possible["PointsPossible"] if possible["PointsPossible"] is not None else correct
    if not correct or not points:
        raise _bad("PointsPossible must be greater than 0 (the emulator's gradebooks do not use rubric grading).")
    dates = {name: (parse_date(lowered[name.lower()], name) if lowered.get(name.lower()) is not None else None)
             for name in ("DateAssigned", "DateDue")}
    assigned = dates["DateAssigned"] or dates["DateDue"] or _today()
    due = dates["DateDue"] or assigned
    kind = lowered.get("formativesummativeindicator")
    kind = kind.strip().upper() if isinstance(kind, str) and kind.strip().upper() in ("F", "S") else "S"
    comment = _text(lowered["comment"], "Comment", 1000) if lowered.get("comment") is not None else ""
    external = _text(lowered["externalid"], "ExternalID", 255) if lowered.get("externalid") is not None else ""
    category_code = lowered.get("assignmentcategorycode")
    linked = lowered.get("createinlinkedgradebookstoo")
    targets = [gradebook]
    group = int_key(gradebook.get("LinkedGroup"))
    if linked is not False and group:
        targets += [g for g in index.gradebooks_by_teacher.get(
            (int_key(gradebook.get("SchoolCode")), int_key(gradebook.get("TeacherNumber"))), [])
            if g is not gradebook and int_key(g.get("LinkedGroup")) == group]
    created = []
    for target in targets:
        number = int_key(target.get("GradebookNumber"))
        categories = target.get("AssignmentCategories") or []
        category = next((c for c in categories if str(c.get("Code")) == str(category_code)),
                        categories[0] if categories else None)
        assignment_number = max((int_key(a.get("AssignmentNumber")) for a in index.assignments_by_gradebook.get(number, [])),
                                default=0) + 1
        record = {
            "GradebookNumber": number, "AssignmentNumber": assignment_number, "Description": description,
            "AssignmentCategory": category, "Comment": comment, "DateAssigned": assigned, "DateDue": due,
            "NumberCorrectPossible": _number(correct), "PointsPossible": _number(points),
            "FormativeSummativeIndicator": kind, "GradingCompleted": False, "RubricAssignment": False,
            "ExternalID": external, "VisibleToParents": True, "ScoresVisibleToParents": True,
            "InputScoresByStandard": False, "NarrativeGradeSetID": 0, "Standards": [],
            "UniqueID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aeries-emulator/gradebooks/{number}/{assignment_number}")).upper(),
        }
        index.add_assignment(record)
        created.append(record)
    return 201, created


def gradebook_student_ids(index: DistrictIndex, gradebook: Mapping[str, Any]) -> set[Any]:
    """The students of a gradebook: those with a class schedule row in one of its sections (dropped ones too)."""
    students: set[Any] = set()
    for section in gradebook.get("Sections") or []:
        key = (int_key(section.get("SchoolCode", gradebook.get("SchoolCode"))), int_key(section.get("SectionNumber")))
        students.update(int_key(row.get("StudentID")) for row in index.rosters_by_section.get(key, []))
    return students


def score_rows(index: DistrictIndex, assignment: Mapping[str, Any]) -> list[dict[str, Any]]:
    key = (int_key(assignment.get("GradebookNumber")), int_key(assignment.get("AssignmentNumber")))
    scores = index.scores.get(key, {})
    return [scores[student] for student in sorted(scores)]


def update_scores(index: DistrictIndex, assignment: Mapping[str, Any], payload: Any) -> tuple[int, Any]:
    """``POST gradebooks/{gn}/assignments/{an}/Scores``: every row valid, or nothing is written (400 names the
    first bad row); 200 with all scores of the assignment."""
    gradebook_number = int_key(assignment.get("GradebookNumber"))
    assignment_number = int_key(assignment.get("AssignmentNumber"))
    if isinstance(payload, HttpError):
        raise payload
    if not isinstance(payload, list):
        raise _bad("The request body must be a JSON array of AssignmentScoreUpdate objects.")
    gradebook = index.gradebook_by_number.get(gradebook_number) or {}
    enrolled = gradebook_student_ids(index, gradebook)
    possible = _decimal(assignment.get("NumberCorrectPossible") or 0, "NumberCorrectPossible")
    points = _decimal(assignment.get("PointsPossible") or 0, "PointsPossible")
    seen: set[int] = set()
    rows = []
    for number, item in enumerate(payload, 1):
        where = f"Row {number}: "
        if not isinstance(item, dict):
            raise _bad(f"{where}each score must be a JSON object.")
        lowered = {str(key).lower(): value for key, value in item.items()}
        if lowered.get("studentid") is None:
            raise _bad(f"{where}StudentID is required.")
        student_id = _whole(lowered["studentid"], f"{where}StudentID", 1)
        if student_id in seen:
            raise _bad(f"{where}student {student_id} appears more than once in this request.")
        seen.add(student_id)
        if student_id not in enrolled:
            raise _bad(f"{where}student {student_id} is not in gradebook {gradebook_number}.")
        if lowered.get("standardscores"):
            raise _bad(f"{where}StandardScores cannot be used: assignment {assignment_number} does not use "
                       "Input Scores By Standard.")
        if lowered.get("numbercorrect") is None:
            raise _bad(f"{where}NumberCorrect is required.")
        correct = _decimal(lowered["numbercorrect"], "NumberCorrect", where)
        if not Decimal(0) <= correct <= possible:
            raise _bad(f"{where}NumberCorrect {_mark(correct)} for student {student_id} is outside 0 to "
                       f"{_mark(possible)} (NumberCorrectPossible of assignment {assignment_number}).")
        completed = lowered.get("datecompleted")
        completed = parse_date(completed, f"{where}DateCompleted") if completed is not None else assignment.get("DateDue")
        rows.append((student_id, correct, completed))
    for student_id, correct, completed in rows:
        earned = (correct / possible * points) if possible else correct
        percent = (correct / possible * 100) if possible else Decimal(0)
        index.set_score({
            "GradebookNumber": gradebook_number, "AssignmentNumber": assignment_number, "StudentID": student_id,
            "Mark": _mark(correct), "NumberCorrect": _number(correct), "NumberCorrectPossible": _number(possible),
            "PointsEarned": _number(earned.quantize(_FOUR, ROUND_HALF_UP)), "PointsPossible": _number(points),
            "PercentCorrect": _number(percent.quantize(Decimal("0.01"), ROUND_HALF_UP)), "DateCompleted": completed,
            "IsMissing": False,
        })
    return 200, score_rows(index, assignment)


# -- course requests (SSS) ---------------------------------------------------------------------------------
def insert_course_request(index: DistrictIndex, school: int, student_id: int, payload: Any) -> tuple[int, Any]:
    """``POST schools/{sc}/students/{id}/courserequests``: one SSS row; 201 with the StudentCourseRequest."""
    _school(index, school)
    if not index.student_by_id.get((school, student_id)):
        raise HttpError(404, f"Student {student_id} was not found at school {school}")
    body = _object(payload, "a StudentCourseRequestUpdate")
    lowered = {str(key).lower(): value for key, value in body.items()}
    course_id = lowered.get("courseid")
    if course_id is None or (isinstance(course_id, str) and not course_id.strip()):
        raise _bad("Course ID is required.")
    course_id = _text(course_id, "Course ID", 6).strip()
    if len(course_id) > 6:
        raise _bad("Course ID must be 6 characters or fewer.")
    course = index.course_by_id.get(course_id.upper())
    if course is None:
        raise _bad(f"Course ID '{course_id}' was not found.")
    if str(course.get("InactiveStatusCode") or " ").strip():
        raise _bad(f"Course ID '{course_id}' is inactive.")
    existing = index.course_requests_by_student.get((school, student_id), [])
    for row in existing:
        if str(row.get("CourseID", "")).strip().upper() == course_id.upper():
            raise _bad(f"Student {student_id} already has a request for course '{course_id}' at school {school} "
                       f"(sequence {row.get('SequenceNumber')}).")
    taken = {int_key(row.get("SequenceNumber")) for row in existing}
    sequence = lowered.get("sequencenumber")
    if sequence is not None and sequence != 0:
        sequence = _whole(sequence, "SequenceNumber", 1, 32767)
        if sequence in taken:
            raise _bad(f"Sequence number {sequence} already exists for student {student_id} at school {school}.")
    else:
        sequence = max(taken, default=0) + 1
    section_number = _whole(lowered.get("sectionnumber") or 0, "SectionNumber", 0, 32767)
    if section_number:
        section = index.section_by_number.get((school, section_number))
        if section is None:
            raise _bad(f"Section {section_number} was not found at school {school}.")
        if str(section.get("CourseID", "")).upper() != course_id.upper():
            raise _bad(f"Section {section_number} is course '{section.get('CourseID')}', not '{course_id}'.")
    teacher_number = _whole(lowered.get("preferredteachernumber") or 0, "PreferredTeacherNumber", 0, 32767)
    if teacher_number and (school, teacher_number) not in index.teacher_by_number:
        raise _bad(f"Teacher {teacher_number} was not found at school {school}.")
    staff_id = _whole(lowered.get("preferredstaffid") or 0, "PreferredStaffID", 0)
    if staff_id and staff_id not in index.staff_by_id:
        raise _bad(f"Staff {staff_id} was not found.")
    codes = {}
    for name, length in (("RejectCode", 2), ("PermanentLockCode", 2), ("ActualPrimaryCourseID", 6)):
        value = lowered.get(name.lower())
        codes[name] = _text(value, name, length).strip() if value is not None else ""
    tag = lowered.get("alternatetag")
    tag = tag.strip().upper() if isinstance(tag, str) else ("" if tag is None else tag)
    if tag not in ("", "X"):
        raise _bad("AlternateTag must be blank or X.")
    references = lowered.get("alternatecourserequestreferences") or []
    if references:
        reference = references[0] if isinstance(references, list) else references
        raise _bad(f"Alternate course request {_show(reference)} was not found for student {student_id}.")
    record = {
        "StudentID": student_id, "AlternateCourseRequests": [],
        "ActualPrimaryCourseID": codes["ActualPrimaryCourseID"] if tag == "X" else "", "SchoolCode": school,
        "SequenceNumber": sequence, "SectionNumber": section_number, "CourseID": course.get("ID", course_id),
        "PreferredTeacherNumber": teacher_number, "PreferredStaffID": staff_id, "RejectCode": codes["RejectCode"],
        "AlternateTag": tag, "PermanentLockCode": codes["PermanentLockCode"],
    }
    index.add_course_request(record)
    return 201, record
