"""The columns a value or a record set reads, as the engine evaluates them: the loader checks them against the
table registry, a build joins and keeps only those. Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.models import Mapping, Output, RecordSet, ValueSpec, template_fields
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


#: The columns that tell a pseudo-school (:func:`aeries_hub.mapping.source_filters.left_out_schools`).
PSEUDO_SCHOOL_COLUMNS = {"schools": {"SchoolCode", "Name", "DoNotReport"}, "students": {"SchoolCode"}}


def columns_read_by(mapping: Mapping, output: Output) -> dict[str, set[str]]:
    """The Aeries tables that building ``output`` reads, each with the columns it reads: those of its record
    sets (``from``), of their lookups and explodes, and those the mapping's ``source`` filters test."""
    needed: dict[str, set[str]] = {}
    for record_set in output.records:
        for table, columns in tables_read(record_set).items():
            needed.setdefault(table, set()).update(columns)
    for name, columns in needed.items():
        columns |= source_filter_columns(mapping, name)
    return needed


def tables_read(record_set: RecordSet) -> dict[str, set[str]]:
    """The Aeries tables one record set reads (``from`` and its lookups), each with the columns it reads."""
    if not record_set.table:
        return {}
    needed: dict[str, set[str]] = {}
    read = columns_read(record_set)
    aliases = {lookup.alias for lookup in record_set.lookups} | ({record_set.explode[1]} if record_set.explode else set())
    own = needed.setdefault(record_set.table, set())
    own |= {ref for ref in read if ref.split(".", 1)[0] not in aliases or "." not in ref}
    own |= {record_set.explode[0]} if record_set.explode else set()
    for lookup in record_set.lookups:
        theirs = needed.setdefault(lookup.table, set())
        theirs |= {ref.split(".", 1)[1] for ref in read if ref.startswith(f"{lookup.alias}.")}
        theirs |= set(lookup.on.values()) | {column for condition in lookup.where for column in condition.columns}
        theirs |= {ref for preference in lookup.prefer for ref in preference.reads}
    return needed


def source_filter_columns(mapping: Mapping, table: str) -> set[str]:
    """The columns of ``table`` that :func:`aeries_hub.mapping.source_filters.apply_source_filters` tests for this
    mapping."""
    columns = {"InactiveStatusCode"} if table == "students" else set()
    school_column = TABLES[table].school_column if table in TABLES else None
    if mapping.school_codes and school_column:
        columns.add(school_column)
    if not mapping.include_pseudo_schools and school_column == "SchoolCode":
        columns.add("SchoolCode")  # the rows of left-out pseudo-schools go, whether or not a value reads it
    return columns
