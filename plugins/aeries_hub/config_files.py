"""Reading the project's YAML configuration files (mappings, write-backs, check suites) the same way everywhere.

Every YAML file of the package is read by :func:`read_yaml`: safe YAML with YAML 1.2 booleans, and at most
:data:`MAX_ALIASES` aliases (``*name``) per file. Aliases are shared, not copied, when the file is read, but
anything that walks the document (the JSON Schema check, the mapping loader) visits each one again: a 7 kB
"billion laughs" file of nested aliases would take the DAG processor hours, so it is refused at once.

:func:`read_yaml_with_lines` also gives the line of every key (:class:`KeyLines`), so that a load error reads
``destiny.yml:42: outputs[0].columns[1].max_length: <problem>``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import yaml

#: Aliases one file may hold: a few shared blocks are fine; nested ones grow exponentially when walked.
MAX_ALIASES = 20


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


class _Yaml12Loader(_BaseLoader):  # type: ignore[valid-type,misc]
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
    return read_yaml_with_lines(path, shown=shown, error=error)[0]


def read_yaml_with_lines(path: str | Path, *, shown: str, error: type[Exception]) -> tuple[Any, KeyLines]:
    """The document in ``path`` and the line of each of its keys; errors as :func:`read_yaml`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        _refuse_many_aliases(text, shown, error)
        loader = _Yaml12Loader(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _refuse_repeated_keys(node, shown, error)
            document = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise error(f"{shown}: file not found at {path}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise error(f"{shown}: {at}not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, [], lines)
    return document, KeyLines(shown, lines)


def _refuse_many_aliases(text: str, shown: str, error: type[Exception]) -> None:
    """Counts the aliases in the parser's events (no document is built yet) and refuses the file at the one past
    MAX_ALIASES."""
    aliases = 0
    for event in yaml.parse(text, Loader=_Yaml12Loader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                mark = event.start_mark
                raise error(f"{shown}: line {mark.line + 1}, column {mark.column + 1}: more than {MAX_ALIASES} "
                            "aliases (*name) in one file, refused (nested aliases make a YAML bomb that stalls "
                            "every DAG at parse time): write the repeated values out")


def _refuse_repeated_keys(root: yaml.Node, shown: str, error: type[Exception]) -> None:
    """Refuses a key written twice in one mapping: YAML keeps the last and silently drops the first (a second
    ``where:`` of a record set would replace the first). Checked before ``<<`` merges are applied, so a key that
    overrides a merged one is fine."""
    seen_nodes: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value != "<<":
                    line = key_node.start_mark.line + 1
                    if key_node.value in first_line:
                        raise error(f"{shown}: line {line}: key {key_node.value!r} is written twice in one mapping "
                                    f"(first on line {first_line[key_node.value]}); YAML would keep only the last "
                                    "and drop the first: merge the two or remove one")
                    first_line[key_node.value] = line
                pending.append(value_node)
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)


_Loaded = TypeVar("_Loaded")


def loaded_once_per_content(
    still_valid: Callable[[Any], bool] | None = None,
) -> Callable[[Callable[[Path], _Loaded]], Callable[[str | Path], _Loaded]]:
    """A decorator: ``load(path)`` is done again only when the file's bytes change, or when ``still_valid`` says
    that what it checked of other files (a crosswalk file exists) no longer holds. Every task of a run reads its
    mapping, and the DAG processor reads every file on each parse. The result is shared, so ``load`` returns
    something immutable. A file that cannot be read, or that changed while it was loaded, is loaded without the
    cache (the caller gets its error, or its newest content); a load error is never cached."""

    def decorate(load: Callable[[Path], _Loaded]) -> Callable[[str | Path], _Loaded]:
        cache: OrderedDict[tuple[str, bytes], _Loaded] = OrderedDict()

        def digest(path: Path) -> bytes | None:
            try:
                return hashlib.sha256(path.read_bytes()).digest()
            except OSError:
                return None

        @functools.wraps(load)
        def cached(path: str | Path) -> _Loaded:
            path = Path(path)
            before = digest(path)
            key = (str(path), before or b"")
            if before is not None and key in cache and (still_valid is None or still_valid(cache[key])):
                cache.move_to_end(key)
                return cache[key]
            loaded = load(path)
            if before is not None and digest(path) == before:
                cache[key] = loaded
                if len(cache) > _CACHED_FILES:
                    cache.popitem(last=False)
            return loaded

        return cached

    return decorate


#: Loaded files each loader keeps (the project has about a dozen).
_CACHED_FILES = 64


def _collect_lines(node: yaml.Node, path: list, lines: dict[str, int]) -> None:
    """The line of each key (of each item, for a list) below ``node``, by :func:`format_key_path`."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *shared`: its keys are this mapping's
                for merged in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                    _collect_lines(merged, path, lines)
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            lines.setdefault(format_key_path(path + [key]), key_node.start_mark.line + 1)
            _collect_lines(value_node, path + [key], lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault(format_key_path(path + [index]), item.start_mark.line + 1)
            _collect_lines(item, path + [index], lines)


_LAST_KEY = re.compile(r"(?:\[\d+\]|\.[^.\[]*)$")


@dataclass(frozen=True)
class KeyLines:
    """Where the keys of one file are: ``located("outputs[0].key: <problem>")`` reads
    ``destiny.yml:42: outputs[0].key: <problem>``, the line of the key, or of the closest key above it."""

    shown: str
    lines: dict[str, int]

    def line(self, key_path: str) -> int | None:
        while key_path:
            if key_path in self.lines:
                return self.lines[key_path]
            shorter = _LAST_KEY.sub("", key_path)
            if shorter == key_path:
                return None
            key_path = shorter
        return None

    def located(self, problem: str, key_path: str | None = None) -> str:
        """``problem`` (``<key path>: <what is wrong>``) prefixed by the file and the line of ``key_path`` (by
        default the problem's own key path)."""
        line = self.line(key_path if key_path is not None else problem.split(": ", 1)[0])
        return f"{self.shown}:{line}: {problem}" if line else f"{self.shown}: {problem}"


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice ``name`` was meant to be: the same but for case (StudentId -> StudentID), else the closest
    spelling (difflib), else None. The "did you mean" of every error that names an unknown key, step or column."""
    choices = list(choices)
    by_case = {choice.lower(): choice for choice in choices}
    if name.lower() in by_case:
        return by_case[name.lower()]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'X'?)`` for a ``name`` that is not one of ``choices``, when one is close (:func:`closest`);
    else ""."""
    meant = closest(name, sorted(choices), cutoff)
    return f" (did you mean {meant!r}?)" if meant else ""


def one_line_yaml(value: Any) -> str:
    """``value`` written as YAML on one line (flow style), as an example in the docs: ``{truncate: 42}``."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, sort_keys=False, allow_unicode=True)
    return text.strip().removesuffix("...").strip()


def yaml_text(document: Any) -> str:
    """``document`` written as a YAML file (block style, keys in their order)."""
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def format_key_path(parts: Iterable[Any]) -> str:
    """``outputs[0].columns[3].max_length`` from a JSON Schema error's path; ``(top)`` for the root."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def schema_problems(document: Any, validator, where: str, most: int = 5, lines: KeyLines | None = None) -> list[str]:
    """One line per key path that breaks the JSON Schema: ``<where>: outputs[0].key: <what is wrong>``; with the
    file's ``lines``, ``<where>:<line>: outputs[0].key: <what is wrong>`` and a "did you mean" for an unknown key."""
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if not errors:
        return []
    from jsonschema.exceptions import best_match

    problems = []
    for error in _deepest_per_path(errors)[:most]:
        error = best_match([error]) if error.context else error
        # A map's key that breaks its propertyNames is named with its own path and line.
        named = [error.instance] if "propertyNames" in error.schema_path else []
        described = ("the key " if named else "") + _describe(error, suggest=lines is not None)
        problem = f"{format_key_path([*error.absolute_path, *named])}: {described}"
        if lines is None:
            problems.append(f"{where}: {problem}")
        else:
            # An unknown key is on its own line, below the object the schema error names.
            problems.append(lines.located(problem, format_key_path([*error.absolute_path, *named, *_unknown_keys(error)[:1]])))
    return problems


def _deepest_per_path(errors: list) -> list:
    """For oneOf failures the most useful message is the deepest one, from a branch of the instance's own type
    (an object's unknown key, not "is not of type 'string'"); keep one error per key path, and an unknown key
    besides (the likely cause of a missing one), first."""
    picked: dict[tuple, Any] = {}
    for error in errors:
        candidate = error
        while candidate.context:
            candidate = max(candidate.context, key=lambda e: (len(e.absolute_path), e.validator not in ("type", "enum")))
        key = (tuple(candidate.absolute_path), candidate.validator == "additionalProperties")
        picked.setdefault(key, candidate)
    return sorted(picked.values(), key=lambda e: (list(map(str, e.absolute_path)), e.validator != "additionalProperties"))


def _unknown_keys(error) -> list[str]:
    if error.validator != "additionalProperties":
        return []
    return re.findall(r"'([^']+)' (?:was|were) unexpected", error.message)


def _describe(error, suggest: bool = False) -> str:
    if error.validator == "additionalProperties":
        extra = _unknown_keys(error) or [error.message]
        allowed = sorted(error.schema.get("properties", {}))
        meant = did_you_mean(extra[0], allowed) if suggest else ""
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {extra[0]!r}{meant}{hint}"
    if error.validator == "enum":
        values = [str(choice) for choice in error.validator_value]
        meant = did_you_mean(error.instance, values, cutoff=0.8) if suggest and isinstance(error.instance, str) else ""
        return f"{error.instance!r} is not one of {', '.join(values)}{meant}"
    if error.validator == "oneOf" and all(set(sub) == {"required"} for sub in error.validator_value):
        choices = ", ".join(sub["required"][0] for sub in error.validator_value)
        return f"give exactly one of: {choices}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message
