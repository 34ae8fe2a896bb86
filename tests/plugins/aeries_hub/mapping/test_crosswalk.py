"""Crosswalk files: reading them, clear errors for broken ones, and the proposals for missing entries."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from aeries_hub.mapping.crosswalk import closest, coverage_lines, crosswalk_coverage, describe_unmapped, read_crosswalks
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.mapping.models import MappingError

MAPPING = """
name: sample
description: A test integration.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [schools, staff]}
crosswalks:
  schools:
    file: crosswalks/schools.csv
    aeries: aeries_school_code
    vendor: vendor_school_id
    OPTIONAL
    check:
      table: schools
      column: SchoolCode
      name: Name
      vendor_name: vendor_school_name
      where: [{column: SchoolCode, not_in: [0]}]
      used_by: [{table: staff, column: PrimaryAeriesSchool, id: ID}]
outputs:
  - file: orgs.csv
    format: {}
    key: [id]
    columns: [{name: id}]
    records:
      - name: schools
        from: schools
        values: {id: {source: SchoolCode, transform: [{crosswalk: schools}]}}
"""

SCHOOLS = pd.DataFrame(
    {
        "SchoolCode": pd.array([0, 100, 200, 300, 400], dtype="Int64"),
        "Name": ["District Office", "Sunset Elementary School", "Rosa Parks Middle School", "Grant High School",
                 "Sierra Vista Continuation High School"],
    }
)


def load(tmp_path, crosswalk: str | None, optional: bool = False):
    (tmp_path / "mappings").mkdir(exist_ok=True)
    (tmp_path / "crosswalks").mkdir(exist_ok=True)
    if crosswalk is not None:
        (tmp_path / "crosswalks" / "schools.csv").write_text(textwrap.dedent(crosswalk).lstrip())
    path = tmp_path / "mappings" / "sample.yml"
    path.write_text(MAPPING.replace("OPTIONAL", "optional: true" if optional else ""))
    return load_mapping(path)


def test_missing_schools_get_the_closest_vendor_name_and_mapped_ones_do_not(tmp_path):
    mapping = load(tmp_path, """
        aeries_school_code,vendor_school_id,vendor_school_name
        100,ALI-1,Sunset Elementary
        ,ALI-2,Rosa Parks MS
        ,ALI-3,Grant HS
        ,ALI-4,Lincoln Elementary
    """)

    coverage = crosswalk_coverage(mapping, {"schools": SCHOOLS})["schools"]

    assert (coverage["checked"], coverage["mapped"]) == (4, 1)
    proposals = {u["aeries"]: u["proposal"] for u in coverage["unmapped"]}
    assert proposals["200"] == {"vendor": "ALI-2", "vendor_name": "Rosa Parks MS", "similarity": 1.0}
    assert proposals["300"] == {"vendor": "ALI-3", "vendor_name": "Grant HS", "similarity": 1.0}
    assert proposals["400"] is None  # no vendor school is named anything like it
    assert describe_unmapped("schools", coverage["unmapped"][0]) == (
        "crosswalk schools: 200 'Rosa Parks Middle School' is not in the file; it is sent as 200; "
        "closest vendor record: ALI-2 'Rosa Parks MS' (similarity 1.00)"
    )


def test_codes_that_staff_carry_and_aeries_does_not_list_are_named_with_the_staff_ids(tmp_path):
    """Real Aeries staff have a PrimaryAeriesSchool that is no school of the district's list (the demo server's
    998003 at 998): such a code is named with the ids of its rows, whatever else the check reports."""
    mapping = load(tmp_path, """
        aeries_school_code,vendor_school_id,vendor_school_name
        100,ALI-1,Sunset Elementary
        555,ALI-5,Closed School
    """)
    staff = pd.DataFrame(
        {
            "ID": pd.array([11, 12, 13, 14, 15, 16, 17, 18] + list(range(30, 52)), dtype="Int64"),
            # 100 and 555 are in the file, 0 is a school of the list (which the check's where leaves out),
            # a blank school is the site's own reject; 998 and 997 are nowhere, 996 has 22 staff
            "PrimaryAeriesSchool": pd.array([100, 998, 0, None, 555, 998, 997, 300] + [996] * 22, dtype="Int64"),
        }
    )

    coverage = crosswalk_coverage(mapping, {"schools": SCHOOLS, "staff": staff})["schools"]

    assert [u["aeries"] for u in coverage["unmapped"]] == ["200", "300", "400"]
    ids_996 = [str(i) for i in range(30, 50)]
    assert coverage["unlisted"] == [
        {"aeries": code, "not_in": {"table": "schools", "column": "SchoolCode"}, "table": "staff",
         "column": "PrimaryAeriesSchool", "id": "ID", "count": count, "ids": ids}
        for code, count, ids in [("996", 22, ids_996), ("997", 1, ["17"]), ("998", 2, ["12", "16"])]
    ]
    assert coverage_lines("schools", coverage)[3:] == [
        "crosswalk schools: 996 is neither in the file nor a SchoolCode of Aeries' schools; 22 rows of staff with "
        f"PrimaryAeriesSchool 996 are sent as 996 (ID {', '.join(ids_996)} and 2 more); add 996 to the file or "
        "correct the PrimaryAeriesSchool in Aeries",
        "crosswalk schools: 997 is neither in the file nor a SchoolCode of Aeries' schools; 1 row of staff with "
        "PrimaryAeriesSchool 997 is sent as 997 (ID 17); add 997 to the file or correct the PrimaryAeriesSchool in Aeries",
        "crosswalk schools: 998 is neither in the file nor a SchoolCode of Aeries' schools; 2 rows of staff with "
        "PrimaryAeriesSchool 998 are sent as 998 (ID 12, 16); add 998 to the file or correct the PrimaryAeriesSchool "
        "in Aeries",
    ]

    # Staff of a school the run leaves out (a pseudo-school) still carry a code that Aeries lists.
    left_out = crosswalk_coverage(mapping, {"schools": SCHOOLS, "staff": staff}, [{"code": 300, "reasons": []}])
    assert [u["aeries"] for u in left_out["schools"]["unlisted"]] == ["996", "997", "998"]


def test_a_proposal_already_mapped_elsewhere_says_so_and_unrelated_names_get_none():
    assert closest("Jefferson Academy", [("X", "Sunset Elementary")]) is None
    assert closest("Grant High School", [("A", "Grant High"), ("B", "Grand Hotel")])[:2] == ("A", "Grant High")


def test_an_aeries_value_mapped_twice_names_both_lines(tmp_path):
    mapping = load(tmp_path, """
        aeries_school_code,vendor_school_id,vendor_school_name
        100,ALI-1,Sunset
        200,ALI-2,Rosa
        100,ALI-9,Sunset again
    """)
    with pytest.raises(MappingError) as err:
        read_crosswalks(mapping)
    assert str(err.value).endswith(
        "line 4: aeries_school_code 100 is mapped to 'ALI-1' on line 2 and to 'ALI-9' here; keep one"
    )


def test_a_file_without_the_named_columns_lists_its_header(tmp_path):
    mapping = load(tmp_path, "code,id\n100,ALI-1\n")
    with pytest.raises(MappingError) as err:
        read_crosswalks(mapping)
    assert "no column 'aeries_school_code', 'vendor_school_id', 'vendor_school_name' in its header (code, id)" in str(err.value)


def test_a_missing_file_is_a_load_error_unless_optional(tmp_path):
    with pytest.raises(MappingError) as err:
        load(tmp_path, None)
    assert "sample.yml:10: crosswalks.schools.file:" in str(err.value)
    assert "does not exist; create it (header aeries_school_code,vendor_school_id) or set optional: true" in str(err.value)

    optional = load(tmp_path, None, optional=True)
    assert read_crosswalks(optional) == {"schools": {}}
