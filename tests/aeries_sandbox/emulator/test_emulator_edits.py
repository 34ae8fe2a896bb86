"""The emulator's control edits that Aeries' API cannot make (a student's schedule, a staff record), over HTTP:
later GETs serve them, and the DataChanges endpoints list them as Aeries logs such changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests

from aeries_sandbox.emulator import READ_AREAS, EmulatorServer, generate_district

CERT = "Ed1tsCert00000000000000000000000"
NO_PROXY = {"http": "", "https": ""}
#: A day ago (the generated change log ends long before the clock of these tests; edits are logged now)
SINCE = (datetime.now() - timedelta(days=1)).strftime("%Y/%m/%d/%H/%M")


@pytest.fixture(scope="module")
def server():
    with EmulatorServer(generate_district(120, 2), [{"name": "t", "certificate": CERT, "areas": list(READ_AREAS)}],
                        access_log=False) as srv:
        yield srv


def get(srv, path: str):
    response = requests.get(f"{srv.url}/api/v5/{path}", headers={"AERIES-CERT": CERT}, timeout=10, proxies=NO_PROXY)
    assert response.status_code == 200, response.text
    return response.json()


def control(srv, path: str, body):
    return requests.put(f"{srv.url}/__emulator__/{path}", json=body, timeout=10, proxies=NO_PROXY)


def test_a_new_schedule_is_served_and_logged_as_class_and_section_roster_changes(server):
    row = get(server, "schools/100/classes")[0]
    student, school = row["StudentID"], row["SchoolCode"]
    before = get(server, f"schools/{school}/classes/{student}")
    dropped = before[-1]
    kept = [{k: v for k, v in r.items() if k not in ("StudentID", "SchoolCode")} for r in before[:-1]]

    response = control(server, f"classes/{school}/{student}", kept)

    assert response.status_code == 200, response.text
    assert get(server, f"schools/{school}/classes/{student}") == before[:-1]
    assert student not in {r["StudentID"] for r in get(server, f"schools/{school}/sections/{dropped['SectionNumber']}/students")}
    classes = get(server, f"StudentDataChanges/class/{SINCE}")
    assert [(c["StudentID"], c["SchoolCode"]) for c in classes][-1:] == [(student, school)]
    rosters = get(server, f"SectionRosterDataChanges/{SINCE}")
    assert {"SchoolCode": school, "SectionNumber": dropped["SectionNumber"]} in rosters


def test_a_staff_edit_is_served_and_logged_as_a_staff_change(server):
    staff = get(server, "staff")[0]

    response = control(server, f"staff/{staff['ID']}", {"FirstName": "Edited"})

    assert response.status_code == 200, response.text
    assert get(server, f"staff/{staff['ID']}")["FirstName"] == "Edited"
    assert next(s for s in get(server, "staff") if s["ID"] == staff["ID"])["FirstName"] == "Edited"
    assert {"ID": staff["ID"]} in get(server, f"StaffDataChanges/{SINCE}")


def test_bad_edits(server):
    assert control(server, "staff/1", {"FirstName": "x"}).status_code == 404
    assert control(server, "classes/100/1", {"not": "a list"}).status_code == 400
    assert requests.delete(f"{server.url}/__emulator__/staff/1", timeout=10, proxies=NO_PROXY).status_code == 405
