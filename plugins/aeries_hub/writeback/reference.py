"""The write-back files ``make docs`` writes (through :mod:`aeries_hub.mapping.reference`) from the definitions the
loader checks a write-back file against: plugins/aeries_hub/schemas/writeback.schema.json from the pydantic models of the
format (:mod:`aeries_hub.writeback.schema_models`), and docs/writeback-reference.md: every key of the format, and
per kind of the registry (:mod:`aeries_hub.writeback.kinds`) its section, the Aeries fields it can write and the
security area each of its writes needs.

Tests fail when the committed schema or reference is not the one this module writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from aeries_hub.reference_text import kind_in_words, object_branch
from aeries_hub.schema_generator import schema_text
from aeries_hub.writeback.kinds.base import KINDS
from aeries_hub.writeback.loader import WRITEBACK_SCHEMA
from aeries_hub.writeback.schema_models import writeback_schema_document
from aeries_hub.writeback.spec import SOURCES

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "writeback-reference.md"
#: Where the mapping reference documents a ``$ref`` into mapping.schema.json (a contact's ``aeries_match`` values).
_MAPPING_REFERENCE = "mapping-reference.md"


def writeback_schema() -> str:
    """plugins/aeries_hub/schemas/writeback.schema.json as it should be."""
    return schema_text(writeback_schema_document())


def _resolved(schema: dict, definitions: dict) -> dict:
    """A key's schema with its local ``$ref`` followed (the key's own description and default first)."""
    ref = schema.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return schema
    return {**definitions[ref.rsplit("/", 1)[-1]], **{k: v for k, v in schema.items() if k != "$ref"}}


def _link(ref: str) -> str | None:
    """Where this reference documents a ``$ref``: its fields section, or the mapping reference (None: in place)."""
    if ref == "#/$defs/fields":
        return "[fields](#fields)"
    if not ref.startswith("#/"):
        name = ref.rsplit("/", 1)[-1]
        return f"[{name}]({_MAPPING_REFERENCE}#{name}) (as in a mapping)"
    return None


def _keys(schema: dict, prefix: str = "") -> Iterator[tuple[str, dict, bool]]:
    """(key path, schema, required) of every key of an object, and of the objects written inside it."""
    required = set(schema.get("required", ()))
    for key, sub in schema.get("properties", {}).items():
        yield prefix + key, sub, key in required
        below = object_branch(sub) if "$ref" not in sub else None
        if below is not None:
            yield from _keys(below, f"{prefix}{key}.")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _key_table(schema: dict, definitions: dict, prefix: str = "") -> list[str]:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for path, sub, required in _keys(schema, prefix):
        shown = _resolved(sub, definitions)
        default = "required" if required else (f"`{json.dumps(shown['default'])}`" if "default" in shown else "")
        lines.append(f"| `{path}` | {_cell(kind_in_words(sub, definitions, _link))} | {default} | "
                     f"{_cell(shown.get('description', ''))} |")
    return lines


def _kind_lines(schema: dict, definitions: dict) -> list[str]:
    lines = []
    for key, kind in KINDS.items():
        section = schema["properties"][key]
        lines += [f"### `{key}`", "", section.get("description", ""), ""]
        lines += _key_table(section, definitions, f"{key}.") + [""]
        lines += ["| Kind of write | Security area | Kind of record (`guard.allowed_fields`) | Aeries fields it can "
                  "write |", "|---|---|---|---|"]
        for write, record in kind.record_kinds.items():
            fields = ", ".join(kind.writable_fields[record])
            lines.append(f"| {write} | {kind.security_areas[write]} | `{record}` | {fields} |")
        lines.append("")
    return lines


def render() -> str:
    """The reference, as docs/writeback-reference.md holds it."""
    schema = writeback_schema_document()
    definitions = schema["$defs"]
    common = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k not in KINDS}}
    fields = definitions["fields"]
    lines = ["# Write-back file reference", "",
             "<!-- Written by `make docs` (aeries_hub/writeback/reference.py) from the models of the format "
             "(aeries_hub/writeback/schema_models.py) and the write-back kinds (aeries_hub/writeback/kinds/); "
             "do not edit. -->", "",
             "Every key a write-back file (include/writebacks/*.yml) may hold. What write-backs do: "
             "[Write-backs into Aeries](writebacks.md). A key path `a.b` is the key `b` of the object `a`. A path "
             "(of a vendor record) is dotted for a jsonl export (`students.state_id`), a column name for a csv one.",
             "", '## The file <a id="top"></a>', "",
             f"A file gives exactly one of the sections {', '.join(f'`{key}`' for key in KINDS)} (see "
             f"[Kinds](#kinds)), and exactly one source, {' or '.join(f'`source.{key}`' for key in SOURCES)}.", ""]
    lines += _key_table(common, definitions) + [""]
    lines += ["## Kinds", "",
              "What a file writes: the key of its section, the Aeries security area each kind of write needs of "
              "the API certificate, and the fields each kind of record can be given (list the ones the file writes "
              "under `guard.allowed_fields`).", ""]
    lines += _kind_lines(schema, definitions)
    lines += ["## fields", "", fields["description"], "",
              "Each value is a path (text), or an object:", ""]
    lines += _key_table(fields["additionalProperties"], definitions) + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_reference() -> None:
    """Write plugins/aeries_hub/schemas/writeback.schema.json and docs/writeback-reference.md."""
    WRITEBACK_SCHEMA.write_text(writeback_schema())
    REFERENCE.write_text(render())
    print(f"wrote {WRITEBACK_SCHEMA} and {REFERENCE}")
