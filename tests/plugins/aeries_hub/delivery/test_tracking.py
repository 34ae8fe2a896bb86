"""Change tracking's look for files already at the target (delivery.tracking)."""

from __future__ import annotations

import json
import socket

from aeries_hub.delivery.tracking import files_at_target
from aeries_hub.mapping.loader import load_mapping
from aeries_hub.paths import MAPPINGS_DIR

DESTINY = load_mapping(MAPPINGS_DIR / "destiny.yml")


def test_an_unreachable_target_gives_no_sign_of_an_earlier_delivery(monkeypatch, caplog):
    """The state-loss check looks for delivered files at the SFTP target; a server that does not answer is
    no sign either way (deliver then fails with the connection error) and the warning names the connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxpc3RlbmluZy1uby1tb3JlLWhvc3Qta2V5LTAwMDA="
    monkeypatch.setenv(f"AIRFLOW_CONN_{DESTINY.sftp_conn_id.upper()}", json.dumps(
        {"conn_type": "sftp", "host": "127.0.0.1", "port": closed_port, "login": "hub",
         "extra": {"host_key": host_key}}))
    assert files_at_target(DESTINY) == ("", [])
    assert f"sftp connection '{DESTINY.sftp_conn_id}' (127.0.0.1:{closed_port})" in caplog.text
    assert "Could not look for earlier deliveries in the target folder" in caplog.text
