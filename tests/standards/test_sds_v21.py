"""The SDS v2.1 checker: Microsoft's own sample set passes (its courses.csv aside, which names school years the
set lacks); each rule, broken once, gives exactly its violation.

The sample rows are Microsoft's "CSV Samples/SDS v2.1" (https://github.com/OfficeDev/O365-EDU-Tools, the set the
format page links to), copied as published."""

from __future__ import annotations

import pytest

from tests.standards import sds_v21
from tests.standards.csv_rules import Violation
from tests.standards.samples import changed, without, write_set, write_zip

S = sds_v21.SPEC
MICROSOFT_SAMPLE = {
    "orgs.csv": "sourcedId,name,type,parentSourcedId\n"
                "110001,College of Engineering,college,\n"
                "110002,Computer Science Department,department,110001\n"
                "110003,School of TwoDotOne,school,110004\n"
                "110004,Ministry of TwoDotOne,ministryOfEducation,\n",
    "users.csv": "sourcedId,username,givenName,familyName,password,activeDirectoryMatchId,email,phone,sms\n"
                 "114001,jcraig@classrmtest31.org,Jack,Craig,P@ssword123,jcraig@classrmtest31.org,,,\n"
                 "114002,jean.craig@outlook.com,Jean,Craig,P@ssword123,,jean.craig@outlook.com,1234567890,"
                 "1234567890\n"
                 "114003,fhutch@classrmtest31.org,Fred,Hutch,P@ssword123,fhutch@classrmtest31.org,,,\n"
                 "114004,asmithee@classrmtest31.org,Alice,Smithee,P@ssword123,asmithee@classrmtest31.org,,,\n"
                 "114005,bobsmithee@outlook.com,Bob,Smithee,P@ssword123,,bobsmithee@outlook.com,10273841983,"
                 "10273841983\n"
                 "114006,jjonzer@classrmtest31.org,Jason,Jonzer,P@ssword123,jjonzer@classrmtest31.org,,,\n"
                 "114007,kfein@classrmtest31.org,Kristen,Fein,P@ssword123,kfein@classrmtest31.org,,,\n"
                 "114008,smiller@classrmtest31.org,Simon,Miller,P@ssword123,smiller@classrmtest31.org,,,\n",
    "roles.csv": "userSourcedId,orgSourcedId,role,sessionSourcedId,grade,isPrimary,roleStartDate,roleEndDate\n"
                 "114001,110003,student,SY2021K12,10,TRUE,8/24/2021,6/11/2022\n"
                 "114003,110003,student,SY2021K12,10,TRUE,8/24/2021,6/11/2022\n"
                 "114004,110003,student,SY2021K12,10,TRUE,8/24/2021,6/11/2022\n"
                 "114006,110002,professor,FS2021HED,ps1,TRUE,9/1/2021,12/1/2021\n"
                 "114007,110004,teacher,SY2021K12,10,TRUE,8/24/2021,6/11/2022\n"
                 "114007,110003,teacher,SY2021K12,10,FALSE,8/24/2021,6/11/2022\n"
                 "114008,110001,student,FS2021HED,ps1,TRUE,9/1/2021,12/1/2021\n",
    "classes.csv": "sourcedId,orgSourcedId,title,sessionSourcedIds,courseSourcedId\n"
                   "112001,110001,Computer Science 101,FS2021HED,C12001\n"
                   "112002,110003,Biology 10,SY2021K12,B102021\n",
    "enrollments.csv": "classSourcedId,userSourcedId,role\n"
                       "112001,114008,student\n"
                       "112001,114006,professor\n"
                       "112002,114001,student\n"
                       "112002,114003,student\n"
                       "112002,114004,student\n"
                       "112002,114007,teacher\n",
    "academicSessions.csv": "sourcedId,title,type,schoolYear,startDate,endDate\n"
                            "SY2021K12,2021 School Year,schoolYear,2021,8/24/2021,6/11/2022\n"
                            "FS2021HED,Fall Semester,semester,2021,9/1/2021,12/1/2021\n",
    "courses.csv": "sourcedId,orgSourcedId,title,code,schoolYearSourcedId,subject,grade\n"
                   "C12001,110001,Computer Science 101,CS101,HEDY2021,10,PS1\n"
                   "C12002,110001,Computer Science 201,CS201,HEDY2021,10,PS2\n"
                   "B102021,110003,Biology 10 2021,B10,K12Y2021,14,10\n",
    "demographics.csv": "userSourcedId,sex,birthDate,birthCity,birthState,birthCountry,ethnicityCodes,raceCodes\n"
                        "114001,male,7/2/2001,Woodenville,WA,USA,hispanicOrLatinoEthnicity,\n"
                        "114003,male,3/2/2002,Woodenville,WA,USA,,asian\n"
                        "114004,female,9/2/2001,Woodenville,WA,USA,,white\n"
                        "114006,male,2/12/1980,Seattle,WA,USA,,nativeHawaiianOrOtherPacificIslander\n"
                        "114007,female,10/26/1973,Sammamish,WA,USA,,demographicRaceTwoOrMoreRaces\n"
                        "114008,male,6/6/2001,Redmond,WA,USA,,blackOrAfricanAmerican\n",
    "relationships.csv": "userSourcedId,relationshipUserSourcedId,relationshipRole\n"
                         "114001,114002,guardian\n"
                         "114003,114002,relative\n"
                         "114004,114005,guardian\n",
}
# the sample's courses.csv names school years (HEDY2021, K12Y2021) its academicSessions.csv does not hold, and
# writes grades in capitals (PS1, PS2) where the default list has ps1, ps2
VALID = {**MICROSOFT_SAMPLE, "courses.csv": "sourcedId,orgSourcedId,title,code,schoolYearSourcedId,subject,grade\n"
                                            "C12001,110001,Computer Science 101,CS101,FS2021HED,10,ps1\n"
                                            "B102021,110003,Biology 10 2021,B10,SY2021K12,14,10\n"}


def test_microsofts_sample_set_passes_but_for_its_courses(tmp_path):
    assert sds_v21.check(write_set(tmp_path, MICROSOFT_SAMPLE)) == [
        Violation("courses.csv", 2, "grade", "value outside the enumeration", S),
        Violation("courses.csv", 2, "schoolYearSourcedId", "names no row of academicSessions.csv", S),
        Violation("courses.csv", 3, "grade", "value outside the enumeration", S),
        Violation("courses.csv", 3, "schoolYearSourcedId", "names no row of academicSessions.csv", S),
        Violation("courses.csv", 4, "schoolYearSourcedId", "names no row of academicSessions.csv", S)]


def test_the_sample_with_its_courses_mended_passes_as_a_folder_and_as_a_zip(tmp_path):
    assert sds_v21.check(write_set(tmp_path / "set", VALID)) == []
    assert sds_v21.check(write_zip(tmp_path / "set.zip", VALID)) == []


def test_iso_dates_pass_too(tmp_path):
    files = changed(VALID, "academicSessions.csv", "8/24/2021,6/11/2022", "2021-08-24,20220611")
    assert sds_v21.check(write_set(tmp_path, files)) == []


MUTATIONS = {
    "a required file missing": (without(VALID, "orgs.csv"),
                                [Violation("orgs.csv", 0, "", "required file missing", S)]
                                + [Violation(name, row, "orgSourcedId", "names no row of a missing file", S)
                                   for name, row in (("classes.csv", 2), ("classes.csv", 3), ("courses.csv", 2),
                                                     ("courses.csv", 3))]
                                + [Violation("roles.csv", row, "orgSourcedId", "names no row of a missing file", S)
                                   for row in range(2, 9)]),
    "classes without enrollments": (without(VALID, "enrollments.csv"),
                                    [Violation("enrollments.csv", 0, "", "classes.csv and enrollments.csv come "
                                                                         "together", S)]),
    "a header in the wrong case": (
        changed(VALID, "relationships.csv", "relationshipRole", "RelationshipRole"),
        [Violation("relationships.csv", 1, "RelationshipRole", "column not in the specification", S),
         Violation("relationships.csv", 1, "relationshipRole", "required column missing", S)]),
    "a required value blank": (
        changed(VALID, "users.csv", "114008,smiller@classrmtest31.org,", "114008,,"),
        [Violation("users.csv", 9, "username", "required value blank", S)]),
    "an org type outside the default list": (
        changed(VALID, "orgs.csv", "Engineering,college,", "Engineering,College,"),
        [Violation("orgs.csv", 2, "type", "value outside the enumeration", S)]),
    "a role outside the default list": (
        changed(VALID, "enrollments.csv", "112002,114007,teacher", "112002,114007,Teacher"),
        [Violation("enrollments.csv", 7, "role", "value outside the enumeration", S)]),
    "a race code outside the list": (
        changed(VALID, "demographics.csv", ",,asian", ',,"asian,martian"'),
        [Violation("demographics.csv", 3, "raceCodes", "value outside the enumeration", S)]),
    "isPrimary not a boolean": (
        changed(VALID, "roles.csv", "10,FALSE,", "10,no,"),
        [Violation("roles.csv", 7, "isPrimary", "not TRUE or FALSE", S)]),
    "two primary roles for one user": (
        changed(VALID, "roles.csv", "10,FALSE,", "10,TRUE,"),
        [Violation("roles.csv", 6, "isPrimary", "more than one isPrimary TRUE for this user", S)]),
    "a date in no accepted format": (
        changed(VALID, "demographics.csv", "7/2/2001", "2 July 2001"),
        [Violation("demographics.csv", 2, "birthDate", "not a date YYYY-MM-DD, YYYYMMDD or M/D/YYYY", S)]),
    "a line break in a value": (
        changed(VALID, "orgs.csv", "School of TwoDotOne", '"School of\nTwoDotOne"'),
        [Violation("orgs.csv", 4, "name", "line break in a value", S)]),
    "a duplicate username": (
        changed(VALID, "users.csv", "114008,smiller@", "114008,kfein@"),
        [Violation("users.csv", 9, "username", "duplicate of row 8", S)]),
    "a duplicate enrollment": (
        changed(VALID, "enrollments.csv", "112002,114004,student", "112002,114003,student"),
        [Violation("enrollments.csv", 6, "classSourcedId+userSourcedId", "duplicate of row 5", S)]),
    "a session no file holds": (
        changed(VALID, "classes.csv", "101,FS2021HED,", "101,FS2022HED,"),
        [Violation("classes.csv", 2, "sessionSourcedIds", "names no row of academicSessions.csv", S)]),
    "a guardian who is no user": (
        changed(VALID, "relationships.csv", "114004,114005,", "114004,114009,"),
        [Violation("relationships.csv", 4, "relationshipUserSourcedId", "names no row of users.csv", S)]),
}


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_each_broken_rule_gives_exactly_its_violation(tmp_path, case):
    files, expected = MUTATIONS[case]
    assert sds_v21.check(write_set(tmp_path, files)) == sorted(expected)
