"""Shared test setup: an isolated Airflow home with a migrated SQLite metadata database.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="aeries-hub-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__AERIES_HUB__STAGING_URL": f"file://{AIRFLOW_HOME}/staging",
        "GX_ANALYTICS_ENABLED": "False",
    }
)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config, items):
    """How `make test` spreads the suite over two pytest-xdist workers (``-n 2 --dist loadgroup``).

    Each test module is one group, so that its module-scoped stack and shared ``dag.test()`` run are built once,
    on one worker; the system tests are one group, so that only one worker at a time runs Airflow's processes,
    whose timeouts assume the machine is not also running another scheduler. Groups are handed out in the order
    of the collection, so the long ones go first (system tests, then the end-to-end modules) and the many short
    unit-test modules fill in at the end, when a worker would otherwise wait for the other one."""
    def weight(item) -> int:
        return 0 if item.get_closest_marker("system") else 1 if item.get_closest_marker("e2e") else 2

    for item in items:
        group = "system" if item.get_closest_marker("system") else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=weight)  # stable: within a weight, the collection's order


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated metadata database (SQLite, as `make demo` uses), created once per session."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return AIRFLOW_HOME


# -- failure alerts: a real SMTP server (aiosmtpd) and a real HTTP webhook receiver -------------------
class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default_policy)))
        return "250 OK"


@pytest.fixture
def mailbox():
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    box.port = port
    yield box
    controller.stop()


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.received = received
    yield server
    server.shutdown()


@pytest.fixture
def alerts(monkeypatch, mailbox, webhook):
    """Failure alerts configured ([aeries_hub] alert_*) to a real SMTP server and a real webhook receiver."""
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__ALERT_EMAIL_TO", "data-team@district.test; sis@district.test")
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__ALERT_SMTP_CONN_ID", "alerts_smtp")
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": mailbox.port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@district.test", "retry_limit": 1},
    }))
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__ALERT_WEBHOOK_CONN_ID", "alerts_webhook")
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({
        "conn_type": "http", "schema": "http", "host": "127.0.0.1/hooks/T0K3N-in-the-path", "port": webhook.server_port,
    }))
    return mailbox, webhook
