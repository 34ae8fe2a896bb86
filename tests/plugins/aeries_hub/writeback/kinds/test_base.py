"""The registry of write-back kinds agrees with the write-back schema, and every shipped file finds its kind."""

from __future__ import annotations

import json

from aeries_hub.paths import WRITEBACKS_DIR
from aeries_hub.writeback.kinds.base import KINDS, kind_of
from aeries_hub.writeback.loader import WRITEBACK_SCHEMA, load_writeback

SCHEMA = json.loads(WRITEBACK_SCHEMA.read_text())


def test_each_section_the_schema_allows_one_of_is_a_registered_kind_and_no_other():
    sections = [next(iter(choice["required"])) for choice in SCHEMA["oneOf"]]
    assert list(KINDS) == sections == ["students", "course_requests", "scores"]


def test_each_kind_writes_only_kinds_of_record_that_guard_allowed_fields_knows():
    allowed = set(SCHEMA["properties"]["guard"]["properties"]["allowed_fields"]["properties"])
    written = {record for kind in KINDS.values() for record in kind.record_kinds.values()}
    assert written == allowed


def test_each_kind_of_write_has_its_security_area_and_each_kind_of_record_its_writable_fields():
    for kind in KINDS.values():
        assert set(kind.security_areas) == set(kind.record_kinds), kind.key
        assert set(kind.writable_fields) == set(kind.record_kinds.values()), kind.key


def test_a_shipped_writeback_writes_only_fields_its_kind_can_write():
    for path in sorted(WRITEBACKS_DIR.glob("*.yml")):
        writeback = load_writeback(path)
        kind = kind_of(writeback)
        for record, fields in kind.written_fields(writeback).items():
            assert set(fields) <= set(kind.writable_fields[record]), (path.name, record)


def test_a_shipped_writeback_is_read_by_the_kind_of_its_section():
    kinds = {}
    for path in sorted(WRITEBACKS_DIR.glob("*.yml")):
        writeback = load_writeback(path)
        assert kind_of(writeback) is KINDS[writeback.kind]
        kinds[path.name] = (writeback.kind, type(writeback.section).__name__)
    assert kinds == {"powerschool_learning.yml": ("scores", "Scores"),
                     "schoolmint_enroll.yml": ("students", "Students"),
                     "xello.yml": ("course_requests", "CourseRequests")}
