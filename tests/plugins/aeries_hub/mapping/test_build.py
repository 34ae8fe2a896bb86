"""build_vendor_file end to end: a School Data Sync-like mapping over staged Aeries tables in a real run folder, with
real Great Expectations: counts per group, a match across files, a reference to a subset of a file, a cell rule and
a lookup that says which match it takes, each with the exact bytes and rejects they give."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import textwrap

import pandas as pd
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from aeries_hub.mapping.build import build_vendor_file, render_rows, write_output
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import FileFormat
from aeries_hub.mapping.text import TEXT
from aeries_hub.staging import RunFolder

SDS_LIKE = """
name: sds_like
description: School Data Sync-like roles, with its cross-row and cross-file rules.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [schools, staff, teachers]}
outputs:
  - file: orgs.csv
    format: {}
    key: [sourcedId]
    columns: [{name: sourcedId}, {name: name}, {name: type}]
    records:
      - name: district
        rows: [{sourcedId: "0", name: District, type: district}]
      - name: schools
        from: schools
        values: {sourcedId: {source: SchoolCode}, name: {source: Name}, type: {constant: school}}
  - file: roles.csv
    format: {}
    key: [sourcedId]
    columns: [{name: sourcedId}, {name: userSourcedId}, {name: orgSourcedId}, {name: isPrimary}]
    records:
      - name: roles
        from: teachers
        values:
          sourcedId: {template: "{SchoolCode}-{TeacherNumber}"}
          userSourcedId: {source: StaffID1}
          orgSourcedId: {source: SchoolCode}
          isPrimary: {first_in_group: {by: [StaffID1], order: [SchoolCode]}}
    references:
      - {column: orgSourcedId, file: orgs.csv, where: [{column: type, in: [school]}], severity: reject}
    counts:
      - per: [userSourcedId]
        where: [{column: isPrimary, in: ["true"]}]
        exactly: 1
        description: a user has exactly one primary role
      - {per: [userSourcedId], at_most: 1, severity: warning, description: a user teaches at one school}
  - file: users.csv
    format: {}
    key: [sourcedId]
    columns: [{name: sourcedId}, {name: primaryOrg}, {name: name}]
    records:
      - name: staff
        from: staff
        lookups:
          teacher: {table: teachers, on: {ID: StaffID1}, prefer: [{column: SchoolCode, order: descending}]}
        values: {sourcedId: {source: ID}, primaryOrg: {source: PrimaryAeriesSchool}, name: {source: teacher.LastName}}
    matches:
      - column: primaryOrg
        file: roles.csv
        on: {sourcedId: userSourcedId}
        where: [{column: isPrimary, in: ["true"]}]
        equals: orgSourcedId
        severity: reject
    cells: {forbid: ["\\n", "\\r"]}
"""


def staged(tmp_path) -> RunFolder:
    run = RunFolder(ObjectStoragePath(f"file://{tmp_path / 'staging'}"), "aeries_to_sds_like", "manual__1")
    run.write_parquet("validated/schools.parquet", pd.DataFrame({
        "SchoolCode": pd.array([994, 995], dtype="Int64"), "Name": ["Ridge High", "Vale Elem"]}))
    run.write_parquet("validated/staff.parquet", pd.DataFrame({
        "ID": pd.array([7, 8, 9, 10], dtype="Int64"),
        "PrimaryAeriesSchool": pd.array([994, 994, 0, 994], dtype="Int64")}))
    run.write_parquet("validated/teachers.parquet", pd.DataFrame({  # in key order: SchoolCode, TeacherNumber
        "SchoolCode": pd.array([0, 994, 994, 995, 995], dtype="Int64"),
        "TeacherNumber": pd.array([801, 501, 503, 502, 601], dtype="Int64"),
        "StaffID1": pd.array([9, 7, 10, 7, 8], dtype="Int64"),
        "LastName": ["Ito", "Chen", "Le\nRoy", "Chen-Park", "Park"]}))
    return run


def built(run: RunFolder, file: str) -> str:
    with run.path("output", file).open("rb") as handle:
        return handle.read().decode()


def rejects(run: RunFolder, stem: str) -> list[dict]:
    with run.path("rejects", f"{stem}.csv").open("rb") as handle:
        return pd.read_csv(io.BytesIO(handle.read()), dtype=str, keep_default_na=False).to_dict("records")


def test_counts_matches_subset_references_cells_and_a_preferred_lookup_in_a_real_build(tmp_path):
    (tmp_path / "sds_like.yml").write_text(SDS_LIKE)
    mapping = load_mapping(tmp_path / "sds_like.yml")
    run = staged(tmp_path)
    summaries = {output.file: build_vendor_file(mapping, output, run) for output in mapping.outputs}

    assert built(run, "orgs.csv") == "sourcedId,name,type\n0,District,district\n994,Ridge High,school\n995,Vale Elem,school\n"
    # The district office's role (org 0 is an org, but not a school) is rejected by the reference to a subset; the
    # count of primary roles then runs on the rows left, where user 9 has none (and is in no group).
    assert built(run, "roles.csv") == ("sourcedId,userSourcedId,orgSourcedId,isPrimary\n"
                                       "994-501,7,994,true\n994-503,10,994,true\n995-502,7,995,false\n995-601,8,995,true\n")
    assert rejects(run, "roles") == [{"sourcedId": "0-801", "userSourcedId": "9", "orgSourcedId": "0", "isPrimary": "true",
                                      "_record_set": "roles", "_reject_reason":
                                      "every orgSourcedId of roles.csv is a sourcedId in orgs.csv where type in [school]"}]
    results = {r["rule"] or r["description"]: r for r in summaries["roles.csv"].checks["results"]}
    primary = results["per userSourcedId: exactly 1 row where isPrimary in [true]"]
    assert (primary["outcome"], primary["groups"]) == ("passed", [])
    one_school = results["per userSourcedId: at most 1 row"]
    assert (one_school["outcome"], one_school["groups"]) == ("warned", [{"ids": "7", "count": 2}])
    assert one_school["description"] == "a user teaches at one school"

    # Staff 7's teacher record is the one at the highest SchoolCode (prefer), not the first in key order (Chen).
    assert built(run, "users.csv") == "sourcedId,primaryOrg,name\n7,994,Chen-Park\n"
    match = ("primaryOrg is not the orgSourcedId of the row of roles.csv where isPrimary in [true] with its "
             "userSourcedId = sourcedId")
    assert rejects(run, "users") == [
        {"sourcedId": "8", "primaryOrg": "994", "name": "Park", "_record_set": "staff", "_reject_reason": match},
        {"sourcedId": "9", "primaryOrg": "0", "name": "Ito", "_record_set": "staff", "_reject_reason": match},
        {"sourcedId": "10", "primaryOrg": "994", "name": "Le\nRoy", "_record_set": "staff", "_reject_reason":
         "name holds a line break (\\n) or a carriage return (\\r), which no cell of users.csv may hold"},
    ]
    assert summaries["users.csv"].rejected_ids == ["8", "9", "10"]
    assert summaries["users.csv"].single_line_values == {}


def test_a_count_that_fails_as_an_error_names_each_group_with_its_count(tmp_path):
    text = SDS_LIKE.replace("exactly: 1\n        description: a user has exactly one primary role",
                            "at_least: 2\n        description: a user has two primary roles")
    (tmp_path / "sds_like.yml").write_text(text)
    mapping = load_mapping(tmp_path / "sds_like.yml")
    run = staged(tmp_path)
    build_vendor_file(mapping, mapping.outputs[0], run)
    with pytest.raises(AirflowFailException) as failed:
        build_vendor_file(mapping, mapping.outputs[1], run)
    assert str(failed.value) == textwrap.dedent("""\
        roles.csv failed its error checks; nothing was delivered.
        roles.csv: a user has two primary roles [userSourcedId]: 3 groups fail: 3 have 1 (7, 10, 8)""")


@pytest.mark.parametrize("fmt", [
    FileFormat(),
    FileFormat(encoding="utf-8-sig", line_ending="crlf", quoting="all"),
    FileFormat(header=False, quoting="none", delimiter="|"),
    FileFormat(encoding="latin-1"),
])
def test_a_file_written_a_batch_of_rows_at_a_time_has_the_bytes_of_the_file_rendered_whole(tmp_path, fmt):
    (tmp_path / "sds_like.yml").write_text(SDS_LIKE)
    mapping = load_mapping(tmp_path / "sds_like.yml")
    output = dataclasses.replace(mapping.output("orgs.csv"), format=fmt)
    rows = pd.DataFrame({"sourcedId": ["1", "2", "10", "11", "12"], "name": ["Ridge, High", 'Vale "Elem"', "=Oak", "Él", ""],
                         "type": ["school"] * 5}).astype(TEXT)
    run = staged(tmp_path)
    whole = render_rows(mapping, output, rows, {})

    path, size, sha256 = write_output(run, mapping, output, rows, {}, batch_rows=2)

    with path.open("rb") as handle:
        assert handle.read() == whole
    assert (size, sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert whole.count(b"\xef\xbb\xbf") == (fmt.encoding == "utf-8-sig")
