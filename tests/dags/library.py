"""Running a mapping of the library (include/mappings/library/) on a test stack, as a district enables it: copied
into a copy of include/mappings/, with its SFTP connection (the stack serves only the shipped vendors' ones)
added on the stack's SFTP server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest


def run_library_mapping(stack, workdir: Path, name: str, conn_id: str, remote_dir: str) -> tuple[Any, Path, dict]:
    """Runs ``aeries_to_<name>`` once under dag.test(): its DagRun, the SFTP folder it delivered to, its report."""
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.staging import RunFolder, staging_base

    include = workdir / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    shutil.copy(include / "mappings" / "library" / f"{name}.yml", include / "mappings" / f"{name}.yml")
    folder = stack.sftp.root / remote_dir
    folder.mkdir(exist_ok=True)
    dag_id = f"aeries_to_{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
        patch.setenv(*stack.sftp.airflow_connection_uri_env(conn_id))
        dag_run = build_dags(include / "mappings")[dag_id].test()
        report = RunFolder(staging_base(), dag_id, dag_run.run_id).read_json("report.json")
    return dag_run, folder, report
