"""Benchmark: the STEMscopes (OneRoster) DAG end to end on a district of 500,000 students.

    python bench/district_scale.py                      # make bench-district: 500,000 students, ~20 minutes
    python bench/district_scale.py --students 50000     # a tenth, ~3 minutes

1. Generates the district once into ``--workdir`` (kept for the next run): by default 500,000 students in
   1,000 schools, 40,000 staff, about 200,000 sections and 3 million schedule (roster) rows.
2. Serves it with the Aeries emulator (a separate process) and starts the local OpenSSH SFTP server.
3. Runs ``airflow dags test aeries_to_stemscopes`` (a full extraction, a first delivery) and prints, per
   task: wall time, rows, rows per second and the peak resident memory of the task (each task's own figures
   from the run report, see ``aeries_hub.resources``).
4. Measures the limit: the same pages, fetched from the same emulator with the same concurrency and thrown
   away, and prints extraction time / limit.
5. Changes ``--changed-percent`` of the students through the emulator's UpdateStudent endpoint and runs the
   DAG again, incrementally (``*DataChanges`` since the last extraction, merged with its snapshot), and checks
   that the delivered zip holds what a full extraction would deliver.

The figures are also written to ``<workdir>/district_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_rate import limit_seconds  # noqa: E402  (bench/extract_rate.py: the same limit, one table at a time)

DAG_ID = "aeries_to_stemscopes"
#: District-scale layout: 500 students per school, 12.5 per staff member, 6-7 classes each, 18 per section.
SHAPE_ARGS = ["--students-per-school", "500", "--students-per-staff", "12.5", "--classes-per-student", "6-7",
              "--students-per-section", "18"]
TARGETS = {"run_minutes": 10, "peak_memory_mb": 2048, "extract_over_limit": 1.5, "validation_share": 0.20}


def generate(students: int, seed: int, workdir: Path) -> Path:
    data_dir = workdir / f"district-{students}-seed{seed}"
    if (data_dir / ".complete").exists():
        print(f"district: {data_dir} (generated earlier)")
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aeries_sandbox.emulator", "--generate", str(students), "--seed", str(seed),
                    *SHAPE_ARGS, "--write-data", str(data_dir), "--no-serve"], check=True, cwd=REPO)
    (data_dir / ".complete").touch()
    print(f"district: generated {students} students into {data_dir} in {time.perf_counter() - started:.0f} s")
    return data_dir


def run_dag(env: dict, workdir: Path, label: str, conf: dict | None = None) -> tuple[dict, float]:
    from aeries_sandbox.demo import latest_report, run_airflow

    staging = workdir / "airflow" / "staging"
    started = time.time()
    command = ["dags", "test", DAG_ID] + (["--conf", json.dumps(conf)] if conf else [])
    run_airflow(command, env, workdir / "logs" / f"{label}.log", check=False)
    seconds = time.time() - started
    report = json.loads(latest_report(staging, DAG_ID, started - 1).read_text())
    if report["status"] != "Completed":
        raise SystemExit(f"{label} run ended {report['status']}: {report.get('errors') or report.get('reason')}; "
                         f"see {workdir / 'logs' / (label + '.log')}")
    return report, seconds


def stage_rows(report: dict) -> dict[str, int]:
    """Rows each task handled: its table's rows for an extract, all source rows for validation, the file's
    rows for a build, and the delivered rows for the rest."""
    extracted = report["extracted"]
    files = {stem: f["rows"] for stem, f in report["files"].items()}
    delivered = sum(files.values())
    rows = {f"extract_{table}": n for table, n in extracted.items()}
    rows["validate_sources"] = sum(extracted.values())
    rows.update({f"build_{stem}": n for stem, n in files.items()})
    for task_id in ("track_changes", "package", "deliver", "report"):
        rows[task_id] = delivered
    return rows


def print_run(label: str, report: dict, seconds: float) -> dict:
    resources, rows = report["resources"], stage_rows(report)
    print(f"\n{label}: {report['status']} in {seconds:.1f} s (`airflow dags test`, parsing and start-up included)")
    print(f"{'task':28} {'seconds':>8} {'rows':>10} {'rows/s':>9} {'peak MiB':>9}")
    for task_id, figures in resources.items():
        n = rows.get(task_id, 0)
        rate = f"{n / figures['seconds']:9.0f}" if figures["seconds"] and n else f"{'-':>9}"
        print(f"{task_id:28} {figures['seconds']:8.1f} {n:10d} {rate} {figures['peak_memory_mb']:9.0f}")
    tasks_seconds = sum(r["seconds"] for r in resources.values())
    extract = sum(r["seconds"] for t, r in resources.items() if t.startswith("extract_"))
    return {
        "seconds": round(seconds, 1),
        "tasks_seconds": round(tasks_seconds, 1),
        "extract_seconds": round(extract, 1),
        "validation_seconds": resources["validate_sources"]["seconds"],
        "peak_memory_mb": max(r["peak_memory_mb"] for r in resources.values()),
        "tasks": {t: {**r, "rows": rows.get(t, 0)} for t, r in resources.items()},
        "extracted": report["extracted"],
        "files": {stem: f["rows"] for stem, f in report["files"].items()},
    }


def measure_limit(stack, report: dict, concurrency: int, page_size: int, repeat: int) -> dict[str, float]:
    """Median seconds per table to fetch every page the extraction fetched, discarding the bodies."""
    from aeries_hub.aeries.tables import TABLES

    school_codes = [s["SchoolCode"] for s in json.loads((stack.data_dir / "schools.json").read_text())
                    if s["SchoolCode"] != 0]
    limits = {}
    for table in report["extracted"]:
        runs = [limit_seconds(stack.emulator.url, stack.certificate, TABLES[table], school_codes, page_size, concurrency)[0]
                for _ in range(repeat)]
        limits[table] = statistics.median(runs)
    return limits


def change_students(stack, data_dir: Path, percent: float) -> int:
    """UpdateStudent (a new last name) for ``percent`` of the district's students, as a school office would."""
    import requests

    ids = sorted({s["StudentID"] for s in json.loads((data_dir / "students.json").read_text(encoding="utf-8"))})
    chosen = ids[:: max(1, round(100 / percent))] if percent > 0 else []
    with requests.Session() as session:
        session.headers["AERIES-CERT"] = stack.writeback_certificate
        for student_id in chosen:
            response = session.post(f"{stack.emulator.url}/api/v5/UpdateStudent/{student_id}",
                                    json={"LastName": f"Changed-{student_id}"}, timeout=30)
            response.raise_for_status()
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=REPO / ".bench")
    parser.add_argument("--concurrency", type=int, default=4, help="the Aeries connection's max_concurrency")
    parser.add_argument("--page-size", type=int, default=500, help="the Aeries connection's page_size")
    parser.add_argument("--limit-repeat", type=int, default=3, help="limit measurements per table (median)")
    parser.add_argument("--changed-percent", type=float, default=1.0,
                        help="students changed before the incremental run (0: no incremental run)")
    args = parser.parse_args()

    from aeries_sandbox.demo import airflow_env, run_airflow
    from aeries_sandbox.stack import sandbox_stack

    workdir = args.workdir.resolve()
    data_dir = generate(args.students, args.seed, workdir)
    env = {**os.environ, **airflow_env(workdir), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}
    shutil.rmtree(workdir / "airflow" / "staging" / DAG_ID, ignore_errors=True)
    results: dict = {"students": args.students, "seed": args.seed, "cpus": os.cpu_count(), "targets": TARGETS}
    started = time.perf_counter()
    with sandbox_stack(workdir, data_dir=data_dir, access_log=False) as stack:
        print(f"emulator serving {data_dir.name} after {time.perf_counter() - started:.0f} s")
        env.update(stack.connection_env(aeries_extra={"timeout": 60, "max_concurrency": args.concurrency,
                                                      "page_size": args.page_size}))
        run_airflow(["db", "migrate"], env, workdir / "logs" / "airflow-db-migrate.log")
        run_airflow(["pools", "set", "aeries_default", "4", "Aeries extract tasks"], env, workdir / "logs" / "airflow-pools.log")

        stack.emulator.reset_stats()
        report, seconds = run_dag(env, workdir, "full")
        results["full"] = full = print_run("Full extraction", report, seconds)
        full["aeries_requests"] = stack.emulator.stats()["requests"]

        limits = measure_limit(stack, report, args.concurrency, args.page_size, args.limit_repeat)
        print(f"\n{'table':10} {'extract s':>10} {'limit s':>8} {'ratio':>6}")
        for table, limit in limits.items():
            extract_s = full["tasks"][f"extract_{table}"]["seconds"]
            print(f"{table:10} {extract_s:10.2f} {limit:8.2f} {extract_s / limit:6.2f}")
        full["limit_seconds"] = round(sum(limits.values()), 2)
        full["limit_by_table"] = {table: round(limit, 3) for table, limit in limits.items()}
        full["extract_over_limit"] = round(full["extract_seconds"] / full["limit_seconds"], 2)
        full["validation_share"] = round(full["validation_seconds"] / full["tasks_seconds"], 3)
        print(f"{'all':10} {full['extract_seconds']:10.1f} {full['limit_seconds']:8.1f} {full['extract_over_limit']:6.2f}")

        if args.changed_percent > 0:
            changed = change_students(stack, data_dir, args.changed_percent)
            stack.emulator.reset_stats()
            report, seconds = run_dag(env, workdir, "incremental")
            results["incremental"] = incremental = print_run(
                f"Incremental extraction after {changed} students ({args.changed_percent:g}%) changed", report, seconds)
            incremental.update(aeries_requests=stack.emulator.stats()["requests"], extraction=report["extraction"],
                               changed_students=changed, sha256=report["delivered"][0]["sha256"])
            print(report["extraction"])
            check, _ = run_dag(env, workdir, "full-check", {"full_extract": True})
            incremental["same_as_full"] = check["delivered"][0]["sha256"] == incremental["sha256"]
            print(f"Aeries requests: full {full['aeries_requests']}, incremental {incremental['aeries_requests']}; "
                  f"extract tasks: full {full['extract_seconds']} s, incremental {incremental['extract_seconds']} s; "
                  f"the incremental run delivered {'the same zip as' if incremental['same_as_full'] else 'ANOTHER zip than'} "
                  "a full extraction")

    print("\nTargets (2 cores):")
    checks = [
        ("whole run", f"{full['seconds'] / 60:.1f} min", f"< {TARGETS['run_minutes']} min", full["seconds"] < TARGETS["run_minutes"] * 60),
        ("peak memory of a task", f"{full['peak_memory_mb']:.0f} MiB", f"< {TARGETS['peak_memory_mb']} MiB",
         full["peak_memory_mb"] < TARGETS["peak_memory_mb"]),
        ("extraction / limit", f"{full['extract_over_limit']:.2f}", f"<= {TARGETS['extract_over_limit']}",
         full["extract_over_limit"] <= TARGETS["extract_over_limit"]),
        ("validation share of the run", f"{full['validation_share']:.1%}", f"< {TARGETS['validation_share']:.0%}",
         full["validation_share"] < TARGETS["validation_share"]),
    ]
    if "incremental" in results:
        same = results["incremental"]["same_as_full"]
        checks.append(("incremental zip = full zip", str(same), "True", same))
    for what, value, target, met in checks:
        print(f"  {what:30} {value:>10}  target {target:<10} {'met' if met else 'MISSED'}")
    (workdir / "district_scale.json").write_text(json.dumps(results, indent=2))
    print(f"\nFigures: {workdir / 'district_scale.json'}; task logs: {workdir / 'logs'}")


if __name__ == "__main__":
    main()
