"""aeries_sandbox.demo_runs: where the output of the demo's one Airflow process goes (its runs end to end are
what `make demo` shows; tests/dags/ runs the same DAGs under dag.test())."""

from __future__ import annotations

import os

import pytest

from aeries_sandbox.demo_runs import main, output_to


def test_output_to_appends_both_descriptors_to_the_log_then_gives_them_back(tmp_path, capfd):
    log = tmp_path / "logs" / "aeries_to_destiny.log"
    log.parent.mkdir()
    log.write_bytes(b"the run before\n")
    with output_to(log):
        os.write(1, b"fd 1\n")
        os.write(2, b"fd 2\n")
    os.write(1, b"after\n")

    assert log.read_bytes() == b"the run before\nfd 1\nfd 2\n"
    assert capfd.readouterr() == ("after\n", "")


def test_main_names_its_usage():
    with pytest.raises(SystemExit) as raised:
        main([])
    assert str(raised.value) == "usage: python -m aeries_sandbox.demo_runs WORKDIR < plan.json"
