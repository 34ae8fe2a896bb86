"""Running a mapping of the library (include/mappings/library/) on a test stack, as a district enables it: copied
into a copy of include/mappings/, with the connection its delivery names added: an SFTP connection on the stack's
SFTP server, or Canvas's on a Canvas SIS import emulator (aeries_sandbox.canvas_api) started for the run."""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def run_library_mapping(stack, workdir: Path, name: str) -> tuple[Any, Path, dict]:
    """Runs ``aeries_to_<name>`` once under dag.test(), its ``delivery.sftp`` connection on the stack's SFTP server:
    its DagRun, what it delivered (the SFTP folder, or the zip there when the mapping packages one), its report."""
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR

    mapping = load_mapping(MAPPINGS_DIR / "library" / f"{name}.yml")
    assert mapping.sftp_conn_id and mapping.sftp_remote_dir, f"{name}.yml delivers over delivery.sftp"
    folder = stack.sftp.root / mapping.sftp_remote_dir
    folder.mkdir(exist_ok=True)
    dag_run, run = _run_enabled(workdir, name, dict([stack.sftp.airflow_connection_uri_env(mapping.sftp_conn_id)]))
    return dag_run, folder / mapping.package_zip if mapping.package_zip else folder, run.read_json("report.json")


@dataclass
class UploadedRun:
    """A run of a library mapping whose delivery is ``http_upload``, and what the Canvas emulator saw of it."""

    dag_run: Any
    run: Any  # its RunFolder (output/, report.json)
    report: dict
    uploads: list  # aeries_sandbox.canvas_api.imports.Upload, in order
    requests: list[tuple[str, str, int | None]]  # (method, path, status) the emulator answered
    url: str  # the emulator's base URL


def run_library_mapping_on_canvas(workdir: Path, name: str = "canvas") -> UploadedRun:
    """Runs ``aeries_to_<name>`` once under dag.test(), its ``delivery.http_upload`` connection pointing at a Canvas
    SIS import emulator of its own (a fresh token)."""
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.paths import MAPPINGS_DIR
    from aeries_sandbox.canvas_api import CanvasApiServer

    conn_id = load_mapping(MAPPINGS_DIR / "library" / f"{name}.yml").http_upload.conn_id
    token = secrets.token_urlsafe(24)
    with CanvasApiServer(tokens=[token]) as canvas:
        env = {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(canvas.airflow_connection(token))}
        dag_run, run = _run_enabled(workdir, name, env)
        return UploadedRun(dag_run, run, run.read_json("report.json"), canvas.uploads, canvas.requests, canvas.url)


def _run_enabled(workdir: Path, name: str, connections: dict[str, str]) -> tuple[Any, Any]:
    """The library's ``name`` copied into a copy of include/mappings/ and run once with the ``AIRFLOW_CONN_*``
    variables ``connections``: its DagRun and RunFolder."""
    from aeries_hub import paths
    from aeries_hub.dag_factory import build_dags
    from aeries_hub.staging import RunFolder, staging_base

    include = workdir / "include"
    shutil.copytree(paths.INCLUDE_DIR, include)
    shutil.copy(include / "mappings" / "library" / f"{name}.yml", include / "mappings" / f"{name}.yml")
    dag_id = f"aeries_to_{name}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paths, "MAPPINGS_DIR", include / "mappings")
        for variable, value in connections.items():
            patch.setenv(variable, value)
        dag_run = build_dags(include / "mappings")[dag_id].test()
    return dag_run, RunFolder(staging_base(), dag_id, dag_run.run_id)
