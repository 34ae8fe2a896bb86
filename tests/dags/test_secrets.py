"""Policy: no secret of a connection appears in anything a run leaves behind.

Every vendor DAG, then every write-back DAG (with writing off, as shipped: they fetch, check and plan against
Aeries with the write-back certificate), runs once against the sandbox, whose secrets are generated afresh for
each stack: the Aeries certificates, the vendor API token and the SFTP user's private key. Then the task output (the logs
dag.test() prints), every XCom of those runs and every file they staged (extracts, validated tables,
outputs, rejects, quality reports and Data Docs, summaries, report.json) are searched for each secret. One more
run fails on an error whose text carries the Aeries certificate: the failed task's cause, which its report keeps,
is searched too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aeries_hub.staging import RunFolder, staging_base

STACK = {"students": 120, "seed": 3}
RUNS = {
    "aeries_to_powerschool_learning": None,
    "aeries_to_stemscopes": None,
    "aeries_to_destiny": None,
    "aeries_to_xello": {"ignore_window": True},
    "aeries_to_schoolmint_enroll": None,
}


def secrets_of(stack) -> dict[str, str]:
    key_lines = stack.sftp.private_key_path.read_text().splitlines()[1:-1]  # the base64 body of the key
    return {
        "Aeries certificate": stack.certificate,
        "Aeries write-back certificate": stack.writeback_certificate,
        "vendor API token": stack.vendor_token,
        **{f"SFTP private key line {n}": line for n, line in enumerate(key_lines, 1) if len(line) > 20},
    }


def xcom_texts(runs) -> list[tuple[str, str]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(
            XComModel.dag_id.in_([r.dag_id for r in runs]), XComModel.run_id.in_([r.run_id for r in runs])
        ).all()
        return [(f"XCom {row.dag_id}.{row.task_id}.{row.key}", str(row.value)) for row in rows]


def staged_files(runs) -> list[Path]:
    files = []
    for run in runs:
        root = Path(RunFolder(staging_base(), run.dag_id, run.run_id).root.path)
        files += [p for p in root.rglob("*") if p.is_file()]
    return files


def leaky_request(hook, *args, **kwargs):
    """An Aeries request whose error carries the certificate (what a careless error message would do)."""
    raise RuntimeError(f"Aeries refused certificate {hook._require_cert()}")


@pytest.mark.e2e
def test_no_secret_reaches_logs_xcoms_staged_files_or_reports(stack, capfd, caplog, monkeypatch):
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.dag_factory import build_dags, build_writeback_dags
    from aeries_hub.paths import MAPPINGS_DIR, WRITEBACKS_DIR
    from tests.dags.single_tasks import run_tasks, tasks_from

    dags = build_dags(MAPPINGS_DIR)
    writebacks = build_writeback_dags(WRITEBACKS_DIR)
    destiny = dags["aeries_to_destiny"]
    with caplog.at_level("DEBUG"):
        runs = [dags[dag_id].test(run_conf=conf) for dag_id, conf in RUNS.items()]
        runs += [dag.test() for dag in writebacks.values()]
    output = "".join(capfd.readouterr()) + caplog.text  # what the tasks printed and what they logged
    # A failed task's cause goes into its run's report: a secret in it is masked there too. (Not in the traceback
    # Airflow prints under dag.test(), which the output above leaves out: the leak is the test's own doing.)
    monkeypatch.setattr(AeriesHook, "request", leaky_request)
    failed = run_tasks(destiny, runs[list(RUNS).index(destiny.dag_id)], tasks_from(destiny, "extract_schools"))

    assert len(writebacks) == 3
    assert [r.state for r in runs] == ["success"] * (len(RUNS) + len(writebacks))
    report = RunFolder(staging_base(), destiny.dag_id, failed.run_id).read_json("report.json")
    assert report["failed_tasks"] == [{"task_id": "extract_schools", "error": "RuntimeError",
                                       "message": "Aeries refused certificate ***"}]
    runs.append(failed)
    places = [("task output", output), *xcom_texts(runs)]
    files = staged_files(runs)
    assert len(files) > 100 and any(p.name == "report.json" for p in files)
    assert "Delivered patrons/patrons.csv" in output and "[DAG TEST] running task" in output
    leaks = [f"{name} in {where}" for name, secret in secrets_of(stack).items() for where, text in places if secret in text]
    leaks += [f"{name} in {path}" for path in files for name, secret in secrets_of(stack).items()
              if secret.encode() in path.read_bytes()]
    assert leaks == []
