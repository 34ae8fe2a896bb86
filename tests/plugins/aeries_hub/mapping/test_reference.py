"""docs/mapping-reference.md, mapping.schema.json, checks.schema.json and district_policy.schema.json are written by ``make docs`` from the
pydantic models of the formats and the registries; the committed files must be the ones it writes."""

from __future__ import annotations

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.reference import (
    CHECKS_SCHEMA,
    MAPPING_SCHEMA,
    POLICY_SCHEMA,
    REFERENCE,
    checks_schema,
    mapping_schema,
    policy_schema,
    render,
)
from aeries_hub.mapping.steps import STEPS


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
    # Examples come from the shipped mappings; a key they do not use shows its default.
    assert "| `max_length` | integer |  |  | `max_length: 10` (destiny.yml) |" in reference
    assert "`max_removed_percent: 10` |" in reference
