"""The Aeries table registry: each logical table's endpoint, security area, paging, key and known columns.

This module is the single source of truth for the tables and deliberately imports nothing heavy (no
requests, pandas, pyarrow or Airflow), so that the mapping loader can check column names at DAG parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DATA_CHANGES_AREAS", "DISTRICT_OFFICE", "TABLE_NAMES", "TABLES", "AeriesTable"]

#: The SchoolCode of the district office in Aeries' schools list (not a school: per-school tables skip it).
DISTRICT_OFFICE = 0

#: ``*DataChanges`` route -> the security area it needs.
DATA_CHANGES_AREAS = {
    "StudentDataChanges": "Student Data",
    "StaffDataChanges": "Staff Data",
    "SectionDataChanges": "Master Schedule",
    "SectionRosterDataChanges": "Class Schedules/History",
}


# Column types are small strings so that importing this module stays cheap (no pyarrow at import):
# "int64", "float64", "bool", "string", or {"list": {field: type, ...}} for a list of structs.
_S = "string"
_I = "int64"
_F = "float64"
_B = "bool"

_TERM_FIELDS = {"TermCode": _S, "TermDescription": _S, "StartDate": _S, "EndDate": _S}
_STAFF_MEMBER_FIELDS = {
    "StaffID": _I,
    "LastName": _S,
    "FirstName": _S,
    "IsPrimaryTeacher": _B,
    "StaffRoleCode": _S,
    "StartDate": _S,
    "EndDate": _S,
    "InactiveStatusCode": _S,
}
_SCHOOL_ACCESS_FIELDS = {"SchoolCode": _I, "ReadOnlyAccess": _B, "CommunicationGroup": _B}
_EXTENDED_PROPERTY_FIELDS = {"Name": _S, "Value": _S}


@dataclass(frozen=True)
class AeriesTable:
    """One logical Aeries table.

    ``endpoint`` is relative to ``{base}/api/v{N}/`` and contains ``{school_code}`` when ``per_school``.
    ``columns`` are the columns known for the table (name -> type), used for empty extracts and for
    columns that are null in every row. ``school_column`` ties a row to a school for a mapping's
    ``source.school_codes`` (None: district-wide rows, never filtered by school).
    """

    name: str
    endpoint: str
    security_area: str
    per_school: bool
    paged: bool
    key: tuple[str, ...]
    columns: tuple[tuple[str, Any], ...] = ()
    school_column: str | None = "SchoolCode"
    #: columns of ``columns`` that are no Aeries fields: the hub adds them (never asked of Aeries)
    added_columns: tuple[str, ...] = ()
    #: columns Aeries serves that none of its documented writes takes (InsertStudent, UpdateStudent,
    #: InsertContact...): a write-back may not name them
    read_only: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @property
    def writable_column_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.column_names if name not in self.read_only)

    def column_type(self, name: str) -> Any:
        return dict(self.columns).get(name)

    def path_for(self, school_code: int | None = None) -> str:
        if self.per_school:
            if school_code is None:
                raise ValueError(f"table {self.name!r} is per school: give a school code")
            return self.endpoint.format(school_code=school_code)
        return self.endpoint


def _cols(*pairs: tuple[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(pairs)


TABLES: dict[str, AeriesTable] = {
    t.name: t
    for t in (
        AeriesTable(
            name="schools",
            endpoint="schools",
            security_area="Schools",
            per_school=False,
            paged=False,
            key=("SchoolCode",),
            columns=_cols(
                ("SchoolCode", _I), ("Name", _S), ("InactiveStatusCode", _S), ("Address", _S),
                ("AddressCity", _S), ("AddressState", _S), ("AddressZipCode", _S), ("AddressZipExt", _S),
                ("DoNotReport", _B), ("StateCountyID", _S), ("StateDistrictID", _S), ("StateSchoolID", _S),
                ("LowGradeLevel", _I), ("HighGradeLevel", _I), ("Terms", {"list": _TERM_FIELDS}),
                ("PrincipalName", _S), ("PrincipalEmailAddress", _S), ("PhoneNumber", _S),
                ("NCESSchoolID", _S), ("ScheduleType", _S), ("ShortName", _S),
                ("UsingSectionStaffInMasterSchedule", _B),
            ),
        ),
        AeriesTable(
            name="terms",
            endpoint="schools/{school_code}/terms",
            security_area="Terms",
            per_school=True,
            paged=False,
            key=("SchoolCode", "TermCode"),
            columns=_cols(("SchoolCode", _I), ("TermCode", _S), ("TermDescription", _S), ("StartDate", _S),
                          ("EndDate", _S)),
        ),
        AeriesTable(
            name="students",
            endpoint="schools/{school_code}/students",
            security_area="Student Data",
            per_school=True,
            paged=True,
            key=("SchoolCode", "StudentID"),
            columns=_cols(
                ("StudentID", _I), ("OldStudentID", _I), ("SchoolCode", _I), ("StudentNumber", _I),
                ("StateStudentID", _S), ("LastName", _S), ("FirstName", _S), ("MiddleName", _S),
                ("LastNameAlias", _S), ("FirstNameAlias", _S), ("MiddleNameAlias", _S), ("Gender", _S),
                ("Grade", _I), ("Birthdate", _S), ("ParentGuardianName", _S), ("HomePhone", _S),
                ("StudentMobilePhone", _S), ("MailingAddress", _S), ("MailingAddressCity", _S),
                ("MailingAddressState", _S), ("MailingAddressZipCode", _S), ("ResidenceAddress", _S),
                ("ResidenceAddressCity", _S), ("ResidenceAddressState", _S), ("ResidenceAddressZipCode", _S),
                ("EthnicityCode", _S), ("RaceCode1", _S), ("RaceCode2", _S), ("RaceCode3", _S),
                ("RaceCode4", _S), ("RaceCode5", _S), ("SchoolEnterDate", _S), ("SchoolLeaveDate", _S),
                ("DistrictEnterDate", _S), ("CounselorNumber", _I), ("Track", _S), ("InactiveStatusCode", _S),
                ("FamilyKey", _I), ("LanguageFluencyCode", _S), ("HomeLanguageCode", _S),
                ("CorrespondenceLanguageCode", _S), ("ParentEmailAddress", _S), ("StudentEmailAddress", _S),
                ("StudentPersonalEmailAddress", _S), ("NetworkLoginID", _S), ("HomeRoomTeacherNumber", _S),
                ("NextSchoolCode", _I), ("NextGrade", _I), ("RecordsReleaseCode", _S),
                # The rest of the demo server's 77 fields (github derekpovah/aeries-api
                # spec/support/fixtures/students.json; the emulator's README, "Students as Aeries serves them"):
                # grade names (Clever's and OneRoster's grades from "K", "TK"...), ZIP extensions, user codes.
                ("GradeLevelShortDescription", _S), ("GradeLevelLongDescription", _S), ("MailingAddressZipExt", _S),
                ("ResidenceAddressZipExt", _S), ("AddressVerified", _B),
                *((f"UserCode{n}", _S) for n in range(1, 14)),
                ("AttendanceProgramCodePrimary", _S), ("AttendanceProgramCodeAdditional1", _S),
                ("AttendanceProgramCodeAdditional2", _S), ("LockerNumber", _S), ("LowSchedulingPeriod", _I),
                ("HighSchedulingPeriod", _I), ("ParentEdLevelCode", _S), ("AtRiskPoints", _S),
                ("NotificationPreferenceCode", _S), ("NextGradeLevelShortDescription", _S),
                ("NextGradeLevelLongDescription", _S),
            ),
            read_only=(
                "GradeLevelShortDescription", "GradeLevelLongDescription", "AddressVerified",
                *(f"UserCode{n}" for n in range(1, 14)), "AttendanceProgramCodePrimary",
                "AttendanceProgramCodeAdditional1", "AttendanceProgramCodeAdditional2", "LockerNumber",
                "LowSchedulingPeriod", "HighSchedulingPeriod", "ParentEdLevelCode", "AtRiskPoints",
                "NotificationPreferenceCode", "NextGradeLevelShortDescription", "NextGradeLevelLongDescription",
            ),
        ),
        AeriesTable(
            name="contacts",
            endpoint="schools/{school_code}/contacts",
            security_area="Contacts",
            per_school=True,
            paged=True,
            key=("StudentID", "SequenceNumber"),
            columns=_cols(
                ("StudentID", _I), ("SchoolCode", _I), ("SequenceNumber", _I), ("MailingName", _S), ("FirstName", _S),
                ("LastName", _S), ("RelationshipToStudentCode", _S), ("LivesWithStudentIndicator", _S),
                ("HomePhone", _S), ("CellPhone", _S), ("EmailAddress", _S), ("AccessToPortal", _S),
                ("ContactOrder", _I), ("PrimaryContact", _S),
                # More of the demo server's 76 fields (github derekpovah/aeries-api spec/support/fixtures/contacts.json):
                # a guardian's full name, address and work phone, and who holds the educational rights.
                ("NamePrefix", _S), ("MiddleName", _S), ("NameSuffix", _S), ("Address", _S), ("AddressCity", _S),
                ("AddressState", _S), ("AddressZipCode", _S), ("AddressZipExt", _S), ("WorkPhone", _S),
                ("WorkPhoneExt", _S), ("EducationalRightsHolder", _S), ("MailTagCode", _S), ("AddressTypeCode", _S),
                ("AttendanceNotification", _S), ("NotificationPreferenceCode", _S),
            ),
            read_only=("EducationalRightsHolder", "AddressTypeCode", "AttendanceNotification"),
        ),
        AeriesTable(
            name="staff",
            endpoint="staff",
            security_area="Staff Data",
            per_school=False,
            paged=False,
            school_column="PrimaryAeriesSchool",
            key=("ID",),
            columns=_cols(
                ("ID", _I), ("FirstName", _S), ("LastName", _S), ("MiddleName", _S), ("NameSuffix", _S),
                ("BirthDate", _S), ("Gender", _S), ("FullTimePercentage", _F), ("HireDate", _S),
                ("LeaveDate", _S), ("InactiveStatusCode", _S), ("StateEducatorID", _S), ("UserName", _S),
                ("EmailAddress", _S), ("PrimaryAeriesSchool", _I), ("NetworkLoginID", _S),
                ("AlternateEmailAddress", _S), ("HumanResourcesSystemID", _S), ("Title", _S),
                ("SchoolAccessPermissions", {"list": _SCHOOL_ACCESS_FIELDS}),
            ),
        ),
        AeriesTable(
            name="teachers",
            endpoint="schools/{school_code}/teachers",
            security_area="Teacher Data",
            per_school=True,
            paged=False,
            key=("SchoolCode", "TeacherNumber"),
            columns=_cols(
                ("SchoolCode", _I), ("TeacherNumber", _I), ("DisplayName", _S), ("FirstName", _S),
                ("LastName", _S), ("Room", _S), ("EmailAddress", _S), ("StaffID1", _I), ("StaffID2", _I),
                ("StaffID3", _I), ("InactiveStatusCode", _S), ("LowGrade", _I), ("HighGrade", _I),
                # Not Aeries fields: at a Flex school (no TCH records) the hook adds one record per staff member
                # of its sections (see AeriesHook, "teachers from section staff"), marked and with the span of the
                # member's active assignments; null on TCH records.
                ("FromSectionStaff", _B), ("SectionStaffStartDate", _S), ("SectionStaffEndDate", _S),
            ),
            added_columns=("FromSectionStaff", "SectionStaffStartDate", "SectionStaffEndDate"),
        ),
        AeriesTable(
            name="courses",
            endpoint="courses",
            security_area="Course Data",
            per_school=False,
            paged=False,
            school_column=None,
            key=("ID",),
            columns=_cols(
                ("ID", _S), ("Title", _S), ("LongDescription", _S), ("DepartmentCode", _S),
                ("StateCourseCode", _S), ("CreditDefault", _F), ("LowGrade", _I), ("HighGrade", _I),
                ("InactiveStatusCode", _S),
            ),
        ),
        AeriesTable(
            name="sections",
            endpoint="schools/{school_code}/sections",
            security_area="Master Schedule",
            per_school=True,
            paged=False,
            key=("SchoolCode", "SectionNumber"),
            columns=_cols(
                ("SchoolCode", _I), ("SectionNumber", _I), ("Period", _S), ("PeriodBlock", _S),
                ("Semester", _S), ("ClassCalendar", _S), ("CourseID", _S),
                ("SectionStaffMembers", {"list": _STAFF_MEMBER_FIELDS}), ("Room", _S), ("Credit", _F),
                ("LowGrade", _I), ("HighGrade", _I), ("MaxStudents", _I), ("TotalStudents", _I),
                ("InactiveStatusCode", _S), ("Track", _S), ("ClassID", _I),
                # Before v5 (and at non-Flex schools) the teachers of a section: TCH TeacherNumbers.
                ("TeacherNumber1", _I), ("TeacherNumber2", _I), ("TeacherNumber3", _I),
            ),
        ),
        AeriesTable(
            name="rosters",
            endpoint="schools/{school_code}/classes",
            security_area="Class Schedules/History",
            per_school=True,
            paged=True,
            key=("SchoolCode", "StudentID", "SequenceNumber"),
            columns=_cols(
                ("StudentID", _I), ("SchoolCode", _I), ("SequenceNumber", _I), ("SectionNumber", _I),
                ("CourseID", _S), ("DateStarted", _S), ("DateEnded", _S),
            ),
        ),
        # Student programs (Aeries support article 14000113683, "Aeries API - Student-related end points",
        # Programs): security area "Student Programs"; StudentID "0" answers the programs of every student of
        # the school; no StartingRecord/EndingRecord. A record has no SchoolCode (the hub adds the school asked)
        # and no key of its own: the demo server's student 99400001 has three NSLP Free (181) records, two with
        # the same EligibilityStartDate (github derekpovah/aeries-api spec/support/fixtures/student_programs.json),
        # so the key is the student's, whose rows keep Aeries' order; it shows no program code in reports.
        AeriesTable(
            name="programs",
            endpoint="schools/{school_code}/students/0/programs",
            security_area="Student Programs",
            per_school=True,
            paged=False,
            key=("SchoolCode", "StudentID"),
            columns=_cols(
                ("SchoolCode", _I), ("StudentID", _I), ("ProgramCode", _S), ("ProgramDescription", _S),
                ("EligibilityStartDate", _S), ("EligibilityEndDate", _S), ("ParticipationStartDate", _S),
                ("ParticipationEndDate", _S), ("ExtendedProperties", {"list": _EXTENDED_PROPERTY_FIELDS}),
            ),
        ),
    )
}

#: The registry's table names, in its order: a mapping's ``source.tables`` choices.
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
