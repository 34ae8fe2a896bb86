"""A synthetic, deterministic Aeries district with the awkward data real districts have.

``generate_district(size, seed)`` returns the same :class:`District` (and :meth:`District.write` the same
bytes) for the same ``(size, seed)``: everything comes from one ``random.Random(seed)``, dates are relative to
the fixed school year 2026-27 (first day 2026-08-13), never to the clock.

What is in it (``size`` = distinct students):

* schools: about one per 400 students, at least 4: elementary (TK-5 with a few preschoolers, grade -2),
  middle (6-8), high (9-12) and one continuation school (10-12) that has no master schedule (no sections);
  plus school 0 (the district itself, named as the district) and the pseudo-schools of a real district:
  99 "Transfer School" (``DoNotReport``) and "X ..." schools 900-902, none with students. Schools carry the full
  field set of Aeries' demo server with its conventions: a blank ``ShortName``, unset codes ``""``.
* students: one record per student per school. About 5% inactive (``InactiveStatusCode`` ``"I"``, with a
  ``SchoolLeaveDate``), 3% pre-enrolled (``"P"``, ``SchoolEnterDate`` in January 2027), 1% enrolled at two
  schools at once (same ``StudentID``, two ``SchoolCode``/``StudentNumber``). Names with apostrophes,
  hyphens, accents, a comma (``"Garcia, Jr."``) and stray leading/trailing spaces; about 10% without a
  ``StudentEmailAddress`` (null or ``""``); some blank ``NetworkLoginID``. The demo server's 77 fields and
  conventions (an active student's code is ``""``), and a few names with a line break: from their own RNG, see
  aeries_shapes.shape_students_like_aeries.
* staff (about one per 12 students, some inactive, some with blank names or e-mail so callers must fall back
  to the teacher record, some at the district office: ``PrimaryAeriesSchool`` 0; the demo server's 46 fields,
  shared placeholder e-mails ``NoWhere@aeries.com`` and teachers whose first name is blank on both the staff
  and the teacher record, one a service account: from their own RNG, see aeries_shapes.shape_staff_like_aeries),
  teachers (``StaffID1`` ->
  staff ``ID``), a district course catalogue (``"0001"``...), sections with ``SectionStaffMembers`` (one
  primary teacher, sometimes a co-teacher; a few inactive sections), student schedules (4-7 classes per
  active student at schools with sections), contacts (1-3 per student, in the demo server's shape and
  conventions: see :func:`.contacts.make_contacts`) and a ``data_changes`` log. Terms carry Aeries' own codes
  (``1``-``4``, ``F``/``S``, ``Y``; see ``schools._terms``).
* Flex scheduling: the last high school is a Flex school (``ScheduleType`` "Flexible", section-staff flags on)
  without teacher (TCH) records, its sections' staff being staff records; there and at the first middle school
  a few co-teachers no longer or not yet teach their section (inactive, ended, or starting later). From their
  own RNG, after every other draw: see :func:`.flex.make_flex_scheduling`.
* gradebooks: one per active section, owned by its primary teacher (``Sections`` = that section, ``Terms`` = the
  school's terms other than Y, three ``AssignmentCategories``), each with two assignments (a homework of 10
  points and a test of 40 questions worth 100 points), no scores yet; no course requests (SSS). They come from
  their own ``random.Random`` so that adding them changed no byte of the other tables.
* programs: special education (IEP), 504 plans, free and reduced-price meals, GATE and foster youth in the shares
  of a California district, some ended, from their own RNG after every other draw: see
  :func:`.programs.make_programs`.

One module per part of the district, in the order :func:`generate_district` makes them: ``schools`` (courses,
schools and terms), ``students``, ``sections`` (teachers, sections, class schedules), ``contacts``, ``staff``,
``data_changes``, ``gradebooks``, ``aeries_shapes`` (records as the demo server serves them) and ``flex``. Every
part draws from the shared :class:`~aeries_sandbox.emulator.generator.state.GeneratorState`, so their order is
part of the output.
"""

from __future__ import annotations

from aeries_sandbox.emulator.district import DEFAULT_INFO, District
from aeries_sandbox.emulator.generator.aeries_shapes import shape_students_like_aeries
from aeries_sandbox.emulator.generator.contacts import make_contacts
from aeries_sandbox.emulator.generator.data_changes import make_data_changes
from aeries_sandbox.emulator.generator.flex import make_flex_scheduling
from aeries_sandbox.emulator.generator.gradebooks import make_gradebooks
from aeries_sandbox.emulator.generator.programs import make_programs
from aeries_sandbox.emulator.generator.schools import make_courses, make_schools
from aeries_sandbox.emulator.generator.sections import make_rosters, make_sections_and_teachers
from aeries_sandbox.emulator.generator.staff import finish_staff
from aeries_sandbox.emulator.generator.state import DATABASE_YEAR, SCHOOL_YEAR_START, DistrictShape, GeneratorState
from aeries_sandbox.emulator.generator.students import make_students

__all__ = ["generate_district"]


def generate_district(size: int, seed: int = 0, shape: DistrictShape | None = None, *,
                      compact: bool = False) -> District:
    """A district of ``size`` distinct students; the same ``(size, seed, shape)`` always gives the same data.
    ``compact``: the contacts, class schedules, gradebooks and assignments are read-only records (see
    :mod:`~aeries_sandbox.emulator.records`) made as they are drawn, which cuts the memory a district needs by a third
    while it is made; for a district that is only written or served, not changed in place."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive number of students, not {size!r}")
    gen = GeneratorState(size, seed, shape or DistrictShape(), compact)
    make_courses(gen)
    make_schools(gen)
    make_students(gen)
    make_sections_and_teachers(gen)
    make_rosters(gen)
    make_contacts(gen)
    finish_staff(gen)
    make_data_changes(gen)
    make_gradebooks(gen)
    shape_students_like_aeries(gen)
    make_flex_scheduling(gen)
    programs = make_programs(gen)
    info = dict(DEFAULT_INFO)
    info.update({"DatabaseYear": DATABASE_YEAR, "SchoolYearStart": SCHOOL_YEAR_START.isoformat()})
    return District(
        info=info,
        schools=sorted(gen.schools, key=lambda s: s["SchoolCode"]),
        students=sorted(gen.students, key=lambda s: (s["SchoolCode"], s["StudentID"])),
        contacts=sorted(gen.contacts, key=lambda c: (c["SchoolCode"], c["StudentID"], c["SequenceNumber"])),
        staff=sorted(gen.staff, key=lambda s: s["ID"]),
        teachers=sorted(gen.teachers, key=lambda t: (t["SchoolCode"], t["TeacherNumber"])),
        courses=sorted(gen.courses, key=lambda c: c["ID"]),
        sections=sorted(gen.sections, key=lambda s: (s["SchoolCode"], s["SectionNumber"])),
        rosters=sorted(gen.rosters, key=lambda r: (r["SchoolCode"], r["StudentID"], r["SequenceNumber"])),
        data_changes=gen.data_changes,
        gradebooks=gen.gradebooks,
        assignments=gen.assignments,
        assignment_scores=[],
        course_requests=[],
        programs=programs,
    )
