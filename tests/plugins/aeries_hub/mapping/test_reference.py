"""docs/mapping-reference.md, mapping.schema.json, checks.schema.json and district_policy.schema.json are written by ``make docs`` from the
pydantic models of the formats and the registries; the committed files must be the ones it writes."""

from __future__ import annotations

import textwrap
import typing

import pandas as pd
from pydantic import BaseModel

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.policy_models import DistrictPolicyFile
from aeries_hub.mapping.reference import (
    CHECKS_SCHEMA,
    MAPPING_SCHEMA,
    POLICY_SCHEMA,
    REFERENCE,
    checks_schema,
    key_rows,
    mapping_schema,
    policy_schema,
    render,
    sections,
)
from aeries_hub.mapping.reference_prose import ANTI_JOIN_EXAMPLE
from aeries_hub.mapping.schema_models import MappingFile
from aeries_hub.mapping.steps import STEPS
from aeries_hub.quality.aeries_sources import sort_by_key
from aeries_hub.quality.check_models import Check
from tests.plugins.aeries_hub.mapping.mapping_files import mapping_with, rows


def test_the_committed_reference_is_the_one_make_docs_writes():
    assert REFERENCE.read_text() == render(), "docs/mapping-reference.md is out of date: run make docs"


def test_the_committed_schemas_are_the_ones_make_docs_writes():
    assert MAPPING_SCHEMA.read_text() == mapping_schema(), "mapping.schema.json is out of date: run make docs"
    assert CHECKS_SCHEMA.read_text() == checks_schema(), "checks.schema.json is out of date: run make docs"
    assert POLICY_SCHEMA.read_text() == policy_schema(), "district_policy.schema.json is out of date: run make docs"


def test_the_reference_lists_every_step_table_and_column_and_the_keys_the_old_prose_missed():
    reference = render()
    for name in STEPS:
        assert f"| `{name}` |" in reference, name
    for table in TABLES.values():
        assert f"### `{table.name}`" in reference
        for column in table.column_names:
            assert f"| `{column}` |" in reference, (table.name, column)
    for key in ("| `settings` |", "| `explode` |", "| `explode.where` |", "| `blank_unless` |",
                "| `blank_if_equal_to` |", "| `max_length` | integer |"):
        assert key in reference, key
    # Examples are a key's own (examples= of its Field), else its first use in the shipped files.
    assert ("| `max_length` | integer |  | A row with a longer value breaks the column's rules. | `max_length: 10` "
            "(destiny.yml) |") in reference
    assert "| `guard.min_rows` | integer | `10` | A change of fewer rows than this never needs approval" in reference
    assert "| `calendar.blackouts[].start` | string | required | Its first day, YYYY-MM-DD. | `start: '2026-06-12'` |" in reference


def _models(model: type[BaseModel], seen: list) -> list:
    """``model`` and every model its fields hold, however deep (lists, maps, unions, named types)."""
    def inside(annotation) -> list[type[BaseModel]]:
        found = [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
        for part in (*typing.get_args(annotation), getattr(annotation, "__value__", None)):
            if part is not None:
                found += inside(part)
        return found

    if model not in seen:
        seen.append(model)
        for field in model.model_fields.values():
            for held in inside(field.annotation):
                _models(held, seen)
    return seen


def test_every_key_of_every_model_is_in_the_reference_with_a_description_and_an_example():
    """A key added to a model without documentation fails here: give its Field a description and, unless a
    shipped file (include/) uses the key, examples=[...]."""
    rows = {(section, path): (description, example)
            for section, schema, definitions, examples in sections()
            for path, _schema, _default, description, example in key_rows(schema, section, definitions, examples)}
    undocumented = [f"{section}: {path}" for (section, path), (description, example) in rows.items()
                    if not description or not example]
    assert undocumented == [], "give these keys Field(description=..., examples=[...]): " + ", ".join(undocumented)
    written = {path.rsplit(".", 1)[-1].removesuffix("[]") for _section, path in rows}
    models = _models(MappingFile, []) + _models(Check, []) + _models(DistrictPolicyFile, [])
    missing = [f"{model.__name__}.{field.alias or name}" for model in models
               for name, field in model.model_fields.items() if (field.alias or name) not in written]
    assert missing == [], f"keys of the models the reference does not list: {missing}"
    assert len(models) >= 30


def test_the_reference_shows_each_step_with_its_example():
    reference = render()
    steps_section = reference.split("## Transform steps", 1)[1].split("\n## ", 1)[0]
    step_rows = {line.split("`")[1]: line for line in steps_section.splitlines() if line.startswith("| `")}
    for name, step in STEPS.items():
        assert f'`: `"{step.example.value}"` → `"{step.example.result}"`' in step_rows[name], name
    assert "| `pad_left` | {width, char?} | Pads each value that is not blank on the left to width characters with char " \
           "(default 0). | `{pad_left: {width: 6}}`: `\"101\"` → `\"000101\"` |" in reference
    assert '`{blank_if_equal_to: SchoolCode}`: `"994"` → `""` (the row\'s SchoolCode `"994"`) |' in reference
    assert '`{crosswalk: sites}`: `"994"` → `"RHS"` (sites lists `"994"` → `"RHS"`) |' in reference


def test_the_reference_lists_the_fields_of_each_list_column():
    reference = render()
    for table in TABLES.values():
        for name, kind in table.columns:
            for field in kind["list"] if isinstance(kind, dict) else ():
                assert f"| `{name}[].{field}` | {kind['list'][field]} |" in reference, (table.name, name, field)
    assert "| `SectionStaffMembers[].IsPrimaryTeacher` | bool |" in reference
    assert ("Endpoint `schools/{school_code}/sections` (per school), security area Master Schedule, key "
            "SchoolCode, SectionNumber; tied to a school by SchoolCode.") in reference


# ------------------------------------------------------------------ what "How a record set is built" says


def _one_file(records: str) -> str:
    return "outputs:\n  - file: out.csv\n    format: {}\n    key: [id]\n    columns: [{name: id}, {name: school}]\n" \
           "    records:\n" + textwrap.indent(records, "      ") + "\n"


def test_the_anti_join_example_keeps_the_rows_the_lookup_found_nothing_for(tmp_path, tables):
    """`where` runs after the lookups: the reference's example keeps the students no portal contact names."""
    mapping = mapping_with(tmp_path, _one_file(ANTI_JOIN_EXAMPLE), tables="[students, contacts]")
    contacts = pd.DataFrame({"StudentID": pd.array([101, 102, 102], dtype="Int64"),
                             "SequenceNumber": pd.array([1, 1, 2], dtype="Int64"),
                             "AccessToPortal": ["Y", "N", " "]})
    assert rows(mapping, {**tables, "contacts": contacts}) == [{"id": "102", "school": ""}, {"id": "103", "school": ""}]


def test_a_lookup_takes_the_first_match_in_the_key_order_of_its_table(tmp_path):
    """A lookup into students on StudentID alone takes the row of the lowest SchoolCode: the extracted tables are
    in key order (quality.aeries_sources.sort_by_key) whatever order Aeries answered in."""
    mapping = mapping_with(tmp_path, _one_file(
        "- name: contacts\n  from: contacts\n  lookups: {student: {table: students, 'on': {StudentID: StudentID}}}\n"
        "  values: {id: {source: SequenceNumber}, school: {source: student.SchoolCode}}"),
        tables="[students, contacts]")
    answered = pd.DataFrame({"SchoolCode": pd.array([995, 994, 993], dtype="Int64"),
                             "StudentID": pd.array([101, 101, 102], dtype="Int64")})
    students = sort_by_key(answered, TABLES["students"].key)
    contacts = pd.DataFrame({"StudentID": pd.array([101], dtype="Int64"), "SequenceNumber": pd.array([1], dtype="Int64")})
    assert rows(mapping, {"students": students, "contacts": contacts}) == [{"id": "1", "school": "994"}]
