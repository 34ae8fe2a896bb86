"""A failed run of every write-back DAG alerts by e-mail and webhook (a real SMTP server and HTTP receiver).

The vendor's drop folder is gone from the SFTP server (OpenSSH's sshd of the sandbox stack), so fetch_exports
fails; the report task still writes the write-back's report.json, and the DAG's RunFailureNotifier renders it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aeries_hub import paths
from aeries_hub.writeback.loader import load_writeback
from tests.dags.writebacks import report_of, writeback_dag

pytestmark = pytest.mark.e2e

STACK = {"students": 50, "seed": 5}
WRITEBACKS = sorted(p.name for p in (paths.INCLUDE_DIR / "writebacks").glob("*.yml"))


def test_every_writeback_file_is_covered():
    assert WRITEBACKS == ["powerschool_learning.yml", "schoolmint_enroll.yml", "xello.yml"]


@pytest.mark.parametrize("file", WRITEBACKS)
def test_a_failed_writeback_run_is_mailed_and_posted(stack, alerts, file, caplog):
    mailbox, webhook = alerts
    writeback = load_writeback(paths.INCLUDE_DIR / "writebacks" / file)
    folder = Path(stack.sftp.root) / writeback.remote_dir
    moved = folder.with_name(f"{folder.name}.gone")
    folder.rename(moved)
    try:
        with writeback_dag(paths.INCLUDE_DIR, file) as dag:
            dag.get_task("fetch_exports").retries = 0
            dag_run = dag.test(run_conf={"dry_run": True})
    finally:
        moved.rename(folder)

    assert dag_run.state == "failed"
    report = report_of(dag_run)
    assert report["status"] == "Error"
    subject = f"[Aeries hub] {writeback.dag_id} run {dag_run.run_id} ended in Error"
    ((recipients, mail),) = mailbox.messages
    assert recipients == ["data-team@district.test", "sis@district.test"] and mail["Subject"] == subject
    body = mail.get_body(("html",)).get_content()
    ((_, posted),) = webhook.received
    expected = [f"{writeback.name} write-back into Aeries: Error", "no new export file was read",
                f"report: {report['staging']}/report.json"]
    for line in expected:
        assert line in body and line in posted["text"].splitlines(), line
    assert (posted["subject"], posted["dag_id"], posted["run_id"], posted["status"]) == (
        subject, writeback.dag_id, dag_run.run_id, "Error")
    assert "could not be rendered" not in caplog.text and "was not sent" not in caplog.text
