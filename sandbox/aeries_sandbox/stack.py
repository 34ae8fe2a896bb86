"""The local stand-ins for a district's systems: the Aeries emulator, the vendors' SFTP server and API.

`make demo`, `make airflow` and the end-to-end tests all start them through :func:`sandbox_stack`, and
point Airflow at them through ordinary Airflow connections: the tests through ``AIRFLOW_CONN_*`` environment
variables, the demo in the metadata database (:mod:`aeries_sandbox.demo_connections`).
The Aeries certificate and the vendor API token are generated afresh for every stack: no secret lives in
the repository.
"""

from __future__ import annotations

import json
import secrets
import string
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from aeries_sandbox.emulator import READ_AREAS, WRITE_AREAS, EmulatorProcess, generate_district
from aeries_sandbox.sftp_server.server import SftpServer
from aeries_sandbox.vendor_api.server import VendorApiServer

#: The SFTP connection each vendor mapping names, and the folder its files land in.
VENDOR_SFTP_CONNECTIONS = {
    "destiny_sftp": "patrons",
    "xello_sftp": "xello",
    "powerschool_learning_sftp": "powerschool_learning",
    "stemscopes_sftp": "stemscopes",
    "schoolmint_enroll_export_sftp": "enroll_export",  # where Enroll drops the students it exports to Aeries
    "xello_export_sftp": "xello_export",  # where Xello drops the course requests it exports to Aeries
    "powerschool_learning_export_sftp": "powerschool_learning_export",  # PSL's grade exports (the grade push)
}

#: The http connection each vendor API target names, and the receiver's instance behind it.
VENDOR_API_CONNECTIONS = {
    "schoolmint_enroll_sandbox": "sandbox",
    "schoolmint_enroll": "production",
}


#: How long the emulator may take to load a data dir before it listens: 600 s, plus a second for every 2 MB of data
#: files (loading runs at about 5 MB/s on a busy 2-core machine: a 1,000,000-student district's 4.4 GB takes about
#: 18 minutes, docs/benchmarks.md). The wait only bounds a hang; a healthy load ends it as soon as the port answers.
STARTUP_BASE_SECONDS = 600
STARTUP_BYTES_PER_SECOND = 2_000_000


def emulator_startup_timeout(data_dir: Path) -> float:
    """Seconds to wait for the emulator serving ``data_dir`` to listen, by the size of its data files."""
    size = sum(path.stat().st_size for path in Path(data_dir).glob("*.json*") if path.is_file())
    return STARTUP_BASE_SECONDS + size / STARTUP_BYTES_PER_SECOND


def new_certificate() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


@dataclass
class Stack:
    emulator: EmulatorProcess
    sftp: SftpServer
    vendor_api: VendorApiServer
    data_dir: Path
    certificate: str
    vendor_token: str
    writeback_certificate: str = ""

    def connections(self, *, aeries_extra: dict | None = None) -> dict[str, dict]:
        """Every connection the vendor mappings and write-backs name, as Airflow's JSON connection documents."""
        aeries = {
            "conn_type": "aeries",
            "host": self.emulator.url,
            "password": self.certificate,
            # The emulator speaks plain http on localhost: the explicit, logged opt-in (aeries_hub.connection_extras).
            "extra": {"timeout": 10, "max_concurrency": 4, "page_size": 250, "allow_insecure": True,
                      **(aeries_extra or {})},
        }
        connections = {
            "aeries_default": aeries,
            # The write-backs' certificate may also update and insert (read-only is the default's).
            "aeries_writeback": {**aeries, "password": self.writeback_certificate},
        }
        for conn_id in VENDOR_SFTP_CONNECTIONS:
            connections[conn_id] = self.sftp.airflow_connection(conn_id)
        for conn_id, instance in VENDOR_API_CONNECTIONS.items():
            connections[conn_id] = self.vendor_api.airflow_connection(conn_id, instance, self.vendor_token)
        return connections

    def connection_env(self, *, aeries_extra: dict | None = None) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables of :meth:`connections` (the tests; the demo puts them in the database)."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection)
                for conn_id, connection in self.connections(aeries_extra=aeries_extra).items()}

    def landed(self, delivered: dict) -> str:
        """Where a delivered file (a report's ``delivered`` entry) ended up on this machine."""
        if "remote_path" in delivered:
            return str(self.sftp.root / delivered["remote_path"].lstrip("/"))
        if "import_id" in delivered:  # delivery.http_upload (the Canvas SIS import emulator)
            return f"{delivered['url']} (import {delivered['import_id']}: {delivered['workflow_state']})"
        return f"{delivered['url']} ({delivered.get('target')}: {delivered['imported']} imported)"


@contextmanager
def sandbox_stack(
    workdir: Path, *, data_dir: Path | None = None, students: int = 2000, seed: int = 42, faults: str | None = None,
    access_log: bool = True, writeback_denied_fields: dict[str, list[str]] | None = None,
) -> Iterator[Stack]:
    """Serve a district (``data_dir``, or one generated into ``workdir/district``) and an SFTP server on ``workdir/sftp``.
    ``access_log=False`` keeps the emulator from logging every request (benchmarks); ``writeback_denied_fields``
    (``{"Student Data": ["StateStudentID"]}``) gives the write-back certificate Aeries' field level security."""
    workdir = Path(workdir)
    if data_dir is None:
        data_dir = workdir / "district"
        if not (data_dir / "students.json").exists():
            generate_district(students, seed).write(data_dir)
    sftp_root = workdir / "sftp"
    for folder in VENDOR_SFTP_CONNECTIONS.values():
        (sftp_root / folder).mkdir(parents=True, exist_ok=True)
    certificate, vendor_token, writeback_certificate = new_certificate(), new_certificate(), new_certificate()
    with ExitStack() as stack:
        emulator = stack.enter_context(
            EmulatorProcess(
                data_dir=data_dir,
                certs=[
                    {"name": "airflow", "certificate": certificate, "areas": READ_AREAS},
                    {"name": "writeback", "certificate": writeback_certificate, "areas": [*READ_AREAS, *WRITE_AREAS],
                     "denied_fields": writeback_denied_fields or {}},
                ],
                faults=faults,
                access_log=access_log,
                startup_timeout=emulator_startup_timeout(data_dir),
            )
        )
        sftp = stack.enter_context(SftpServer(root=sftp_root))
        vendor_api = stack.enter_context(VendorApiServer(tokens=[vendor_token]))
        yield Stack(emulator=emulator, sftp=sftp, vendor_api=vendor_api, data_dir=data_dir, certificate=certificate,
                    writeback_certificate=writeback_certificate,
                    vendor_token=vendor_token)
