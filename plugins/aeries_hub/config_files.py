"""Reading the project's YAML configuration files (mappings, check suites) the same way everywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import yaml


class _Yaml12Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans: only true/false, so `on:`, `yes`, `N` or `off` stay text."""


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
