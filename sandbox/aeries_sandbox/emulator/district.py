"""A district's data as the emulator serves it: one list of API-shaped records per table.

On disk a district is a directory with one JSON file per table (see README.md in this package):
``district.json`` (an object) and ``schools.json``, ``students.json``, ``contacts.json``, ``staff.json``,
``teachers.json``, ``courses.json``, ``sections.json``, ``rosters.json``, ``data_changes.json``, ``gradebooks.json``,
``assignments.json``, ``assignment_scores.json``, ``course_requests.json``, ``programs.json`` (arrays of records in
the Aeries API v5 shape; programs as the Programs end point answers them, without a SchoolCode). Missing table files
are empty tables.

:meth:`District.write` is byte-for-byte deterministic: records keep their order and key order, one
record per line, UTF-8 without ``\\u`` escapes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from aeries_sandbox.emulator.records import Compactor, json_default

__all__ = ["District", "TABLES", "DEFAULT_INFO", "blank_contact", "blank_student", "school_year_label", "start_year"]

#: Table name -> file name, in the order they are written.
TABLES = {
    "schools": "schools.json",
    "students": "students.json",
    "contacts": "contacts.json",
    "staff": "staff.json",
    "teachers": "teachers.json",
    "courses": "courses.json",
    "sections": "sections.json",
    "rosters": "rosters.json",
    "data_changes": "data_changes.json",
    "gradebooks": "gradebooks.json",
    "assignments": "assignments.json",
    "assignment_scores": "assignment_scores.json",
    "course_requests": "course_requests.json",
    "programs": "programs.json",
}
INFO_FILE = "district.json"


def int_key(value: Any) -> Any:
    """Numbers as ints (a replayed extract or a JSON body may have "0994"); anything else as it is."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def blank_contact() -> dict[str, Any]:
    """A contact with every field the Aeries demo server answers, in its order, each blank (README: "Contacts").
    Dates are null, ``RedFlag`` false, numbers 0, text ``""`` (``PrimaryContact`` too, as on every real contact)."""
    text = ("AdministrativeLockCode", "EnrolledTheStudentIndicator")
    fields: dict[str, Any] = {"StudentID": 0, **dict.fromkeys(text, ""), "Birthdate": None, "Occupation": "",
                              "TuberculosisTestStatusCode": "", "TuberculosisTestExpirationDate": None,
                              "FingerprintStatusCode": "", "FingerprintDate": None}
    fields.update(dict.fromkeys([f"UserCode{n}" for n in range(1, 9)], ""))
    fields.update(dict.fromkeys(["MiscCode", "MailTagCode", "AddressTypeCode"], ""))
    fields.update(dict.fromkeys([f"AdditionalCommunicationTypeCode{n}" for n in range(1, 5)], ""))
    fields.update(dict.fromkeys([f"AdditionalCommunicationDetail{n}" for n in range(1, 5)], ""))
    fields.update({"AddressVerificationDate": None, "RecordAddedDate": None})
    fields.update(dict.fromkeys([f"MilitaryUserFieldCode{n}" for n in range(1, 6)], ""))
    fields.update(dict.fromkeys([
        "PrimaryContact1Field", "PrimaryContact2Field", "PrimaryContact1Description", "PrimaryContact2Description",
        "EducationalRightsHolder", "AttendanceNotification", "PrimaryContact"], ""))
    fields.update({"SchoolCode": 0, "SequenceNumber": 0})
    fields.update(dict.fromkeys([
        "MailingName", "NamePrefix", "FirstName", "LastName", "MiddleName", "NameSuffix", "Address", "AddressCity",
        "AddressState", "AddressZipCode", "AddressZipExt", "RelationshipToStudentCode", "LivesWithStudentIndicator"],
        ""))
    fields["RedFlag"] = False
    fields.update(dict.fromkeys(["HomePhone", "WorkPhone", "WorkPhoneExt", "CellPhone", "Pager", "EmailAddress",
                                 "AccessToPortal"], ""))
    fields["ContactOrder"] = 0
    fields.update(dict.fromkeys([
        "CorrespondanceLanguageCode", "EmployerName", "EmployerLocation", "MilitaryBranchCode", "MilitaryRankCode",
        "MilitarySupervisorName", "MilitarySupervisorPhone", "MilitaryStatusCode", "NotificationPreferenceCode",
        "Comments"], ""))
    return fields


#: The fields of a student record as the Aeries demo server answers them, in its order (README: "Students"):
#: github derekpovah/aeries-api spec/support/fixtures/students.json and student.json.
STUDENT_RECORD_FIELDS = (
    "StudentID", "OldStudentID", "CorrespondenceLanguageCode", "SchoolCode", "StudentNumber", "StateStudentID",
    "LastName", "FirstName", "MiddleName", "LastNameAlias", "FirstNameAlias", "MiddleNameAlias", "Gender", "Grade",
    "GradeLevelShortDescription", "GradeLevelLongDescription", "Birthdate", "ParentGuardianName", "HomePhone",
    "StudentMobilePhone", "MailingAddress", "MailingAddressCity", "MailingAddressState", "MailingAddressZipCode",
    "MailingAddressZipExt", "ResidenceAddress", "ResidenceAddressCity", "ResidenceAddressState",
    "ResidenceAddressZipCode", "ResidenceAddressZipExt", "AddressVerified", "EthnicityCode", "RaceCode1", "RaceCode2",
    "RaceCode3", "RaceCode4", "RaceCode5", *(f"UserCode{n}" for n in range(1, 14)), "SchoolEnterDate",
    "SchoolLeaveDate", "DistrictEnterDate", "CounselorNumber", "Track", "AttendanceProgramCodePrimary",
    "AttendanceProgramCodeAdditional1", "AttendanceProgramCodeAdditional2", "LockerNumber", "LowSchedulingPeriod",
    "HighSchedulingPeriod", "InactiveStatusCode", "FamilyKey", "LanguageFluencyCode", "HomeLanguageCode",
    "ParentEdLevelCode", "ParentEmailAddress", "StudentEmailAddress", "NetworkLoginID", "AtRiskPoints",
    "HomeRoomTeacherNumber", "NotificationPreferenceCode", "NextSchoolCode", "NextGrade",
    "NextGradeLevelShortDescription", "NextGradeLevelLongDescription", "RecordsReleaseCode",
)
_STUDENT_NUMBERS = ("StudentID", "OldStudentID", "SchoolCode", "StudentNumber", "Grade", "CounselorNumber",
                    "LowSchedulingPeriod", "HighSchedulingPeriod", "FamilyKey", "NextSchoolCode", "NextGrade")
_STUDENT_DATES = ("Birthdate", "SchoolEnterDate", "SchoolLeaveDate", "DistrictEnterDate")


def blank_student() -> dict[str, Any]:
    """A student with every field the Aeries demo server answers, in its order, each blank: numbers 0, dates null,
    ``AddressVerified`` false, text ``""``."""
    fields: dict[str, Any] = dict.fromkeys(STUDENT_RECORD_FIELDS, "")
    fields.update(dict.fromkeys(_STUDENT_NUMBERS, 0))
    fields.update(dict.fromkeys(_STUDENT_DATES))
    fields["AddressVerified"] = False
    return fields


DEFAULT_INFO: dict[str, Any] = {
    "DatabaseYear": 2026,
    "DistrictName": "Demo Unified School District",
    "AeriesVersion": "10.25.1107.1",
    "LocalTimeZoneName": "Pacific Standard Time",
    "SchoolYearStart": "2026-08-13",
}


#: Years a district offers when its info has no ``AvailableDatabaseYears``: its own and the three before it.
EARLIER_YEARS_OFFERED = 3

_YEAR = re.compile(r"\s*(\d{4})(?:\s*-\s*(\d{4}))?\s*")


def start_year(value: Any, what: str = "DatabaseYear") -> int:
    """A school year as the year it starts: ``2020``, ``"2020"`` and Aeries' 9-character ``"2020-2021"`` give 2020."""
    match = _YEAR.fullmatch(str(value)) if not isinstance(value, bool) else None
    if match is None or (match.group(2) and int(match.group(2)) != int(match.group(1)) + 1):
        raise ValueError(f"{what} {value!r} is not a school year: give 2020 or \"2020-2021\"")
    return int(match.group(1))


def school_year_label(year: int) -> str:
    """Aeries' 9-character form of a school year: 2020 -> ``"2020-2021"`` (systeminfo's DatabaseYear)."""
    return f"{year}-{year + 1}"


@dataclass
class District:
    """The tables of one district for one school year, as lists of dicts in API v5 shape."""

    info: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_INFO))
    schools: list[dict[str, Any]] = field(default_factory=list)
    students: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)
    teachers: list[dict[str, Any]] = field(default_factory=list)
    courses: list[dict[str, Any]] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    rosters: list[dict[str, Any]] = field(default_factory=list)
    data_changes: list[dict[str, Any]] = field(default_factory=list)
    gradebooks: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    assignment_scores: list[dict[str, Any]] = field(default_factory=list)
    course_requests: list[dict[str, Any]] = field(default_factory=list)
    programs: list[dict[str, Any]] = field(default_factory=list)

    # -- convenience -----------------------------------------------------------------------------
    @property
    def database_year(self) -> int:
        """The district's default school year (the year it starts), from ``DatabaseYear`` as an int or as
        Aeries' systeminfo gives it, ``"2020-2021"``."""
        return start_year(self.info.get("DatabaseYear") or DEFAULT_INFO["DatabaseYear"])

    @property
    def available_years(self) -> list[int]:
        """The school years the district offers, newest first: ``AvailableDatabaseYears`` (strings like
        ``"2020-2021"`` or ints), else the default year and the three before it. The default year is always one."""
        listed = self.info.get("AvailableDatabaseYears")
        if listed is None:
            years = [self.database_year - n for n in range(EARLIER_YEARS_OFFERED + 1)]
        else:
            if not isinstance(listed, list):
                raise ValueError(f"AvailableDatabaseYears must be a list of school years, not {listed!r}")
            years = [start_year(item, "AvailableDatabaseYears item") for item in listed]
        return sorted(set(years) | {self.database_year}, reverse=True)

    def counts(self) -> dict[str, int]:
        """Rows per table, plus ``distinct_students`` (StudentIDs)."""
        result = {name: len(getattr(self, name)) for name in TABLES}
        result["distinct_students"] = len({row.get("StudentID") for row in self.students})
        return result

    # -- files -----------------------------------------------------------------------------------
    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write the district as a data dir (created if missing; existing table files replaced)."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        _atomic_write(path / INFO_FILE, [json.dumps(self.info, ensure_ascii=False, indent=2) + "\n"])
        for name, file_name in TABLES.items():
            _atomic_write(path / file_name, _record_lines(getattr(self, name)))
        return path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> District:
        """Read a data dir written by :meth:`write` or assembled from a real extract."""
        path = Path(directory)
        if not path.is_dir():
            raise FileNotFoundError(f"district data dir {str(path)!r} does not exist")
        info = dict(DEFAULT_INFO)
        info_path = path / INFO_FILE
        if info_path.exists():
            loaded = _read_json(info_path)
            if not isinstance(loaded, dict):
                raise ValueError(f"{info_path}: expected a JSON object")
            info.update(loaded)
            if "SchoolYearStart" not in loaded:  # e.g. a real systeminfo answer: the first day of its terms
                info["SchoolYearStart"] = None
        tables: dict[str, list[dict[str, Any]]] = {}
        compactor = Compactor()
        for name, file_name in TABLES.items():
            file_path = path / file_name
            if not file_path.exists():
                tables[name] = []
                continue
            tables[name] = _read_records(file_path, compactor)
        district = cls(info=info, **tables)
        try:
            district.available_years  # noqa: B018 - checks DatabaseYear and AvailableDatabaseYears
        except ValueError as exc:
            raise ValueError(f"{info_path}: {exc}") from None
        if info.get("SchoolYearStart") is None:
            starts = [str(term.get("StartDate"))[:10] for school in district.schools
                      for term in school.get("Terms") or [] if term.get("StartDate")]
            info["SchoolYearStart"] = min(starts) if starts else f"{district.database_year}-07-01"
        return district


def _record_lines(records: list[dict[str, Any]]) -> Iterator[str]:
    """``[``, one record per line, ``]`` (streamed: a 500,000-student district does not fit twice in memory)."""
    if not records:
        yield "[]\n"
        return
    yield "[\n"
    last = len(records) - 1
    for number, record in enumerate(records):
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=json_default) + (",\n" if number < last else "\n")
    yield "]\n"


def _read_records(path: Path, compactor: Compactor) -> list[Any]:
    """A table file as compact records. A file as :meth:`District.write` writes it (``[``, one object per line
    with a comma after each but the last, ``]``) is parsed 4 MB at a time, so that only its records are held,
    never its whole text or all its dicts; any other file is parsed whole, with the same result."""
    records: list[Any] = []
    with path.open("rb") as handle:
        if handle.readline() == b"[\n":
            batch: list[bytes] = []
            size = 0
            for line in handle:
                if line == b"]\n":
                    if (batch and _add_batch(records, batch, compactor, last=True)
                            and not handle.read().strip(b" \t\r\n")):
                        return records
                    break
                batch.append(line)
                size += len(line)
                if size > _BATCH_BYTES:
                    if not _add_batch(records, batch, compactor, last=False):
                        break
                    batch, size = [], 0
    whole = _read_json(path)
    if not isinstance(whole, list) or not all(isinstance(r, dict) for r in whole):
        raise ValueError(f"{path}: expected a JSON array of objects")
    return compactor.rows(whole)


_BATCH_BYTES = 1 << 22


def _add_batch(records: list[Any], lines: list[bytes], compactor: Compactor, *, last: bool) -> bool:
    """Parse lines of a table file as part of its array: those before the last line of the file each end with
    a comma, the last one does not. False (nothing added) when they do not parse so."""
    if not lines[-1].endswith(b"\n") or lines[-1].endswith(b",\n") == last:
        return False
    text = b"".join(lines)
    try:
        rows = json.loads((b"[" + (text if last else text[:-2]) + b"]").decode("utf-8"))
    except ValueError:
        return False
    if not all(type(row) is dict for row in rows):
        return False
    records.extend(compactor.record(row) for row in rows)
    return True


def _read_json(path: Path) -> Any:
    try:
        with path.open("rb") as handle:
            return json.loads(handle.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not valid UTF-8 JSON ({exc})") from None


def _atomic_write(path: Path, chunks: Iterable[str]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n", buffering=1 << 20) as handle:
        handle.writelines(chunks)
    os.replace(tmp, path)
