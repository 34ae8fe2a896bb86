"""The district's data-sharing policy (include/district_policy.yml, its format in
:mod:`aeries_hub.mapping.policy_models`) and the Aeries fields a mapping sends.

A mapping sends a field when the value of one of its delivered columns reads it (:func:`field_reads`): as its
source, in a template, a ``first_of`` fallback, a transform step's argument, through a lookup (``school.Name`` is
``schools.Name``) or an exploded list (its fields are the list column's); and when the field chooses which rows a
file holds (a ``where``, ``prefer`` or lookup condition on it): the vendor learns it from who is in the file. A restricted field sent without an
allowance in the mapping's ``sharing.allow``, and an allowance for a field the mapping does not send, are load
errors (:func:`sharing_problems`). The disclosure log names each delivered column with the fields it came from
(:func:`fields_sent`). Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path

from aeries_hub import paths
from aeries_hub.aeries.tables import TABLES
from aeries_hub.config_files import closest, loaded_once_per_content, read_yaml_with_lines, schema_problems
from aeries_hub.mapping.models import DistrictPolicy, Mapping, MappingError, Output, RecordSet
from aeries_hub.mapping.reads import value_reads

POLICY_SCHEMA = paths.SCHEMAS_DIR / "district_policy.schema.json"
#: How an allowance is written, in the error of a mapping that sends a restricted field without one.
ALLOWANCE_EXAMPLE = 'sharing: {{allow: {{{field}: "<why the vendor needs it, citing its documentation>"}}}}'


def district_policy() -> DistrictPolicy:
    """The policy every mapping is checked against: ``district_policy.yml`` in the include folder
    (AERIES_HUB_INCLUDE_DIR)."""
    return load_district_policy(paths.DISTRICT_POLICY)


@loaded_once_per_content()
def load_district_policy(path: Path) -> DistrictPolicy:
    """Read and check the policy in ``path``; MappingError naming the file, the line and the key."""
    if not path.is_file():
        raise MappingError(f"{path.name}: file not found at {path}: every mapping is checked against the district's "
                           "data-sharing policy; restore the project's include/district_policy.yml or write one "
                           "(docs/operating.md, Data sharing)")
    document, lines = read_yaml_with_lines(path, shown=path.name, error=MappingError)
    problems = schema_problems(document, _validator(), path.name, lines=lines)
    if not problems:
        for name in document["restricted"]:
            problem = field_problem(name)
            if problem:
                problems.append(lines.located(f"restricted.{name}: {problem}"))
    if problems:
        raise MappingError("\n".join(problems))
    return DistrictPolicy(path=path, restricted=dict(document["restricted"]))


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(POLICY_SCHEMA.read_text()))


def policy_unchanged(mapping: Mapping) -> bool:
    """Whether the policy ``mapping`` was checked against is still the district's (a loaded mapping is kept
    until its file or the policy changes)."""
    try:
        return district_policy() is mapping.policy
    except MappingError:
        return False


def field_problem(name: str) -> str | None:
    """Why ``table.Column`` names no column of the Aeries table registry, or None."""
    table, column = name.split(".", 1)
    if table not in TABLES:
        meant = closest(table, TABLES)
        hint = f"did you mean '{meant}.{column}'?" if meant else f"the tables: {', '.join(TABLES)}"
        return f"{table!r} is not an Aeries table; {hint}"
    columns = TABLES[table].column_names
    if column not in columns:
        meant = closest(column, columns)
        hint = f"did you mean '{table}.{meant}'?" if meant else f"its columns: {', '.join(columns)}"
        return f"{column!r} is not a column of the Aeries table {table}; {hint}"
    return None


#: The column :func:`field_reads` names for a field that decides which rows a file holds, not what a cell says.
ROW_CHOICE = "(which rows)"


def field_reads(mapping: Mapping) -> list[tuple[Output, str, str, str]]:
    """(output, column, key path, table.Column) for each Aeries field a delivered column's value reads, and each
    field that chooses the rows (a condition or a preference of the record set, its explode or its lookups:
    students filtered on a program code tell the vendor who has it), under the column :data:`ROW_CHOICE`."""
    reads = []
    for i, output in enumerate(mapping.outputs):
        delivered = set(output.delivered_columns)
        for r, rec in enumerate(output.records):
            if rec.table is None:  # literal rows
                continue
            at = f"outputs[{i}].records[{r}]"
            for column, spec in rec.values.items():
                if column not in delivered:
                    continue
                for key, ref in value_reads(spec):
                    if ref != "run_date":
                        reads.append((output, column, f"{at}.values.{column}{key}", _field(rec, ref)))
            reads += [(output, ROW_CHOICE, f"{at}.{key}", field) for key, field in _row_choice_reads(rec)]
    return reads


def _row_choice_reads(rec: RecordSet) -> list[tuple[str, str]]:
    """(key path below the record set, table.Column) for each field its conditions and preferences read."""
    reads = [(f"where[{n}]", _field(rec, ref)) for n, cond in enumerate(rec.where) for ref in cond.columns]
    reads += [(f"explode.where[{n}]", _field(rec, ref)) for n, cond in enumerate(rec.explode_where)
              for ref in cond.columns]
    reads += [(f"distinct.prefer[{n}]", _field(rec, ref)) for n, pref in enumerate(rec.prefer) for ref in pref.reads]
    for lookup in rec.lookups:
        reads += [(f"lookups.{lookup.alias}.where[{n}]", f"{lookup.table}.{ref}")
                  for n, cond in enumerate(lookup.where) for ref in cond.columns]
        reads += [(f"lookups.{lookup.alias}.prefer[{n}]", f"{lookup.table}.{ref}")
                  for n, pref in enumerate(lookup.prefer) for ref in pref.reads]
    return reads


def _field(rec: RecordSet, ref: str) -> str:
    """``table.Column`` of a column a record set reads: its own table's, a lookup's, or an exploded list's."""
    if "." in ref:
        alias, column = ref.split(".", 1)
        for lookup in rec.lookups:
            if lookup.alias == alias:
                return f"{lookup.table}.{column}"
        if rec.explode and rec.explode[1] == alias:
            return f"{rec.table}.{rec.explode[0]}"
    return f"{rec.table}.{ref}"


def fields_sent(mapping: Mapping, output: Output) -> dict[str, list[str]]:
    """Each delivered column of ``output`` with the Aeries fields its values come from (none: a constant)."""
    sent: dict[str, set[str]] = {column: set() for column in output.delivered_columns}
    for read_output, column, _, name in field_reads(mapping):
        if read_output is output:
            sent.setdefault(column, set()).add(name)
    return {column: sorted(names) for column, names in sent.items() if names or column != ROW_CHOICE}


def with_restricted_columns(mapping: Mapping, policy: DistrictPolicy) -> Mapping:
    """``mapping`` with each output's :attr:`~aeries_hub.mapping.models.Output.restricted_columns`: the delivered
    columns whose values read a field ``policy`` restricts."""
    restricted: dict[int, set[str]] = {}
    for output, column, _, name in field_reads(mapping):
        if name in policy.restricted and column != ROW_CHOICE:
            restricted.setdefault(id(output), set()).add(column)
    outputs = tuple(dataclasses.replace(output, restricted_columns=frozenset(restricted.get(id(output), ())))
                    for output in mapping.outputs)
    return dataclasses.replace(mapping, outputs=outputs)


def sharing_problems(mapping: Mapping, policy: DistrictPolicy) -> list[str]:
    """``<key path>: <problem>`` for each restricted field the mapping sends without an allowance (at its first
    read), and each allowance for a field it does not send."""
    problems = []
    first: dict[str, tuple[str, list[str]]] = {}
    for output, column, key, name in field_reads(mapping):
        columns = first.setdefault(name, (key, []))[1]
        if f"{output.file} {column}" not in columns:
            columns.append(f"{output.file} {column}")
    for name, (key, columns) in first.items():
        if name in policy.restricted and name not in mapping.allowed_fields:
            problems.append(
                f"{key}: {name} ({policy.restricted[name]}) is restricted by the district's data-sharing policy "
                f"({policy.path.name}) and this mapping sends it ({', '.join(columns)}) without an allowance. If the "
                f"vendor needs it, allow it with the reason: {ALLOWANCE_EXAMPLE.format(field=name)}; else stop "
                "sending it")
    for name in mapping.allowed_fields:
        if name not in first:
            meant = closest(name, first)
            hint = f" (did you mean '{meant}'?)" if meant else ""
            problems.append(f"sharing.allow.{name}: this mapping sends no {name}{hint}: no delivered column reads "
                            "it; remove the allowance, which would record a disclosure that does not happen")
    return problems
