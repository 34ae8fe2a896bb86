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


def test_a_run_without_report_still_alerts_and_a_refusing_webhook_names_its_connection(monkeypatch, tmp_path, webhook,
                                                                                       caplog):
    from types import SimpleNamespace

    from aeries_hub.alert_webhook import post_webhook
    from aeries_hub.notifications import failure_alert

    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}")
    alert = failure_alert("aeries_to_xello", "manual__1", SimpleNamespace())
    assert alert["text"] == "aeries_to_xello: the run failed before it wrote a report; see its task logs"
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({
        "conn_type": "http", "schema": "http", "host": "127.0.0.1/secret-path", "port": 9,  # discard port: refused
    }))
    with pytest.raises(RuntimeError) as err:
        post_webhook("alerts_webhook", alert)
    assert str(err.value) == "failure alert webhook 'alerts_webhook': the post failed (ConnectionError)"
    # HttpHook logs the refused URL: its path (the token) is masked there too.
    assert "Max retries exceeded with url: *** (Caused by" in caplog.text and "secret-path" not in caplog.text


#: A write-back's report as aeries_hub.writeback.report writes it (Aeries refused the certificate while planning).
WRITEBACK_REPORT = {
    "integration": "xello",
    "status": "Error",
    "files": [{"file": "CourseRequests_2027-03-01.txt", "sha256": "ab" * 32, "bytes": 120}],
    "skipped_files": [],
    "records": 3,
    "rejected": ["1/9001/ZZZ9"],
    "reject_reasons": ["1/9001/ZZZ9: course 'ZZZ9' is not in Aeries' course catalogue"],
    "planned": {},
    "written": [],
    "not_written_because": None,
    "staging": "/staging/xello_to_aeries/manual__1",
    "generated_at": "2027-03-01T06:00:00+00:00",
}


def write_report(monkeypatch, tmp_path, dag_id: str, run_id: str, document) -> None:
    monkeypatch.setenv("AIRFLOW__AERIES_HUB__STAGING_URL", f"file://{tmp_path}")
    run = RunFolder(staging_base(), dag_id, run_id)
    if isinstance(document, bytes):
        run.write_bytes("report.json", document)
    else:
        run.write_json("report.json", document)


def notify(dag_id: str, run_id: str) -> None:
    from types import SimpleNamespace

    RunFailureNotifier().notify({"dag": SimpleNamespace(dag_id=dag_id), "run_id": run_id})


def test_a_failed_writeback_is_mailed_and_posted_with_its_counts(monkeypatch, tmp_path, alerts):
    mailbox, webhook = alerts
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__1", WRITEBACK_REPORT)

    notify("xello_to_aeries", "manual__1")

    ((_, mail),) = mailbox.messages
    assert mail["Subject"] == "[Aeries hub] xello_to_aeries run manual__1 ended in Error"
    ((_, posted),) = webhook.received
    assert posted["text"].splitlines() == [
        "xello write-back into Aeries: Error",
        "export files read: CourseRequests_2027-03-01.txt",
        "records: 3, 1 rejected",
        "planned: no write",
        "written into Aeries: 0; not written: 0",
        "report: /staging/xello_to_aeries/manual__1/report.json",
    ]
    assert (posted["status"], posted["dag_id"], posted["errors"]) == ("Error", "xello_to_aeries", [])


def test_a_writeback_alert_names_each_quarantined_file_and_why(monkeypatch, tmp_path, alerts):
    _, webhook = alerts
    reason = "sftp connection 'x' folder 'out': export file name '../evil.py' refused: not a plain file name"
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__3",
                 {**WRITEBACK_REPORT, "quarantined_files": [{"file": "../evil.py", "reason": reason}]})

    notify("xello_to_aeries", "manual__3")

    ((_, posted),) = webhook.received
    assert posted["text"].splitlines()[2] == f"quarantined (not read): {reason}"


def test_a_writeback_alert_names_the_school_year_written_or_why_none_was(monkeypatch, tmp_path, alerts):
    _, webhook = alerts
    note = ("Aeries does not offer the school year 2027-2028 (it offers 2026-2027); read 2026-2027, the newest that "
            "has started (connection extra unavailable_year: newest_started)")
    refused = ("Aeries connection 'aeries_writeback' does not offer the school year 2027-2028 (DatabaseYear 2027); it "
               "offers 2026-2027. The connection's extra unavailable_year is \"fail\": ...")
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__4",
                 {**WRITEBACK_REPORT, "database_year": 2026, "school_year": "2026-2027", "attention": [note]})
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__5",
                 {**WRITEBACK_REPORT, "database_year": None, "school_year": None, "errors": [refused]})

    notify("xello_to_aeries", "manual__4")
    notify("xello_to_aeries", "manual__5")

    (_, written), (_, failed) = webhook.received
    assert written["text"].splitlines()[1:3] == ["Aeries school year: 2026-2027 (DatabaseYear 2026)", note]
    assert failed["text"].splitlines()[1] == "export files read: CourseRequests_2027-03-01.txt"
    assert f"error: {refused}" in failed["text"].splitlines() and failed["errors"] == [refused]


@pytest.mark.parametrize("document", [
    {"integration": "destiny", "status": "Error"},             # a vendor report missing what report_lines reads
    {**WRITEBACK_REPORT, "written": [{"record": "1"}]},         # a write-back report of another shape
], ids=["vendor", "writeback"])
def test_a_report_that_cannot_be_rendered_gives_a_plain_alert(monkeypatch, tmp_path, alerts, document, caplog):
    mailbox, webhook = alerts
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.district.test")
    write_report(monkeypatch, tmp_path, "aeries_to_destiny", "manual__2", document)

    notify("aeries_to_destiny", "manual__2")

    ((_, posted),) = webhook.received
    assert posted["text"] == ("aeries_to_destiny run manual__2 ended in Error; see its report and task logs\n"
                              "run: https://airflow.district.test/dags/aeries_to_destiny/runs/manual__2")
    assert posted["report"].endswith("aeries_to_destiny/manual__2/report.json")
    assert len(mailbox.messages) == 1
    assert "The report of aeries_to_destiny run manual__2 could not be rendered (KeyError" in caplog.text


def test_an_unreadable_report_still_alerts_plainly(monkeypatch, tmp_path, alerts, caplog):
    mailbox, webhook = alerts
    write_report(monkeypatch, tmp_path, "aeries_to_destiny", "manual__3", b'{"status": "Err')

    notify("aeries_to_destiny", "manual__3")

    ((_, posted),) = webhook.received
    assert posted["subject"] == "[Aeries hub] aeries_to_destiny run manual__3 ended in Error"
    assert posted["report"] is None
    assert posted["text"] == "aeries_to_destiny run manual__3 ended in Error; see its report and task logs"
    assert len(mailbox.messages) == 1
    assert "could not read the run report (JSONDecodeError): a plain alert is sent" in caplog.text


def test_a_channel_that_fails_does_not_stop_the_other_nor_raise(monkeypatch, tmp_path, alerts, caplog):
    mailbox, webhook = alerts
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_SMTP", json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": 9,
                                                               "extra": {"disable_tls": True, "disable_ssl": True,
                                                                         "retry_limit": 1}}))
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__4", WRITEBACK_REPORT)

    notify("xello_to_aeries", "manual__4")  # SMTP refuses the connection: no exception

    assert mailbox.messages == [] and len(webhook.received) == 1
    assert ("The failure alert of xello_to_aeries run manual__4 was not sent by e-mail: ConnectionRefusedError"
            in caplog.text)


@pytest.fixture
def redirecting(webhook):
    """A webhook address that answers 302 to the real receiver ``webhook`` (which must receive nothing)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{webhook.server_port}/collected")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.hits = hits
    yield server
    server.shutdown()


def test_a_redirecting_webhook_is_not_followed(monkeypatch, webhook, redirecting, caplog):
    from aeries_hub.alert_webhook import post_webhook
    from aeries_hub.notifications import plain_alert

    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", json.dumps({
        "conn_type": "http", "schema": "http", "host": "127.0.0.1/hooks/T0K3N", "port": redirecting.server_port}))
    with pytest.raises(RuntimeError) as err:
        post_webhook("alerts_webhook", plain_alert("aeries_to_destiny", "manual__5"))
    assert str(err.value) == ("failure alert webhook 'alerts_webhook' answered HTTP 302, a redirect, which is not "
                              "followed: set the connection to the webhook's final URL")
    assert redirecting.hits == ["/hooks/T0K3N"] and webhook.received == []


def test_debug_logging_never_shows_the_webhook_token(monkeypatch, tmp_path, alerts, caplog):
    import logging

    _, webhook = alerts
    caplog.set_level(logging.DEBUG, logger="urllib3")
    write_report(monkeypatch, tmp_path, "xello_to_aeries", "manual__6", WRITEBACK_REPORT)

    notify("xello_to_aeries", "manual__6")

    assert [path for path, _ in webhook.received] == ["/hooks/T0K3N-in-the-path"]
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert f'http://127.0.0.1:{webhook.server_port} "POST *** HTTP/1.1" 204 0' in urllib3_lines
    assert "T0K3N" not in caplog.text
    # The filter is gone after the post: other requests log as before.
    assert not logging.getLogger("urllib3.connectionpool").filters
