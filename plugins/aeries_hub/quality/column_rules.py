"""The checks a vendor file's column rules imply (required, max_length, allowed, pattern, references, cells,
unquotable delimiters, encoding), ahead of the mapping's own checks, and the checks of its ``counts:`` and
``matches:``; run on every built file before it is delivered."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable

from aeries_hub.mapping.row_rules import conditions_text


def output_checks(output) -> list[dict]:
    """The checks an output file's column rules imply, followed by the mapping's own checks."""
    checks: list[dict] = [
        {
            "expectation": "expect_table_row_count_to_be_between",
            "min_value": output.min_rows,
            "severity": "error",
            "description": f"{output.file} has at least {output.min_rows} rows",
        }
    ]
    key = list(output.key)
    checks.append(
        {
            "expectation": "expect_compound_columns_to_be_unique" if len(key) > 1 else "expect_column_values_to_be_unique",
            **({"column_list": key} if len(key) > 1 else {"column": key[0]}),
            "severity": "error",
            "description": f"{' + '.join(key)} is unique in {output.file}",
        }
    )
    for column in output.columns:
        if column.do_not_map:
            continue
        name, severity = column.name, column.severity
        if column.required:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": r"\S",
                    "severity": severity,
                    "description": f"{name} is required",
                }
            )
        if column.max_length:
            checks.append(
                {
                    "expectation": "expect_column_value_lengths_to_be_between",
                    "column": name,
                    "max_value": column.max_length,
                    "severity": severity,
                    "description": f"{name} is at most {column.max_length} characters",
                }
            )
        if column.allowed:
            checks.append(
                {
                    "expectation": "expect_column_values_to_be_in_set",
                    "column": name,
                    "value_set": list(column.allowed),
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} is one of {', '.join(column.allowed)}",
                }
            )
        if column.pattern:
            checks.append(
                {
                    "expectation": "expect_column_values_to_match_regex",
                    "column": name,
                    "regex": column.pattern,
                    "ignore_blank": True,
                    "severity": severity,
                    "description": f"{name} matches {column.pattern}",
                }
            )
    for ref in output.references:
        subset = f" where {conditions_text(ref.where)}" if ref.where else ""
        checks.append(
            {
                "expectation": "expect_column_values_to_be_in_set",
                "column": ref.column,
                "value_set_from": {"table": reference_table(ref), "column": ref.key},
                **({"split": ref.separator} if ref.separator else {}),
                "ignore_blank": True,
                "severity": ref.severity,
                "description": ref.description or f"every {ref.column} of {output.file} is a {ref.key} in {ref.file}{subset}",
            }
        )
    if output.cells is not None:
        cells = output.cells
        forbidden = "|".join(re.escape(text) for text in cells.forbid)
        for column in output.delivered_columns:
            checks.append(
                {
                    "expectation": "expect_column_values_to_not_match_regex",
                    "column": column,
                    "regex": forbidden,
                    "severity": cells.severity,
                    "description": f"{column}: {cells.description}" if cells.description else
                    f"{column} holds {' or '.join(_shown(text) for text in cells.forbid)}, which no cell of {output.file} may hold",
                }
            )
    if output.format.type == "delimited" and output.format.quoting == "none":
        separator = output.format.delimiter
        for column in output.delivered_columns:
            checks.append(
                {
                    "expectation": "expect_column_values_to_not_match_regex",
                    "column": column,
                    # A CSV reader takes a '"' that starts a field for an opening quote and reads on to the next one.
                    "regex": f'^"|[{re.escape(separator)}\r\n]',
                    "severity": "reject",
                    "description": f"{column} contains the delimiter {separator!r} or a line break, or starts with a "
                                   f"quote (\"), which {output.file} cannot quote",
                }
            )
    checks += encoding_checks(output.delivered_columns, output.format.encoding, output.file)
    return checks + list(output.checks)


def _shown(text: str) -> str:
    """A forbidden text in a reason: a line break by name, anything else quoted."""
    return {"\n": "a line break (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab (\\t)"}.get(text, repr(text))


def reference_table(ref) -> str:
    """The name the runner is given the rows of a reference's file under: the file, or its subset with ``where``
    (``orgs.csv where type in [school]``)."""
    return f"{ref.file} where {conditions_text(ref.where)}" if ref.where else ref.file


def reference_tables(output, files: dict, run_date=None) -> dict:
    """The subsets of the built ``files`` (by file name) that the output's references with ``where`` name."""
    from aeries_hub.mapping.conditions import conditions_mask

    subsets = {}
    for n, ref in enumerate(output.references):
        if ref.where:
            rows = files[ref.file]
            subsets[reference_table(ref)] = rows[conditions_mask(rows, ref.where, f"references[{n}].where", run_date).to_numpy()]
    return subsets


def rule_checks(output, where: str, run_date=None) -> list:
    """The checks of the output's ``counts:`` and ``matches:`` (:mod:`aeries_hub.mapping.row_rules`), their date
    conditions comparing with ``run_date``."""
    import dataclasses

    from aeries_hub.quality.checks import rule_check

    return [rule_check(dataclasses.replace(written.rule, run_date=run_date), written.severity,
                       description=written.description, where=f"{where}.{key}[{i}]")
            for key, rules in (("counts", output.counts), ("matches", output.matches))
            for i, written in enumerate(rules)]


#: Encodings that hold every Unicode character: a file in one of them never needs encoding checks.
_UNICODE_ENCODINGS = {"utf_8", "utf_8_sig", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be", "gb18030"}


def encoding_checks(columns: Iterable[str], encoding: str, file: str) -> list[dict[str, Any]]:
    """Reject checks for an output file whose encoding cannot hold every character (latin-1, ascii, cp1252...).

    One check per column: a row with a character the encoding lacks (a Vietnamese, Chinese or emoji name in
    a latin-1 file) is rejected with a reason naming the column and the encoding, and the rest of the file is
    delivered; without them the file could not be written at all. Nothing is transliterated or replaced.
    Empty for utf-8 and the other Unicode encodings.
    """
    import codecs

    name = codecs.lookup(encoding).name.replace("-", "_")
    if name in _UNICODE_ENCODINGS:
        return []
    outside = f"[^{_encodable_class(name)}]"
    return [
        {
            "expectation": "expect_column_values_to_not_match_regex",
            "column": column,
            "regex": outside,
            "severity": "reject",
            "description": (
                f"{column} has a character that {encoding} cannot encode ({file} is written in {encoding}); "
                f"correct the value in Aeries, or set format.encoding to utf-8 if the vendor accepts it"
            ),
        }
        for column in columns
    ]


@lru_cache(maxsize=8)
def _encodable_class(encoding: str) -> str:
    """The characters ``encoding`` can encode, as the inside of a regular-expression character class."""
    ranges: list[list[int]] = []
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        try:
            chr(code).encode(encoding)
        except UnicodeEncodeError:
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])

    def escaped(code: int) -> str:
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return "".join(escaped(a) if a == b else f"{escaped(a)}-{escaped(b)}" for a, b in ranges)
