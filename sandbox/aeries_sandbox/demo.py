"""`make demo` and `make airflow`: the whole pipeline on embedded defaults.

Starts the Aeries emulator (a generated demo district), a local OpenSSH SFTP server and the vendor-API
receiver, points Airflow (SQLite metadata database in .demo/airflow) at them through connections in that
database (:mod:`aeries_sandbox.demo_connections`; one an operator edited in the UI is kept), then
either runs every vendor DAG twice, a dry run then its first delivery (which the dry run lets go without
approval), and prints one summary line per run (`make demo`), or starts
`airflow standalone` (`make airflow`) so the runs show in the UI at http://localhost:8080.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

#: The project checkout (sandbox/aeries_sandbox/demo.py): `make demo` runs the sandbox's editable install.
REPO = Path(__file__).resolve().parents[2]
#: Every vendor DAG, in the order of the seeds, with the conf of its demo runs (`make demo` adds dry_run to the first).
DEMO_RUNS = {
    "aeries_to_powerschool_learning": {},
    "aeries_to_stemscopes": {},
    "aeries_to_destiny": {},
    "aeries_to_xello": {"ignore_window": True},  # Xello's pull window is weekends 20:00-02:00
    "aeries_to_schoolmint_enroll": {},
}


def airflow_env(workdir: Path) -> dict[str, str]:
    home = workdir / "airflow"
    return {
        # `airflow standalone` starts its components as `airflow ...`: the virtualenv's bin must be on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The maintenance DAGs start unpaused; the vendor and write-back DAGs are created paused by dag_factory.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__AERIES_HUB__STAGING_URL": f"file://{home}/staging",
        "GX_ANALYTICS_ENABLED": "False",
    }


def run_airflow(args: list[str], env: dict[str, str], log_path: Path, *, check: bool = True, module: str = "airflow",
                stdin: bytes | None = None) -> int:
    """``python -m <module> <args>`` (the airflow CLI by default) with the demo's Airflow environment, its output
    appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        done = subprocess.run([sys.executable, "-m", module, *args], env=env, stdout=log, stderr=subprocess.STDOUT,
                              input=stdin)
    if done.returncode and check:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(f"`{module} {' '.join(args)}` failed (exit {done.returncode}); end of {log_path}:\n" + "\n".join(tail))
    return done.returncode


@contextmanager
def airflow_process(env: dict[str, str], workdir: Path) -> Iterator[subprocess.Popen]:
    """The demo's one Airflow process (:mod:`aeries_sandbox.demo_runs`), started first: it imports Airflow, the hub
    and GX and migrates the metadata database while this one generates the district and starts the servers, then
    waits for its plan (:func:`airflow_side`). Killed if the demo stops before its runs end."""
    log_path = workdir / "logs" / "airflow-demo-runs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "aeries_sandbox.demo_runs", str(workdir)], env=env,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    try:
        yield process
    finally:
        if process.poll() is None:  # the demo stopped before the runs ended
            process.kill()
        process.wait()


def airflow_side(process: subprocess.Popen, stack, runs: list[list], workdir: Path) -> Iterator[dict]:
    """The stack's connections and the DAGs' pools into the metadata database, then each of ``runs``
    (``[dag_id, conf]``) under ``dag.test()`` one after the other, all in one Airflow process
    (:mod:`aeries_sandbox.demo_runs`, which pays Airflow's and GX's start-up once); yields each step's outcome
    as it ends. The connections go in the database (Admin > Connections shows and edits them), not in
    ``AIRFLOW_CONN_*`` variables, which would hide an edit made there; they are handed over on stdin: no secret
    on a command line or in a file."""
    log_path = workdir / "logs" / "airflow-demo-runs.log"
    # Every pool a task of the DAGs takes (one per Aeries connection), or its tasks would never be queued.
    plan = {"connections": stack.connections(), "slots": 4, "runs": runs}
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(plan).encode())
    process.stdin.close()
    yield from (json.loads(line) for line in process.stdout)
    if process.wait():
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(f"`aeries_sandbox.demo_runs` failed (exit {process.returncode}); end of {log_path}:\n"
                         + "\n".join(tail))


def print_connections(lines: list[str], workdir: Path) -> None:
    """Where the connections are, and each one kept as an operator left it (the lines name connections only)."""
    print("Connections: in Airflow's metadata database (Admin > Connections); see "
          f"{_short(str(workdir / 'logs' / 'airflow-connections.log'))}")
    for line in lines:
        if ": kept as it is" in line:
            print(f"  {line}")


def latest_report(staging: Path, dag_id: str, since: float) -> Path:
    reports = [p for p in (staging / dag_id).glob("*/report.json") if p.stat().st_mtime >= since]
    if not reports:
        raise SystemExit(f"The run wrote no report under {staging / dag_id}; see the log above.")
    return max(reports, key=lambda p: p.stat().st_mtime)


def summary_line(report: dict, seconds: float, landed: Callable[[dict], str]) -> str:
    """One line: status, time, rows extracted, checks, rejects, and what was delivered where."""
    c = report["checks"]
    files = report["delivered"]
    rows, size = sum(d["rows"] for d in files), sum(d["bytes"] for d in files)
    places = [_short(landed(d)) for d in files]
    where = places[0] if len(places) == 1 else f"{len(places)} files in {os.path.commonpath(places)}/" if places else "-"
    status = report["status"] + (" (dry run)" if report["dry_run"] else "")
    return (
        f"{report['integration']:<21} {status:<31} {seconds:5.1f} s {sum(report['extracted'].values()):>9} "
        f"{c['passed']:>4}/{c['warned']}/{c['failed']} {report['rejected']:>8} {rows:>9} {size:>10}  {where}"
    )


def _short(place: str) -> str:
    return place.removeprefix(str(REPO) + os.sep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000, help="size of the generated district")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo")
    parser.add_argument("--standalone", action="store_true", help="start `airflow standalone` instead of one run")
    args = parser.parse_args(argv)

    from aeries_hub.changes import STATE_FOLDER
    from aeries_sandbox.stack import sandbox_stack

    workdir = args.workdir.resolve()
    env = {**os.environ, **airflow_env(workdir)}
    # The demo's vendor API starts empty each time, and the district may be another size: forget the last
    # deliveries, so that no run compares itself with another demo's vendor (and waits for an approval).
    for state in (workdir / "airflow" / "staging").glob(f"*/{STATE_FOLDER}"):
        shutil.rmtree(state)
    if not args.standalone:
        # `make demo` is a first delivery each time: without the record of the last delivery, the metadata
        # database's delivery events and the files at the SFTP server would make each first delivery wait for an
        # approval (the state-loss check). `make airflow` keeps them, and the connections an operator edited.
        shutil.rmtree(workdir / "sftp", ignore_errors=True)
        for database in (workdir / "airflow").glob("airflow.db*"):
            database.unlink()
    started = time.time()
    with airflow_process(env, workdir) as process, \
            sandbox_stack(workdir, students=args.students, seed=args.seed) as stack:
        print(f"Aeries emulator: {stack.emulator.url} (district in {stack.data_dir})")
        print(f"SFTP server: {stack.sftp.host}:{stack.sftp.port}, files land under {stack.sftp.root}")
        print(f"Vendor API receiver: {stack.vendor_api.url} (SchoolMint Enroll's sandbox and production)")
        # The safe first run: after a dry run that completed, the first delivery needs no approval
        # ([aeries_hub] approve_first_delivery); without it, the delivery would wait for one.
        runs = [] if args.standalone else [
            [dag_id, run_conf] for dag_id, conf in DEMO_RUNS.items() for run_conf in ({**conf, "dry_run": True}, conf)
        ]
        steps = airflow_side(process, stack, runs, workdir)
        print_connections(next(steps)["connections"], workdir)
        next(steps)  # the pools
        if args.standalone:
            for _ in steps:  # the process ends
                pass
            print("Starting airflow standalone on http://localhost:8080 (login printed below; Ctrl-C stops).")
            return subprocess.call([sys.executable, "-m", "airflow", "standalone"], env=env)
        staging = workdir / "airflow" / "staging"
        print(f"Running every vendor DAG twice, a dry run then its first delivery (task logs: {workdir / 'logs'}/"
              "<dag_id>.log) ...\n")
        print(f"{'integration':<21} {'status':<31} {'time':>7} {'extracted':>9} {'checks':>8} {'rejected':>8} {'delivered':>9} "
              f"{'bytes':>10}  where")
        for ended in steps:
            report_path = latest_report(staging, ended["dag_id"], ended["started"] - 1)
            print(summary_line(json.loads(report_path.read_text()), ended["seconds"], stack.landed), flush=True)
        print(f"\nAll five in {time.time() - started:.1f} s. Run reports: {staging}/<dag_id>/<run_id>/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
