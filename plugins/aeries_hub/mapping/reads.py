"""The columns a value or a record set reads, as the engine evaluates them: the loader checks them against the
table registry, a build joins and keeps only those. Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

from aeries_hub.mapping.models import RecordSet, ValueSpec, template_fields
from aeries_hub.mapping.steps import STEPS, parts


def value_reads(spec: ValueSpec) -> list[tuple[str, str]]:
    """(key path below the value, column) for each column a value reads, as mapping/values.py evaluates it:
    its source, template fields, fallbacks, and the columns its steps read (:attr:`steps.Step.reads`)."""
    if spec.kind == "source":
        reads = [(".source", spec.argument)]
    elif spec.kind == "first_of":
        reads = []
        for i, item in enumerate(spec.argument):
            if isinstance(item, str):
                reads.append((f".first_of[{i}]", item))
            else:
                reads += [(f".first_of[{i}]{key}", ref) for key, ref in value_reads(item)]
    elif spec.kind == "first_in_group":
        by, order = spec.argument
        reads = [(f".first_in_group.by[{i}]", ref) for i, ref in enumerate(by)]
        reads += [(f".first_in_group.order[{i}]", ref) for i, ref in enumerate(order)]
    elif spec.kind == "expr":
        reads = [(f".{spec.argument.written_as}", ref) for ref in spec.argument.columns]
    elif spec.kind == "template":
        reads = [(".template", ref) for ref in template_fields(spec.argument)]
    else:
        reads = []
    for i, written in enumerate(spec.transform):
        name, argument = parts(written)
        if name in STEPS:
            reads += [(f".transform[{i}]{key}", ref) for key, ref in STEPS[name].reads(argument)]
    return reads


def value_columns(spec: ValueSpec) -> list[str]:
    """The columns a value reads (:func:`value_reads` without the key paths), but a column named run_date."""
    return [ref for _, ref in value_reads(spec) if ref != "run_date"]


def value_steps(spec: ValueSpec) -> list:
    """The value's transform steps, and those of the fallbacks inside its ``first_of``."""
    steps = list(spec.transform)
    if spec.kind == "first_of":
        steps += [step for item in spec.argument if not isinstance(item, str) for step in value_steps(item)]
    return steps


def columns_read(record_set: RecordSet) -> set[str]:
    """Every column name the record set reads after its lookups are joined (``alias.Column`` included):
    its values, conditions, distinct keys and preferences, and the left side of each lookup's ``on``."""
    read = {ref for spec in record_set.values.values() for ref in value_columns(spec)}
    read |= {column for condition in record_set.where for column in condition.columns}
    read |= set(distinct_columns(record_set)) | {ref for preference in record_set.prefer for ref in preference.reads}
    read |= {mine for lookup in record_set.lookups for mine in lookup.on}
    return read


def distinct_columns(record_set: RecordSet) -> list[str]:
    """The columns ``distinct.on`` reads: each column, and those of each expression."""
    return [column for entry in record_set.distinct_on
            for column in ((entry,) if isinstance(entry, str) else entry.columns)]
