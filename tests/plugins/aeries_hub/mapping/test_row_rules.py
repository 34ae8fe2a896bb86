"""Checks across rows and files (mapping.row_rules): which rows meet a count per group or a match with another
file, the failing groups with their counts, the rules in words, and the load errors of what they name."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from aeries_hub.mapping.models import Condition, MappingError
from aeries_hub.mapping.row_rules import FileMatch, GroupCount
from tests.plugins.aeries_hub.mapping.mapping_files import mapping_with, without_lines

PRIMARY = (Condition("isPrimary", "in", ["true"]),)
ROLES = pd.DataFrame({
    "sourcedId": ["r1", "r2", "r3", "r4", "r5", "r6"],
    "userSourcedId": ["u1", "u1", "u2", "u3", "u3", " "],
    "isPrimary": ["true", "true", "true", "false", "false", "true"],
    "orgSourcedId": ["o1", "o2", "o1", "o3", "o4", "o5"],
    "EndDate": ["2026-06-01", "", "", "", "", ""],
})


def meets(rule, frame, tables=None) -> list:
    met, untested = rule.meets(frame, tables or {})
    return [None if skip else bool(ok) for ok, skip in zip(met, untested)]


def test_exactly_one_primary_row_per_group_and_the_groups_that_fail():
    rule = GroupCount(per=("userSourcedId",), where=PRIMARY, exactly=1)
    assert meets(rule, ROLES) == [False, False, True, False, False, None]  # a blank group value: no group
    assert rule.failing_groups(ROLES) == [{"ids": "u1", "count": 2}, {"ids": "u3", "count": 0}]
    assert rule.label == "per userSourcedId: exactly 1 row where isPrimary in [true]"
    assert rule.sentence() == "its userSourcedId has not exactly 1 row where isPrimary in [true]"


def test_at_most_at_least_and_a_range_count_every_row_without_where():
    assert meets(GroupCount(per=("userSourcedId",), at_most=1), ROLES) == [False, False, True, False, False, None]
    assert meets(GroupCount(per=("userSourcedId",), where=PRIMARY, at_least=1), ROLES) == [True, True, True, False, False, None]
    in_range = GroupCount(per=("userSourcedId", "isPrimary"), at_least=2, at_most=3)
    assert meets(in_range, ROLES) == [True, True, False, True, True, None]
    assert in_range.failing_groups(ROLES) == [{"ids": "u2/true", "count": 1}]
    assert in_range.label == "per userSourcedId, isPrimary: 2 to 3 rows"


def test_a_date_condition_counts_with_the_runs_date():
    ended = GroupCount(per=("userSourcedId",), where=(Condition("EndDate", "before_run_date", True),), at_most=0,
                       run_date=date(2026, 7, 1))
    assert ended.failing_groups(ROLES) == [{"ids": "u1", "count": 1}]
    assert ended.label == "per userSourcedId: at most 0 rows where EndDate before run date true"


def test_a_column_equals_the_column_of_the_matching_row_of_another_file():
    users = pd.DataFrame({"sourcedId": ["u1", "u2", "u3", "u4", ""], "primaryOrg": ["o2", "o9", "o3", "", "o1"]})
    rule = FileMatch(column="primaryOrg", file="roles.csv", on=(("sourcedId", "userSourcedId"),), equals="orgSourcedId",
                     where=PRIMARY)
    # u1 has two primary roles and equals one of them; u2's is o1; u3 has no primary role; u4 has no role; a blank
    # id is not tested.
    assert meets(rule, users, {"roles.csv": ROLES}) == [True, False, False, False, None]
    assert meets(FileMatch(column="primaryOrg", file="roles.csv", on=(("sourcedId", "userSourcedId"),),
                           equals="orgSourcedId"), users, {"roles.csv": ROLES}) == [True, False, True, False, None]
    assert rule.label == ("primaryOrg equals orgSourcedId of the row of roles.csv where isPrimary in [true] with its "
                          "userSourcedId = sourcedId")


def test_a_match_with_a_file_the_runner_was_not_given_says_so():
    from aeries_hub.quality.checks import CheckConfigError

    rule = FileMatch(column="primaryOrg", file="roles.csv", on=(("sourcedId", "userSourcedId"),), equals="org")
    with pytest.raises(CheckConfigError) as err:
        rule.meets(pd.DataFrame({"sourcedId": ["u1"], "primaryOrg": ["o1"]}), {"orgs.csv": ROLES})
    assert str(err.value) == ("primaryOrg equals org of the row of roles.csv with its userSourcedId = sourcedId: "
                              "'roles.csv' was not given to the runner (tables given: orgs.csv)")
    with pytest.raises(CheckConfigError) as err:
        rule.meets(pd.DataFrame({"sourcedId": ["u1"], "primaryOrg": ["o1"]}), {"roles.csv": ROLES})
    assert str(err.value).endswith(": roles.csv has no column 'org'")


TWO_FILES = """
outputs:
  - file: roles.csv
    format: {{}}
    key: [sourcedId]
    columns: [{{name: sourcedId}}, {{name: userSourcedId}}, {{name: isPrimary}}]
    records:
      - name: roles
        from: teachers
        values: {{sourcedId: {{source: TeacherNumber}}, userSourcedId: {{source: StaffID1}}, isPrimary: {{constant: "true"}}}}
{roles}
  - file: users.csv
    format: {{}}
    key: [sourcedId]
    columns: [{{name: sourcedId}}, {{name: primaryOrg}}]
    records:
      - name: staff
        from: staff
        values: {{sourcedId: {{source: ID}}, primaryOrg: {{source: PrimaryAeriesSchool}}}}
{users}
"""


def load_error(tmp_path, roles: str = "", users: str = "") -> str:
    with pytest.raises(MappingError) as err:
        mapping_with(tmp_path, TWO_FILES.format(roles=roles, users=users))
    return without_lines(str(err.value))


def test_what_counts_and_matches_name_must_be_columns_of_their_files(tmp_path):
    assert load_error(tmp_path, roles="""    counts:
      - {per: [userId], where: [{column: primary, in: ["true"]}], exactly: 1}
      - {per: [userSourcedId]}
      - {per: [userSourcedId], exactly: 1, at_most: 2}
      - {per: [userSourcedId], at_least: 3, at_most: 2}""", users="""    matches:
      - {column: primaryOrg, file: roles.csv, on: {sourcedId: userSourcedId, id: user}, equals: org, where: [{column: role, in: [x]}]}
      - {column: primaryOrg, file: orgs.csv, on: {sourcedId: sourcedId}, equals: sourcedId}""") == "\n".join([
        "sample.yml: outputs[0].counts[0].per[0]: 'userId' is not a delivered column of roles.csv (sourcedId, userSourcedId, isPrimary)",
        "sample.yml: outputs[0].counts[0].where[0].column: 'primary' is not a delivered column of roles.csv (sourcedId, userSourcedId, isPrimary)",
        "sample.yml: outputs[0].counts[1]: give exactly, at_least or at_most (the number of rows each group has)",
        "sample.yml: outputs[0].counts[2]: give exactly, or at_least and at_most, not both",
        "sample.yml: outputs[0].counts[3]: at_least (3) is more than at_most (2)",
        "sample.yml: outputs[1].matches[0].on.id: 'id' is not a delivered column of users.csv (sourcedId, primaryOrg)",
        "sample.yml: outputs[1].matches[0].on.id: 'user' is not a delivered column of roles.csv (sourcedId, userSourcedId, isPrimary)",
        "sample.yml: outputs[1].matches[0].equals: 'org' is not a delivered column of roles.csv (sourcedId, userSourcedId, isPrimary)",
        "sample.yml: outputs[1].matches[0].where[0].column: 'role' is not a delivered column of roles.csv (sourcedId, userSourcedId, isPrimary)",
        "sample.yml: outputs[1].matches[1].file: 'orgs.csv' is not an output of this mapping (roles.csv, users.csv)",
    ])


def test_a_reference_to_a_subset_names_columns_of_the_referenced_file(tmp_path):
    assert load_error(tmp_path, users="""    references:
      - {column: sourcedId, file: roles.csv, key: userSourcedId, where: [{column: type, in: [school]}]}""") == (
        "sample.yml: outputs[1].references[0].where[0].column: 'type' is not a delivered column of roles.csv "
        "(sourcedId, userSourcedId, isPrimary)")


def test_a_match_makes_its_file_built_first(tmp_path):
    mapping = mapping_with(tmp_path, TWO_FILES.format(roles="", users="""    matches:
      - {column: primaryOrg, file: roles.csv, on: {sourcedId: userSourcedId}, equals: isPrimary}"""))
    assert mapping.outputs[1].needs == ["roles.csv"]
    [written] = mapping.outputs[1].matches
    assert (written.severity, written.description) == ("error", None)
