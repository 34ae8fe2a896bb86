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
        # The first run of most end-to-end modules is a first delivery: it would wait for approval. The tests of
        # that approval set it True (tests/dags/test_state_loss.py).
        "AIRFLOW__AERIES_HUB__APPROVE_FIRST_DELIVERY": "False",
        "GX_ANALYTICS_ENABLED": "False",
    }
)


def pytest_collection_modifyitems(config, items):
    """The long tests first (system tests, then the end-to-end modules), the many short unit-test modules last:
    with two workers (`make test`), a worker that finishes early then has short pieces to take, instead of
    waiting for the other one to finish a long module. Stable within each kind: the collection's order."""
    def weight(item) -> int:
        return 0 if item.get_closest_marker("system") else 1 if item.get_closest_marker("e2e") else 2

    items.sort(key=weight)


def pytest_xdist_make_scheduler(config, log):
    """How `make test` (``-n 2 --dist loadgroup``) spreads the suite over two pytest-xdist workers: each test
    module is one unit of work, so its module-scoped stack and shared ``dag.test()`` run are built once, on one
    worker; the system tests are one unit, so that one worker at a time runs Airflow's processes, whose timeouts
    assume the machine is not also running another scheduler. Units are handed out in the collection's order
    (``--no-loadscope-reorder``; see ``pytest_collection_modifyitems``).

    (pytest-xdist's own ``loadgroup`` reads ``xdist_group`` marks by renaming each test, which pytest 9 ignores;
    this scheduler groups by the test's path instead.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndSystemTests(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/system" if path.startswith("tests/system/") else path

    return ModulesAndSystemTests(config, log)


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
