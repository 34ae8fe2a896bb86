"""Student programs through a whole run: a mapping that reads the `programs` table (Aeries' Programs end point)
is extracted from the emulator, validated, built and delivered over SFTP under ``dag.test()``; the delivered file
is compared with one computed here from the district's data files, independently of the mapping engine."""

from __future__ import annotations

import json

import pytest

from tests.dags.independent import day, natural, s

pytestmark = pytest.mark.e2e

PROGRAMS_MAPPING = """\
name: programs_check
description: Every program record of each student of a school (special education, 504, meals, GATE, foster).
schedule: null
aeries: {conn_id: aeries_default}
delivery: {sftp: {conn_id: xello_sftp, remote_dir: xello}}
source: {tables: [schools, students, programs]}
sharing:
  allow:
    programs.ProgramCode: "the test vendor's accommodations need each student's programs"
    programs.EligibilityStartDate: "the test vendor shows when a program began"
    programs.EligibilityEndDate: "the test vendor shows when a program ended"
outputs:
  - file: programs.csv
    format: {}
    key: [student, school, code, start, end]
    columns: [{name: student}, {name: school}, {name: code}, {name: start}, {name: end}]
    records:
      - name: programs
        from: programs
        values:
          student: {source: StudentID}
          school: {source: SchoolCode}
          code: {source: ProgramCode}
          start: {source: EligibilityStartDate, transform: [{date: "%Y-%m-%d"}]}
          end: {source: EligibilityEndDate, transform: [{date: "%Y-%m-%d"}]}
"""


def test_a_mapping_delivers_every_students_programs(tmp_path, monkeypatch, airflow_db):
    from aeries_hub import paths
    from aeries_sandbox.emulator import generate_district
    from tests.dags.stacks import run_on_district

    district = tmp_path / "district"
    generate_district(80, 5).write(district)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "programs_check.yml").write_text(PROGRAMS_MAPPING, encoding="utf-8")
    monkeypatch.setattr(paths, "MAPPINGS_DIR", mappings)
    load = lambda name: json.loads((district / f"{name}.json").read_text(encoding="utf-8"))  # noqa: E731
    programs: dict[str, list[dict]] = {}
    for row in load("programs"):
        programs.setdefault(s(row["StudentID"]), []).append(row)
    rows = {(s(student["StudentID"]), s(student["SchoolCode"]), s(p["ProgramCode"]), day(p["EligibilityStartDate"]),
             day(p["EligibilityEndDate"]))
            for student in load("students") for p in programs.get(s(student["StudentID"]), [])}
    expected = "student,school,code,start,end\n" + "".join(
        ",".join(row) + "\n" for row in sorted(rows, key=lambda row: natural(*row)))

    outcome = run_on_district(tmp_path, district, "aeries_to_programs_check", folder="xello")

    assert outcome.dag_run.state == "success"
    assert outcome.files["programs.csv"].decode() == expected
    assert len(rows) > 60 and {row[2] for row in rows} == {"101", "127", "144", "181", "182", "190"}
    assert outcome.report["extracted"]["programs"] == len(rows)  # one request per school, every record
    assert outcome.report["sources"]["programs"]["rejected"] == 0
