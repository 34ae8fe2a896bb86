"""The tables, lookup aliases and Aeries columns a mapping reads, resolved against the table registry
(:mod:`aeries_hub.aeries.tables`), with a "did you mean" for a misspelt column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aeries_hub.aeries.tables import TABLES  # light on purpose: this module is imported at DAG parse time
from aeries_hub.config_files import closest, did_you_mean
from aeries_hub.mapping.models import Mapping, Output, Preference, RecordSet
from aeries_hub.mapping.reads import value_columns, value_reads, value_steps
from aeries_hub.mapping.steps import crosswalk_step


def table_problem(mapping: Mapping, table: str, key: str) -> list[str]:
    if table in mapping.tables:
        return []
    if table not in TABLES:
        return [f"{key}: {table!r} is not an Aeries table{did_you_mean(table, TABLES)}; tables: {', '.join(TABLES)}"]
    return [f"{key}: table {table!r} is not in source.tables ({', '.join(mapping.tables)})"]


def check_record_set(mapping: Mapping, out: Output, rec: RecordSet, rat: str, columns_key: str) -> list[str]:
    names = [c.name for c in out.columns]
    if rec.rows is not None:
        return [
            f"{rat}.rows[{n}].{column}: not a column of {out.file}; add it to {columns_key}"
            for n, row in enumerate(rec.rows)
            for column in row
            if column not in names
        ]
    assert rec.table is not None  # a record set reads either literal rows or a table
    problems = table_problem(mapping, rec.table, f"{rat}.from")
    aliases = {rec.explode[1]} if rec.explode else set()
    for lk in rec.lookups:
        aliases.add(lk.alias)
        problems += table_problem(mapping, lk.table, f"{rat}.lookups.{lk.alias}.table")
    for column in rec.collect:
        if column not in rec.values:
            problems.append(f"{rat}.distinct.collect.{column}: {rec.name} gives no value for {column!r}")
    for column, spec in rec.values.items():
        if column not in names:
            problems.append(f"{rat}.values.{column}: not a column of {out.file}; add it to {columns_key}")
        for ref in value_columns(spec):
            alias = ref.split(".", 1)[0] if "." in ref else None
            if alias and alias not in aliases:
                problems.append(f"{rat}.values.{column}: {ref!r} uses lookup {alias!r}, which {rat}.lookups does not define")
        for step in value_steps(spec):
            name = crosswalk_step(step)[0]
            if name is not None and name not in mapping.crosswalks:
                known = ", ".join(sorted(mapping.crosswalks)) or "none"
                problems.append(f"{rat}.values.{column}.transform: crosswalk {name!r} is not defined"
                                f"{did_you_mean(name, mapping.crosswalks)}; crosswalks: {known}")
    return problems + _check_columns(rec, rat)


# ----------------------------------------------------------------- Aeries columns a record set reads
# The check follows the build (mapping/engine.py) step by step, so that a mapping that loads never stops a build with an
# unknown column: the rows start as the ``from`` table's columns; ``explode`` replaces its list column by the
# element fields ``alias.Field``; each lookup's ``on`` reads those and the earlier lookups' ``alias.Column``
# on the left, and its own table's columns on the right (as does the lookup's ``where``); the record set's
# ``where``, ``distinct`` and ``values`` read every column once all the lookups are joined. Columns are the
# ones the Aeries registry knows (aeries_hub.aeries.tables.TABLES); a table it does not know is not checked here.


@dataclass(frozen=True)
class _Source:
    """Columns read through one name: the record set's table, a lookup alias or the explode alias."""

    columns: tuple[str, ...] | None  # None: a table the registry does not know (reported elsewhere)
    what: str  # "the Aeries table students", "the Aeries table schools (lookup school)", ...
    noun: str = "column"  # "field" for the elements of an exploded list column
    qualifier: str = ""  # "school." for a lookup, "" for the record set's own table


@dataclass
class _Scope:
    """The columns of a record set's rows at one step of the build (see the comment above)."""

    rat: str
    base: _Source
    aliases: dict[str, _Source] = field(default_factory=dict)
    later: tuple[str, ...] = ()  # lookups not joined yet at the step being checked
    exploded: tuple[str, str] | None = None  # (list column, alias)
    aliased: bool = True  # False: a table's own rows (a lookup's right side), where "a.B" is just a name

    def problem(self, ref: str, key: str, *, undefined_alias_reported: bool = False) -> list[str]:
        if "." in ref and self.aliased:
            alias, column = ref.split(".", 1)
            source = self.aliases.get(alias)
            if source is None:
                if alias in self.later:
                    return [f"{key}: {ref!r} uses lookup {alias!r}, which is not joined yet at this point "
                            f"(lookups are joined in the order written)"]
                if undefined_alias_reported:
                    return []
                return [f"{key}: {ref!r} uses lookup {alias!r}, which {self.rat}.lookups does not define"]
        else:
            source, column = self.base, ref
        if source.columns is None or column in source.columns:
            return []
        if source is self.base and self.exploded and column == self.exploded[0]:
            return [f"{key}: {ref!r} is exploded: read its fields as '{self.exploded[1]}.<Field>'"]
        close = closest(column, source.columns, cutoff=0.8)
        if close is not None:
            hint = f"did you mean '{source.qualifier}{close}'?"
        elif source is self.base and (elsewhere := self._in_an_alias(column)):
            hint = f"did you mean {elsewhere!r}?"
        else:
            hint = f"its {source.noun}s: {', '.join(source.columns) or 'none'}"
        return [f"{key}: {ref!r} is not a {source.noun} of {source.what}; {hint}"]

    def _in_an_alias(self, column: str) -> str | None:
        for alias, source in self.aliases.items():
            if source.columns and column in source.columns:
                return f"{alias}.{column}"
        return None


def _table_source(table: str, what: str = "", qualifier: str = "") -> _Source:
    spec = TABLES.get(table)
    return _Source(
        columns=spec.column_names if spec else None,
        what=f"the Aeries table {table}{what}",
        qualifier=qualifier,
    )


def _check_columns(rec: RecordSet, rat: str) -> list[str]:
    """Every Aeries column ``rec`` reads, checked against the registry as the engine would resolve it."""
    problems: list[str] = []
    assert rec.table is not None  # only record sets that read a table have columns to check
    base = _table_source(rec.table)
    scope = _Scope(rat=rat, base=base)
    if rec.explode:
        list_column, alias = rec.explode
        fields = None
        if base.columns is not None:
            kind = TABLES[rec.table].column_type(list_column)
            if list_column not in base.columns:
                problems += _Scope(rat=rat, base=base, aliased=False).problem(list_column, f"{rat}.explode.column")
            elif not (isinstance(kind, dict) and "list" in kind):
                lists = [c for c in base.columns if isinstance(TABLES[rec.table].column_type(c), dict)]
                problems.append(
                    f"{rat}.explode.column: {list_column!r} is not a list column of {base.what} "
                    f"(its list columns: {', '.join(lists) or 'none'})"
                )
            else:
                fields = tuple(kind["list"])
            # The engine drops the exploded column: its elements are read as alias.Field.
            scope.base = _Source(tuple(c for c in base.columns if c != list_column), base.what)
            scope.exploded = rec.explode
        scope.aliases[alias] = _Source(
            columns=fields,  # None (unchecked) when the table or its list column is unknown: reported above
            what=f"the list column {list_column} of {base.what} (explode {alias})",
            noun="field",
            qualifier=f"{alias}.",
        )
        scope.later = tuple(lk.alias for lk in rec.lookups)
        for i, condition in enumerate(rec.explode_where):
            problems += _condition_problems(scope, condition, f"{rat}.explode.where[{i}]")
    for n, lookup in enumerate(rec.lookups):
        at = f"{rat}.lookups.{lookup.alias}"
        scope.later = tuple(lk.alias for lk in rec.lookups[n:])
        theirs = _Scope(rat=rat, base=_table_source(lookup.table, f" (lookup {lookup.alias})"), aliased=False)
        for mine, their in lookup.on.items():
            problems += scope.problem(mine, f"{at}.on.{mine}")
            problems += theirs.problem(their, f"{at}.on.{mine}")
        for i, condition in enumerate(lookup.where):
            problems += _condition_problems(theirs, condition, f"{at}.where[{i}]")
        problems += _preference_problems(theirs, lookup.prefer, f"{at}.prefer")
        scope.aliases[lookup.alias] = _table_source(lookup.table, f" (lookup {lookup.alias})", f"{lookup.alias}.")
    scope.later = ()
    for i, condition in enumerate(rec.where):
        problems += _condition_problems(scope, condition, f"{rat}.where[{i}]")
    for i, entry in enumerate(rec.distinct_on):
        if isinstance(entry, str):
            problems += scope.problem(entry, f"{rat}.distinct.on[{i}]")
        else:
            problems += [p for ref in entry.columns for p in scope.problem(ref, f"{rat}.distinct.on[{i}].expr")]
    problems += _preference_problems(scope, rec.prefer, f"{rat}.distinct.prefer")
    for column, spec in rec.values.items():
        for key, ref in value_reads(spec):
            # An undefined alias in a value is already reported by check_record_set.
            problems += scope.problem(ref, f"{rat}.values.{column}{key}", undefined_alias_reported=True)
    return problems




def _preference_problems(scope: _Scope, prefer: tuple[Preference, ...], at: str) -> list[str]:
    problems = []
    for i, preference in enumerate(prefer):
        if preference.where:
            for n, condition in enumerate(preference.where):
                problems += _condition_problems(scope, condition, f"{at}[{i}].where[{n}]")
        else:  # a preference without an order was written as a bare column name
            bare = preference.order is None and not preference.descending
            problems += scope.problem(preference.column, f"{at}[{i}]" + ("" if bare else ".column"))
    return problems


def _condition_problems(scope: _Scope, condition, at: str) -> list[str]:
    """The columns a condition reads (its column, or those of its expression) checked in ``scope``."""
    return [problem for ref in condition.columns for problem in scope.problem(ref, f"{at}.{condition.key}")]


def check_crosswalk_columns(mapping: Mapping) -> list[str]:
    """A crosswalk ``check`` reads its table's ``column``, ``name`` and ``where`` columns, and the ``column`` and
    ``id`` of each ``used_by`` table (mapping/crosswalk.py)."""
    problems = []
    for name, crosswalk in mapping.crosswalks.items():
        check = crosswalk.check
        if check is None:
            continue
        at = f"crosswalks.{name}.check"
        scope = _Scope(rat=at, base=_table_source(check.table), aliased=False)
        problems += scope.problem(check.column, f"{at}.column")
        problems += scope.problem(check.name, f"{at}.name")
        for i, condition in enumerate(check.where):
            problems += _condition_problems(scope, condition, f"{at}.where[{i}]")
        for i, use in enumerate(check.used_by):
            user = _Scope(rat=at, base=_table_source(use.table), aliased=False)
            problems += user.problem(use.column, f"{at}.used_by[{i}].column")
            problems += user.problem(use.id, f"{at}.used_by[{i}].id")
    return problems

