"""Flex scheduling as Aeries documents it (issue 14), read over HTTP: at a Flex school "TCH records are not used and
may not exist" (support article 14000077926); its sections name their staff in ``SectionStaffMembers`` (STF IDs),
and a member has its own ``InactiveStatusCode``, ``StartDate`` and ``EndDate`` (article 14000113686's example
section has an inactive co-teacher, "I")."""

from __future__ import annotations

from aeries_sandbox.emulator import generate_district

FLEX, MIDDLE = 300, 200


def test_the_last_high_school_schedules_with_section_staff(get):
    schools = get("schools").json()

    flags = {s["SchoolCode"]: (s["ScheduleType"], s["UsingSectionStaffInMasterSchedule"],
                               s["UsingSectionStaffInScheduling"]) for s in schools}
    assert flags[FLEX] == ("Flexible", True, True)
    assert {code for code, flag in flags.items() if flag != ("Flexible", True, True)} == set(flags) - {FLEX}
    assert all(flag[1:] == (False, False) for code, flag in flags.items() if code != FLEX)
    assert get(f"schools/{FLEX}").json()["ScheduleType"] == "Flexible"


def test_a_flex_school_has_no_teacher_records_and_its_section_staff_are_staff_records(get):
    staff = {s["ID"]: s for s in get("staff").json()}
    sections = get(f"schools/{FLEX}/sections").json()

    assert get(f"schools/{FLEX}/teachers").json() == []
    assert get(f"schools/{MIDDLE}/teachers").json() != []
    members = [m for section in sections for m in section["SectionStaffMembers"]]
    assert sections and all(m["StaffID"] in staff for m in members)
    # the staff records carry the names (Flex scheduling reads STF), and the members repeat them
    assert all(staff[m["StaffID"]]["LastName"] and (m["FirstName"], m["LastName"]) == (
        staff[m["StaffID"]]["FirstName"], staff[m["StaffID"]]["LastName"]) for m in members)
    primaries = {m["StaffID"] for m in members if m["IsPrimaryTeacher"]}
    assert all(FLEX not in [t["SchoolCode"] for t in get(f"staff/{staff_id}/teachers").json()] for staff_id in primaries)


def test_some_co_teachers_no_longer_or_not_yet_teach_their_section_at_flex_and_other_schools(get):
    for school in (FLEX, MIDDLE):
        sections = get(f"schools/{school}/sections").json()
        dated = sorted((m["InactiveStatusCode"], m["StartDate"], m["EndDate"], m["IsPrimaryTeacher"], m["StaffRoleCode"])
                       for s in sections for m in s["SectionStaffMembers"]
                       if (m["InactiveStatusCode"], m["StartDate"], m["EndDate"])
                       != (" ", "2026-08-13T00:00:00", "2027-06-10T00:00:00"))
        assert dated == [
            (" ", "2026-08-13T00:00:00", "2026-10-16T00:00:00", False, "C"),  # ended with the first quarter
            (" ", "2027-03-22T00:00:00", "2027-06-10T00:00:00", False, "C"),  # starts with the fourth quarter
            ("I", "2026-08-13T00:00:00", "2026-09-30T00:00:00", False, "C"),  # inactive
        ], school
        # each is another teacher of the school, the primary teacher of active sections there
        primaries = {m["StaffID"] for s in sections if s["InactiveStatusCode"] == " "
                     for m in s["SectionStaffMembers"] if m["IsPrimaryTeacher"]}
        for section in sections:
            members = section["SectionStaffMembers"]
            for member in members[1:]:
                if member["StartDate"] != "2026-08-13T00:00:00" or member["InactiveStatusCode"] != " " \
                        or member["EndDate"] != "2027-06-10T00:00:00":
                    assert section["InactiveStatusCode"] == " " and len(members) == 2
                    assert member["StaffID"] in primaries and member["StaffID"] != members[0]["StaffID"]


def test_flex_scheduling_is_deterministic_and_leaves_the_other_tables():
    one, two, other = generate_district(300, 7), generate_district(300, 7), generate_district(300, 8)

    assert one.sections == two.sections and one.schools == two.schools and one.teachers == two.teachers
    assert one.sections != other.sections
    # (the counts of every table are the generator's own: test_staff_shapes_are_deterministic_and_keep_the_counts)
    assert {t["SchoolCode"] for t in one.teachers} == {100, 200, 400}
