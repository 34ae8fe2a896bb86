"""Benchmark: Aeries extraction against the emulator, and the limit the emulator sets.

For each table it times ``aeries_hub.aeries.collect.extract_to_parquet`` (paging, concurrency, Parquet writing) twice,
each page decoded by ``json.loads`` (``via_records``, the reference: column ``records``) and as an extract does it
(column ``arrow``: msgspec since commit 4cfc780, Arrow's JSON reader before), then fetches the very same pages with
the same concurrency and throws the bodies away: the time a perfect client would need. The three alternate in each
of the runs. It prints rows, the seconds of each and the ratios extraction / limit (records -> arrow), then the CPU
seconds this process spent on each (all its threads; the emulator is another process): on a busy machine the
wall-clock ratio moves with the other load, the CPU ratio much less.

``--columns-of include/mappings/stemscopes.yml`` adds a third extraction (column ``kept``): the pages converted to
the columns that DAG keeps (``extract.incremental.kept_columns``, what its extract tasks write), the others left
out (:func:`aeries_hub.aeries.collect.extract_to_parquet`'s ``columns``).

    python bench/extract_rate.py --students 20000 [--concurrency 4] [--page-size 500] [--tables students ...]
        [--students-per-school 100] [--columns-of include/mappings/stemscopes.yml] [--district DATA_DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from aeries_sandbox.emulator import READ_AREAS, EmulatorProcess, generate_district
from aeries_sandbox.emulator.generator.state import DistrictShape
from aeries_sandbox.stack import new_certificate

TABLES = ["schools", "students", "staff", "teachers", "courses", "sections", "rosters", "contacts"]


def limit_seconds(url: str, cert: str, table_spec, school_codes: list[int], page_size: int, concurrency: int) -> tuple[float, int]:
    """Fetch every page the hook fetches (plus the short last page), discarding bodies."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
    session.mount("http://", adapter)
    headers = {"AERIES-CERT": cert, "Accept": "application/json"}

    def fetch_unit(school_code):
        path = table_spec.path_for(school_code) if table_spec.per_school else table_spec.path_for()
        page, rows, first = 1, 0, None
        while True:
            params = {"StartingRecord": (page - 1) * page_size + 1, "EndingRecord": page * page_size} if table_spec.paged else None
            body = session.get(f"{url}/api/v5/{path}", headers=headers, params=params, timeout=60).json()
            if page > 1 and body and body[0] == first:  # the range is ignored: the same records again
                return rows
            first = body[0] if body and page == 1 else first
            rows += len(body)
            # shorter than asked: the end; longer: the range is ignored and this is the whole list
            if not table_spec.paged or len(body) != page_size:
                return rows
            page += 1

    units = school_codes if table_spec.per_school else [None]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        rows = sum(pool.map(fetch_unit, units))
    return time.perf_counter() - started, rows


def warm_cached_answers(url: str, cert: str) -> None:
    """Ask once for the answers the emulator serialises on first use and keeps (``Index.cached``: schools, staff,
    courses), so that an extraction and the limit measured after it see the same server (2,046 staff: the first
    answer 0.35 s, the next ones 0.01-0.06 s, on a loaded machine; at district scale the extract of staff was the first
    request and paid it, the limit never did: docs/benchmarks.md, Extraction rate)."""
    headers = {"AERIES-CERT": cert, "Accept": "application/json"}
    for path in ("schools", "staff", "courses"):
        requests.get(f"{url}/api/v5/{path}", headers=headers, timeout=600).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--students-per-school", type=int, default=None,
                        help="the district's layout (default 400): 100 gives 100,000 students the 1,000 schools of the "
                             "500,000-student district of bench/district_scale.py (one page of sections each)")
    parser.add_argument("--district", type=Path, default=None, metavar="DATA_DIR",
                        help="serve this generated data dir (a bench-extract-*/district of an earlier run) instead of "
                             "generating one; --students and --students-per-school are then ignored")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs per table; the median is printed")
    parser.add_argument("--tables", nargs="+", default=TABLES, choices=TABLES)
    parser.add_argument("--columns-of", type=Path, default=None, metavar="MAPPING",
                        help="also time the extraction of only the columns this mapping's DAG keeps (column kept)")
    args = parser.parse_args()

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")  # the table, not the hook's log lines
    from aeries_hub.aeries.collect import extract_to_parquet
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.aeries.tables import TABLES as SPECS

    kept = _kept_columns(args.columns_of, args.tables) if args.columns_of else {}
    modes = [("records", {"via_records": True}), ("arrow", {})]

    workdir = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    data_dir = args.district or workdir / "district"
    if args.district is None:
        started = time.perf_counter()
        shape = DistrictShape(students_per_school=args.students_per_school) if args.students_per_school else None
        generate_district(args.students, args.seed, shape).write(data_dir)
        print(f"generated {args.students} students in {time.perf_counter() - started:.1f} s")
    cert = new_certificate()
    certs = [{"name": "bench", "certificate": cert, "areas": list(READ_AREAS)}]
    # a district of 100,000 students loads in about 60 s, in over 150 s on a machine busy with other work
    with EmulatorProcess(data_dir=data_dir, certs=certs, access_log=False, startup_timeout=900) as emulator:
        os.environ["AIRFLOW_CONN_AERIES_BENCH"] = json.dumps(
            {"conn_type": "aeries", "host": emulator.url, "password": cert,
             "extra": {"max_concurrency": args.concurrency, "page_size": args.page_size, "allow_insecure": True}}
        )
        hook = AeriesHook(aeries_conn_id="aeries_bench")
        school_codes = [s["SchoolCode"] for s in hook.get_schools() if s["SchoolCode"] != 0]
        kept_header = f" {'kept s':>8} {'kept ratio':>10} {'kept cpu':>9} {'kept cpu ratio':>14}" if kept else ""
        print(f"{'table':10} {'rows':>9} {'records s':>9} {'arrow s':>8} {'limit s':>8} {'ratio':>11} "
              f"{'records cpu':>11} {'arrow cpu':>9} {'limit cpu':>9} {'cpu ratio':>11}{kept_header}")
        keys = ("records", "arrow", "limit", "records_cpu", "arrow_cpu", "limit_cpu") + (("kept", "kept_cpu") if kept else ())
        totals = dict.fromkeys(("rows", *keys), 0.0)
        for table in args.tables:
            runs: dict[str, list[float]] = {key: [] for key in keys}
            for _ in range(args.repeat):  # the extractions and the limit alternate, so that load hits all of them
                for key, options in [*modes, *([("kept", {"columns": kept[table]})] if kept else [])]:
                    cpu = time.process_time()
                    result = extract_to_parquet(hook, table, workdir / f"{table}.parquet", **options)
                    runs[f"{key}_cpu"].append(time.process_time() - cpu)
                    runs[key].append(result.seconds)
                cpu = time.process_time()
                seconds, _ = limit_seconds(emulator.url, cert, SPECS[table], school_codes, args.page_size, args.concurrency)
                runs["limit_cpu"].append(time.process_time() - cpu)
                runs["limit"].append(seconds)
            m = {key: statistics.median(values) for key, values in runs.items()}
            m["rows"] = result.rows
            for key in totals:
                totals[key] += m[key]
            print(_line(table, m))
        print(_line("all", totals))


def _kept_columns(mapping_file: Path, tables: list[str]) -> dict[str, set[str]]:
    """The columns the mapping's DAG keeps of each table (what its extract tasks write)."""
    from aeries_hub.extract.incremental import kept_columns
    from aeries_hub.mapping.loader import load_mapping
    from aeries_hub.quality import load_checks
    from aeries_hub.quality.aeries_sources import SOURCE_CHECKS_FILE

    mapping, checks = load_mapping(mapping_file), load_checks(SOURCE_CHECKS_FILE)
    return {table: kept_columns(mapping, table, checks) for table in tables}


def _line(table: str, m: dict[str, float]) -> str:
    """One table's medians: rows, seconds of each parser and of the limit, ratios to the limit before -> after."""
    cpu_limit = max(m["limit_cpu"], 1e-3)
    kept = (f" {m['kept']:>8.3f} {m['kept'] / m['limit']:>10.2f} {m['kept_cpu']:>9.3f} {m['kept_cpu'] / cpu_limit:>14.2f}"
            if "kept" in m else "")
    return (f"{table:10} {int(m['rows']):>9} {m['records']:>9.3f} {m['arrow']:>8.3f} {m['limit']:>8.3f} "
            f"{m['records'] / m['limit']:>5.2f}->{m['arrow'] / m['limit']:<5.2f} {m['records_cpu']:>11.3f} "
            f"{m['arrow_cpu']:>9.3f} {m['limit_cpu']:>9.3f} {m['records_cpu'] / cpu_limit:>5.2f}->"
            f"{m['arrow_cpu'] / cpu_limit:<5.2f}{kept}")

if __name__ == "__main__":
    main()
