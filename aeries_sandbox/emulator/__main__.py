"""``python -m aeries_sandbox.emulator``: serve a generated or replayed district as Aeries API v5.

    python -m aeries_sandbox.emulator --port 8081 --generate 2000 --seed 42 --certs certs.json
    python -m aeries_sandbox.emulator --port 0 --port-file port.txt --data district/ --certs certs.json \\
        --faults "429=0.1,500=0.05,html=0.02,latency=0.01" --fault-seed 7
    python -m aeries_sandbox.emulator --generate 500000 --write-data /tmp/district --no-serve
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from aeries_sandbox.emulator.district import District
from aeries_sandbox.emulator.faults import parse_fault_spec
from aeries_sandbox.emulator.generator import generate_district
from aeries_sandbox.emulator.server import CertificateError, EmulatorServer, load_certificates

log = logging.getLogger("aeries_sandbox.emulator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aeries_sandbox.emulator",
        description="Aeries SIS REST API v5 emulator (a generated or replayed district).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--generate", type=int, metavar="SIZE", help="generate a district of SIZE students")
    source.add_argument("--data", type=Path, metavar="DIR", help="serve a district data dir (see README.md)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--port", type=int, default=8081, help="TCP port; 0 picks a free one (default 8081)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--base-path", default="/aeries", help="the district's Aeries base path (default /aeries)")
    parser.add_argument("--certs", type=Path, metavar="FILE",
                        help='JSON {"certificates": [{"name", "certificate", "areas": [...]}]}')
    parser.add_argument("--write-data", type=Path, metavar="DIR", help="write the district as a data dir first")
    parser.add_argument("--no-serve", action="store_true", help="stop after --write-data")
    parser.add_argument("--faults", metavar="SPEC", help='e.g. "429=0.1,500=0.05,html=0.02,latency=0.01"')
    parser.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG (default 0)")
    parser.add_argument("--port-file", type=Path, metavar="FILE", help="write the port here once listening")
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return parser


def _write_port_file(path: Path, port: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.no_serve and not args.write_data:
        parser.error("--no-serve only makes sense with --write-data")
    if not args.no_serve and not args.certs:
        parser.error("--certs FILE is required to serve")
    if args.generate is not None and args.generate < 1:
        parser.error("--generate needs a positive number of students")
    try:
        if args.faults:
            parse_fault_spec(args.faults)
        certs = load_certificates(str(args.certs)) if not args.no_serve else {}
    except (ValueError, CertificateError) as exc:
        parser.error(str(exc))

    started = time.monotonic()
    try:
        if args.generate is not None:
            district = generate_district(args.generate, args.seed)
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
                                access_log=not args.quiet)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    del district
    log.info("certificates: %s", ", ".join(f"{name} ({len(areas)} areas)" for name, areas in certs.values()) or "none")
    if args.faults:
        log.info("faults: %s (seed %d)", args.faults, args.fault_seed)

    def stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    if args.port_file:
        _write_port_file(args.port_file, server.port)
    print(f"Aeries emulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
