"""The written parts of docs/mapping-reference.md that no model holds: how the engine
(:mod:`aeries_hub.mapping.engine`) builds a record set, step by step, and what a lookup into each Aeries table
takes. :mod:`aeries_hub.mapping.reference` puts them between the generated tables; the anti-join example is
loaded and built by tests/plugins/aeries_hub/mapping/test_reference.py, so the page shows YAML that works.
"""

from __future__ import annotations

from aeries_hub.aeries.tables import AeriesTable
from aeries_hub.mapping.models import RUN_VALUES

#: A record set that keeps the students no contact with portal access names: `where` tests a looked-up column.
ANTI_JOIN_EXAMPLE = """\
- name: without_portal_contact
  from: students
  lookups:
    portal:
      table: contacts
      'on': {StudentID: StudentID}
      where: [{column: AccessToPortal, in: ["Y"]}]
  where: [{column: portal.StudentID, blank: true}]
  values:
    id: {source: StudentID}"""

RECORD_SETS = [
    '## How a record set is built <a id="record-sets"></a>', "",
    "A record set with `from` builds its rows in this order; each stage sees only what the stages before it made "
    "(literal `rows` are written as they are, in the order written):", "",
    "1. **`from`**: the rows of the Aeries table as extracted, after the mapping's `source` filters "
    "(`school_codes`, `student_statuses`, pseudo-schools) and the source checks' rejects, in the order of the "
    "table's key (see [Aeries tables](#aeries-tables)).",
    "2. **`explode`**: one row per element of the list column, the element's fields read as `<as>.Field` (the list "
    "column itself is gone). `explode.where` keeps the elements that meet it; a row none of whose elements does, or "
    "whose list is empty, is kept once with blank fields.",
    "3. **`lookups`**, in the order written: each adds the columns of one row of its table, read as "
    "`<alias>.Column`; a later lookup's `on` may read an earlier one's columns. The lookup's `where` first keeps "
    "the rows of the looked-up table that meet it. The `on` columns are compared as text, spaces trimmed at both "
    "ends; a blank value matches nothing. **When several rows match, the lookup takes the first of them in the "
    "order of the looked-up table's key** (a lookup into `students` on `StudentID` alone takes the row with the "
    "lowest `SchoolCode`). A row that matches nothing gets blank `<alias>.` columns: a lookup never drops nor "
    "repeats a row.",
    "4. **`where`**: the conditions, every one of which a row must meet. They run after the lookups, so a "
    "condition may test a looked-up column: `{column: <alias>.Column, blank: true}` keeps the rows the lookup "
    "found nothing for (an anti-join), `blank: false` those it found a row for (an inner join). A condition "
    "compares the column's text, trimmed, with literal values: a placeholder such as `\"{SchoolCode}\"` in `in` "
    "is a load error (compare two columns with a lookup).",
    "5. **`values`**: each column's value on every row kept: its kind (`source`, `constant`, `template`, "
    "`first_of`, `first_in_group`), then `match` (with `default`), then the `transform` steps in order. A column of "
    "the file the record set gives no value is blank.",
    "6. **`distinct`**: one row per `on` key, the first in the `prefer` order: each preference a column sorted "
    "ascending (as numbers when every value is digits, else as text, a blank first) or `{column, order}` (the values "
    "listed first, in that order, then the others); rows that tie keep their order so far. `collect` joins a "
    "column's values over every merged row (preferred first, each value once, blanks left out). The run report "
    "counts the merged rows.",
    "7. **Order**: the record set's rows are sorted by the file's `key` (numbers inside the text compare as "
    "numbers); the file is its record sets one after another, in the order written.",
    "8. **Checks**: then the whole file is checked: the columns' rules (`required`, `max_length`, `allowed`, "
    "`pattern`), the output's `checks`, its `key` (unique), `references` to other files and `min_rows`.", "",
    "An anti-join: the students no contact with portal access names (the lookup's `where` keeps the contacts "
    "with access, the record set's `where` the students it found none for):", "",
    "```yaml", ANTI_JOIN_EXAMPLE, "```", "",
    "### Texts filled in", "",
    "- `settings: {NAME: value}` (top level): `{settings.NAME}` is replaced by the value in every text of the "
    "outputs (file names, templates, constants, conditions, step arguments) when the file is loaded; "
    "`{settings.NAME|regex}` gives it escaped for a regular expression (`{blank_unless: "
    "\"@{settings.domain|regex}$\"}`: a domain's dots match only dots). An unknown name is a load error.",
    "- A `template`, `if_blank` or crosswalk `else` text reads `{Column}` and `{alias.Column}` of the row, the run's "
    "date `{run_date:%Y-%m-%d}` (any strftime format) and run values; a brace of the text is written `{{` or `}}`.",
    "- Run values, `{run.NAME}`, come from Aeries at build time, in literal `rows`, `constant`, `template` and "
    "`if_blank` only: " + "; ".join(f"`{{run.{name}}}`: {what}" for name, what in RUN_VALUES.items()) + ".",
]

TABLES_INTRO = (
    "The tables `source.tables` may name, with the columns a mapping may read (an unknown one is a load error "
    "naming the closest). Types are those of the extracted frames; the engine reads every value as text (a whole "
    "number without decimals, `true`/`false`, a null as blank). A list column holds records: `explode` makes a row "
    "of each, its fields listed below it as `Column[].Field`.")


def table_use(table: AeriesTable) -> str:
    """How a mapping reads ``table``, with the row a lookup into it takes."""
    on = ", ".join(f"{column}: {column}" for column in table.key)
    alias = table.name.rstrip("s")
    text = (f"Read it with `from: {table.name}`, or one row of it per row with a lookup on its key: "
            f"`lookups: {{{alias}: {{table: {table.name}, 'on': {{{on}}}}}}}`.")
    if len(table.key) > 1:
        text += f" A lookup on fewer columns takes the first matching row in key order ({', '.join(table.key)})."
    return text
