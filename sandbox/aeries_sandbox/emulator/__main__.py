"""``python -m aeries_sandbox.emulator``: serve a generated or replayed district as Aeries API v5.

    python -m aeries_sandbox.emulator --port 8081 --generate 2000 --seed 42 --certs certs.json
    python -m aeries_sandbox.emulator --port 0 --port-file port.txt --data district/ --certs certs.json \\
        --faults "429=0.1,500=0.05,html=0.02,latency=0.01" --fault-seed 7
    python -m aeries_sandbox.emulator --generate 500000 --write-data /tmp/district --no-serve \\
        --students-per-school 500 --classes-per-student 6-7 --students-per-section 18
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from aeries_sandbox.emulator.certificates import CertificateError, load_certificates
from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.faults import parse_fault_spec
from aeries_sandbox.emulator.generator import generate_district
from aeries_sandbox.emulator.generator.state import DistrictShape
from aeries_sandbox.emulator.paging import DEFAULT_UNPAGED_ROUTES, PAGED_ROUTES, PagingConfig
from aeries_sandbox.emulator.process import add_server_options, parse_cli, serve_until_stopped
from aeries_sandbox.emulator.server import EmulatorServer

log = logging.getLogger("aeries_sandbox.emulator")


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH such as 4-7, not {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aeries_sandbox.emulator",
        description="Aeries SIS REST API v5 emulator (a generated or replayed district).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--generate", type=int, metavar="SIZE", help="generate a district of SIZE students")
    source.add_argument("--data", type=Path, metavar="DIR", help="serve a district data dir (see README.md)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    shape = DistrictShape()
    parser.add_argument("--students-per-school", type=int, default=shape.students_per_school,
                        help=f"generated district's layout (default {shape.students_per_school})")
    parser.add_argument("--students-per-staff", type=float, default=shape.students_per_staff,
                        help=f"(default {shape.students_per_staff})")
    parser.add_argument("--classes-per-student", type=_range, default=shape.classes_per_student, metavar="LOW-HIGH",
                        help="classes of an active student, at most 7 (default %s-%s)" % shape.classes_per_student)
    parser.add_argument("--students-per-section", type=float, default=None,
                        help="(default: 80%% of 24 at elementary and of 30 at secondary schools)")
    parser.add_argument("--base-path", default="/aeries", help="the district's Aeries base path (default /aeries)")
    parser.add_argument("--certs", type=Path, metavar="FILE",
                        help='JSON {"certificates": [{"name", "certificate", "areas": [...]}]}')
    parser.add_argument("--write-data", type=Path, metavar="DIR", help="write the district as a data dir first")
    parser.add_argument("--no-serve", action="store_true", help="stop after --write-data")
    parser.add_argument("--unpaged-routes", metavar="ROUTES", default=None,
                        help="comma-separated routes that ignore StartingRecord/EndingRecord, or none (default "
                             f"{','.join(DEFAULT_UNPAGED_ROUTES)}; paged routes: {', '.join(PAGED_ROUTES)})")
    parser.add_argument("--max-rows-per-request", type=int, metavar="N", default=None,
                        help="return at most N rows per list request of a paged route (default: no cap)")
    add_server_options(parser, port=8081, faults_example="429=0.1,500=0.05,html=0.02,latency=0.01")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_cli(parser, argv)
    if args.no_serve and not args.write_data:
        parser.error("--no-serve only makes sense with --write-data")
    if not args.no_serve and not args.certs:
        parser.error("--certs FILE is required to serve")
    if args.generate is not None and args.generate < 1:
        parser.error("--generate needs a positive number of students")
    try:
        shape = DistrictShape(args.students_per_school, args.students_per_staff, args.classes_per_student,
                              args.students_per_section)
        if args.faults:
            parse_fault_spec(args.faults)
        PagingConfig.build(args.unpaged_routes, args.max_rows_per_request)
        certs = load_certificates(str(args.certs)) if not args.no_serve else {}
    except (ValueError, CertificateError) as exc:
        parser.error(str(exc))

    started = time.monotonic()
    try:
        if args.generate is not None:
            district = generate_district(args.generate, args.seed, shape, compact=True)
            origin = f"generated {args.generate} students (seed {args.seed})"
        else:
            district = District.load(args.data)
            origin = f"loaded {args.data}"
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = district.counts()
    log.info("district %s in %.1f s: %s", origin, time.monotonic() - started,
             ", ".join(f"{name} {count}" for name, count in counts.items()))
    if args.write_data:
        district.write(args.write_data)
        log.info("district written to %s", args.write_data)
    if args.no_serve:
        return 0

    try:
        server = EmulatorServer(district, certs, host=args.host, port=args.port,
                                base_path=args.base_path, faults=args.faults, fault_seed=args.fault_seed,
                                access_log=not args.quiet, unpaged_routes=args.unpaged_routes,
                                max_rows_per_request=args.max_rows_per_request)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    del district
    log.info("certificates: %s", ", ".join(
        f"{cert.name} ({len(cert.areas)} areas{', field level security' if cert.denied_fields else ''})"
        for cert in certs.values()) or "none")
    serve_until_stopped(server, args.port_file, f"Aeries emulator listening on {server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
