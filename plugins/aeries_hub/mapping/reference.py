"""The files written from the definitions of the YAML formats (``make docs``): plugins/aeries_hub/schemas/mapping.schema.json
and plugins/aeries_hub/schemas/checks.schema.json from their pydantic models (:mod:`aeries_hub.mapping.schema_models`,
:mod:`aeries_hub.quality.check_models`), and plugins/aeries_hub/schemas/district_policy.schema.json
(:mod:`aeries_hub.mapping.policy_models`), then docs/mapping-reference.md from the same definitions: every key of
the mapping, check and data-sharing policy file formats, every transform step of the registry (:mod:`aeries_hub.mapping.steps`), every expression
function (:mod:`aeries_hub.mapping.expressions.registry`) and
every Aeries table and column of :mod:`aeries_hub.aeries.tables`, and how a record set is built
(:mod:`aeries_hub.mapping.reference_prose`). A key's example is its own (``examples=`` of its Field), else its
first use in the shipped files (include/); a step's is its registry example. Then the write-back files (:mod:`aeries_hub.writeback.reference`):
plugins/aeries_hub/schemas/writeback.schema.json and docs/writeback-reference.md.

Tests fail when a committed schema or reference is not the one this module writes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import one_line_yaml, read_yaml
from aeries_hub.mapping.expressions import FUNCTIONS
from aeries_hub.mapping.policy_models import policy_schema_document
from aeries_hub.mapping.reference_prose import RECORD_SETS, TABLES_INTRO, table_use
from aeries_hub.mapping.schema_models import mapping_schema_document
from aeries_hub.mapping.steps import STEPS, Example
from aeries_hub.paths import DISTRICT_POLICY, MAPPINGS_DIR, QUALITY_DIR, SCHEMAS_DIR
from aeries_hub.quality.check_models import checks_schema_document
from aeries_hub.reference_text import kind_in_words, object_branch
from aeries_hub.schema_generator import schema_text
from aeries_hub.writeback.reference import write_reference as write_writeback_reference

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "mapping-reference.md"
MAPPING_SCHEMA = SCHEMAS_DIR / "mapping.schema.json"
CHECKS_SCHEMA = SCHEMAS_DIR / "checks.schema.json"
POLICY_SCHEMA = SCHEMAS_DIR / "district_policy.schema.json"
_CHECKS_REF = "checks.schema.json#/$defs/"
_EXAMPLE_WIDTH = 90

#: The sections of the reference, in order: the file's top, then each definition a key refers to; a definition
#: with keys not listed here gets a section after them (:func:`_sections`).
_SECTIONS = ("(top)", "output", "format", "column", "record_set", "lookup", "preference", "condition", "value")


@lru_cache(maxsize=1)
def _sections() -> tuple[str, ...]:
    """:data:`_SECTIONS`, then every other definition of the mapping schema that holds keys."""
    definitions = mapping_schema_document()["$defs"]
    more = [name for name, schema in definitions.items()
            if name not in _SECTIONS and name != "step" and object_branch(schema) is not None]
    return _SECTIONS + tuple(more)


def mapping_schema() -> str:
    """plugins/aeries_hub/schemas/mapping.schema.json as it should be."""
    return schema_text(mapping_schema_document())


def checks_schema() -> str:
    """plugins/aeries_hub/schemas/checks.schema.json as it should be."""
    return schema_text(checks_schema_document())


def policy_schema() -> str:
    """plugins/aeries_hub/schemas/district_policy.schema.json as it should be."""
    return schema_text(policy_schema_document())


def _schemas() -> tuple[dict, dict]:
    return mapping_schema_document(), checks_schema_document()


def _anchor(definition: str) -> str:
    return "top" if definition == "(top)" else definition.replace("_", "-")


def _section_of(schema: dict) -> str | None:
    """The section a ``$ref`` leads to (None: a definition too small for one, shown inline)."""
    ref = schema.get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    if ref.startswith(_CHECKS_REF):
        return f"checks:{name}"
    return name if name in _sections() else None


def _link(ref: str) -> str | None:
    """Where this reference documents a ``$ref``: its own section, the steps or the check files (None: in place)."""
    name = ref.rsplit("/", 1)[-1]
    if ref.startswith(_CHECKS_REF):
        return f"[{name.replace('_', ' ')}](#check-files)"
    if name in _sections():
        return f"[{name}](#{_anchor(name)})"
    if name == "step":
        return "[step](#transform-steps)"
    return None


def _below(schema: dict) -> tuple[str, dict] | None:
    """(path suffix, object) of the keys written below a key: ``.`` for an object, ``[].`` for a list of
    objects, ``.<name>.`` for a map of objects; None when none are (a $ref has its own section)."""
    if "$ref" in schema:
        return None
    if (found := object_branch(schema)) is not None:
        return ".", found
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items and (found := object_branch(items)) is not None:
        return "[].", found
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and "$ref" not in extra and (found := object_branch(extra)) is not None:
        return ".<name>.", found
    return None


def _keys(schema: dict, prefix: str = "") -> Iterator[tuple[str, dict, bool]]:
    """(key path, schema, required) of every key of an object, and of the objects written inside it."""
    required = set(schema.get("required", ()))
    for key, sub in schema.get("properties", {}).items():
        yield prefix + key, sub, key in required
        below = _below(sub)
        if below is not None:
            yield from _keys(below[1], prefix + key + below[0])


def _examples(mapping_schema: dict) -> dict[tuple[str, str], tuple[Any, str]]:
    """(section, key path) -> (first value written, file) over the shipped mappings."""
    definitions = mapping_schema["$defs"]
    found: dict[tuple[str, str], tuple[Any, str]] = {}

    def walk(node: Any, schema: dict, section: str, prefix: str, file: str) -> None:
        if "$ref" in schema:
            target = _section_of(schema)
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name == "step":
                return
            if target is None and name in definitions:
                walk(node, definitions[name], section, prefix, file)
            elif target is not None and not target.startswith("checks:"):
                walk(node, definitions[name], target, "", file)
            return
        if isinstance(node, list):
            items = schema.get("items") or next((b["items"] for b in schema.get("oneOf", ()) if "items" in b), None)
            if not isinstance(items, dict):
                return
            # The keys of a list's objects are written key[].sub (prefix ends with "key.").
            nested = prefix and "$ref" not in items and object_branch(items) is not None
            for item in node:
                walk(item, items, section, prefix[:-1] + "[]." if nested else prefix, file)
            return
        if not isinstance(node, dict):
            return
        own = object_branch(schema)
        for key, value in node.items():
            if own is not None and key in own.get("properties", {}):
                found.setdefault((section, prefix + key), (value, file))
                walk(value, own["properties"][key], section, prefix + key + ".", file)
            elif isinstance(schema.get("additionalProperties"), dict):
                walk(value, schema["additionalProperties"], section, prefix + "<name>.", file)

    for path in sorted(MAPPINGS_DIR.glob("*.yml")):
        walk(read_yaml(path, shown=path.name, error=ValueError), mapping_schema, "(top)", "", path.name)
    return found


def _plain_examples(node: Any, section: str, file: str, found: dict, prefix: str = "") -> None:
    """(section, key path) -> (first value written, file) of the keys of a document whose keys are all written
    in the reference (a check, the policy): objects below a key as ``key.sub``, lists of objects as ``key[].sub``."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        found.setdefault((section, prefix + key), (value, file))
        if isinstance(value, dict):
            _plain_examples(value, section, file, found, prefix + key + ".")
        elif isinstance(value, list):
            for item in value:
                _plain_examples(item, section, file, found, prefix + key + "[].")


def _other_examples() -> dict[tuple[str, str], tuple[Any, str]]:
    """Examples of the check and policy keys: the checks files (include/quality/), the checks of the shipped
    mappings' outputs and the district's policy."""
    found: dict[tuple[str, str], tuple[Any, str]] = {}
    for path in sorted(QUALITY_DIR.glob("*.yml")):
        for checks in (read_yaml(path, shown=path.name, error=ValueError) or {}).values():
            for check in checks:
                _plain_examples(check, "checks:check", path.name, found)
    for path in sorted(MAPPINGS_DIR.glob("*.yml")):
        for output in read_yaml(path, shown=path.name, error=ValueError)["outputs"]:
            for check in output.get("checks") or ():
                _plain_examples(check, "checks:check", path.name, found)
    policy = read_yaml(DISTRICT_POLICY, shown=DISTRICT_POLICY.name, error=ValueError)
    _plain_examples(policy, "policy", DISTRICT_POLICY.name, found)
    return found


def _example(value: Any, key: str | None = None) -> str:
    """``value`` as YAML on one line (``key: value`` when given a key path), cut to a table cell's width."""
    if key is None:
        text = one_line_yaml(value)
    else:
        text = one_line_yaml({key.rsplit(".", 1)[-1].removesuffix("[]"): value})[1:-1]
    return text if len(text) <= _EXAMPLE_WIDTH else text[:_EXAMPLE_WIDTH - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _description(schema: dict, definitions: dict) -> str:
    """A key's description: its own, else that of the definition it refers to or of its object (a model's
    docstring)."""
    if schema.get("description"):
        return schema["description"]
    if "$ref" in schema and schema["$ref"].startswith("#/$defs/"):
        return definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}).get("description", "")
    for branch in schema.get("oneOf", ()):
        if branch.get("description"):
            return branch["description"]
    return ""


def key_rows(schema: dict, section: str, definitions: dict, examples: dict) -> Iterator[tuple[str, dict, str, str, str]]:
    """(key path, schema, default, description, example) of each key of a section of the reference. The example
    is the key's own (``examples=`` of its Field), else its first use in the shipped files, else its default."""
    for path, sub, required in _keys(schema):
        default = "required" if required else (f"`{json.dumps(sub['default'])}`" if "default" in sub else "")
        used = examples.get((section, path))
        if sub.get("examples"):
            shown = f"`{_cell(_example(sub['examples'][0], path))}`"
        elif used:
            shown = f"`{_cell(_example(used[0], path))}` ({used[1]})"
        else:
            shown = f"`{_cell(_example(sub['default'], path))}`" if "default" in sub else ""
        yield path, sub, default, _description(sub, definitions), shown


def _key_table(schema: dict, section: str, definitions: dict, examples: dict) -> list[str]:
    lines = ["| Key | Type | Default | Description | Example |", "|---|---|---|---|---|"]
    for path, sub, default, description, shown in key_rows(schema, section, definitions, examples):
        lines.append(f"| `{path}` | {_cell(kind_in_words(sub, definitions, _link))} | {default} | "
                     f"{_cell(description)} | {shown} |")
    return lines


def sections() -> Iterator[tuple[str, dict, dict, dict]]:
    """(section, object schema, definitions, examples) of every key table of the reference."""
    mapping_schema, checks_schema = _schemas()
    definitions = mapping_schema["$defs"]
    examples = {**_examples(mapping_schema), **_other_examples()}
    for section in _sections():
        own = object_branch(mapping_schema if section == "(top)" else definitions[section])
        if own is not None:
            yield section, own, definitions, examples
    yield "checks:check", checks_schema["$defs"]["check"], checks_schema["$defs"], examples
    yield "policy", policy_schema_document(), {}, examples


def _step_example(example: Example) -> str:
    """``{truncate: 3}``: `"Ridge"` → `"Rid"`, with the other columns the step reads (values quoted, so that a
    blank or a space shows)."""
    def quoted(value: str) -> str:
        return f"`{json.dumps(value, ensure_ascii=False)}`"

    row = ", ".join(f"{column} {quoted(value)}" for column, value in example.row.items())
    crosswalks = ", ".join(f"{name} lists " + ", ".join(f"{quoted(a)} → {quoted(v)}" for a, v in pairs.items())
                           for name, pairs in example.crosswalks.items())
    given = "; ".join(part for part in (row and f"the row's {row}", crosswalks) if part)
    return (f"`{_example(example.written)}`: {quoted(example.value)} → {quoted(example.result)}"
            + (f" ({given})" if given else ""))


def _step_lines() -> list[str]:
    lines = ["A value's `transform` is a list of steps applied in order; a step without an argument is written "
             "as its name (`trim`), one with an argument as `{name: argument}`.", "",
             "| Step | Argument | What it does | Example |", "|---|---|---|---|"]
    for step in STEPS.values():
        argument = ("none" if step.argument is None
                    else kind_in_words(step.argument, {"field_ref": {"type": "string"}}, _link))
        if step.argument is not None and step.argument.get("type") == "object" and step.argument.get("properties"):
            required = set(step.argument.get("required", ()))
            argument = "{" + ", ".join(k + ("" if k in required else "?") for k in step.argument["properties"]) + "}"
        shown = _cell(_step_example(step.example)) if step.example else ""
        lines.append(f"| `{step.name}` | {_cell(argument)} | {_cell(step.description)} | {shown} |")
    return lines


def _function_lines() -> list[str]:
    lines = ["The functions an expression (`expr`, `cases`, `where: [{expr: ...}]`, a key's `{expr: ...}`) may call; "
             "the language is described in [Expressions](mappings.md#expressions). An argument in *italics* is "
             "written as a literal (text in quotes, a number, a list or map of literals), checked when the mapping "
             "loads; `name='x'` is an optional argument and its default.", "",
             "| Function | Arguments | Gives | What it does | Example |", "|---|---|---|---|---|"]
    # The text and list functions, then the date and time ones (aeries_hub/mapping/expressions/dates.py).
    for function in sorted(FUNCTIONS.values(), key=lambda f: f.implementation.__module__.endswith(".dates")):
        arguments = ", ".join(
            (f"*{param.name}*" if param.literal else param.name) + f" ({' or '.join(param.kinds)})"
            + ("" if param.default is None else f" = `{param.default!r}`") for param in function.params)
        arguments += ", ..." if function.variadic else ""
        lines.append(f"| `{function.name}` | {_cell(arguments) or 'none'} | {_cell(function.returns)} | "
                     f"{_cell(function.description)} | `{_cell(function.example)}` |")
    return lines


def _table_lines() -> list[str]:
    lines = [TABLES_INTRO, ""]
    for table in TABLES.values():
        where = "per school" if table.per_school else "district-wide"
        school = (f"tied to a school by {table.school_column}" if table.school_column
                  else "not tied to a school (source.school_codes keeps all its rows)")
        lines += [f"### `{table.name}`", "",
                  f"Endpoint `{table.endpoint}` ({where}{', paged' if table.paged else ''}), security area "
                  f"{table.security_area}, key {', '.join(table.key)}; {school}.", "", table_use(table), "",
                  "| Column | Type |", "|---|---|"]
        for name, kind in table.columns:
            added = " (added by the hub)" if name in table.added_columns else ""
            if not isinstance(kind, dict):
                lines.append(f"| `{name}` | {kind}{added} |")
                continue
            lines.append(f"| `{name}` | list of records{added}, read with `explode` (`{{column: {name}, as: x}}`: "
                         "its fields as `x.Field`) |")
            lines += [f"| `{name}[].{field}` | {field_kind} |" for field, field_kind in kind["list"].items()]
        lines.append("")
    return lines


def render() -> str:
    """The reference, as docs/mapping-reference.md holds it."""
    mapping_schema, checks_schema = _schemas()
    definitions = mapping_schema["$defs"]
    examples = {**_examples(mapping_schema), **_other_examples()}
    lines = ["# Mapping file reference", "",
             "<!-- Written by `make docs` (aeries_hub/mapping/reference.py) from the models of the formats "
             "(aeries_hub/mapping/schema_models.py, output_models.py, aeries_hub/quality/check_models.py), "
             "the step registry (aeries_hub/mapping/steps.py), the expression functions (aeries_hub/mapping/expressions/) "
             "and the Aeries table registry (aeries_hub/aeries/tables.py); "
             "do not edit. -->", "",
             "Every key a mapping file (include/mappings/*.yml) may hold. How to write one: "
             "[Writing a mapping file](mappings.md). A key path `a[].b` is the key `b` of each item of the list `a`; "
             "`a.<name>.b` the key `b` of each entry of the map `a`. An example names the shipped file it is "
             "taken from; the others are written for this page. How the keys work together: "
             "[How a record set is built](#record-sets).", ""]
    for section in _sections():
        schema = mapping_schema if section == "(top)" else definitions[section]
        if section == "(top)":
            lines += ['## The file <a id="top"></a>', ""]
        else:
            lines += [f"## {section}", ""] + ([schema["description"], ""] if schema.get("description") else [])
        own = object_branch(schema)
        if own is None:
            lines += [f"A {section} is {kind_in_words(schema, definitions, _link)}.", ""]
            continue
        if own is not schema:
            lines += [f"A {section} is {kind_in_words(schema, definitions, _link)}; as an object:", ""]
        lines += _key_table(own, section, definitions, examples) + [""]
    lines += RECORD_SETS + [""]
    lines += ["## Transform steps", ""] + _step_lines() + [""]
    lines += ["## Expression functions", ""] + _function_lines() + [""]
    lines += ["## Check files", "", checks_schema["description"], ""]
    lines += _key_table(checks_schema["$defs"]["check"], "checks:check", checks_schema["$defs"], examples) + [""]
    policy = policy_schema_document()
    lines += ['## The district\'s data-sharing policy <a id="district-policy"></a>', "",
              f"include/district_policy.yml ([Data sharing](operating.md#data-sharing)). {policy['description']}", ""]
    lines += _key_table(policy, "policy", {}, examples) + [""]
    lines += ["## Aeries tables", ""] + _table_lines()
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    MAPPING_SCHEMA.write_text(mapping_schema())
    CHECKS_SCHEMA.write_text(checks_schema())
    POLICY_SCHEMA.write_text(policy_schema())
    REFERENCE.write_text(render())
    print(f"wrote {MAPPING_SCHEMA}, {CHECKS_SCHEMA}, {POLICY_SCHEMA} and {REFERENCE}")
    write_writeback_reference()
