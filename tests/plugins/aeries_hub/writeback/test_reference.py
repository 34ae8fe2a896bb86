"""writeback.schema.json and docs/writeback-reference.md are written by ``make docs`` from the pydantic models of the
format and the kinds registry; the committed files must be the ones it writes, and the reference must name every
key, kind, field and security area."""

from __future__ import annotations

import json

from aeries_hub.writeback.kinds.base import KINDS
from aeries_hub.writeback.loader import WRITEBACK_SCHEMA
from aeries_hub.writeback.reference import REFERENCE, render, writeback_schema


def test_the_committed_reference_is_the_one_make_docs_writes():
    assert REFERENCE.read_text() == render(), "docs/writeback-reference.md is out of date: run make docs"


def test_the_committed_schema_is_the_one_make_docs_writes():
    assert WRITEBACK_SCHEMA.read_text() == writeback_schema(), "writeback.schema.json is out of date: run make docs"


def test_the_reference_lists_every_key_of_the_schema():
    reference = render()

    def keys(schema: dict, prefix: str = ""):
        for key, sub in schema.get("properties", {}).items():
            yield prefix + key
            below = sub if sub.get("properties") else next(
                (branch for branch in sub.get("oneOf", ()) if branch.get("properties")), {})
            yield from keys(below, f"{prefix}{key}.")

    schema = json.loads(WRITEBACK_SCHEMA.read_text())
    expected = [key for key in keys(schema) if key not in KINDS]
    assert "source.sftp.remote_dir" in expected and "students.contacts.aeries_match" in expected
    for key in expected:
        assert f"| `{key}` |" in reference, key
    for key in keys(schema["$defs"]["fields"]["additionalProperties"]):
        assert f"| `{key}` |" in reference, key


def test_the_reference_gives_each_kind_its_security_areas_and_writable_fields():
    reference = render()
    for key, kind in KINDS.items():
        assert f"### `{key}`" in reference
        for write, record in kind.record_kinds.items():
            row = (f"| {write} | {kind.security_areas[write]} | `{record}` | "
                   f"{', '.join(kind.writable_fields[record])} |")
            assert row in reference, row
    assert "| course request | Student Scheduling Schedules (Course Requests) | `course_requests` | CourseID, " in reference
