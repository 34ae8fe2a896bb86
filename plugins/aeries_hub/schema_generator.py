"""The JSON Schema files of plugins/aeries_hub/schemas/, written from the pydantic models that define each YAML format
(:mod:`aeries_hub.mapping.schema_models`, :mod:`aeries_hub.quality.check_models`,
:mod:`aeries_hub.writeback.schema_models`) by ``make docs``.

The files keep the shape editors and the loaders read: no titles; a key that may be left out has its plain type
(a file leaves it out, it never writes null); unions are ``oneOf`` (a union of plain types a ``type`` list);
enums have no ``type``; a map's key pattern is ``propertyNames``; only the types named with ``TypeAliasType`` are
``$defs`` (``output``, ``value``, ...), every model is written inline where it is used.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import core_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_VALUES = ("items", "additionalProperties", "propertyNames", "not", "contains")
_SCHEMA_LISTS = ("oneOf", "anyOf", "allOf", "prefixItems")
_NULL = {"type": "null"}
#: The order of the keywords of each schema in the files: what it is, its constraints, then what is inside.
_KEYWORD_ORDER = ("description", "type", "$ref", "enum", "pattern", "minLength", "maxLength", "minimum",
                  "exclusiveMinimum", "maximum", "minItems", "maxItems", "uniqueItems", "minProperties",
                  "maxProperties", "default", "examples", "additionalProperties", "propertyNames", "required", "items",
                  "properties", "dependentRequired", "oneOf", "allOf", "not", "$defs")


class ClosedModel(BaseModel):
    """An object of a YAML format that holds only the keys listed (``additionalProperties: false``); a key that is
    a Python keyword is an alias (``from_ = Field(alias="from")``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FileSchema(GenerateJsonSchema):
    """pydantic's JSON Schema generator, writing the conventions of plugins/aeries_hub/schemas/ (see the module)."""

    def generate(self, schema: core_schema.CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        generated = super().generate(schema, mode)
        definitions = generated.pop("$defs", {})
        written = _written(generated, definitions)
        named = {name: _written(value, definitions) for name, value in definitions.items() if not _is_model(name)}
        return {**written, "$defs": named} if named else written

    def _sort_recursive(self, value: Any, parent_key: str | None = None) -> Any:
        # An example is YAML as a file writes it: its keys keep their order (pydantic sorts them otherwise).
        return value if parent_key == "examples" else super()._sort_recursive(value, parent_key)

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return {"oneOf": [_NULL, self.generate_inner(schema["schema"])]}

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if "default" in schema and schema["default"] is None:
            return _without_null(self.generate_inner(schema["schema"]))
        return super().default_schema(schema)

    def union_schema(self, schema: core_schema.UnionSchema) -> JsonSchemaValue:
        generated = super().union_schema(schema)
        branches = generated.pop("anyOf", None)
        if branches is None:
            return generated
        if all(set(branch) == {"type"} and isinstance(branch["type"], str) for branch in branches):
            return {**generated, "type": [branch["type"] for branch in branches]}
        return {**generated, "oneOf": branches}

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        generated = super().literal_schema(schema)
        generated.pop("type", None)
        return generated

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        generated: JsonSchemaValue = {"type": "object"}
        names = self.generate_inner(schema["keys_schema"]) if "keys_schema" in schema else {}
        names = {key: value for key, value in names.items() if key not in ("type", "title")}
        values = self.generate_inner(schema["values_schema"]) if "values_schema" in schema else {}
        if names:
            generated["propertyNames"] = names
        if values:
            generated["additionalProperties"] = values
        self.update_with_validations(generated, schema, self.ValidationsMapping.object)
        return generated

    def list_schema(self, schema: core_schema.ListSchema) -> JsonSchemaValue:
        generated = super().list_schema(schema)
        if generated.get("items") == {}:
            del generated["items"]
        return generated

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        generated = super().model_schema(schema)
        if generated.get("additionalProperties") is True:
            del generated["additionalProperties"]
        if "description" in generated:  # a model's docstring, wrapped in the source
            generated["description"] = " ".join(generated["description"].split())
        return generated


def schema_document(model: type[BaseModel], schema_id: str, title: str,
                    definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON Schema file of ``model``'s format; ``definitions`` replace the ``$defs`` of the same names (a
    definition written elsewhere, e.g. the step registry's)."""
    document = {"$schema": DRAFT, "$id": schema_id, "title": title,
                **model.model_json_schema(by_alias=True, schema_generator=FileSchema)}
    document.get("$defs", {}).update(definitions or {})
    return _relative_refs(document, schema_id.rsplit("/", 1)[0] + "/")


def schema_text(document: dict[str, Any]) -> str:
    """A schema document as its file holds it."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _relative_refs(node: Any, folder: str) -> Any:
    """``node`` with each ``$ref`` to a file of ``folder`` written relative to it (as editors resolve them)."""
    if isinstance(node, list):
        return [_relative_refs(item, folder) for item in node]
    if not isinstance(node, dict):
        return node
    relative = {key: _relative_refs(value, folder) for key, value in node.items()}
    if isinstance(relative.get("$ref"), str):
        relative["$ref"] = relative["$ref"].removeprefix(folder)
    return relative


def _is_model(definition: str) -> bool:
    """pydantic names a model's definition after its class; a ``TypeAliasType``'s after its name (snake_case)."""
    return definition[:1].isupper()


def _without_null(schema: JsonSchemaValue) -> JsonSchemaValue:
    branches = schema.get("oneOf")
    if not branches or _NULL not in branches:
        return schema
    rest = [branch for branch in branches if branch != _NULL]
    outside = {key: value for key, value in schema.items() if key != "oneOf"}
    return {**outside, **rest[0]} if len(rest) == 1 else {**outside, "oneOf": rest}


def _written(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` without titles, with each model's ``$ref`` replaced by the model's schema, its keywords in the
    files' order."""
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/") and _is_model(ref.rsplit("/", 1)[-1]):
        beside = {key: value for key, value in schema.items() if key != "$ref"}
        return _written({**definitions[ref.rsplit("/", 1)[-1]], **beside}, definitions)
    written: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue
        if key in _SCHEMA_MAPS:
            written[key] = {name: _written(sub, definitions) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            written[key] = _written(value, definitions)
        elif key in _SCHEMA_LISTS:
            written[key] = [_written(sub, definitions) for sub in value]
        else:
            written[key] = value
    order = {keyword: index for index, keyword in enumerate(_KEYWORD_ORDER)}
    return dict(sorted(written.items(), key=lambda item: order.get(item[0], len(order))))
