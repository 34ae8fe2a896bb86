"""``aeries-hub try FILE`` and ``aeries-hub test FILE``: a mapping file tried without writing any Python.

``try`` runs one mapping, a draft anywhere on disk or one of include/mappings/, end to end on this machine: the
Aeries emulator serving a generated district, and the server its delivery needs (OpenSSH's sshd for SFTP, the
vendor API receiver for http, the Canvas SIS import emulator for http_upload), with every connection the mapping
names pointing at them. Its run happens in an
Airflow home of its own, ``.try/<file>/`` (never the user's), through ``airflow dags test`` on the project's DAG
files, which see only this mapping (``AERIES_HUB_INCLUDE_DIR`` is a copy of include/ holding it alone). The run
delivers at once (``approve_first_delivery`` is off there), then each delivered file's first rows and the run's
report are printed, with where the files landed. ``make try MAPPING=...`` runs it.

``test`` runs the tests the mapping file holds (:mod:`aeries_hub.mapping.mapping_tests`), without any server.

Exit status: 0 done (try: the run completed; test: every test passed), 1 the run or a test failed, 2 the file
does not load (the loader's message is printed as it is, naming the file, line and key).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from aeries_sandbox.demo import REPO, airflow_env, latest_report, run_airflow
from aeries_sandbox.try_output import delivered_files, file_table, report_summary

#: Where ``try`` keeps its Airflow homes, districts and servers' folders (one per mapping file name).
WORKDIR = REPO / ".try"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aeries-hub", description="Try or test a mapping file without Python.")
    commands = parser.add_subparsers(dest="command", required=True)
    tried = commands.add_parser("try", help="run the mapping on the emulator and local servers; print its files")
    tried.add_argument("mapping", type=Path, help="the mapping file (a draft anywhere, or include/mappings/x.yml)")
    tried.add_argument("--students", type=int, default=200, help="size of the generated district (default 200)")
    tried.add_argument("--seed", type=int, default=42, help="seed of the generated district")
    tried.add_argument("--rows", type=int, default=5, help="rows printed of each file (default 5)")
    tried.add_argument("--workdir", type=Path, default=WORKDIR, help=f"default {WORKDIR}")
    tested = commands.add_parser("test", help="run the tests the mapping file holds (its tests: block)")
    tested.add_argument("mapping", type=Path)
    args = parser.parse_args(argv)
    if args.command == "test":
        return run_tests(args.mapping)
    return try_mapping(args.mapping, students=args.students, seed=args.seed, rows=args.rows, workdir=args.workdir)


# -- aeries-hub test ----------------------------------------------------------------------------------------
def run_tests(path: Path) -> int:
    import logging
    import tempfile

    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.mapping.mapping_tests import read_tests, run_mapping_test
    from aeries_hub.mapping.models import MappingError

    try:
        mapping = load_mapping(path)
    except MappingError as exc:
        print(exc, file=sys.stderr)
        return 2
    # What the stages log (a crosswalk's missing school...) is a run's; a test's outcome is what it prints.
    logging.getLogger("aeries_hub").setLevel(logging.ERROR)
    cases = read_tests(path)
    if not cases:
        print(f"{path.name}: no tests (docs/mappings.md, Testing a mapping)")
        return 0
    failed = 0
    with tempfile.TemporaryDirectory(prefix="aeries-hub-test-") as staging:
        for case in cases:
            problems = run_mapping_test(mapping, case, Path(staging) / str(case.index))
            failed += bool(problems)
            print(f"{'FAILED' if problems else 'passed'}  {case.name}")
            for problem in problems:
                print(f"  {problem}")
    print(f"{path.name}: {len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


# -- aeries-hub try -----------------------------------------------------------------------------------------
def try_mapping(path: Path, *, students: int, seed: int, rows: int, workdir: Path) -> int:
    from aeries_hub.mapping.models import MappingError

    path = Path(path).resolve()
    if not path.is_file():
        print(f"{path}: no such mapping file", file=sys.stderr)
        return 2
    home = Path(workdir).resolve() / path.stem
    try:
        mapping = staged_mapping(path, home / "include")
    except MappingError as exc:
        print(exc, file=sys.stderr)
        return 2
    from aeries_sandbox.emulator import generate_district
    from aeries_sandbox.stack import sandbox_stack

    district = Path(workdir).resolve() / "districts" / f"{students}-students-seed-{seed}"
    if not (district / "students.json").exists():
        generate_district(students, seed).write(district)
    for stale in ("sftp", "airflow/staging", "logs"):  # each try starts from nothing delivered
        shutil.rmtree(home / stale, ignore_errors=True)
    if mapping.sftp_remote_dir:
        (home / "sftp" / mapping.sftp_remote_dir.strip("/")).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(home), "AERIES_HUB_INCLUDE_DIR": str(home / "include"),
           "AIRFLOW__AERIES_HUB__APPROVE_FIRST_DELIVERY": "False"}
    with sandbox_stack(home, data_dir=district) as stack, ExitStack() as servers:
        print(f"Aeries emulator: {stack.emulator.url} (a generated district of {students} students, {district})")
        env.update(connection_env(mapping, stack))
        if mapping.http_upload:
            env.update(servers.enter_context(canvas_for(mapping)))
        run_airflow(["db", "migrate"], env, home / "logs" / "airflow-db-migrate.log")
        started = time.time()
        conf = {"ignore_window": True} if mapping.window else {}
        print(f"Running {mapping.dag_id} (airflow dags test; task log: {home / 'logs' / 'run.log'}) ...", flush=True)
        run_airflow(["dags", "test", mapping.dag_id, *(["--conf", json.dumps(conf)] if conf else [])], env,
                    home / "logs" / "run.log", check=False)
        report = json.loads(latest_report(home / "airflow" / "staging", mapping.dag_id, started - 1).read_text())
        print()
        for name, table in delivered_files(mapping, Path(report["staging"].removeprefix("file://"))):
            print(file_table(name, table, rows))
            print()
        print("Run report:")
        print(report_summary(report, stack.landed))
    return 0 if report["status"] == "Completed" else 1


def staged_mapping(path: Path, include: Path):
    """The mapping in ``path``, loaded from a copy of include/ that holds it alone (``include/mappings/<name>``),
    so that its DAG is the only vendor DAG of the run. The crosswalk files it names are read, as for any mapping,
    relative to the folder above its folder (include/ for include/mappings/x.yml); a draft outside include/ whose
    crosswalk is not there takes the project's include/ one. Raises MappingError as the loader words it."""
    from aeries_hub import paths
    from aeries_hub.config_files import read_yaml
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.mapping.models import MappingError

    shutil.rmtree(include, ignore_errors=True)
    (include / "mappings").mkdir(parents=True)
    for shared in ("crosswalks", "quality"):
        if (paths.INCLUDE_DIR / shared).is_dir():
            shutil.copytree(paths.INCLUDE_DIR / shared, include / shared)
    shutil.copy(paths.DISTRICT_POLICY, include / paths.DISTRICT_POLICY.name)
    document = read_yaml(path, shown=path.name, error=MappingError)
    crosswalks = (document.get("crosswalks") if isinstance(document, dict) else None) or {}
    for name, spec in crosswalks.items() if isinstance(crosswalks, dict) else ():
        file = spec.get("file") if isinstance(spec, dict) else None
        if not isinstance(file, str):
            continue  # the loader names what is wrong
        beside = path.parent.parent / file
        if beside.is_file():
            (include / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(beside, include / file)
        elif not (include / file).is_file() and not spec.get("optional"):
            raise MappingError(f"{path.name}: crosswalks.{name}.file: {file} is neither at {beside} (relative to the "
                               f"folder above the mapping's folder, where the DAG reads it) nor at "
                               f"{paths.INCLUDE_DIR / file}; create it, or set optional: true")
    staged = include / "mappings" / path.name
    shutil.copy(path, staged)
    return load_mapping(staged)


def connection_env(mapping, stack) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` of every connection the mapping names, pointing at the stack: its Aeries connection at the
    emulator, its SFTP connection at sshd, each http target at its own instance of the vendor API receiver."""
    connections = {mapping.aeries_conn_id: stack.connections()["aeries_default"]}
    if mapping.sftp_conn_id:
        connections[mapping.sftp_conn_id] = stack.sftp.airflow_connection(mapping.sftp_conn_id)
    for name, target in (mapping.http.targets if mapping.http else {}).items():
        instance = "".join(c if c.isalnum() or c in "_-" else "-" for c in name.lower())
        connections[target.conn_id] = stack.vendor_api.airflow_connection(target.conn_id, instance, stack.vendor_token)
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection) for conn_id, connection in connections.items()}


@contextmanager
def canvas_for(mapping) -> Iterator[dict[str, str]]:
    """A Canvas SIS import emulator (aeries_sandbox.canvas_api) in this process for the run of a mapping whose
    delivery is ``http_upload``: ``AIRFLOW_CONN_*`` of its ``conn_id`` pointing at it, with a fresh token."""
    import secrets

    from aeries_sandbox.canvas_api import CanvasApiServer

    token, conn_id = secrets.token_urlsafe(24), mapping.http_upload.conn_id
    with CanvasApiServer(tokens=[token], access_log=False) as canvas:
        print(f"Canvas SIS import emulator: {canvas.url} (connection {conn_id})")
        yield {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(canvas.airflow_connection(token))}


if __name__ == "__main__":
    sys.exit(main())
