"""Expressions (aeries_hub.mapping.expressions): what they accept and give, over hand-written rows, and every form
they refuse, with its exact message. How mappings use them (values, cases, where, keys) is in
test_expression_values.py."""

from __future__ import annotations

import pandas as pd
import pytest

from aeries_hub.mapping.expressions import FUNCTIONS, ExpressionError, compile_cases, compile_expression
from aeries_hub.mapping.models import MappingError
from aeries_hub.mapping.text import TEXT
from aeries_hub.mapping.values import RunValues


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(values, dtype=TEXT) for name, values in columns.items()})


def values(text: str, rows: pd.DataFrame, run: RunValues | None = None, settings=None) -> list[str]:
    return list(compile_expression(text, settings).text_values(rows, run))


def refused(text: str, settings=None, expect="value") -> str:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text, settings, expect)
    return str(err.value)


RACES = frame(RaceCode1=["100", "201", " 700 ", "", "301"], RaceCode2=["", "600", "400", "", "299"],
              RaceCode3=["", "", "", "", "700"])
LIST = "[RaceCode1, RaceCode2, RaceCode3]"


def test_an_expression_knows_what_it_reads_and_gives():
    expression = compile_expression("lower(staff.EmailAddress) if not blank(staff.EmailAddress) else EmailAddress + '!'")
    assert expression.kind == "text"
    assert expression.columns == ("staff.EmailAddress", "EmailAddress")
    assert compile_expression("run.school_year + '-' + settings.prefix", {"prefix": "T"}).run_values == {"school_year"}
    assert compile_expression("StudentID == '1' or Grade >= 9", expect="condition").kind == "bool"
    assert compile_expression("date(EndDate)").kind == "date"


def test_literals_comparisons_and_conditionals():
    rows = frame(Code=["F", "S1", "3", " 4 ", ""], Grade=["9", "10", "K", "", "12"])
    assert values("Code in ['F', 'S', 'S1'] ", rows) == ["true", "true", "false", "false", "false"]
    assert values("Code not in ['F']", rows) == ["false", "true", "true", "true", "true"]
    # A column is read trimmed; text compared with a number is read as a number (not one: false).
    assert values("Code == '4'", rows) == ["false", "false", "false", "true", "false"]
    assert values("Grade >= 10", rows) == ["false", "true", "false", "false", "true"]
    assert values("9 <= Grade < 12", rows) == ["true", "true", "false", "false", "false"]
    assert values("'semester' if Code in ['F', 'S1'] else 'term' if Code == '3' else ''", rows) == [
        "semester", "semester", "term", "", ""]
    assert values("Code + '-' + Grade", rows) == ["F-9", "S1-10", "3-K", "4-", "-12"]
    assert values("Grade == '' or not (Code == 'F' and True)", rows) == ["false", "true", "true", "true", "true"]
    assert values("length(Grade) + 1", rows) == ["2", "3", "2", "1", "3"]
    assert values("2", rows) == ["2"] * 5
    assert values("settings.domain", rows, settings={"domain": "example.org"}) == ["example.org"] * 5


def test_run_values_and_the_run_date():
    rows = frame(EndDate=["2026-06-30", "2026-07-02", ""])
    run = RunValues(run_date=pd.Timestamp("2026-07-01").date(), aeries={"school_year": "2026-2027"})
    assert values("run.school_year", rows, run) == ["2026-2027"] * 3
    assert values("date(EndDate) < today()", rows, run) == ["true", "false", "false"]
    assert values("run_date", rows, run) == ["2026-07-01"] * 3
    with pytest.raises(MappingError, match=r"x: today\(\) and run_date need the run's date, which this build"):
        compile_expression("today()").evaluate(rows, RunValues(), "x")


def test_text_functions():
    rows = frame(Email=[" Pat@Example.ORG ", "lee@example.org", ""], Other=["", "x", "y"])
    assert values("lower(Email)", rows) == ["pat@example.org", "lee@example.org", ""]
    assert values("upper(Email)", rows) == ["PAT@EXAMPLE.ORG", "LEE@EXAMPLE.ORG", ""]
    assert values("trim('  a ' + Other)", rows) == ["a", "a x", "a y"]
    assert values("blank(Email)", rows) == ["false", "false", "true"]
    assert values("coalesce(Other, Email, 'none')", rows) == ["Pat@Example.ORG", "x", "y"]
    assert values("contains(lower(Email), 'example')", rows) == ["true", "true", "false"]
    assert values("starts_with(Email, 'lee')", rows) == ["false", "true", "false"]
    assert values("ends_with(lower(Email), '.org')", rows) == ["true", "true", "false"]
    assert values("starts_with(Email, Other)", rows) == ["true", "false", "false"]  # per row: '' starts every text
    assert values("matches(Email, '^[a-z]+@')", rows) == ["false", "true", "false"]
    assert values("replace(Email, '@.*$', '')", rows) == ["Pat", "lee", ""]
    assert values("replace(Email, r'^(\\w+)@(\\w+)', r'\\2.\\1')", rows) == ["Example.Pat.ORG", "example.lee.org", ""]
    assert values("length(Email)", rows) == ["15", "15", "0"]
    assert values("number(Other) if False else number('7.5')", rows) == ["7.5"] * 3


def test_list_functions():
    rows = frame(Teachers=["T1, T2,T3", "T9", ""], Programs=["144,101", "999", ""])
    assert values("item(split(Teachers, ','), 1)", rows) == ["T1", "T9", ""]
    assert values("item(split(Teachers, ','), 2)", rows) == ["T2", "", ""]
    assert values("item(split(Teachers, ','), 5)", rows) == ["", "", ""]
    assert values("count(split(Teachers, ','))", rows) == ["3", "1", "0"]
    assert values("join(split(Teachers, ','), '|')", rows) == ["T1|T2|T3", "T9", ""]
    assert values("join(map_values(split(Programs, ','), {'144': 'iep', '101': 'gate'}), ';')", rows) == [
        "iep;gate", "999", ""]
    assert values("join(map_values(split(Programs, ','), {'144': 'iep'}, 'other'), ';')", rows) == [
        "iep;other", "other", ""]
    assert values("map_values(Programs, {'999': 'nine'})", rows) == ["144,101", "nine", ""]
    assert values("join([Teachers, 'x', Programs], ' / ')", rows) == ["T1, T2,T3 / x / 144,101", "T9 / x / 999", "x"]


def test_a_groups_values_and_a_list_without_the_rows_own():
    # a section's exploded staff members: 1-10 has 902 (twice), 1001, 90 and a blank; 2-10 one; 1-5 one
    rows = frame(SchoolCode=["1", "1", "1", "1", "2", "1", "1"],
                 SectionNumber=["10", "10", "10", "10", "10", "5", "10"],
                 StaffID=["902", "1001", "", "902", "7", "x", "90"])
    rows.index = [10, 11, 12, 13, 14, 15, 16]  # the rows kept by a where keep their index
    group = "group_values(StaffID, [SchoolCode, SectionNumber])"
    assert values(f"join({group}, '|')", rows) == ["90|902|1001"] * 4 + ["7", "x", "90|902|1001"]
    assert values(f"count({group})", rows) == ["3", "3", "3", "3", "1", "1", "3"]
    assert values(f"join(without({group}, StaffID), '|')", rows) == [
        "90|1001", "90|902", "90|902|1001", "90|1001", "", "", "902|1001"]
    assert values(f"item(without({group}, StaffID), 2)", rows) == ["1001", "902", "902", "1001", "", "", "1001"]
    assert values(f"item(without({group}, StaffID), 4)", rows) == [""] * 7
    assert values(f"join(without({group}, StaffID), '|')", rows.iloc[:0]) == []


def test_race_flags_from_five_codes():
    assert values(f"any_in({LIST}, ['100'])", RACES) == ["true", "false", "false", "false", "false"]
    assert values(f"any_in({LIST}, ['700'])", RACES) == ["false", "false", "true", "false", "true"]
    assert values(f"any_matches({LIST}, '^(2[0-9][0-9]|400)$')", RACES) == ["false", "true", "true", "false", "true"]
    assert values(f"count_in({LIST}, ['100', '600', '700', '201'])", RACES) == ["1", "2", "1", "0", "1"]
    assert values("'600' in [RaceCode1, RaceCode2]", RACES) == ["false", "true", "false", "false", "false"]


def test_dates():
    rows = frame(Day=["2027-03-15T00:00:00", "2026-07-01", "0001-01-01T00:00:00", "", "2026-06-30"])
    assert values("date(Day)", rows) == ["2027-03-15", "2026-07-01", "", "", "2026-06-30"]
    assert values("format_date(date(Day), '%m/%d/%Y')", rows) == ["03/15/2027", "07/01/2026", "", "", "06/30/2026"]
    assert values("add_days(date(Day), -1)", rows) == ["2027-03-14", "2026-06-30", "", "", "2026-06-29"]
    assert values("days_between(date(Day), date('2026-12-25'))", rows) == ["-80", "177", "", "", "178"]
    assert values("year(date(Day))", rows) == ["2027", "2026", "", "", "2026"]
    assert values("date(Day) >= '2026-07-01'", rows) == ["true", "true", "false", "false", "false"]
    assert values("school_year_start(date(Day))", rows) == ["2026-07-01", "2026-07-01", "", "", "2025-07-01"]
    assert values("school_year(date(Day))", rows) == ["2026-2027", "2026-2027", "", "", "2025-2026"]
    assert values("school_year(date(Day), '08-15')", rows) == ["2026-2027", "2025-2026", "", "", "2025-2026"]


def test_times_carry_the_offset_of_their_date_on_both_sides_of_each_transition():
    # America/Los_Angeles: daylight time from 2026-03-08 02:00 (-07:00) to 2026-11-01 02:00 (back to -08:00).
    rows = frame(At=["2026-03-08T01:59:59", "2026-03-08T03:00:00", "2026-03-08T02:30:00", "2026-11-01T00:59:59",
                     "2026-11-01T01:30:00", "2026-11-01T02:00:00", "2026-01-15", ""])
    assert values("format_datetime(datetime(At, 'America/Los_Angeles'))", rows) == [
        "2026-03-08T01:59:59-08:00", "2026-03-08T03:00:00-07:00",
        "2026-03-08T03:30:00-07:00",  # the skipped hour is read an hour later
        "2026-11-01T00:59:59-07:00",
        "2026-11-01T01:30:00-07:00",  # the repeated hour is its first (daylight) occurrence
        "2026-11-01T02:00:00-08:00", "2026-01-15T00:00:00-08:00", ""]
    assert values("format_datetime(datetime(At, 'America/Los_Angeles'), '%Y-%m-%dT%H:%M:%SZ', 'UTC')", rows)[:3] == [
        "2026-03-08T09:59:59Z", "2026-03-08T10:00:00Z", "2026-03-08T10:30:00Z"]
    assert values("format_datetime(datetime(At, 'Europe/Paris'), '%d.%m.%Y %H:%M %z')", rows)[0] == "08.03.2026 01:59 +0100"
    assert values("datetime(At, 'America/New_York')", rows)[1] == "2026-03-08T03:00:00-04:00"


def test_every_function_has_a_description_and_an_example_that_compiles():
    for function in FUNCTIONS.values():
        assert function.description, function.name
        compile_expression(function.example, expect="any")


@pytest.mark.parametrize(("text", "message"), [
    ("x.lower()", "expression 'x.lower()': there are no methods: call a function as f(x) (lower(x), not x.lower())"),
    ("x[1]", "expression 'x[1]': indexing is not available: item(list, n) gives the n-th element"),
    ("lambda: 1", "expression 'lambda: 1': lambdas are not available"),
    ("[a for a in b]", "expression '[a for a in b]': comprehensions are not available: map_values, any_in, count_in "
                       "and join work on lists"),
    ("f'{x}'", "expression \"f'{x}'\": f-strings are not available: join text with +"),
    ("x * 2", "expression 'x * 2': the operators are + and - (and comparisons, and, or, not)"),
    ("None", "expression 'None': None is not a value an expression can hold (text, a number, True or False)"),
    ("__import__('os')", "expression \"__import__('os')\" at '__import__': names starting with __ are not available"),
    ("__builtins__", "expression '__builtins__': names starting with __ are not available"),
    ("x.__class__", "expression 'x.__class__': only alias.Column, settings.NAME and run.NAME have a dot; there are no "
                    "methods: write lower(x), not x.lower()"),
    ("a.b.c", "expression 'a.b.c': only alias.Column, settings.NAME and run.NAME have a dot; there are no methods: "
              "write lower(x), not x.lower()"),
    ("open('f')", "expression \"open('f')\" at 'open': unknown function 'open'; functions: add_days, any_in, "
                  "any_matches, blank, coalesce, contains, count, count_in, date, datetime, days_between, ends_with, "
                  "format_date, format_datetime, group_values, item, join, length, lower, map_values, matches, "
                  "number, replace, school_year, school_year_start, split, starts_with, today, trim, upper, without, "
                  "year"),
    ("lowr(x)", "expression 'lowr(x)' at 'lowr': unknown function 'lowr' (did you mean 'lower'?); functions: "
                "add_days, any_in, any_matches, blank, coalesce, contains, count, count_in, date, datetime, "
                "days_between, ends_with, format_date, format_datetime, group_values, item, join, length, lower, "
                "map_values, matches, number, replace, school_year, school_year_start, split, starts_with, today, "
                "trim, upper, without, year"),
    ("lower", "expression 'lower': lower is a function: call it as lower(x)"),
    ("lower(x, y)", "expression 'lower(x, y)': lower takes 1 argument, 2 given: lower(x)"),
    ("coalesce(x)", "expression 'coalesce(x)': coalesce takes 2 or more arguments, 1 given: coalesce(a, b, ...)"),
    ("lower(x=1)", "expression 'lower(x=1)': write the arguments in order, without names: lower(x)"),
    ("matches(x, '(')", "expression \"matches(x, '(')\" at \"'('\": matches's 2nd argument (regex): '(' is not a "
                        "regular expression: missing ), unterminated subpattern at position 0"),
    ("matches(x, y)", "expression 'matches(x, y)' at 'y': matches's 2nd argument (regex) is written as a literal "
                      "value, e.g. '^[0-9]+$'"),
    ("datetime(x, 'Mars/Base')", "expression \"datetime(x, 'Mars/Base')\" at \"'Mars/Base'\": datetime's 2nd argument "
                                 "(tz): 'Mars/Base' is not an IANA time zone (e.g. America/Los_Angeles)"),
    ("item(split(x, ','), 0)", "expression \"item(split(x, ','), 0)\" at '0': item's 2nd argument (n): 0 is not a "
                               "position: positions start at 1"),
    ("format_date(x)", "expression 'format_date(x)' at 'x': format_date's 1st argument (d) is date or datetime, not "
                       "text (convert text with date(x))"),
    ("format_date(date(x), 'Y-m-d')", "expression \"format_date(date(x), 'Y-m-d')\" at \"'Y-m-d'\": format_date's 2nd "
                                      "argument (fmt): 'Y-m-d' is not a strftime format: it has no %-code (e.g. "
                                      "'%Y-%m-%d')"),
    ("school_year(date(x), '7/1')", "expression \"school_year(date(x), '7/1')\" at \"'7/1'\": school_year's 2nd "
                                    "argument (month_day): '7/1' is not a month and day written MM-DD (e.g. '07-01')"),
    ("split(x, ',')", "expression \"split(x, ',')\": a list cannot be a value: join(list, ',') or item(list, n) makes "
                      "text of a list"),
    ("{'a': 'b'}", "expression \"{'a': 'b'}\": a map cannot be a value: a map is an argument of map_values"),
    ("x == date(y)", "expression 'x == date(y)' at 'x': text compared with a date: convert it with date(...)"),
    ("date(y) < '2026-13-01'", "expression \"date(y) < '2026-13-01'\" at \"'2026-13-01'\": '2026-13-01' is not a date "
                               "written YYYY-MM-DD"),
    ("x in y", "expression 'x in y' at 'y': in takes a list on its right: x in ['a', 'b']"),
    ("x if y else 'b'", "expression \"x if y else 'b'\" at 'y': a condition is true or false, not text: compare it "
                        "(x == 'Y'), or test it with blank(x)"),
    ("x if blank(y) else True", "expression 'x if blank(y) else True' at 'True': a branch is text, not bool"),
    ("date(x) + 1", "expression 'date(x) + 1': + joins text and adds numbers, - subtracts numbers; here date and "
                    "number (dates: add_days(d, n), days_between(a, b))"),
    ("settings", "expression 'settings': write settings.NAME"),
    ("settings.prefx", "expression 'settings.prefx': unknown setting 'prefx' (did you mean 'prefix'?); settings: prefix"),
    ("run.year", "expression 'run.year': unknown run value 'year'; run values: district_name, school_year, "
                 "school_year_start_year, school_year_end_year, school_year_first_day, school_year_last_day"),
    ("x ==", "expression 'x ==': not an expression: invalid syntax (column 1); the syntax is Python's, e.g. "
             "\"'a' if x == '1' else 'b'\""),
    ("any_in([x, y], 'a')", "expression \"any_in([x, y], 'a')\" at \"'a'\": any_in's 2nd argument (values) is list, not text"),
])
def test_what_an_expression_refuses(text, message):
    assert refused(text, {"prefix": "T"}) == message


def test_a_condition_is_true_or_false():
    assert refused("lower(x)", expect="condition") == (
        "expression 'lower(x)': a condition is true or false, not text: compare it (x == 'Y'), or test it with blank(x)")
    assert refused("  ") == "an expression is a text, e.g. \"lower(EmailAddress)\""


def test_cases_are_one_conditional():
    rows = frame(Code=["F", "2", "2", "4", "X"], Description=["Fall", "Winter Trimester", "Q2", "Q4", "Summer"])
    cases = compile_cases([
        {"when": "Code in ['F', 'S']", "value": "semester"},
        {"when": "Code in ['1', '2', '3'] and contains(lower(Description), 'trimester')", "value": "term"},
        {"when": "Code in ['1', '2', '3', '4']", "value": {"expr": "'gp-' + Code"}},
    ], "{Description} ({Code})")
    assert list(cases.text_values(rows, RunValues())) == ["semester", "term", "gp-2", "gp-4", "Summer (X)"]
    assert cases.columns == ("Code", "Description")
    with pytest.raises(ExpressionError, match=r"^gives bool and the cases after it text: every case gives one kind"):
        compile_cases([{"when": "True", "value": {"expr": "blank(x)"}}], "")
    with pytest.raises(ExpressionError) as err:
        compile_cases([{"when": "x", "value": "a"}], "")
    assert err.value.at == "cases[0].when"
