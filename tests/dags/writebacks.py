"""What the write-back end-to-end tests share: a write-back with writing on, the writes Aeries took, and what a
run staged."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator


def enabled_include(tmp_path_factory, file: str) -> Path:
    """A copy of include/ in which the write-back ``file`` has writing on (the shipped files have it off)."""
    from aeries_hub import paths

    include = tmp_path_factory.mktemp("include") / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    path = include / "writebacks" / file
    path.write_text(path.read_text().replace("\nenabled: false\n", "\nenabled: true\n"))
    return include


@contextmanager
def writeback_dag(include: Path, file: str) -> Iterator:
    """The DAG of write-back ``file`` of ``include``, whose tasks read that include/ while the block runs."""
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_writeback_dag
    from aeries_hub.writeback.loader import load_writeback

    saved = paths.WRITEBACKS_DIR
    paths.WRITEBACKS_DIR = include / "writebacks"
    try:
        yield build_writeback_dag(load_writeback(include / "writebacks" / file))
    finally:
        paths.WRITEBACKS_DIR = saved


def successful_writes(stack, *, bodies: bool = True) -> list[tuple]:
    """The writes the emulator took (its writes log, status below 300): method, path under /api/v5/, body."""
    return [
        (w["method"], w["path"].split("/api/v5/")[-1], *((w["body"],) if bodies else ()))
        for w in stack.emulator.writes() if w["status"] < 300
    ]


def staged(dag_run, name: str) -> Any:
    """A JSON file the run staged (``plan.json``, ``writes.json``, ``summary/<task>.json``)."""
    from aeries_hub.staging import RunFolder, staging_base

    return RunFolder(staging_base(), dag_run.dag_id, dag_run.run_id).read_json(name)


def report_of(dag_run) -> dict:
    """The run's report (``report.json``)."""
    return staged(dag_run, "report.json")
