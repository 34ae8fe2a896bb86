"""``python -m aeries_sandbox.sftp_server``: a local SFTP server in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from aeries_sandbox.sftp_server.server import SftpServer, SftpServerError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aeries_sandbox.sftp_server",
        description="Run a local OpenSSH SFTP server (key auth, SFTP only) until Ctrl-C.",
    )
    parser.add_argument("--root", help="delivery root directory (default: a temp dir)")
    parser.add_argument(
        "--conn-id",
        default="vendor_sftp",
        help="connection id used in the printed AIRFLOW_CONN_ line (default: vendor_sftp)",
    )
    args = parser.parse_args(argv)

    server = SftpServer(root=args.root)
    try:
        server.start()
    except SftpServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def _stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # SIGINT explicitly too: shells start background jobs with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    env_name, env_value = server.airflow_connection_uri_env(args.conn_id)
    print(f"SFTP server running (pid {server._process.pid if server._process else '?'})")
    print(f"  host:      {server.host}")
    print(f"  port:      {server.port}")
    print(f"  username:  {server.username}")
    print(f"  key file:  {server.private_key_path}")
    print(f"  host key:  {server.host_key}")
    print(f"  root:      {server.root}")
    print(f"  log:       {server.log_path}")
    print(f"  connect:   sftp -i {server.private_key_path} -P {server.port} {server.username}@{server.host}")
    print(f"  {env_name}='{env_value}'")
    print("Ctrl-C stops the server.", flush=True)
    try:
        while server.running:
            time.sleep(0.5)
        print(f"sshd exited unexpectedly; see {server.log_path}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stopping SFTP server", flush=True)
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
