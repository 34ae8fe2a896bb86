"""The OneRoster checker: the hand-written expected STEMscopes sets (1.1) and a small 1.2 set pass; each rule,
broken once, gives exactly its violation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.standards import oneroster
from tests.standards.csv_rules import Violation
from tests.standards.samples import changed, without, write_set, write_zip

S11, S12 = oneroster.SPEC_11, oneroster.SPEC_12
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

BULK_12 = {"academicSessions", "classes", "courses", "demographics", "enrollments", "orgs", "roles", "users"}
FILES_12 = ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
            "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "orgs",
            "resources", "resultLearningObjectiveIds", "results", "resultScoreScales", "roles", "scoreScales",
            "userProfiles", "userResources", "users")
MANIFEST = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\n"
            + "".join(f"file.{name},{'bulk' if name in BULK_12 else 'absent'}\n" for name in FILES_12)
            + "source.systemName,Aeries\n")
USERS_HEADER = ("sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,middleName,"
                "identifier,email,sms,phone,agentSourcedIds,grades,password,userMasterIdentifier,resourceSourcedIds,"
                "preferredGivenName,preferredMiddleName,preferredFamilyName,primaryOrgSourcedId,pronouns\n")
VALID_12 = {
    "manifest.csv": MANIFEST,
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
                "district,,,Demo Unified,district,,\n"
                "994,,,Demo High School,school,994,district\n",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
                            "schoolYear\n"
                            "2026,,,2026-2027,schoolYear,2026-08-13,2027-06-04,,2027\n"
                            "994-S1,,,Fall Semester,semester,2026-08-13,2026-12-18,2026,2027\n",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,"
                   "subjects,subjectCodes\n"
                   '0421,,,2026,Algebra I,0421,"09,10",district,Math,\n',
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
                   "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
                   "994-1001,,,Algebra I - Period 1,09,0421,0421-1,scheduled,Room 12,994,994-S1,Math,,1\n",
    "users.csv": USERS_HEADER
                 + "99400001,,,true,s99400001,,Ana,Reyes,,99400001,ana.reyes@example.org,,,,09,,,,,,,994,\n"
                 + "T-7,,,true,t7,,Kim,Lee,,7,kim.lee@example.org,,,,,,,,,,,994,\n",
    "roles.csv": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,"
                 "userProfileSourcedId\n"
                 "r-99400001,,,99400001,primary,student,,,994,\n"
                 "r-T-7,,,T-7,primary,teacher,,,994,\n"
                 "r-T-7-d,,,T-7,primary,teacher,,,district,\n",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
                       "primary,beginDate,endDate\n"
                       "e1,,,994-1001,994,99400001,student,,2026-08-13,\n"
                       "e2,,,994-1001,994,T-7,teacher,true,2026-08-13,\n",
    "demographics.csv": "sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,"
                        "blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,"
                        "demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,"
                        "stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus\n"
                        "99400001,,,2011-04-02,female,false,false,false,false,false,false,true,,,,\n",
}


@pytest.mark.parametrize("district", ["expected", "expected_real"])
def test_the_hand_written_stemscopes_sets_are_oneroster_11(tmp_path, district):
    for source in (FIXTURES / district / "stemscopes").glob("*.csv"):
        shutil.copy(source, tmp_path / source.name)
    assert oneroster.check(tmp_path) == []


def test_a_valid_12_set_passes_as_a_folder_and_as_a_zip(tmp_path):
    assert oneroster.check(write_set(tmp_path / "set", VALID_12)) == []
    assert oneroster.check(write_zip(tmp_path / "set.zip", VALID_12)) == []


def test_extension_columns_after_the_standard_ones_pass(tmp_path):
    files = changed(VALID_12, "orgs.csv", "parentSourcedId\n", "parentSourcedId,metadata.aeries.code\n")
    files = changed(files, "orgs.csv", "district,,\n", "district,,,x\n")
    files = changed(files, "orgs.csv", "994,district\n", "994,district,y\n")
    assert oneroster.check(write_set(tmp_path, files)) == []


USERS_SWAPPED = USERS_HEADER.replace("givenName,familyName", "familyName,givenName")
ROLES_ROW_T7D = "r-T-7-d,,,T-7,primary,teacher,,,district,\n"
MUTATIONS = {
    "no manifest": (without(VALID_12, "manifest.csv"),
                    [Violation("manifest.csv", 0, "", "the set has no manifest.csv", S11)]),
    "a file the manifest calls absent": (
        changed(VALID_12, "manifest.csv", "file.demographics,bulk", "file.demographics,absent"),
        [Violation("demographics.csv", 0, "", "file present but the manifest says absent", S12)]),
    "a file the manifest calls bulk is missing": (
        without(VALID_12, "demographics.csv"),
        [Violation("demographics.csv", 0, "", "the manifest says bulk but the file is missing", S12)]),
    "manifest mode outside absent/bulk/delta": (
        changed(VALID_12, "manifest.csv", "file.results,absent", "file.results,none"),
        [Violation("manifest.csv", 18, "file.results", "not absent, bulk or delta", S11)]),
    "columns out of order": (
        changed(VALID_12, "users.csv", USERS_HEADER, USERS_SWAPPED),
        [Violation("users.csv", 1, "", "columns out of the specification's order", S12)]),
    "an unknown column": (
        changed(changed(VALID_12, "courses.csv", "subjectCodes\n", "subjectCodes,teacher\n"), "courses.csv",
                "Math,\n", "Math,,T-7\n"),
        [Violation("courses.csv", 1, "teacher", "column not in the specification", S12)]),
    "an extension column before a standard one": (
        changed(changed(changed(VALID_12, "orgs.csv", "identifier,parent", "identifier,metadata.x,parent"),
                        "orgs.csv", "district,,\n", "district,,,\n"),
                "orgs.csv", "994,district", "994,,district"),
        [Violation("orgs.csv", 1, "", "extension columns before a standard column", S12)]),
    "a required column missing": (
        changed(changed(VALID_12, "classes.csv", "classCode,classType,", "classCode,"), "classes.csv",
                "0421-1,scheduled,", "0421-1,"),
        [Violation("classes.csv", 1, "classType", "required column missing", S12)]),
    "a required value blank": (
        changed(VALID_12, "users.csv", ",Ana,Reyes,", ",,Reyes,"),
        [Violation("users.csv", 2, "givenName", "required value blank", S12)]),
    "an org type outside the enumeration": (
        changed(VALID_12, "orgs.csv", "Unified,district,", "Unified,District,"),
        [Violation("orgs.csv", 2, "type", "value outside the enumeration", S12)]),
    "a boolean not true/false": (
        changed(VALID_12, "users.csv", "T-7,,,true,", "T-7,,,TRUE,"),
        [Violation("users.csv", 3, "enabledUser", "value outside the enumeration", S12)]),
    "a date not YYYY-MM-DD": (
        changed(VALID_12, "academicSessions.csv", "2026,,,2026-2027,schoolYear,2026-08-13",
                "2026,,,2026-2027,schoolYear,08/13/2026"),
        [Violation("academicSessions.csv", 2, "startDate", "not a date YYYY-MM-DD", S12)]),
    "dateLastModified not a UTC date-time": (
        changed(VALID_12, "orgs.csv", "district,,,Demo", "district,,2026-08-13,Demo"),
        [Violation("orgs.csv", 2, "dateLastModified", "not a UTC date-time YYYY-MM-DDTHH:MM:SS.sssZ", S12)]),
    "a duplicate sourcedId": (
        changed(VALID_12, "enrollments.csv", "e2,", "e1,"),
        [Violation("enrollments.csv", 3, "sourcedId", "duplicate of row 2", S12)]),
    "a reference to no user": (
        changed(VALID_12, "enrollments.csv", "994,99400001,", "994,99499999,"),
        [Violation("enrollments.csv", 2, "userSourcedId", "names no row of users.csv", S12)]),
    "one element of a list names no session": (
        changed(VALID_12, "classes.csv", ",994-S1,", ',"994-S1,994-S9",'),
        [Violation("classes.csv", 2, "termSourcedIds", "names no row of academicSessions.csv", S12)]),
    "a class whose school is the district": (
        changed(VALID_12, "classes.csv", "Room 12,994,", "Room 12,district,"),
        [Violation("classes.csv", 2, "schoolSourcedId", "names an org that is not a school", S12)]),
    "two primary roles in one org": (
        changed(VALID_12, "roles.csv", ROLES_ROW_T7D, ROLES_ROW_T7D.replace("district", "994")),
        [Violation("roles.csv", 3, "roleType", "not exactly one primary role for this user and org", S12)]),
    "no primary role in an org": (
        changed(VALID_12, "roles.csv", "99400001,primary", "99400001,secondary"),
        [Violation("roles.csv", 2, "roleType", "not exactly one primary role for this user and org", S12)]),
    "primaryOrgSourcedId outside the user's roles": (
        changed(VALID_12, "users.csv", "09,,,,,,,994,", "09,,,,,,,district,"),
        [Violation("users.csv", 2, "primaryOrgSourcedId", "not an org of the user's roles", S12)]),
    "a delta file without status and dateLastModified": (
        changed(VALID_12, "manifest.csv", "file.orgs,bulk", "file.orgs,delta"),
        [Violation("orgs.csv", row, column, "required value blank", S12)
         for row in (2, 3) for column in ("dateLastModified", "status")]),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_broken_rule_gives_exactly_its_violation(tmp_path, case):
    files, expected = MUTATIONS[case]
    assert oneroster.check(write_set(tmp_path, files)) == expected


def test_a_12_role_is_outside_the_11_enumeration(tmp_path):
    for source in (FIXTURES / "expected" / "stemscopes").glob("*.csv"):
        shutil.copy(source, tmp_path / source.name)
    users = (tmp_path / "users.csv").read_text(encoding="utf-8")
    (tmp_path / "users.csv").write_text(users.replace(",100,student,s100234,", ",100,principal,s100234,", 1),
                                        encoding="utf-8")
    assert oneroster.check(tmp_path) == [Violation("users.csv", 2, "role", "value outside the enumeration", S11)]
