"""What the generated references (docs/mapping-reference.md by :mod:`aeries_hub.mapping.reference`,
docs/writeback-reference.md by :mod:`aeries_hub.writeback.reference`) say of a key's JSON Schema: its type in
words and the object whose keys it holds. Each reference gives its own ``link`` rule: which ``$ref`` has a
section of its own, and under which anchor."""

from __future__ import annotations

import json
from collections.abc import Callable

#: A reference's link for a ``$ref`` (``[fields](#fields)``), or None: the definition is described in place.
Link = Callable[[str], str | None]


def kind_in_words(schema: dict, definitions: dict, link: Link) -> str:
    """The type of a key, in words: ``integer``, ``list of [condition](#condition)``, ``one of: a, b``."""
    if "$ref" in schema:
        linked = link(schema["$ref"])
        if linked is not None:
            return linked
        return kind_in_words(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, link)
    if "enum" in schema:
        return "one of: " + ", ".join(f"`{json.dumps(v) if not isinstance(v, str) else v}`" for v in schema["enum"])
    if "oneOf" in schema or "anyOf" in schema:
        branches = [b for b in schema.get("oneOf") or schema.get("anyOf") or () if set(b) - {"required"}]
        if branches:
            return " or ".join(dict.fromkeys(kind_in_words(b, definitions, link) for b in branches))
    kind = schema.get("type")
    if kind == "array":
        return "list of " + kind_in_words(schema.get("items", {}), definitions, link)
    if kind == "object":
        if isinstance(schema.get("additionalProperties"), dict) and not schema.get("properties"):
            return "map of name to " + kind_in_words(schema["additionalProperties"], definitions, link)
        return "object"
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or "any"


def object_branch(schema: dict) -> dict | None:
    """The object with keys a key holds (directly, or as one branch of a ``oneOf``); None: no keys below it."""
    if schema.get("properties"):
        return schema
    return next((branch for branch in schema.get("oneOf", ()) if branch.get("properties")), None)
