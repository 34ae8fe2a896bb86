"""The `demo-init` service of docker-compose.yml: generate what `docker compose --profile demo up` needs.

    python /opt/aeries-docker/demo_init.py --out /opt/airflow/demo-secrets --owner 50000

writes into the demo-secrets volume (files mode 0600, owned by ``--owner`` with group 0):

=========================  ===============================================================================
``aeries_certs.json``      the Aeries emulator's certificate (its ``--certs`` file)
``vendor_tokens.json``     the vendor API receiver's token (its ``--tokens-file``)
``ssh_host_ed25519_key``   the SFTP server's host key; the ``.pub`` is the connections' ``host_key`` extra
``sftp_user_ed25519``      the SFTP user's key; the ``.pub`` goes into the server's authorized_keys
``connections.json``       every connection the vendor DAGs use, for ``airflow connections import``
=========================  ===============================================================================

Every secret is generated here, on the machine that runs the demo, the first time; later runs keep them
(the servers and Airflow's connections stay in step) unless ``--rotate`` is given. Nothing in the repository
is a key, a certificate or a token. ``connections.json`` is rewritten every time from the current secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aeries_sandbox.emulator import READ_AREAS, WRITE_AREAS
from aeries_sandbox.stack import (
    VENDOR_API_CONNECTIONS,
    VENDOR_SFTP_CONNECTIONS,
    new_certificate,
)
from aeries_sandbox.vendor_api.server import VendorApiServer

#: Where the demo servers answer inside the compose network (service names and ports of docker-compose.yml).
AERIES_URL = "http://aeries-emulator:8081/aeries"
SFTP_HOST = "sftp"
SFTP_PORT = 22
SFTP_LOGIN = "aeries"
VENDOR_API_URL = "http://vendor-api:8082"

CERTS_FILE = "aeries_certs.json"
TOKENS_FILE = "vendor_tokens.json"
HOST_KEY_FILE = "ssh_host_ed25519_key"
USER_KEY_FILE = "sftp_user_ed25519"
CONNECTIONS_FILE = "connections.json"


def ed25519_key_pair(comment: str) -> tuple[str, str]:
    """A new ed25519 key: the private key in OpenSSH format and the ``ssh-ed25519 AAAA... comment`` line."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode("ascii")
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode('ascii')} {comment}\n"


def build_connections(*, certificate: str, vendor_token: str, host_key: str, private_key: str,
                      writeback_certificate: str = "") -> dict[str, dict]:
    """Every connection of the vendor mappings and write-backs, in ``airflow connections import`` JSON.

    The same shapes as :meth:`aeries_sandbox.stack.Stack.connections` (``make demo``), with the SFTP user's
    key inline (``private_key``) so that the workers need no key file.
    """
    connections: dict[str, dict[str, Any]] = {
        "aeries_default": {
            "conn_type": "aeries",
            "description": "Aeries emulator of the compose demo (a generated district)",
            "host": AERIES_URL,
            "password": certificate,
            # Plain http inside the compose network: the explicit, logged opt-in (aeries_hub.connection_extras).
            "extra": {"timeout": 10, "max_concurrency": 4, "page_size": 250, "allow_insecure": True},
        }
    }
    connections["aeries_writeback"] = {
        **connections["aeries_default"],
        "description": "Aeries emulator of the compose demo, with a certificate that may update and insert",
        "password": writeback_certificate,
    }
    host_key = " ".join(host_key.split()[:2])  # "ssh-ed25519 AAAA...", without the comment
    for conn_id, folder in VENDOR_SFTP_CONNECTIONS.items():
        connections[conn_id] = {
            "conn_type": "sftp",
            "description": f"SFTP server of the compose demo; files land in {folder}/",
            "host": SFTP_HOST,
            "port": SFTP_PORT,
            "login": SFTP_LOGIN,
            "extra": {
                "private_key": private_key,
                "host_key": host_key,
                "no_host_key_check": False,
                "look_for_keys": False,
            },
        }
    receiver = SimpleNamespace(url=VENDOR_API_URL)  # what VendorApiServer.airflow_connection reads
    for conn_id, instance in VENDOR_API_CONNECTIONS.items():
        connections[conn_id] = VendorApiServer.airflow_connection(receiver, conn_id, instance, vendor_token)
    return connections


def _write(path: Path, text: str, owner: int | None) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    if owner is not None:
        os.chown(tmp, owner, 0)
    os.replace(tmp, path)


def _key_pair(out: Path, name: str, comment: str, owner: int | None, rotate: bool) -> tuple[str, str]:
    private_path, public_path = out / name, out / f"{name}.pub"
    if rotate or not (private_path.exists() and public_path.exists()):
        private, public = ed25519_key_pair(comment)
        _write(private_path, private, owner)
        _write(public_path, public, owner)
        print(f"generated {private_path} and {public_path.name}")
    return private_path.read_text(), public_path.read_text()


def generate(out: Path, *, owner: int | None = None, rotate: bool = False) -> dict[str, dict]:
    """Create the demo's secrets in ``out`` (keeping existing ones unless ``rotate``); returns the connections."""
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o750)
    if owner is not None:
        os.chown(out, owner, 0)

    certs_path = out / CERTS_FILE
    if rotate or not certs_path.exists() or len(json.loads(certs_path.read_text())["certificates"]) < 2:
        certs = {"certificates": [
            {"name": "airflow", "certificate": new_certificate(), "areas": list(READ_AREAS)},
            {"name": "writeback", "certificate": new_certificate(), "areas": [*READ_AREAS, *WRITE_AREAS]},
        ]}
        _write(certs_path, json.dumps(certs, indent=2) + "\n", owner)
        print(f"generated {certs_path}")
    certificate, writeback_certificate = (c["certificate"] for c in json.loads(certs_path.read_text())["certificates"][:2])

    tokens_path = out / TOKENS_FILE
    if rotate or not tokens_path.exists():
        _write(tokens_path, json.dumps([new_certificate()]) + "\n", owner)
        print(f"generated {tokens_path}")
    vendor_token = json.loads(tokens_path.read_text())[0]

    _, host_public = _key_pair(out, HOST_KEY_FILE, "aeries-demo-sftp-host", owner, rotate)
    user_private, _ = _key_pair(out, USER_KEY_FILE, "aeries-demo-airflow", owner, rotate)

    connections = build_connections(
        certificate=certificate, vendor_token=vendor_token, host_key=host_public, private_key=user_private,
        writeback_certificate=writeback_certificate,
    )
    _write(out / CONNECTIONS_FILE, json.dumps(connections, indent=2) + "\n", owner)
    print(f"wrote {out / CONNECTIONS_FILE}: {', '.join(connections)}")
    return connections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (the demo-secrets volume)")
    parser.add_argument("--owner", type=int, help="uid that owns the files (group 0), e.g. AIRFLOW_UID")
    parser.add_argument("--rotate", action="store_true", help="generate new secrets even if some exist")
    args = parser.parse_args(argv)
    generate(args.out, owner=args.owner, rotate=args.rotate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
