"""Which tasks import Great Expectations and pandas: only those that run checks (validate_sources, the builds).

Each task process imports its task module and, when it runs, the modules its function imports; GX's import costs
about 120 MiB and 1.7 s of CPU, pandas' about 75 MiB, in every process that imports them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]

#: What each task that checks nothing imports when it runs (its module's imports and its function's).
NON_CHECKING_TASKS = {
    "extract_*": ["aeries_hub.tasks.extract", "aeries_hub.extract.incremental", "aeries_hub.extract.fetch",
                  "aeries_hub.quality.aeries_sources", "aeries_hub.quality.checks"],
    "track_changes": ["aeries_hub.tasks.track"],
    "package, deliver": ["aeries_hub.tasks.deliver", "aeries_hub.calendar_policy", "aeries_hub.extract.school_year"],
    "report": ["aeries_hub.tasks.report", "aeries_hub.resources", "aeries_hub.quality.messages"],
    "check_target, wait_for_window": ["aeries_hub.tasks.gates"],
}


def imported_after(modules: list[str], *, then: str = "") -> list[str]:
    code = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n{then}\n"
            "print(sorted(m for m in ('great_expectations', 'pandas', 'numpy', 'altair') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{REPO / 'plugins'}"})
    return ast.literal_eval(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("task", NON_CHECKING_TASKS)
def test_a_task_that_checks_nothing_imports_neither_gx_nor_pandas(task):
    assert imported_after(NON_CHECKING_TASKS[task]) == []


def test_the_package_resolves_its_names_on_first_use():
    assert imported_after(["aeries_hub.quality"], then="from aeries_hub.quality import load_checks, failure_sentence") == []
    assert imported_after(["aeries_hub.quality"], then="from aeries_hub.quality import validate_frame") == ["numpy", "pandas"]


def test_the_columns_an_extract_keeps_are_found_without_pandas():
    """An extract task asks which columns the DAG reads (mapping/reads.py), not the engine that evaluates them: the
    engine's import took pandas, 0.5 s of the teachers' extraction of 1.1 s at 500,000 students."""
    then = ("from aeries_hub.extract.incremental import kept_columns\n"
            "from aeries_hub.mapping.loader import load_mapping\n"
            "from aeries_hub.quality import load_checks\n"
            "from aeries_hub.quality.aeries_sources import SOURCE_CHECKS_FILE\n"
            "checks = load_checks(SOURCE_CHECKS_FILE)\n"
            "for table in ('teachers', 'students', 'rosters'):\n"
            "    assert kept_columns(load_mapping('include/mappings/stemscopes.yml'), table, checks)")
    assert imported_after(NON_CHECKING_TASKS["extract_*"], then=then) == []
