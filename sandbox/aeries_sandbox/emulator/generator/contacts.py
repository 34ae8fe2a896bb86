"""Contacts: a student's guardians in the demo server's contact shape and conventions."""

from __future__ import annotations

import random
from datetime import timedelta

from aeries_sandbox.emulator.district import blank_contact
from aeries_sandbox.emulator.generator.state import CITY, SCHOOL_YEAR_START, STATE, GeneratorState, aeries_date

__all__ = ["make_contacts"]


def make_contacts(gen: GeneratorState) -> None:
    """Contacts in the shape of the demo server's (every field of the captured ``contacts.json``, see the
    README). Its conventions are drawn from a separate RNG (so that no other table changed): ``PrimaryContact``
    is ``""`` on every contact, ``ContactOrder`` is the order a school calls them in (at some families not
    the ``SequenceNumber`` order; at a few, two contacts share an order), some contacts are known only by
    their ``MailingName`` (first and last name blank) and some have a blank ``MailingName``."""
    rng = gen.rng
    conventions = random.Random(f"{gen.seed}:contacts")
    gen.contacts = []
    first_mailing_only = first_reordered = first_tied = False
    for person in gen.persons:
        family = person["family"]
        school = person["enrollments"][0]["SchoolCode"]
        guardians = family["guardians"]
        orders = list(range(1, len(guardians) + 1))
        if len(guardians) >= 2:
            draw = conventions.random()
            if draw < 0.10 or not first_reordered:
                orders[0], orders[1] = orders[1], orders[0]  # the second contact is called first
                first_reordered = True
            elif draw < 0.13 or not first_tied:
                orders[1] = orders[0]  # as the demo server's contacts 4 and 6 of student 99400001
                first_tied = True
        for sequence, guardian in enumerate(guardians, 1):
            lives_with = guardian["LivesWithStudentIndicator"] == "Y"
            first, last = guardian["FirstName"], guardian["LastName"]
            mailing = f"{first} {last}"
            names = conventions.random()
            if names < 0.08 or not first_mailing_only:
                first, last, first_mailing_only = "", "", True  # as the demo server's "Sara Abbott"
            elif names < 0.13:
                mailing = ""  # as the demo server's "Bonnie Johnson"
            portal = "Y" if guardian["EmailAddress"] and rng.random() < 0.7 else ""
            gen.contacts.append(gen.final({
                **blank_contact(),
                "StudentID": person["StudentID"],
                "RecordAddedDate": aeries_date(SCHOOL_YEAR_START - timedelta(days=30)),
                "SchoolCode": school,
                "SequenceNumber": sequence,
                "MailingName": mailing,
                "NamePrefix": "",
                "FirstName": first,
                "LastName": last,
                "MiddleName": "",
                "NameSuffix": "",
                "Address": family["street"] if lives_with else "",
                "AddressCity": CITY,
                "AddressState": STATE,
                "AddressZipCode": family["zip"],
                "AddressZipExt": "",
                "RelationshipToStudentCode": guardian["RelationshipToStudentCode"],
                "LivesWithStudentIndicator": guardian["LivesWithStudentIndicator"],
                "HomePhone": family["phone"] if lives_with else "",
                "WorkPhone": guardian["WorkPhone"],
                "WorkPhoneExt": "",
                "CellPhone": guardian["CellPhone"],
                "EmailAddress": guardian["EmailAddress"],
                "AccessToPortal": portal,
                "ContactOrder": orders[sequence - 1],
                "CorrespondanceLanguageCode": family["language"],
                "NotificationPreferenceCode": "1",
                "Comments": "",
            }))
