"""The hub view's HTML escapes every value it shows (Jinja2 autoescape): a reason, an id or a DAG id is text."""

from __future__ import annotations

from datetime import datetime, timezone

from aeries_hub.hub_view.model import Approval, DisclosureLog, Held, HeldFile, HubRow, RejectReason, RunView
from aeries_hub.hub_view.render import render, url_segment, when
from aeries_hub.run.summary import TaskFailure

HOSTILE = '<script>alert("x")</script>'


def test_every_value_on_the_hub_page_is_escaped():
    run = RunView("aeries_to_destiny", f"manual__{HOSTILE}", "success", None, None, "Completed with errors", {},
                  delivered_rows=3, rejected=1, reasons=[RejectReason("patrons.csv", HOSTILE, 1, [HOSTILE])],
                  warned=[HOSTILE], changes={HOSTILE: {"added": 1, "changed": 0, "removed": 0}}, problems=[HOSTILE])
    page = render("hub.html", rows=[HubRow("aeries_to_destiny", "vendor", False, None, run)], hub_base="/aeries-hub/",
                  airflow_base="/")
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 6  # run id, reason, id, warning, file, problem
    assert f'href="/aeries-hub/runs/aeries_to_destiny/{url_segment("manual__" + HOSTILE)}#rejects"' in page
    assert '<span class="status completed-with-errors">Completed with errors</span>' in page


def test_a_run_id_is_one_path_segment_and_times_are_utc():
    assert url_segment("manual__2026-12-01T00:00:00+00:00") == "manual__2026-12-01T00%3A00%3A00%2B00%3A00"
    assert when(datetime(2026, 12, 3, 23, 14, 59, tzinfo=timezone.utc)) == "2026-12-03 23:14 UTC"
    assert when(None) == ""


def test_the_hub_page_shows_five_warnings_and_how_many_more_the_run_page_all():
    warned = [f"Aeries students: warning {n}" for n in range(1, 8)]
    run = RunView("aeries_to_destiny", "manual__1", "success", None, None, "Completed", {}, warned=warned)
    page = render("hub.html", rows=[HubRow("aeries_to_destiny", "vendor", False, None, run)], hub_base="/aeries-hub/",
                  airflow_base="/")
    assert [w for w in warned if f"<li>{w}</li>" in page] == warned[:5]
    assert '<div class="muted">and 2 more</div>' in page
    detail = render("run.html", run=run, quality=[], staging="/staging/x", rejects_files=[], report_json=None,
                    hub_base="/aeries-hub/", airflow_base="/")
    assert [w for w in warned if f"<li>{w}</li>" in detail] == warned


def hostile_run() -> RunView:
    return RunView("aeries_to_destiny", "manual__1", "failed", None, None, "Held", {}, outcome=f"Held: {HOSTILE}",
                   failed_tasks=[TaskFailure(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE)],
                   held=Held(HOSTILE, [HeldFile(HOSTILE, 1, 2, [HOSTILE])]),
                   approval={"decision": "approved", "choice": HOSTILE, "reason": HOSTILE})


def test_the_outcome_failed_tasks_held_rows_approvals_and_disclosures_are_escaped():
    approval = Approval("manual__1", "approve_changes", HOSTILE, datetime(2026, 12, 3, tzinfo=timezone.utc),
                        [HOSTILE, "Reject"], "dags/aeries_to_destiny/runs/manual__1/tasks/approve_changes/required_actions")
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    page = render("hub.html", rows=[HubRow("aeries_to_destiny", "vendor", False, None, hostile_run(), [approval])],
                  hub_base="/aeries-hub/", airflow_base="/")
    assert "<script>" not in page
    # outcome; task, error, line, connection, check; held why, file, (id: run page only); subject, option
    assert page.count(escaped) == 1 + 5 + 2 + 2
    detail = render("run.html", run=hostile_run(), quality=[], staging="/staging/x", rejects_files=[],
                    report_json=None, hub_base="/aeries-hub/", airflow_base="/")
    assert "<script>" not in detail
    # outcome; the failed task's five; choice and reason; held why, file and id
    assert detail.count(escaped) == 1 + 5 + 2 + 3
    entry = {"at": HOSTILE, "dag_id": "aeries_to_destiny", "run_id": HOSTILE, "target": HOSTILE, "conn_id": HOSTILE,
             "location": HOSTILE, "file": HOSTILE, "records": 3, "test_record": False,
             "fields": {HOSTILE: {HOSTILE: [HOSTILE]}}}
    log = DisclosureLog("aeries_to_destiny", [entry], False, HOSTILE)
    disclosures = render("disclosures.html", log=log, hub_base="/aeries-hub/", airflow_base="/")
    assert "<script>" not in disclosures
    assert disclosures.count(escaped) == 9  # time, run, target, connection, location, file, the fields' 3
    assert f'href="/aeries-hub/runs/aeries_to_destiny/{url_segment(HOSTILE)}"' in disclosures


def test_a_failed_task_shows_its_cause_connection_and_what_to_check_on_the_row_and_the_run_page():
    failure = TaskFailure("deliver", "DeliveryError", "authentication failed for user hub on sftp connection "
                          "'destiny_sftp': check the login", "destiny_sftp", "check the login")
    run = RunView("aeries_to_destiny", "manual__1", "failed", None, None, "Error", {}, failed_tasks=[failure],
                  outcome="Error: deliver failed: DeliveryError: authentication failed")
    page = render("hub.html", rows=[HubRow("aeries_to_destiny", "vendor", False, None, run)], hub_base="/h/",
                  airflow_base="/")
    assert '<div class="outcome">Error: deliver failed: DeliveryError: authentication failed</div>' in page
    assert ('<div class="failed-task"><b>deliver</b> failed: DeliveryError: authentication failed for user hub on '
            "sftp connection &#39;destiny_sftp&#39;: check the login <span class=\"conn\">(connection destiny_sftp)"
            '</span>\n  <div class="check">what to check: check the login</div></div>') in page
    detail = render("run.html", run=run, quality=[], staging="/s", rejects_files=[], report_json=None, hub_base="/h/",
                    airflow_base="/")
    assert ('<tr class="failed-task"><td>deliver</td><td>DeliveryError</td><td>authentication failed for user hub on '
            "sftp connection &#39;destiny_sftp&#39;: check the login</td><td>destiny_sftp</td><td>check the login</td>"
            "</tr>") in detail


def test_the_disclosure_page_shows_the_latest_entries_newest_first_and_whether_there_are_more(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from aeries_hub.delivery.disclosures import record_disclosures
    from aeries_hub.hub_view.model import disclosure_log

    base = ObjectStoragePath(f"file://{tmp_path}")
    entries = [{"at": f"2026-12-0{day}T08:00:00+00:00", "dag_id": dag_id, "vendor": "V", "run_id": f"manual__{day}",
                "target": "sftp", "conn_id": "destiny_sftp", "location": "patrons/patrons.csv", "file": "patrons.csv",
                "sha256": "0" * 64, "records": day * 10, "test_record": day == 3,
                "fields": {"patrons.csv": {"field_barcode": ["staff.ID", "students.StudentID"], "field_patronType": []}}}
               for day in (1, 2, 3) for dag_id in ("aeries_to_destiny", "aeries_to_xello")]
    record_disclosures(base, entries)
    log = disclosure_log("aeries_to_destiny", base, shown=2)
    assert ([e["run_id"] for e in log.entries], log.more) == (["manual__3", "manual__2"], True)
    page = render("disclosures.html", log=log, hub_base="/h/", airflow_base="/")
    assert f"The latest 2 deliveries; older ones are in the whole log, in file://{tmp_path}/_disclosures." in page
    assert ('<td>sftp over destiny_sftp: patrons/patrons.csv</td>\n  <td>patrons.csv</td>\n  <td>30 <span '
            'class="muted">(test record)</span></td>\n  <td><div class="fields"><b>patrons.csv</b>: field_barcode '
            "(staff.ID, students.StudentID); field_patronType</div></td>") in page
    assert page.count('<tr class="disclosure">') == 2
    empty = render("disclosures.html", log=disclosure_log("aeries_to_stemscopes", base), hub_base="/h/",
                   airflow_base="/")
    assert f"Nothing delivered is recorded for aeries_to_stemscopes in file://{tmp_path}/_disclosures." in empty
    every = render("disclosures.html", log=disclosure_log("aeries_to_destiny", base, shown=3), hub_base="/h/",
                   airflow_base="/")
    assert '<p id="shown">3 deliveries.</p>' in every
    single = DisclosureLog("aeries_to_destiny", entries[:1], False, "f")
    assert '<p id="shown">1 delivery.</p>' in render("disclosures.html", log=single, hub_base="/h/", airflow_base="/")
    partial = DisclosureLog("aeries_to_destiny", [{**entries[0], "records": 200, "partial": True}], False, "f")
    assert ('<td>200 <span class="partial">(partial: the delivery failed after these)</span></td>'
            in render("disclosures.html", log=partial, hub_base="/h/", airflow_base="/"))
