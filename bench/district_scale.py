"""Benchmark: the STEMscopes (OneRoster) DAG end to end on a district of 500,000 students.

    python bench/district_scale.py                      # make bench-district: 500,000 students, 10-17 minutes
    python bench/district_scale.py --students 50000     # a tenth, ~3 minutes

1. Generates the district once into ``--workdir`` (kept for the next run): by default 500,000 students in
   1,000 schools, 40,000 staff, about 200,000 sections and 3 million schedule (roster) rows.
2. Serves it with the Aeries emulator (a separate process) and starts the local OpenSSH SFTP server.
3. Runs ``airflow dags test aeries_to_stemscopes`` (a full extraction, a first delivery) and prints, per
   task: wall time, rows, rows per second and the peak resident memory of the task (each task's own figures
   from the run report, see ``aeries_hub.resources``), and the Aeries requests of the run and of each extract task.
4. Runs the extract, validation or build task with the highest peak again, alone in a process of its own
   (``airflow tasks test``), as an executor runs every task: its memory without what the earlier tasks of
   ``dags test``'s one process left behind (change tracking, packaging and delivery would do other work once the
   run has delivered).
   Measures the limit: the same pages, fetched from the same emulator with the same concurrency and thrown
   away, and prints extraction time / limit. Then what one page costs against one single-record request
   (the ratio behind ``[aeries_hub] incremental_page_cost``, :mod:`aeries_hub.extract.fetch`).
5. Runs the DAG again with nothing changed (the 0% run: ``*DataChanges`` since the last extraction, none).
6. Changes ``--changed-percent`` of the students through the emulator's UpdateStudent endpoint and runs the
   DAG again, incrementally (``*DataChanges`` since the last extraction, merged with its snapshot), and checks
   that the delivered zip holds what a full extraction would deliver (a last run with ``full_extract``).
7. Prints the issue's table (figure | now | target) with the measured figures, ready for the README.

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

from extract_rate import limit_seconds, warm_cached_answers  # noqa: E402  (bench/extract_rate.py: the same limit)

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


def run_requests(report: dict) -> dict[str, dict]:
    """Each extract task's requests, mode and changed keys, from its summary in the run folder."""
    summaries = Path(report["staging"].removeprefix("file://")) / "summary"
    tasks = {}
    for path in sorted(summaries.glob("extract_*.json")):
        summary = json.loads(path.read_text())
        tasks[path.stem] = {k: summary.get(k) for k in ("requests", "mode", "changed_keys", "rows")}
    return tasks


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
    requests = run_requests(report)
    print(f"\n{label}: {report['status']} in {seconds:.1f} s (`airflow dags test`, parsing and start-up included)")
    # start MiB: what the process held when the task started (in `dags test`, what earlier tasks left behind)
    print(f"{'task':28} {'seconds':>8} {'rows':>10} {'rows/s':>9} {'start MiB':>9} {'peak MiB':>9} {'requests':>9} mode")
    for task_id, figures in resources.items():
        n = rows.get(task_id, 0)
        rate = f"{n / figures['seconds']:9.0f}" if figures["seconds"] and n else f"{'-':>9}"
        asked = requests.get(task_id, {})
        mode = f" {asked['mode']}" + (f" ({asked['changed_keys']} changed keys)" if asked.get("changed_keys") is not None else "") \
            if asked.get("mode") else ""
        print(f"{task_id:28} {figures['seconds']:8.1f} {n:10d} {rate} {figures.get('start_memory_mb', 0):9.0f} "
              f"{figures['peak_memory_mb']:9.0f} "
              f"{asked.get('requests', ''):>9}{mode}")
    tasks_seconds = sum(r["seconds"] for r in resources.values())
    extract = sum(r["seconds"] for t, r in resources.items() if t.startswith("extract_"))
    return {
        "seconds": round(seconds, 1),
        "tasks_seconds": round(tasks_seconds, 1),
        "extract_seconds": round(extract, 1),
        "validation_seconds": resources["validate_sources"]["seconds"],
        "peak_memory_mb": max(r["peak_memory_mb"] for r in resources.values()),
        "peak_task": max(resources, key=lambda t: resources[t]["peak_memory_mb"]),
        "tasks": {t: {**r, "rows": rows.get(t, 0), **requests.get(t, {})} for t, r in resources.items()},
        "extract_requests": sum(r["requests"] or 0 for r in requests.values()),
        "extracted": report["extracted"],
        "files": {stem: f["rows"] for stem, f in report["files"].items()},
    }


def task_alone(env: dict, workdir: Path, report: dict, task_id: str) -> dict:
    """``task_id`` of the last run once more, alone in a process of its own (`airflow tasks test`), as an executor
    runs every task: without what the earlier tasks of `dags test`'s one process left behind. Its time and memory,
    recorded in the run folder as the run recorded them."""
    from aeries_sandbox.demo import run_airflow

    listed = subprocess.run([sys.executable, "-m", "airflow", "dags", "list-runs", DAG_ID, "-o", "json"], env=env,
                            capture_output=True, text=True, check=True).stdout
    runs = json.loads(next(line for line in listed.splitlines() if line.startswith("[")))
    run_id = max(runs, key=lambda run: run["start_date"])["run_id"]
    run_airflow(["tasks", "test", DAG_ID, task_id, run_id], env, workdir / "logs" / f"alone-{task_id}.log")
    folder = Path(report["staging"].removeprefix("file://"))
    return json.loads((folder / "resources" / f"{task_id}.json").read_text())


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


def measure_fetch_cost(stack, data_dir: Path, concurrency: int, page_size: int, samples: int = 600) -> dict[str, dict]:
    """Seconds per request (``concurrency`` at a time) of a single record and of a page of ``page_size`` records,
    for students and schedules, and their ratio: what one page costs in single-record requests
    (``[aeries_hub] incremental_page_cost``). Median of three rounds, each ``samples`` requests of each kind."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    students = json.loads((data_dir / "students.json").read_text(encoding="utf-8"))
    keys = [(s["SchoolCode"], s["StudentID"]) for s in students[:: max(1, len(students) // samples)]][:samples]
    schools = sorted({school for school, _ in keys})
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency))
    headers = {"AERIES-CERT": stack.certificate, "Accept": "application/json"}

    def get(path_params) -> None:
        path, params = path_params
        response = session.get(f"{stack.emulator.url}/api/v5/{path}", headers=headers, params=params, timeout=60)
        response.raise_for_status()

    def per_request(calls: list) -> float:
        rounds = []
        for _ in range(3):
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(get, calls))
            rounds.append((time.perf_counter() - started) / len(calls))
        return statistics.median(rounds)

    costs = {}
    for table, route in (("students", "students"), ("rosters", "classes")):
        single = per_request([(f"schools/{school}/{route}/{student}", None) for school, student in keys])
        pages = [(f"schools/{schools[n % len(schools)]}/{route}", {"StartingRecord": 1, "EndingRecord": page_size})
                 for n in range(samples)]
        page = per_request(pages)
        costs[table] = {"single_ms": round(single * 1000, 2), "page_ms": round(page * 1000, 2),
                        "page_cost": round(page / single, 2)}
    return costs


def issue_table(full: dict, zero: dict | None, incremental: dict | None) -> list[tuple[str, str, str]]:
    """The issue's table (figure | now | target), filled with this run's figures."""
    over = full["limit_ratio_by_table"]
    big = {t: r for t, r in over.items() if full["extracted"].get(t, 0) > 10_000}
    rows = [
        ("full run, `airflow dags test` end to end", f"{full['seconds']:.1f} s", "120 s or less"),
        ("extraction over its limit (the same pages fetched and thrown away)",
         f"{full['extract_over_limit']:.2f} (" + ", ".join(f"{t} {r:.2f}" for t, r in sorted(big.items())) + ")",
         "1.2 or less on every table with more than 10,000 rows"),
        ("peak memory of any task", f"{full['peak_memory_mb']:,.0f} MiB ({full['peak_task']}); "
         f"{full['peak_task_alone']['task']} {full['peak_task_alone']['peak_memory_mb']:,.0f} MiB alone in a process "
         "of its own", "1 GiB or less"),
    ]
    if incremental:
        same = "the same delivered bytes" if incremental["same_as_full"] else "ANOTHER zip than a full extraction"
        rows.append(("run after 1% of students changed (incremental)", f"{incremental['seconds']:.1f} s, {same}",
                     "60 s or less end to end, with the same delivered bytes"))
        students = incremental["tasks"].get("extract_students", {})
        rows.append(("Aeries requests, incremental 1%",
                     f"{incremental['aeries_requests']:,} requests against {full['aeries_requests']:,} in full; "
                     f"extract_students {students.get('seconds', 0):.1f} s against "
                     f"{full['tasks']['extract_students']['seconds']:.1f} s in full",
                     "fewer requests and less time than a full extraction of the same tables"))
    if zero:
        rows.append(("run with nothing changed (0%)", f"{zero['seconds']:.1f} s, {zero['aeries_requests']:,} requests",
                     "- (no target: item 6 of the issue)"))
    return rows


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
    parser.add_argument("--max-page-bytes", type=int, default=None,
                        help="the Aeries connection's max_page_bytes (the staff list is one answer: 1,000,000 students' "
                             "80,000 staff are more than the default 64 MiB)")
    parser.add_argument("--changed-percent", type=float, default=1.0,
                        help="students changed before the incremental run (0: no incremental run)")
    args = parser.parse_args()

    from aeries_sandbox.demo import airflow_env, run_airflow
    from aeries_sandbox.stack import sandbox_stack

    workdir = args.workdir.resolve()
    data_dir = generate(args.students, args.seed, workdir)
    # A first delivery goes without approval here (as `aeries_sandbox.try_mapping`): nobody answers Required actions.
    env = {**os.environ, **airflow_env(workdir), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           "AIRFLOW__AERIES_HUB__APPROVE_FIRST_DELIVERY": "False"}
    # Each benchmark is a first delivery: no staging, no metadata database, no files at the target from the last one.
    shutil.rmtree(workdir / "airflow" / "staging" / DAG_ID, ignore_errors=True)
    shutil.rmtree(workdir / "sftp", ignore_errors=True)
    for database in (workdir / "airflow").glob("airflow.db*"):
        database.unlink()
    results: dict = {"students": args.students, "seed": args.seed, "cpus": os.cpu_count(), "targets": TARGETS,
                     "page_size": args.page_size, "concurrency": args.concurrency}
    started = time.perf_counter()
    with sandbox_stack(workdir, data_dir=data_dir, access_log=False) as stack:
        print(f"emulator serving {data_dir.name} after {time.perf_counter() - started:.0f} s")
        extra = {"timeout": 60, "max_concurrency": args.concurrency, "page_size": args.page_size}
        if args.max_page_bytes:
            extra["max_page_bytes"] = args.max_page_bytes
        env.update(stack.connection_env(aeries_extra=extra))
        run_airflow(["db", "migrate"], env, workdir / "logs" / "airflow-db-migrate.log")
        run_airflow(["pools", "set", "aeries_default", "4", "Aeries extract tasks"], env, workdir / "logs" / "airflow-pools.log")

        reports: dict[str, dict] = {}

        def measured_run(label: str, title: str, conf: dict | None = None) -> dict:
            stack.emulator.reset_stats()
            reports[label], seconds = run_dag(env, workdir, label, conf)
            report = reports[label]
            figures = print_run(title, report, seconds)
            stats = stack.emulator.stats()
            figures.update(aeries_requests=stats["requests"], aeries_by_route=stats["by_route"],
                           extraction=report.get("extraction"), sha256=report["delivered"][0]["sha256"])
            print(f"Aeries requests: {stats['requests']} ({', '.join(f'{r} {n}' for r, n in stats['by_route'].items())})")
            if report.get("extraction"):
                print(report["extraction"])
            return figures

        warm_cached_answers(stack.emulator.url, stack.certificate)
        results["full"] = full = measured_run("full", "Full extraction")
        limits = measure_limit(stack, reports["full"], args.concurrency, args.page_size, args.limit_repeat)
        print(f"\n{'table':10} {'extract s':>10} {'limit s':>8} {'ratio':>6}")
        for table, limit in limits.items():
            extract_s = full["tasks"][f"extract_{table}"]["seconds"]
            print(f"{table:10} {extract_s:10.2f} {limit:8.2f} {extract_s / limit:6.2f}")
        full["limit_seconds"] = round(sum(limits.values()), 2)
        full["limit_by_table"] = {table: round(limit, 3) for table, limit in limits.items()}
        full["limit_ratio_by_table"] = {table: round(full["tasks"][f"extract_{table}"]["seconds"] / limit, 2)
                                        for table, limit in limits.items() if limit}
        full["extract_over_limit"] = round(full["extract_seconds"] / full["limit_seconds"], 2)
        full["validation_share"] = round(full["validation_seconds"] / full["tasks_seconds"], 3)
        print(f"{'all':10} {full['extract_seconds']:10.1f} {full['limit_seconds']:8.1f} {full['extract_over_limit']:6.2f}")

        # (a task that compares with or writes the delivery would do other work once the run has delivered)
        again = max((task for task in full["tasks"] if task.startswith(("extract_", "validate_", "build_"))),
                    key=lambda task: full["tasks"][task]["peak_memory_mb"])
        alone = task_alone(env, workdir, reports["full"], again)
        full["peak_task_alone"] = {**alone, "task": again}
        print(f"\n{again} alone in a process of its own (`airflow tasks test`, as an executor runs a task): "
              f"{alone['seconds']:.1f} s, start {alone.get('start_memory_mb', 0):.0f} MiB, "
              f"peak {alone['peak_memory_mb']:.0f} MiB (in `dags test`: {full['tasks'][again]['peak_memory_mb']:.0f} MiB)")

        results["fetch_cost"] = costs = measure_fetch_cost(stack, data_dir, args.concurrency, args.page_size)
        print("\nOne page against one single-record request (the emulator, "
              f"{args.concurrency} at a time, pages of {args.page_size}):")
        for table, cost in costs.items():
            print(f"  {table:9} single {cost['single_ms']:6.2f} ms, page {cost['page_ms']:6.2f} ms: "
                  f"a page costs {cost['page_cost']:.2f} single requests")

        zero = incremental = None
        if args.changed_percent > 0:
            results["zero"] = zero = measured_run("zero", "Nothing changed (0%): incremental extraction")
            changed = change_students(stack, data_dir, args.changed_percent)
            results["incremental"] = incremental = measured_run(
                "incremental", f"Incremental extraction after {changed} students ({args.changed_percent:g}%) changed")
            incremental["changed_students"] = changed
            check, _ = run_dag(env, workdir, "full-check", {"full_extract": True})
            incremental["same_as_full"] = check["delivered"][0]["sha256"] == incremental["sha256"]
            print(f"\nAeries requests: full {full['aeries_requests']}, 0% {zero['aeries_requests']}, "
                  f"incremental {incremental['aeries_requests']}; extract tasks: full {full['extract_seconds']} s, "
                  f"0% {zero['extract_seconds']} s, incremental {incremental['extract_seconds']} s; the incremental run "
                  f"delivered {'the same zip as' if incremental['same_as_full'] else 'ANOTHER zip than'} a full extraction")

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
    if incremental:
        same = incremental["same_as_full"]
        checks.append(("incremental zip = full zip", str(same), "True", same))
    for what, value, target, met in checks:
        print(f"  {what:30} {value:>10}  target {target:<10} {'met' if met else 'MISSED'}")
    results["issue_table"] = table = issue_table(full, zero, incremental)
    print(f"\nThe issue's table ({args.students:,} students; `python bench/district_scale.py --students {args.students}`):\n")
    print("| figure | now | target |\n|---|---|---|")
    for figure, now, target in table:
        print(f"| {figure} | {now} | {target} |")
    (workdir / "district_scale.json").write_text(json.dumps(results, indent=2))
    print(f"\nFigures: {workdir / 'district_scale.json'}; task logs: {workdir / 'logs'}")


if __name__ == "__main__":
    main()
