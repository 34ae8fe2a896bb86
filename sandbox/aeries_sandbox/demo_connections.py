"""The demo's connections in Airflow's metadata database, so that Admin > Connections shows them and an operator
can edit them there (``make demo``, ``make airflow``).

    python -m aeries_sandbox.demo_connections RECORD < connections.json

run with the demo's Airflow environment, reads ``{conn_id: connection JSON}`` on stdin (never a file or the command
line: the certificates and keys are in it) and prints one line per connection, naming it and never its values.

Each start serves the emulator and the servers on new ports with new secrets, so a connection the demo wrote at an
earlier start is brought up to date. One an operator changed since (or created before the demo) is kept as it is:
``RECORD`` (mode 0600) holds a SHA-256 fingerprint of what the demo last wrote for each, and a connection whose
fingerprint differs is not the demo's any more.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port")


def fingerprint(connection: Any) -> str:
    """SHA-256 of what a stored connection holds (its fields and extra), to tell whether someone changed it."""
    document = {field: getattr(connection, field) for field in FIELDS}
    document["extra"] = connection.extra_dejson
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def store_connections(connections: dict[str, dict], record: Path) -> list[str]:
    """Add each connection missing from the metadata database, update each the demo wrote and nobody changed since,
    keep the others; returns one line per connection saying which."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select

    written: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    lines = []
    with create_session() as session:
        stored = {c.conn_id: c for c in session.scalars(select(Connection).where(Connection.conn_id.in_(connections)))}
        for conn_id, document in connections.items():
            wanted = Connection.from_json(json.dumps(document), conn_id=conn_id)
            existing = stored.get(conn_id)
            if existing is None:
                session.add(wanted)
                existing, outcome = wanted, "added"
            elif written.get(conn_id) == fingerprint(existing):
                for field in FIELDS:
                    setattr(existing, field, getattr(wanted, field))
                existing.extra = wanted.extra
                outcome = "updated (the demo's servers and secrets of this start)"
            else:
                lines.append(f"{conn_id}: kept as it is in the database (changed since the demo wrote it, or not the "
                             "demo's); delete it in Admin > Connections to get the demo's again")
                continue
            session.flush()
            written[conn_id] = fingerprint(existing)
            lines.append(f"{conn_id}: {outcome}")
    record.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(written, handle, indent=2, sort_keys=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m aeries_sandbox.demo_connections RECORD < connections.json")
    for line in store_connections(json.load(sys.stdin), Path(args[0])):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
