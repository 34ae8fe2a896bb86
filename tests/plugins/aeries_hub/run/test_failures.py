"""Why a task failed, as the run report keeps it (run.failures): the error's type and first line, the connection and
what to check, never a secret Airflow masks nor a value that may be a student's."""

from __future__ import annotations

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from aeries_hub.aeries.errors import auth_error
from aeries_hub.delivery import DeliveryError
from aeries_hub.run.failures import MESSAGE_CHARS, describe_failure, forget_failure, record_failure
from aeries_hub.run.summary import TaskFailure, read_run
from aeries_hub.staging import RunFolder

SFTP_AUTH = ("authentication failed for user hub on sftp connection 'destiny_sftp' (127.0.0.1:2222): check the login "
             "and the key_file/private_key extra, and that the vendor installed the matching public key")


def test_an_aeries_401_names_the_connection_and_what_to_check():
    error = auth_error("aeries_prod", lambda text: text, "/api/v5/schools", 401, None, "")

    failure = describe_failure("extract_schools", error)

    assert failure == TaskFailure(
        task_id="extract_schools", error="AeriesAuthError",
        message="Aeries refused connection 'aeries_prod' at /api/v5/schools (HTTP 401): the certificate was not "
                "accepted. Check the password (API certificate) of connection 'aeries_prod'.",
        conn_id="aeries_prod", check="Check the password (API certificate) of connection 'aeries_prod'.",
    )
    assert failure.line() == f"extract_schools failed: AeriesAuthError: {failure.message}"


def test_the_error_a_fail_exception_wraps_is_the_one_named():
    try:
        try:
            raise DeliveryError(SFTP_AUTH)
        except DeliveryError as exc:
            raise AirflowFailException(f"{exc} (not retried: another attempt would fail the same way)") from exc
    except AirflowFailException as wrapped:
        failure = describe_failure("deliver", wrapped)

    assert failure.to_json() == {
        "task_id": "deliver", "error": "DeliveryError", "message": SFTP_AUTH, "conn_id": "destiny_sftp",
        "check": "check the login and the key_file/private_key extra, and that the vendor installed the matching "
                 "public key",
    }


def test_masked_secrets_personal_values_and_further_lines_are_left_out_and_the_line_is_bounded():
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-certificate-0042")
    error = RuntimeError("token s3cr3t-certificate-0042 refused for jane.doe@example.org born 2010-02-10 "
                         "(02/10/2010), run manual__2026-12-03T23:00:00 " + "x" * 500 + "\nTraceback line two")

    failure = describe_failure("extract_students", error)

    assert failure.message.startswith("token *** refused for <value> born <value> (<value>), run "
                                      "manual__2026-12-03T23:00:00 xxx")
    assert len(failure.message) == MESSAGE_CHARS and failure.message.endswith("x…")
    assert (failure.conn_id, failure.check) == (None, None)


def test_a_failure_is_read_back_with_the_run_and_forgotten_when_the_task_runs_again(tmp_path):
    run = RunFolder(ObjectStoragePath(f"file://{tmp_path}"), "aeries_to_destiny", "manual__1")
    record_failure(run, "deliver", DeliveryError(SFTP_AUTH))

    assert read_run(run).failures == {"deliver": describe_failure("deliver", DeliveryError(SFTP_AUTH))}

    forget_failure(run, "deliver")
    forget_failure(run, "deliver")  # nothing recorded: nothing to do
    assert read_run(run).failures == {}
