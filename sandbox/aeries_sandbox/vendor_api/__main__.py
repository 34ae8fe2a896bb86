"""``python -m aeries_sandbox.vendor_api``: the receiver in the foreground until stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aeries_sandbox.emulator.process import add_server_options, parse_cli, serve_until_stopped
from aeries_sandbox.vendor_api.receiver import TokenError, load_tokens, log
from aeries_sandbox.vendor_api.server import VendorApiServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m aeries_sandbox.vendor_api",
                                     description="A local stand-in for a vendor's student import API (SchoolMint Enroll).")
    parser.add_argument("--tokens-file", type=Path, required=True, metavar="FILE",
                        help="the accepted API tokens, a JSON list of strings")
    add_server_options(parser, port=8082, faults_example="429=0.1,503=0.05,500_after_import=0.02,latency=0.01")
    parser.add_argument("--fail-after-batches", type=int, metavar="N",
                        help="each instance imports N batches, then refuses every new one (a vendor stopping halfway)")
    parser.add_argument("--fail-status", type=int, default=503, metavar="STATUS",
                        help="the HTTP status of those refusals (default 503)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_cli(parser, argv)
    try:
        tokens = load_tokens(args.tokens_file)
        server = VendorApiServer(tokens, host=args.host, port=args.port, faults=args.faults,
                                 fault_seed=args.fault_seed, access_log=not args.quiet,
                                 fail_after_batches=args.fail_after_batches, fail_status=args.fail_status)
    except (TokenError, ValueError) as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    log.info("tokens: %d accepted", len(tokens))
    serve_until_stopped(server, args.port_file, f"Vendor API receiver listening on {server.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
