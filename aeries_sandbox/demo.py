"""`make demo` and `make airflow`: the whole pipeline on embedded defaults.

Starts the Aeries emulator (a generated demo district) and a local OpenSSH SFTP server, points Airflow
(SQLite metadata database in .demo/airflow) at them through connections, then either runs the Destiny DAG
once and prints a summary (`make demo`), or starts `airflow standalone` (`make airflow`) so the runs show
in the UI at http://localhost:8080.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_DAG = "aeries_to_destiny"


def airflow_env(workdir: Path) -> dict[str, str]:
    home = workdir / "airflow"
    return {
        # `airflow standalone` starts its components as `airflow ...`: the virtualenv's bin must be on PATH.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # A local demo: DAGs start unpaused so that a run triggered in the UI starts at once.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__AERIES_HUB__STAGING_URL": f"file://{home}/staging",
        "GX_ANALYTICS_ENABLED": "False",
    }


def run_airflow(args: list[str], env: dict[str, str], log_path: Path) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        raise SystemExit(f"`airflow {' '.join(args)}` failed (exit {done.returncode}); end of {log_path}:\n" + "\n".join(tail))


def latest_report(staging: Path, dag_id: str, since: float) -> Path:
    reports = [p for p in (staging / dag_id).glob("*/report.json") if p.stat().st_mtime >= since]
    if not reports:
        raise SystemExit(f"The run wrote no report under {staging / dag_id}; see the log above.")
    return max(reports, key=lambda p: p.stat().st_mtime)


def print_summary(report: dict, report_path: Path, sftp_root: Path, seconds: float) -> None:
    extracted = report["extracted"]
    print(f"\n{report['integration']}: {report['status']} in {seconds:.1f} s")
    print("  rows extracted: " + ", ".join(f"{table} {rows}" for table, rows in sorted(extracted.items())))
    c = report["checks"]
    print(f"  checks: {c['passed']} passed, {c['warned']} warned, {c['failed']} failed; {report['rejected']} rows rejected")
    for item in report["delivered"]:
        landed = sftp_root / item["remote_path"].lstrip("/")
        print(f"  delivered: {item['rows']} rows, {item['bytes']} bytes to {item['remote_path']} ({item['conn_id']})")
        print(f"  file landed at: {landed}")
    print(f"  run report: {report_path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2000, help="size of the generated district")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=REPO / ".demo")
    parser.add_argument("--standalone", action="store_true", help="start `airflow standalone` instead of one run")
    args = parser.parse_args(argv)

    from aeries_sandbox.stack import sandbox_stack

    workdir = args.workdir.resolve()
    env = {**os.environ, **airflow_env(workdir)}
    started = time.time()
    with sandbox_stack(workdir, students=args.students, seed=args.seed) as stack:
        env.update(stack.connection_env())
        print(f"Aeries emulator: {stack.emulator.url} (district in {stack.data_dir})")
        print(f"SFTP server: {stack.sftp.host}:{stack.sftp.port}, files land under {stack.sftp.root}")
        run_airflow(["db", "migrate"], env, workdir / "logs" / "airflow-db-migrate.log")
        if args.standalone:
            print("Starting airflow standalone on http://localhost:8080 (login printed below; Ctrl-C stops).")
            return subprocess.call([sys.executable, "-m", "airflow", "standalone"], env=env)
        log_path = workdir / "logs" / f"{DEMO_DAG}.log"
        print(f"Running {DEMO_DAG} once (task logs: {log_path}) ...")
        run_started = time.time()
        run_airflow(["dags", "test", DEMO_DAG], env, log_path)
        report_path = latest_report(workdir / "airflow" / "staging", DEMO_DAG, run_started - 1)
        print_summary(json.loads(report_path.read_text()), report_path, stack.sftp.root, time.time() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
