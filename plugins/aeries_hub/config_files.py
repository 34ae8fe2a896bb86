"""Reading the project's YAML configuration files (mappings, write-backs, check suites) the same way everywhere.

Every YAML file of the package is read by :func:`read_yaml`: safe YAML with YAML 1.2 booleans, and at most
:data:`MAX_ALIASES` aliases (``*name``) per file. Aliases are shared, not copied, when the file is read, but
anything that walks the document (the JSON Schema check, the mapping loader) visits each one again: a 7 kB
"billion laughs" file of nested aliases would take the DAG processor hours, so it is refused at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import yaml

#: Aliases one file may hold: a few shared blocks are fine; nested ones grow exponentially when walked.
MAX_ALIASES = 20


class _TooManyAliases(yaml.composer.ComposerError):
    pass


class _Yaml12Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans: only true/false, so `on:`, `yes`, `N` or `off` stay text; at most
    MAX_ALIASES aliases."""

    _aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _TooManyAliases(None, None, f"more than {MAX_ALIASES} aliases (*name)",
                                      self.peek_event().start_mark)
        return super().compose_node(parent, index)


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_yaml(path: str | Path, *, shown: str, error: type[Exception]) -> Any:
    """The document in ``path``; a missing file or bad YAML raises ``error`` with ``shown`` and the line."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Yaml12Loader)
    except FileNotFoundError:
        raise error(f"{shown}: file not found at {path}") from None
    except _TooManyAliases as exc:
        mark = exc.problem_mark
        raise error(f"{shown}: line {mark.line + 1}, column {mark.column + 1}: more than {MAX_ALIASES} aliases (*name) "
                    "in one file, refused (nested aliases make a YAML bomb that stalls every DAG at parse time): "
                    "write the repeated values out") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error(f"{shown}: {at}not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def format_key_path(parts: Iterable[Any]) -> str:
    """``outputs[0].columns[3].max_length`` from a JSON Schema error's path; ``(top)`` for the root."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def schema_problems(document: Any, validator, where: str, most: int = 5) -> list[str]:
    """One line per key path that breaks the JSON Schema: ``<where>: outputs[0].key: <what is wrong>``."""
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return []
    from jsonschema.exceptions import best_match

    lines = []
    for error in _deepest_per_path(errors)[:most]:
        error = best_match([error]) if error.context else error
        lines.append(f"{where}: {format_key_path(error.absolute_path)}: {_describe(error)}")
    return lines


def _deepest_per_path(errors: list) -> list:
    """For oneOf failures the most useful message is the deepest one; keep one error per key path."""
    picked: dict[tuple, Any] = {}
    for error in errors:
        candidate = error
        while candidate.context:
            candidate = max(candidate.context, key=lambda e: len(e.absolute_path))
        key = tuple(candidate.absolute_path)
        picked.setdefault(key, candidate)
    return list(picked.values())


def _describe(error) -> str:
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' (?:was|were) unexpected", error.message) or [error.message]
        allowed = sorted(error.schema.get("properties", {}))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {extra[0]!r}{hint}"
    if error.validator == "enum":
        return f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "oneOf" and all(set(sub) == {"required"} for sub in error.validator_value):
        choices = ", ".join(sub["required"][0] for sub in error.validator_value)
        return f"give exactly one of: {choices}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message
