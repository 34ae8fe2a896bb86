"""A name the mapping format does not know (a key, a step, a table, a value of a list of choices) is a load error
naming the file, the line and the key path, with the closest valid name and every valid one; a template
placeholder where a literal value is compared is one too."""

from __future__ import annotations

from aeries_hub.aeries.tables import TABLES
from aeries_hub.mapping.steps import STEPS
from tests.plugins.aeries_hub.mapping.test_loader import lined_error

GRADE = "{source: Grade}"
RECORD_SET = "        from: students\n"
EVERY_STEP = ", ".join(sorted(STEPS))
EVERY_TABLE = ", ".join(TABLES)


def test_an_unknown_step_lists_every_step(tmp_path):
    assert {"trim", "truncate", "pad_left", "replace", "split_name", "blank_if_equal_to"} <= set(STEPS)
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [trimm]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: unknown step 'trimm' (did you mean 'trim'?); "
        f"steps: {EVERY_STEP}")


def test_a_list_item_that_is_not_one_step_says_how_to_write_it(tmp_path):
    # An argument's keys written beside the step's name instead of below it (a YAML indentation slip).
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{replace: null, pattern: a, with: b}]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: step 'replace' has its argument's keys "
        "(pattern, with) beside its name: indent them below replace: as the keys of its argument")
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{replace: null}]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: step 'replace' takes an argument: write it as "
        "{replace: ...}")
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{truncate: 3, trim: null}]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: 2 steps in one list item (truncate, trim): "
        "write each step as its own item")
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{truncate: 3, trimm: null}]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: a step is one name or {name: argument}, this "
        f"item has 2 keys; unknown step 'trimm' (did you mean 'trim'?); steps: {EVERY_STEP}")
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{3: x}]}") == (
        f"lined.yml:23: outputs[0].records[0].values.grade.transform[0]: unknown step '3'; steps: {EVERY_STEP}")
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [3]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0]: a step is written as its name (trim) or as "
        f"{{name: argument}}, not 3; steps: {EVERY_STEP}")


def test_a_step_argument_of_the_wrong_shape_is_named_by_its_own_keys(tmp_path):
    # crosswalk takes a name or {name, else}: a misspelt key of the object is named, not "is not a string".
    assert lined_error(tmp_path, GRADE, "{source: Grade, transform: [{crosswalk: {nam: g, else: x}}]}") == (
        "lined.yml:23: outputs[0].records[0].values.grade.transform[0].crosswalk: unknown key 'nam' (did you mean "
        "'name'?); allowed keys: else, name")


def test_a_value_outside_a_list_of_choices_suggests_the_closest(tmp_path):
    assert lined_error(tmp_path, "format: {}", "format: {quoting: Minimal}") == (
        "lined.yml:12: outputs[0].format.quoting: 'Minimal' is not one of all, minimal, none (did you mean 'minimal'?)")
    assert lined_error(tmp_path, "tables: [students]", "tables: [studnts]") == (
        f"lined.yml:7: source.tables[0]: 'studnts' is not one of {EVERY_TABLE} (did you mean 'students'?)")
    assert lined_error(tmp_path, "format: {}", "format: {quoting: some}") == (
        "lined.yml:12: outputs[0].format.quoting: 'some' is not one of all, minimal, none")


def test_a_misspelt_top_level_key_is_named_with_the_key_it_leaves_missing(tmp_path):
    assert lined_error(tmp_path, "schedule: null", "schedul: null") == (
        "lined.yml:3: (top): unknown key 'schedul' (did you mean 'schedule'?); allowed keys: aeries, calendar, "
        "crosswalks, delivery, description, guard, name, outputs, owner, schedule, settings, sharing, source, tags, "
        "tests, title, window\n"
        "lined.yml: (top): 'schedule' is required")


def test_an_unknown_table_lists_the_aeries_tables(tmp_path):
    assert lined_error(tmp_path, RECORD_SET, "        from: student\n") == (
        f"lined.yml:20: outputs[0].records[0].from: 'student' is not an Aeries table (did you mean 'students'?); "
        f"tables: {EVERY_TABLE}")
    lookup = RECORD_SET + "        lookups: {school: {table: School, 'on': {SchoolCode: SchoolCode}}}\n"
    assert lined_error(tmp_path, RECORD_SET, lookup) == (
        "lined.yml:21: outputs[0].records[0].lookups.school.table: 'School' is not an Aeries table (did you mean "
        f"'schools'?); tables: {EVERY_TABLE}")
    # An Aeries table the mapping does not extract.
    assert lined_error(tmp_path, RECORD_SET, "        from: staff\n").startswith(
        "lined.yml:20: outputs[0].records[0].from: table 'staff' is not in source.tables (students)")


def test_a_placeholder_in_a_condition_is_a_load_error_not_literal_text(tmp_path):
    where = RECORD_SET + "        where: [{column: SchoolCode, not_in: ['{SchoolCode}']}]\n"
    advice = ("would be compared as literal text: a condition's values are not templates, {SchoolCode} is never "
              "filled in. To compare with another column, look its row up (lookups, on) or write an expression "
              "condition (see Expressions in docs/mappings.md); a setting is written {settings.NAME}")
    assert lined_error(tmp_path, RECORD_SET, where) == (
        f"lined.yml:21: outputs[0].records[0].where[0].not_in[0]: '{{SchoolCode}}' {advice}")
    lookup = RECORD_SET + ("        lookups:\n"
                           "          same:\n"
                           "            table: students\n"
                           "            'on': {StudentID: StudentID}\n"
                           "            where:\n"
                           "              - column: SchoolCode\n"
                           "                in: [994, 'S{SchoolCode}']\n")
    assert lined_error(tmp_path, RECORD_SET, lookup) == (
        f"lined.yml:27: outputs[0].records[0].lookups.same.where[0].in[1]: 'S{{SchoolCode}}' {advice}")
    # A setting is filled in before the conditions are read: it is a literal value.
    setting = RECORD_SET + "        where: [{column: SchoolCode, in: ['{settings.prefix}']}]\n"
    assert lined_error(tmp_path, RECORD_SET, setting) is None
