"""Crosswalk files: reading them, clear errors for broken ones, and the proposals for missing entries."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from aeries_hub.mapping.crosswalk import closest, crosswalk_coverage, describe_unmapped, read_crosswalks
from aeries_hub.mapping.loader import MappingError, load_mapping

MAPPING = """
name: sample
description: A test integration.
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: vendor_sftp, remote_dir: /in}}
source: {tables: [schools]}
crosswalks:
  schools:
    file: crosswalks/schools.csv
    aeries: aeries_school_code
    vendor: vendor_school_id
    OPTIONAL
    check: {table: schools, column: SchoolCode, name: Name, vendor_name: vendor_school_name, where: [{column: SchoolCode, not_in: [0]}]}
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
    assert "sample.yml: crosswalks.schools.file:" in str(err.value)
    assert "does not exist; create it (header aeries_school_code,vendor_school_id) or set optional: true" in str(err.value)

    optional = load(tmp_path, None, optional=True)
    assert read_crosswalks(optional) == {"schools": {}}
