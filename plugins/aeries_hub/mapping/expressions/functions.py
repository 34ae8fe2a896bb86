"""The text and list functions of expressions (the date and time ones are in :mod:`.dates`).

Each works on a whole column at once (pandas' Arrow-backed text operations); a regular expression is applied
once per distinct value (codes repeat). A ``list`` is a Python list of text Series, one per position, blank past
a row's last element. ``ctx`` is the evaluation's context (:class:`.evaluate.Context`): the rows' index, the run.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aeries_hub.mapping.expressions.registry import (
    BOOL,
    LIST,
    MAP,
    NUMBER,
    SAME_AS_FIRST,
    TEXT,
    Param,
    function,
    positive,
    regex_problem,
    text,
)

if TYPE_CHECKING:
    import pandas as pd

_REGEX = Param("regex", (TEXT,), literal=True, check=regex_problem)
_VALUES = Param("values", (LIST,), literal=True)


def _text(values):
    from aeries_hub.mapping.text import TEXT as DTYPE

    return values.astype(DTYPE)


def _searched(values: pd.Series, pattern: str) -> pd.Series:
    from aeries_hub.mapping.text import per_distinct

    compiled = re.compile(pattern)
    return per_distinct(values, lambda value: compiled.search(value) is not None).astype(bool)


@function("lower", text(), returns=TEXT, example="lower(EmailAddress)")
def _lower(ctx, x):
    """Lower case."""
    return x.str.lower()


@function("upper", text(), returns=TEXT, example="upper(LastName)")
def _upper(ctx, x):
    """Upper case."""
    return x.str.upper()


@function("trim", text(), returns=TEXT, example="trim(MailingName)")
def _trim(ctx, x):
    """Removes the spaces at both ends (a column is read trimmed already; this trims a value built from it)."""
    return x.str.strip()


@function("blank", text(), returns=BOOL, example="blank(NetworkLoginID)")
def _blank(ctx, x):
    """true where the value is empty after trimming."""
    return x.str.strip().eq("").astype(bool)


@function("coalesce", text("a"), text("b"), returns=TEXT, variadic=True, example="coalesce(staff.EmailAddress, EmailAddress)")
def _coalesce(ctx, *values):
    """The first value that is not blank (blank when all are)."""
    result = values[0]
    for candidate in values[1:]:
        result = result.where(~result.str.strip().eq(""), candidate)
    return result


@function("contains", text(), text("s"), returns=BOOL, example="contains(lower(term.TermDescription), 'trimester')")
def _contains(ctx, x, s):
    """true where x holds the text s (case matters: compare lower(x) with a lower-case s to ignore it)."""
    return _pairwise(x, s, lambda values, part: values.str.contains(part, regex=False), lambda a, b: b in a)


@function("starts_with", text(), text("s"), returns=BOOL, example="starts_with(Grade, 'K')")
def _starts_with(ctx, x, s):
    """true where x starts with s."""
    return _pairwise(x, s, lambda values, part: values.str.startswith(part), str.startswith)


@function("ends_with", text(), text("s"), returns=BOOL, example="ends_with(lower(EmailAddress), '@district.example.org')")
def _ends_with(ctx, x, s):
    """true where x ends with s."""
    return _pairwise(x, s, lambda values, part: values.str.endswith(part), str.endswith)


def _pairwise(x: pd.Series, s: pd.Series, whole_column, per_row) -> pd.Series:
    """``whole_column(x, s)`` when ``s`` is the same text on every row (a literal), else ``per_row(a, b)`` row by row."""
    import pandas as pd

    first = s.iloc[0] if len(s) else ""
    if bool(s.eq(first).all()):
        return whole_column(x, first).fillna(False).astype(bool)
    return pd.Series([per_row(a, b) for a, b in zip(x, s)], index=x.index, dtype=bool)


@function("matches", text(), _REGEX, returns=BOOL, example="matches(Grade, '^(TK|K|[1-5])$')")
def _matches(ctx, x, regex):
    """true where the regular expression (Python's re syntax, checked when the mapping loads) is found in x:
    write ^ and $ to match the whole value."""
    return _searched(x, regex)


@function("replace", text(), _REGEX, Param("with", (TEXT,), literal=True), returns=TEXT,
          example="replace(HomePhone, '[^0-9]', '')")
def _replace(ctx, x, regex, with_):
    """x with each match of the regular expression replaced by the text (re.sub: \\1 is the first group)."""
    from aeries_hub.mapping.text import per_distinct

    compiled = re.compile(regex)
    return _text(per_distinct(x, lambda value: compiled.sub(with_, value)))


@function("length", text(), returns=NUMBER, example="length(trim(FirstName)) > 1")
def _length(ctx, x):
    """The number of characters."""
    return x.str.len().astype("float64")


@function("number", text(), returns=NUMBER, example="number(Grade) >= 9")
def _number(ctx, x):
    """x read as a number (blank where it is not one)."""
    import pandas as pd

    return pd.to_numeric(x.str.strip(), errors="coerce").astype("float64")


# ----------------------------------------------------------------------------------------------- lists


@function("split", text(), Param("sep", (TEXT,), literal=True), returns=LIST, example="split(TeacherIDs, ',')")
def _split(ctx, x, sep):
    """The parts of x between the separators, each trimmed (a blank x is an empty list)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from aeries_hub.mapping.text import arrow_text

    lists = pc.split_pattern(arrow_text(x), sep).combine_chunks()
    offsets = lists.offsets.to_numpy()
    parts = pc.utf8_trim_whitespace(lists.values)
    lengths = np.diff(offsets)
    columns = []
    for k in range(int(lengths.max()) if len(lengths) else 1):  # one Series per position, blank past a row's end
        present = lengths > k
        element = parts.take(pa.array(np.where(present, offsets[:-1] + k, 0))) if len(parts) else parts
        element = pc.if_else(pa.array(present), element, pa.scalar("", element.type)) if len(parts) else element
        columns.append(_text(pd.Series(pd.arrays.ArrowStringArray(element.cast(pa.large_string())), index=x.index)))
    return columns


@function("join", Param("list", (LIST,)), Param("sep", (TEXT,), literal=True), returns=TEXT,
          example="join([FirstName, MiddleName, LastName], ' ')")
def _join(ctx, items, sep):
    """The elements that are not blank, in order, with the separator between them."""
    result = items[0]
    for item in items[1:]:
        joint = result.where(result.eq(""), result + sep)
        result = (joint + item).where(item.ne(""), result)
    return result


@function("item", Param("list", (LIST,)), Param("n", (NUMBER,), literal=True, check=positive), returns=TEXT,
          example="item(split(TeacherIDs, ','), 2)")
def _item(ctx, items, n):
    """The n-th element (1 is the first), blank past the end: numbered columns from a list."""
    import pandas as pd

    from aeries_hub.mapping.text import TEXT as DTYPE

    return items[n - 1] if n <= len(items) else pd.Series("", index=ctx.index, dtype=DTYPE)


@function("count", Param("list", (LIST,)), returns=NUMBER, example="count(split(TeacherIDs, ',')) > 1")
def _count(ctx, items):
    """The number of elements that are not blank."""
    return sum(item.ne("").astype("float64") for item in items)


@function("group_values", text(), Param("by", (LIST,)), returns=LIST,
          example="group_values(member.StaffID, [SchoolCode, SectionNumber])")
def _group_values(ctx, x, by):
    """On each row, the values of x that are not blank over every row whose by values equal its own, each once,
    whole numbers in numeric order, then other values in text order: the rows are those at that point of the
    build (a value's: after the where conditions), e.g. on each exploded row of a section, the section's staff
    members."""
    import pandas as pd

    groups = pd.DataFrame({n: key.str.strip() for n, key in enumerate(by)}, index=x.index)
    group = groups.groupby(list(groups.columns), sort=False, dropna=False).ngroup().to_numpy()
    found = pd.DataFrame({"group": group, "value": x.str.strip().to_numpy()})
    found = found[found["value"].ne("")].drop_duplicates()
    found["number"] = pd.to_numeric(found["value"].where(found["value"].str.isdigit()), errors="coerce")
    found = found.sort_values(["group", "number", "value"], na_position="last", kind="mergesort")
    found["position"] = found.groupby("group").cumcount()
    return [_text(pd.Series(group, index=x.index).map(at.set_index("group")["value"]).fillna(""))
            for _, at in found.groupby("position", sort=True)] or [_text(pd.Series("", index=x.index))]


@function("without", Param("list", (LIST,)), text(), returns=LIST,
          example="without(group_values(member.StaffID, [SchoolCode, SectionNumber]), member.StaffID)")
def _without(ctx, items, x):
    """The elements other than x (and not blank), in order: e.g. a section's other staff members."""
    import numpy as np
    import pandas as pd

    own = x.str.strip()
    kept = np.column_stack([item.where(item.ne(own), "").to_numpy(dtype=object) for item in items])
    # each row's elements moved to the front in order (a stable sort of the blanks last)
    kept = np.take_along_axis(kept, np.argsort(kept == "", axis=1, kind="stable"), axis=1)
    width = max(int((kept != "").sum(axis=1).max()) if len(kept) else 0, 1)
    return [_text(pd.Series(kept[:, n] if len(kept) else [], index=x.index, dtype=object)) for n in range(width)]


@function("map_values", Param("x", (LIST, TEXT)), Param("map", (MAP,), literal=True),
          Param("default", (TEXT,), literal=True, default=""), returns=SAME_AS_FIRST,
          example="map_values(split(Programs, ','), {'144': 'iep', '101': 'gate'})")
def _map_values(ctx, x, mapping, default=None):
    """Each element (or the value) translated by the map; a value the map does not list passes through, or
    becomes the default when one is given (blank stays blank)."""
    def translated(values):
        listed = values.isin(mapping.keys())
        others = values if not default else values.where(values.eq(""), default)
        return _text(values.map(mapping)).where(listed, others)

    return [translated(item) for item in x] if isinstance(x, list) else translated(x)


@function("any_in", Param("list", (LIST,)), _VALUES, returns=BOOL,
          example="any_in([RaceCode1, RaceCode2, RaceCode3, RaceCode4, RaceCode5], ['600'])")
def _any_in(ctx, items, values):
    """true where an element is one of the values."""
    hit = items[0].isin(values)
    for item in items[1:]:
        hit = hit | item.isin(values)
    return hit.astype(bool)


@function("count_in", Param("list", (LIST,)), _VALUES, returns=NUMBER,
          example="count_in([RaceCode1, RaceCode2, RaceCode3, RaceCode4, RaceCode5], ['100', '600', '700'])")
def _count_in(ctx, items, values):
    """The number of elements that are one of the values."""
    return sum(item.isin(values).astype("float64") for item in items)


@function("any_matches", Param("list", (LIST,)), _REGEX, returns=BOOL,
          example="any_matches([RaceCode1, RaceCode2, RaceCode3, RaceCode4, RaceCode5], '^(2[0-9][0-9]|400)$')")
def _any_matches(ctx, items, regex):
    """true where the regular expression is found in an element (as matches)."""
    hit = _searched(items[0], regex)
    for item in items[1:]:
        hit = hit | _searched(item, regex)
    return hit.astype(bool)
