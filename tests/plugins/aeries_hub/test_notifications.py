"""Failure alerts: a real SMTP server (aiosmtpd) and a real HTTP server receive the run report's summary."""

from __future__ import annotations

import json

import pytest

from aeries_hub.notifications import RunFailureNotifier, alert_settings
from aeries_hub.staging import RunFolder, staging_base

REPORT = {
    "integration": "destiny",
    "status": "Error",
    "dry_run": False,
    "reason": "Not delivered: admin rejected the changes at 2026-12-01T10:00:00+00:00",
    "extracted": {"students": 300},
    "checks": {"passed": 60, "warned": 1, "failed": 0},
    "rejected": 2,
    "files": {},
    "delivered": [],
    "errors": [],
}


def test_settings_are_read_once_from_airflow_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__ALERT_EMAIL_TO", " a@x.test, b@x.test ;c@x.test ")
    assert alert_settings() == {"email_to": ["a@x.test", "b@x.test", "c@x.test"], "smtp_conn_id": "smtp_default",
                                "webhook_conn_id": ""}


def test_failed_run_is_mailed_and_posted_with_its_report(monkeypatch, tmp_path, alerts, caplog):
    mailbox, webhook = alerts
    from types import SimpleNamespace

    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}")
    RunFolder(staging_base(), "aeries_to_destiny", "scheduled__2026-12-01").write_json("report.json", REPORT)

    RunFailureNotifier().notify({"dag": SimpleNamespace(dag_id="aeries_to_destiny"), "run_id": "scheduled__2026-12-01"})

    ((recipients, mail),) = mailbox.messages
    assert recipients == ["data-team@district.test", "sis@district.test"]
    assert mail["Subject"] == "[Aeries hub] aeries_to_destiny run scheduled__2026-12-01 ended in Error"
    body = mail.get_body(("html",)).get_content()
    assert "destiny: Error" in body
    assert "Not delivered: admin rejected the changes at 2026-12-01T10:00:00+00:00" in body
    assert "checks: 60 passed, 1 warned, 0 failed; 2 rows rejected" in body
    ((path, posted),) = webhook.received
    assert path == "/hooks/T0K3N-in-the-path"
    assert posted["subject"] == mail["Subject"]
    assert (posted["status"], posted["reason"], posted["dag_id"]) == ("Error", REPORT["reason"], "aeries_to_destiny")
    assert posted["report"].endswith("aeries_to_destiny/scheduled__2026-12-01/report.json")
    assert "T0K3N" not in caplog.text


def test_a_run_without_report_still_alerts_and_a_refusing_webhook_names_its_connection(monkeypatch, tmp_path, webhook):
    from types import SimpleNamespace

    from aeries_hub.notifications import failure_alert, post_webhook

    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}")
    alert = failure_alert("aeries_to_xello", "manual__1", SimpleNamespace())
    assert alert["text"] == "aeries_to_xello: the run failed before it wrote a report; see its task logs"
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({
        "conn_type": "http", "schema": "http", "host": "127.0.0.1/secret-path", "port": 9,  # discard port: refused
    }))
    with pytest.raises(RuntimeError) as err:
        post_webhook("alerts_webhook", alert)
    assert str(err.value) == "failure alert webhook 'alerts_webhook': the post failed (ConnectionError)"
