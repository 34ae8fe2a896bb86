"""What the end-to-end tests use to compute a vendor's expected files from the emulator's own data files,
independently of the mapping engine: Aeries values as the vendor sees them, and the order of a file's rows."""

from __future__ import annotations

import re


def s(value) -> str:
    """An Aeries value as text: null is blank, codes lose their padding, 10.0 is 10."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def day(value) -> str:
    """An Aeries date as YYYY-MM-DD; blank for null and for Aeries' null date 0001-01-01."""
    text = s(value)[:10]
    return "" if not text or text.startswith("0001-") else text


def natural(*keys: str) -> tuple:
    """Sort key of a row by its key columns: numbers inside the text compare as numbers (9 < 10)."""
    return tuple(re.sub(r"\d+", lambda m: m.group(0).zfill(20), k) for k in keys)


def contact_name(contact: dict) -> tuple[str, str]:
    """A contact's (first, last) name: its FirstName and LastName, each falling back to its MailingName
    ("First Last") split after the first word (real contacts may have only a MailingName)."""
    words = re.split(r"\s+", s(contact.get("MailingName")), maxsplit=1)
    from_mailing = (words[0], words[1] if len(words) > 1 else "")
    return s(contact.get("FirstName")) or from_mailing[0], s(contact.get("LastName")) or from_mailing[1]


def primary_contacts(contacts: list[dict]) -> set[tuple[str, str]]:
    """(StudentID, SequenceNumber) of each student's primary contact among ``contacts``: the lowest ContactOrder
    (blank last), ties to the lowest SequenceNumber (Aeries leaves PrimaryContact blank)."""
    def rank(contact: dict) -> tuple:
        order = s(contact.get("ContactOrder"))
        return (int(order) if order else float("inf"), int(s(contact["SequenceNumber"])))

    best: dict[str, dict] = {}
    for contact in contacts:
        sid = s(contact["StudentID"])
        if sid not in best or rank(contact) < rank(best[sid]):
            best[sid] = contact
    return {(sid, s(c["SequenceNumber"])) for sid, c in best.items()}


def real_schools(schools: list[dict], students: list[dict]) -> dict[str, dict]:
    """{code: school} without Aeries' pseudo-schools, which vendor files leave out by default: school 0 (the
    district itself), schools with DoNotReport true, and schools no student record is listed under."""
    enrolled = {s(r["SchoolCode"]) for r in students}
    return {
        s(x["SchoolCode"]): x for x in schools
        if s(x["SchoolCode"]) != "0" and x.get("DoNotReport") is not True and s(x["SchoolCode"]) in enrolled
    }


#: What the run report says of the pseudo-schools of the generated district (aeries_sandbox/emulator/README.md).
GENERATED_PSEUDO_SCHOOLS = [
    {"code": 0, "name": "Demo Unified School District", "reasons": ["school 0 is the district itself"]},
    {"code": 99, "name": "Transfer School", "reasons": ["DoNotReport is true", "no student is enrolled"]},
    {"code": 900, "name": "X Eagle District School", "reasons": ["no student is enrolled"]},
    {"code": 901, "name": "X NPS School", "reasons": ["no student is enrolled"]},
    {"code": 902, "name": "X Private School", "reasons": ["no student is enrolled"]},
]


def one_line(value: str) -> str:
    """A value as a delimited vendor file holds it (issue 14): each run of line breaks and other control characters
    (Unicode Cc, U+2028, U+2029), with the spaces next to it, is one space, and none is left at either end.
    "Daniel\\r\\nAlejandro" -> "Daniel Alejandro", "Kealoha\\r\\n" -> "Kealoha"; a value without one is unchanged."""
    import unicodedata

    marked = "".join("\0" if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029" else ch for ch in value)
    pieces = marked.split("\0")
    if len(pieces) == 1:
        return value
    pieces = [pieces[0].rstrip(" "), *(piece.strip(" ") for piece in pieces[1:-1]), pieces[-1].lstrip(" ")]
    return " ".join(piece for piece in pieces if piece)


def teaches_on(member: dict, today: str) -> bool:
    """A section staff member (SectionStaffMembers) teaches the section on ``today`` (YYYY-MM-DD): its own
    InactiveStatusCode is blank, its EndDate has not passed and its StartDate has come (blank dates: no bound)."""
    start, end = day(member.get("StartDate")), day(member.get("EndDate"))
    return not s(member.get("InactiveStatusCode")) and not (end and end < today) and not (start and start > today)


def section_staff_teachers(schools: list[dict], sections: list[dict], staff: list[dict], teachers: list[dict],
                           today: str) -> list[dict]:
    """The teachers of the schools that schedule with section staff (ScheduleType Flexible, or
    UsingSectionStaffInMasterSchedule): Aeries says TCH records are not used there. One teacher record per staff
    member who teaches one of the school's sections on ``today`` and has no teacher record at the school, with
    the school, the staff ID as StaffID1, and the names, e-mail and InactiveStatusCode of the staff record."""
    by_id = {s(x["ID"]): x for x in staff}
    flex = {s(x["SchoolCode"]) for x in schools
            if s(x.get("ScheduleType")).lower() == "flexible" or x.get("UsingSectionStaffInMasterSchedule") is True}
    has_record = {(s(t["SchoolCode"]), s(t["StaffID1"])) for t in teachers}
    made: dict[tuple[str, str], dict] = {}
    for x in sections:
        sc = s(x["SchoolCode"])
        for m in x.get("SectionStaffMembers") or [] if sc in flex else []:
            key = (sc, s(m.get("StaffID")))
            if teaches_on(m, today) and key not in has_record and key not in made:
                record = by_id.get(key[1], {})
                made[key] = {"SchoolCode": int(sc), "TeacherNumber": None, "StaffID1": int(key[1]),
                             "FirstName": s(record.get("FirstName")), "LastName": s(record.get("LastName")),
                             "EmailAddress": s(record.get("EmailAddress")),
                             "InactiveStatusCode": s(record.get("InactiveStatusCode"))}
    return [made[key] for key in sorted(made, key=lambda k: natural(*k))]


def run_day(dag_run, timezone: str) -> str:
    """The run's date (its logical date, or when a manual run was due) in the mapping's time zone, YYYY-MM-DD."""
    from zoneinfo import ZoneInfo

    return (dag_run.logical_date or dag_run.run_after).astimezone(ZoneInfo(timezone)).date().isoformat()
