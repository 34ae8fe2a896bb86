"""What the write endpoints accept: the JSON body, Aeries' field formats and lengths (converters), and the student
and contact fields a write may set. A value that breaks a rule is a 400 (:func:`bad_request`) naming the field.

The rules are listed in README.md ("Writes").
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

from aeries_sandbox.emulator.errors import HttpError

__all__ = [
    "STUDENT_FIELDS",
    "STUDENT_REQUIRED",
    "ADDRESS_FIELDS",
    "CONTACT_FIELDS",
    "CONTACT_REQUIRED",
    "FOUR_DECIMALS",
    "bad_request",
    "parse_json_body",
    "json_object",
    "parse_date",
    "read_fields",
]

_INT32_MAX = 2_147_483_647
FOUR_DECIMALS = Decimal("0.0001")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def bad_request(message: str) -> HttpError:
    return HttpError(400, message)



# -- bodies ------------------------------------------------------------------------------------------------
def parse_json_body(body: bytes) -> Any:
    """The request body as JSON (400 when it is missing or not JSON)."""
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        raise bad_request("The request body is empty; send a JSON payload with Content-Type: application/json.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise bad_request(f"The request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}).") from None


def json_object(payload: Any, what: str) -> dict[str, Any]:
    if isinstance(payload, HttpError):  # the body did not parse: reported once the path ids are known to exist
        raise payload
    if not isinstance(payload, dict):
        raise bad_request(f"The request body must be a JSON object ({what}).")
    return payload


# -- field conversion --------------------------------------------------------------------------------------
def parse_date(value: Any, name: str) -> str:
    """``"2027-01-05"``, ``"2027/01/05"``, ``"01/05/2027"`` or an ISO date-time -> ``"2027-01-05T00:00:00"``."""
    if not isinstance(value, str):
        raise bad_request(f"{name} '{value}' is not a valid date.")
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
        raise bad_request(f"{name} '{value}' is not a valid date.") from None
    return f"{day.isoformat()}T00:00:00"


def to_decimal(value: Any, name: str, prefix: str = "") -> Decimal:
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise bad_request(f"{prefix}{name} '{shown(value)}' is not a number.")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise bad_request(f"{prefix}{name} '{shown(value)}' is not a number.") from None
    if not number.is_finite():
        raise bad_request(f"{prefix}{name} '{shown(value)}' is not a number.")
    # kept to 4 decimals, rounded half away from zero as SQL Server's decimal(…, 4) columns do
    return number.quantize(FOUR_DECIMALS, ROUND_HALF_UP) if number.as_tuple().exponent < -4 else number  # type: ignore[operator]


def json_number(value: Decimal) -> int | float:
    """A Decimal as JSON shows it: ``10`` or ``8.5``."""
    return int(value) if value == value.to_integral_value() else float(value)


def mark_text(value: Decimal) -> str:
    """``Decimal("8.50")`` -> ``"8.5"``, ``Decimal("10")`` -> ``"10"``."""
    return format(value.normalize(), "f")


def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def to_whole(value: Any, name: str, low: int = 0, high: int = _INT32_MAX) -> int:
    if isinstance(value, bool):
        raise bad_request(f"{name} '{shown(value)}' is not a whole number.")
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,10}\s*", value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise bad_request(f"{name} '{shown(value)}' is not a whole number.")
    if not low <= value <= high:
        raise bad_request(f"{name} {value} is out of range ({low} to {high}).")
    return value


def to_text(value: Any, name: str, max_length: int) -> str:
    if isinstance(value, (bool, list, dict)):
        raise bad_request(f"{name} must be a string.")
    text = str(value)
    if len(text) > max_length:
        raise bad_request(f"{name} must be {max_length} character{'s' if max_length != 1 else ''} or fewer.")
    return text


def _yes_no(value: Any, name: str) -> str:
    if value is True:
        return "Y"
    if value is False:
        return "N"
    if isinstance(value, str) and value.strip().upper() in ("Y", "N", ""):
        return value.strip().upper()
    raise bad_request(f"{name} must be Y or N.")


def _phone(value: Any, name: str) -> str:
    text = to_text(value, name, 30).strip()
    if not text:
        return ""
    digits = re.sub(r"[\s().+\-]", "", text)
    if not digits.isdigit() or not 7 <= len(digits) <= 15:
        raise bad_request(f"{name} '{text}' is not a valid phone number.")
    return digits


def _email(value: Any, name: str) -> str:
    text = to_text(value, name, 50).strip()
    if text and not _EMAIL.fullmatch(text):
        raise bad_request(f"{name} '{text}' is not a valid e-mail address.")
    return text


def _digits(value: Any, name: str, length: int) -> str:
    text = to_text(value, name, 20).strip()
    if text and not (text.isdigit() and len(text) == length):
        raise bad_request(f"{name} '{text}' must be {length} digits.")
    return text


def _state(value: Any, name: str) -> str:
    text = to_text(value, name, 20).strip().upper()
    if text and not re.fullmatch(r"[A-Z]{2}", text):
        raise bad_request(f"{name} '{text}' must be a 2-letter state code.")
    return text


def _grade(value: Any, name: str) -> int:
    try:
        grade = to_whole(value, name, -2, 18)
    except HttpError:
        raise bad_request(f"{name} '{shown(value)}' is not valid; Aeries grades are -2 to 18.") from None
    return grade


def _gender(value: Any, name: str) -> str:
    text = to_text(value, name, 1).strip().upper() if isinstance(value, str) else value
    if text not in ("M", "F", "X"):
        raise bad_request(f"{name} '{shown(value)}' is not valid; use M, F or X.")
    return text


def _status(value: Any, name: str) -> str:
    text = to_text(value, name, 1)
    return text if text.strip() else " "


Converter = Callable[[Any, str], Any]


def _max(length: int) -> Converter:
    return lambda value, name: to_text(value, name, length)


def _yes_no_blank(value: Any, name: str) -> str:
    text = value.strip().upper() if isinstance(value, str) else value
    if text not in ("Y", "N", ""):
        raise bad_request(f"{name} must be Y, N or blank.")
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
    ("NextSchoolCode", ("NextSchool", "NextSchoolCode"), lambda v, n: to_whole(v, n, 0, 32767)),
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
    ("ContactOrder", ("ContactOrder",), lambda v, n: to_whole(v, n, 1, 32767)),
    ("CorrespondanceLanguageCode", ("CorrespondanceLanguageCode", "CorrespondenceLanguageCode"), _max(2)),
    ("NotificationPreferenceCode", ("NotificationPreferenceCode",), _max(1)),
    ("PrimaryContact", ("PrimaryContact",), _yes_no),
    ("MiscCode", ("MiscCode",), _max(2)),
    ("MailTagCode", ("MailTagCode",), _max(1)),
    ("Comments", ("Comments",), _max(255)),
)
CONTACT_REQUIRED = ("FirstName", "LastName")


def read_fields(body: Mapping[str, Any], specs: Iterable[tuple[str, tuple[str, ...], Converter]],
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
                raise bad_request(f"{names[0]} is required.")
            continue
        value = lowered[present[0].lower()]
        if field in missing and isinstance(value, str) and not value.strip():
            raise bad_request(f"{names[0]} is required.")
        values[field] = convert(value, names[0])
    return values


