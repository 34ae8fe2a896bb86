"""render_delimited writes, byte for byte, what Python's csv module writes for the same format.

The csv module is the reference: render_delimited builds large files a column at a time in Arrow, and
this compares the two on values full of the characters that decide quoting, and those that make a spreadsheet
read a formula (each value is escaped before either path writes it; one column keeps its raw values).
"""

from __future__ import annotations

import csv
import io
import random
import string

import pandas as pd
import pytest

from aeries_hub.mapping.models import FileFormat
from aeries_hub.mapping.render import render_delimited

ALPHABET = ['a', 'Z', '0', '9', ' ', ',', '|', ';', '\t', '"', "'", '\n', '\r', 'é', 'ễ', '€', '😀', '\\', '',
            '=', '+', '-', '@', '.', '١']


def spreadsheet_safe(value, raw: bool = False):
    """OWASP: a text cell starting with = + - @ tab or CR gets a ' in front, unless it is a plain decimal number."""
    if raw or not isinstance(value, str) or not value or value[0] not in "=+-@\t\r":
        return value
    unsigned = value[1:] if value[0] in "+-" else value
    whole, dot, fraction = unsigned.partition(".")
    digits = set(string.digits)
    is_number = bool(whole or fraction) and set(whole + fraction) <= digits and (whole or dot)
    return value if is_number else "'" + value


def reference(rows: list[list[str]], columns: list[str], fmt: FileFormat, raw: tuple[str, ...] = ()) -> bytes:
    rows = [[spreadsheet_safe(v, column in raw) for v, column in zip(row, columns)] for row in rows]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=fmt.delimiter, quoting={"all": csv.QUOTE_ALL, "minimal": csv.QUOTE_MINIMAL}[fmt.quoting],
                        lineterminator="\r\n" if fmt.line_ending == "crlf" else "\n")
    if fmt.header:
        writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode(fmt.encoding)


@pytest.mark.parametrize("delimiter", [",", "|", "\t", ";"])
@pytest.mark.parametrize("quoting", ["minimal", "all"])
@pytest.mark.parametrize("line_ending", ["lf", "crlf"])
@pytest.mark.parametrize("dtype", ["str", object])
def test_same_bytes_as_the_csv_module(delimiter, quoting, line_ending, dtype):
    rng = random.Random(f"{delimiter}{quoting}{line_ending}{dtype}")
    columns = ["id", "name, with comma", 'quote"d', "plain"]
    rows = [["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in columns] for _ in range(2000)]
    rows += [["", "", "", ""], ['"', '""', ",", "\r\n"], ["-3", "=1+1", "+1 555 0100", "@SUM(A1)"],
             ["\t=1+1", "\r-1", "-", "+.5"], ["-3\n", "1-2", "'=x", "-١"]]
    fmt = FileFormat(delimiter=delimiter, quoting=quoting, line_ending=line_ending)
    frame = pd.DataFrame(rows, columns=columns, dtype=dtype)
    assert render_delimited(frame, columns, fmt, raw_columns=["plain"]) == reference(rows, columns, fmt, raw=("plain",))


def test_no_rows_writes_only_the_header():
    fmt = FileFormat()
    assert render_delimited(pd.DataFrame({"a": [], "b": []}, dtype="str"), ["a", "b"], fmt) == b"a,b\n"


def test_values_that_are_not_text_are_written_as_the_csv_module_writes_them():
    fmt = FileFormat(header=False)
    frame = pd.DataFrame({"a": [1, -2], "b": ["=x", None]}, dtype=object)
    expected = reference([[1, "=x"], [-2, None]], ["a", "b"], fmt)
    assert render_delimited(frame, ["a", "b"], fmt) == expected == b"1,'=x\n-2,\n"


@pytest.mark.parametrize("quoting", ["minimal", "all", "none"])
def test_formulas_are_escaped_on_both_paths(quoting):
    fmt = FileFormat(delimiter="|", quoting=quoting, header=False)
    columns = ["id", "name", "phone"]
    frame = pd.DataFrame(
        {"id": ["-3", "7"], "name": ["=HYPERLINK(\"http://x\")", "\t@cmd"], "phone": ["+1 555 0100", "-"]})

    written = render_delimited(frame, columns, fmt, raw_columns=["phone"])

    if quoting == "none":  # the csv module's path
        assert written == b"-3|'=HYPERLINK(\"http://x\")|+1 555 0100\n7|'\t@cmd|-\n"
    else:
        assert written == reference(frame.values.tolist(), columns, fmt, raw=("phone",))
