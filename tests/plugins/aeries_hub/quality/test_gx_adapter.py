"""The Great Expectations adapter: GX checks the arguments, writes Data Docs, logs only its warnings, and the
expectation table is kept in step with the installed GX."""

from __future__ import annotations

import json
import logging

import pytest

from aeries_hub.quality import EXPECTATIONS, CheckConfigError, gx_adapter, validate_frame
from tests.plugins.aeries_hub.quality.check_specs import checks, spec


def test_expectation_arguments_are_checked_by_gx_when_the_suite_is_built(students):
    with pytest.raises(CheckConfigError) as info:
        validate_frame(students, checks(
            spec("expect_column_values_to_be_between", column="Grade", min_value=-2, max_vale=18),
        ), name="students")
    assert str(info.value) == "test.yml: students[0]: expect_column_values_to_be_between: max_vale: unknown argument"


def test_data_docs_index_and_validation_json(tmp_path, students, schools):
    docs = tmp_path / "quality"
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_in_set", "reject", column="SchoolCode",
             value_set_from={"table": "schools", "column": "SchoolCode"}),
        spec("expect_compound_columns_to_be_unique", column_list=["SchoolCode", "StudentID"],
             description="one record per student and school"),
    ), name="students", tables={"schools": schools}, docs_dir=docs)
    assert (docs / "index.html").is_file()
    assert outcome.artifacts == {
        "rejects_validation_json": str(docs / "students.rejects.validation.json"),
        "validation_json": str(docs / "students.validation.json"),
        "docs_index": str(docs / "index.html"),
    }
    gate = json.loads((docs / "students.validation.json").read_text())
    assert gate["suite_name"] == "students" and gate["success"] is True
    [result] = gate["results"]
    # GX tests the rows found unique here (helpers.py), and its meta names the check's own expectation
    assert result["expectation_config"]["type"] == "expect_column_values_to_be_in_set"
    assert result["expectation_config"]["kwargs"]["column"] == "(SchoolCode, StudentID) is unique"
    assert result["expectation_config"]["meta"]["expectation"] == "expect_compound_columns_to_be_unique"
    assert result["expectation_config"]["meta"]["severity"] == "error"
    assert result["expectation_config"]["meta"]["description"] == "one record per student and school"
    assert result["result"]["element_count"] == 5  # the rejected row is not in the gate suite's batch
    rejects = json.loads((docs / "students.rejects.validation.json").read_text())
    assert rejects["results"][0]["result"]["unexpected_index_list"] == [3]
    assert rejects["results"][0]["expectation_config"]["meta"]["value_set_from"] == "schools.SchoolCode"
    assert "timings" in outcome.to_dict() and outcome.timings["docs"] < 10

    # a second table validated into the same folder is added to the same site
    validate_frame(schools, checks(spec("expect_table_row_count_to_be_between", min_value=1)), name="schools", docs_dir=docs)
    index = (docs / "index.html").read_text()
    assert "students" in index and "schools" in index
    pages = sorted(p.relative_to(docs).parts[1] for p in (docs / "validations").rglob("*.html"))
    assert pages == ["schools", "students", "students-rejects"]


def test_expectation_table_matches_the_installed_great_expectations():
    gx_adapter.import_gx()
    from great_expectations.expectations import expectation as base
    from great_expectations.expectations.registry import get_expectation_impl

    kinds = {
        "column_map": base.ColumnMapExpectation,
        "column_pair_map": base.ColumnPairMapExpectation,
        "multicolumn_map": base.MulticolumnMapExpectation,
        "column_aggregate": (base.ColumnAggregateExpectation, base.BatchExpectation),
        "table": base.BatchExpectation,
    }
    for name, info in EXPECTATIONS.items():
        cls = get_expectation_impl(name)
        assert issubclass(cls, kinds[info.kind]), name
        ours = {r for requirement in info.requires for r in (requirement if isinstance(requirement, tuple) else (requirement,))}
        theirs = {f for f, field in cls.__fields__.items() if field.required}
        assert theirs <= ours, (name, theirs - ours)


def test_gx_logs_only_its_warnings_and_errors(caplog, students):
    with caplog.at_level("INFO"):
        validate_frame(students, checks(spec("expect_column_values_to_not_be_null", column="StudentID")), name="students")
        logging.getLogger("great_expectations.data_context").warning("a GX warning")
    gx_records = [record for record in caplog.records if record.name.startswith("great_expectations")]
    assert [record.getMessage() for record in gx_records] == ["a GX warning"]


def test_a_gx_module_that_sets_its_own_logger_to_info_is_quiet_too(caplog, students):
    from great_expectations.data_context.types.base import InMemoryStoreBackendDefaults

    with caplog.at_level("INFO"):
        validate_frame(students, checks(spec("expect_column_values_to_not_be_null", column="StudentID")), name="students")
        # This GX module sets its logger to INFO itself, and logs this INFO line ("Created temporary directory ...").
        InMemoryStoreBackendDefaults(init_temp_docs_sites=True)
    assert [record.name for record in caplog.records if record.name.startswith("great_expectations")] == []


def test_an_expectation_configuration_is_built_once_per_lookup_and_afresh_after_a_change():
    gx_adapter.import_gx()
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import ExpectColumnValuesToBeInSet

    expectation = ExpectColumnValuesToBeInSet(column="Grade", value_set=["9", "10"], mostly=0.5)
    assert expectation.configuration is not expectation.configuration  # outside a lookup: GX's own behaviour
    runtime = expectation._get_runtime_kwargs()
    assert (runtime["column"], runtime["value_set"], runtime["mostly"]) == ("Grade", ["9", "10"], 0.5)
    assert gx_adapter._configurations == {}  # nothing kept after the lookup
    expectation.value_set = ["11"]
    assert expectation._get_runtime_kwargs()["value_set"] == ["11"]
    assert expectation.configuration.kwargs["value_set"] == ["11"]


def test_each_expectation_is_validated_on_the_columns_it_reads_and_gx_keeps_no_metric_after(monkeypatch, tmp_path,
                                                                                              students):
    # GX copies every column of a batch to leave a check's null rows out, and its execution engine caches every
    # metric it computed until the context goes: at district scale, the rows of every check at once
    batches = []
    original = gx_adapter.FrameValidator.batch

    def batch(self, frame):
        batches.append((list(frame.columns), original(self, frame)))
        return batches[-1][1]

    monkeypatch.setattr(gx_adapter.FrameValidator, "batch", batch)
    docs = tmp_path / "quality"
    outcome = validate_frame(students, checks(
        spec("expect_column_values_to_be_between", "reject", column="Grade", min_value=-2, max_value=18),
        spec("expect_column_values_to_not_be_null", column="StudentEmailAddress"),
        spec("expect_column_values_to_be_between", "warning", column="Grade", min_value=9, max_value=12),
        spec("expect_table_row_count_to_be_between", min_value=1),
    ), name="students", docs_dir=docs, data_docs=False)
    assert [columns for columns, _ in batches] == [["Grade"], ["StudentEmailAddress"], ["Grade"],
                                                   ["Grade", "StudentEmailAddress"]]
    assert all(len(made.data.execution_engine._metric_cache) == 0 for _, made in batches)
    assert [(r.expectation, r.success, r.unexpected_count) for r in outcome.results] == [
        ("expect_column_values_to_be_between", False, 2),
        ("expect_column_values_to_not_be_null", False, 1),
        ("expect_column_values_to_be_between", True, 0),  # on the four rows the reject check left
        ("expect_table_row_count_to_be_between", True, None),
    ]
    # one validation result per suite, in the suite's order, as GX writes it for a suite validated at once
    gate = json.loads((docs / "students.validation.json").read_text())
    assert [result["expectation_config"]["meta"]["check"] for result in gate["results"]] == [1, 2, 3]
    assert gate["statistics"] == {"evaluated_expectations": 3, "successful_expectations": 2,
                                  "unsuccessful_expectations": 1, "success_percent": 2 / 3 * 100}
    assert gate["success"] is False and gate["suite_name"] == "students"
    assert gate["meta"]["great_expectations_version"]
