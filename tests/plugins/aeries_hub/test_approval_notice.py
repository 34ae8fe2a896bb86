"""The notice that an approval waits: a real SMTP server (aiosmtpd) and a real HTTP server receive the counts per file
and the link to the run's Required actions page."""

from __future__ import annotations

import html
import json
from types import SimpleNamespace

from aeries_hub.approval_notice import notify_waiting
from aeries_hub.operators.approval import HOLD_REMOVALS, MassChangeApprovalOperator

COUNTS = ["patrons.csv: 2 added, 3 changed, 97 removed (300 rows before, 205 now)"]


def waiting_operator() -> MassChangeApprovalOperator:
    operator = MassChangeApprovalOperator(task_id="approve_changes", mapping_file="destiny.yml",
                                          approval_timeout_hours=12, offer_hold=True)
    operator.subject = "Follett Destiny patrons: approve patrons.csv: 97 of 300 rows removed"
    return operator


def context(run_id: str = "scheduled__2027-01-04T13:00:00+00:00") -> dict:
    return {"ti": SimpleNamespace(dag_id="aeries_to_destiny", run_id=run_id, task_id="approve_changes", map_index=-1)}


def test_a_waiting_approval_is_mailed_and_posted_with_its_counts_and_link(monkeypatch, alerts, caplog):
    mailbox, webhook = alerts
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.district.test")
    operator = waiting_operator()
    assert operator.options == ["Approve", HOLD_REMOVALS, "Reject"]

    notify_waiting(context(), operator, COUNTS)

    link = ("https://airflow.district.test/dags/aeries_to_destiny/runs/scheduled__2027-01-04T13:00:00+00:00/tasks/"
            "approve_changes/required_actions?map_index=-1")
    text = "\n".join([
        "aeries_to_destiny run scheduled__2027-01-04T13:00:00+00:00 waits for a decision in Required actions: "
        "Follett Destiny patrons: approve patrons.csv: 97 of 300 rows removed",
        COUNTS[0],
        "No answer within 12 hours: nothing is delivered and the run ends in Error.",
        f"decide: {link}",
    ])
    ((recipients, mail),) = mailbox.messages
    assert recipients == ["data-team@district.test", "sis@district.test"]
    assert mail["Subject"] == "[Aeries hub] aeries_to_destiny run scheduled__2027-01-04T13:00:00+00:00 waits for approval"
    assert html.unescape(mail.get_body(("html",)).get_content().strip()) == f"<pre>{text}</pre>"
    ((path, posted),) = webhook.received
    assert path == "/hooks/T0K3N-in-the-path"
    assert posted == {"subject": mail["Subject"], "text": text, "dag_id": "aeries_to_destiny",
                      "run_id": "scheduled__2027-01-04T13:00:00+00:00", "status": "Waiting for approval",
                      "counts": COUNTS, "url": link}
    assert "T0K3N" not in caplog.text
    logged = [r.getMessage() for r in caplog.records if r.name in ("aeries_hub.notifications", "aeries_hub.alert_webhook")]
    assert logged == ["Approval notice e-mailed to data-team@district.test, sis@district.test over alerts_smtp",
                      "Approval notice posted to webhook connection alerts_webhook (HTTP 204)"]


def test_without_a_base_url_the_notice_says_where_to_decide_and_a_failing_channel_does_not_raise(monkeypatch, alerts,
                                                                                                 caplog):
    mailbox, webhook = alerts
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({
        "conn_type": "http", "schema": "http", "host": "127.0.0.1/secret-path", "port": 9,  # discard port: refused
    }))

    notify_waiting(context("manual__1"), waiting_operator(), COUNTS)

    ((_, mail),) = mailbox.messages
    assert html.unescape(mail.get_body(("html",)).get_content().strip()).splitlines()[-1] == (
        "decide: the run's Required actions page in the Airflow UI (set [api] base_url for a link)</pre>")
    assert webhook.received == []
    assert ("The approval notice was not posted: approval notice webhook 'alerts_webhook': the post failed "
            "(ConnectionError)") in caplog.text
    assert "secret-path" not in caplog.text


def test_no_channel_configured_sends_nothing(monkeypatch, caplog, mailbox):
    import logging

    caplog.set_level(logging.INFO, logger="aeries_hub.approval_notice")
    notify_waiting(context(), waiting_operator(), COUNTS)
    assert mailbox.messages == []
    assert "nobody is told that this approval waits" in caplog.text
