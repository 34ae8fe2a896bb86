"""The ``[aeries_hub]`` section of Airflow's configuration, as the provider declares it (``airflow config list``).

Each option is read where it is used (``conf.get("aeries_hub", ...)``), with the fallback declared here as its
default: Airflow loads these defaults, so a default that differed from a reader's fallback would change what
that reader gets. ``None`` declares no default (the reader computes one).
"""

from __future__ import annotations

from typing import Any


def _option(description: str, type_: str, default: str | None, example: str | None) -> dict[str, Any]:
    return {"description": description, "version_added": "0.1.0", "type": type_, "default": default,
            "example": example}


#: Option name -> its description, type, default and example (provider info ``config`` schema).
OPTIONS: dict[str, dict[str, Any]] = {
    "staging_url": _option(
        "Where each run stages its files, as <staging_url>/<dag_id>/<run_id>/: a file:// URL on a volume every "
        "worker mounts, or object storage (s3://, gs://) when workers run on several machines. Default: "
        "file://$AIRFLOW_HOME/staging.",
        "string", None, "s3://district-bucket/aeries-hub"),
    "staging_retention_days": _option(
        "Days a run's staged student data is kept before the maintenance DAG aeries_hub_staging_retention deletes it.",
        "integer", "30", "30"),
    "metadata_db_conn_id": _option(
        "An Airflow connection whose URI is the metadata database, for `airflow db clean` run by the retention DAG "
        "from a worker (where Airflow blocks the metadata database from task processes). Empty: the process's own "
        "database settings.",
        "string", None, "airflow_metadata_db"),
    "school_year_start": _option(
        "First day of the school year (MM-DD): a run reads the Aeries DatabaseYear of its date's school year.",
        "string", "07-01", "08-01"),
    "task_timeout_minutes": _option(
        "Minutes any task of the hub may run before Airflow ends it (its execution_timeout), so that a server that "
        "never answers fails the task instead of holding its slot.",
        "float", "60", "90"),
    "incremental_page_cost": _option(
        "What one page of an Aeries list (page_size records) costs the server, in single-record requests: an "
        "incremental extraction fetches a school's whole list by pages when its changed records would cost more "
        "one by one. Used until the hub has timed both on the server (a full or paged extraction and a run that "
        "fetched single records of the table); then the measured ratio, bounded to 1-100 (aeries_hub.extract.fetch; "
        "docs/benchmarks.md).",
        "float", "5.0", "2"),
    "alert_email_to": _option(
        "Addresses (comma or semicolon separated) e-mailed when a run of any hub DAG fails; empty for no e-mail.",
        "string", "", "data-team@district.org, sis-admin@district.org"),
    "alert_smtp_conn_id": _option(
        "The smtp connection the failure e-mails go through.",
        "string", "smtp_default", "district_smtp"),
    "alert_webhook_conn_id": _option(
        "An http connection whose host is the URL of a webhook (Teams, Slack...) that failure alerts are posted to "
        "as JSON; empty for none. The URL is treated as a secret.",
        "string", "", "aeries_hub_alerts"),
    "approve_first_delivery": _option(
        "Whether the first delivery of a vendor DAG to a target (no record of an earlier delivery, none in Airflow, "
        "none of its files at the target) waits for approval in Required actions, with a preview of each file (rows, "
        "sample ids), unless a dry run of the DAG to that target completed before. False: a first delivery goes "
        "without asking.",
        "boolean", "True", "False"),
}

#: The provider info's ``config`` entry.
CONFIG_SECTION: dict[str, Any] = {
    "aeries_hub": {
        "description": "The Aeries integration hub: where runs stage their files, for how long, the school year, "
                       "task time limits, failure alerts and first deliveries.",
        "options": OPTIONS,
    },
}
