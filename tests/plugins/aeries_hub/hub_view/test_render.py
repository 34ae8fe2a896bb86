"""The hub view's HTML escapes every value it shows (Jinja2 autoescape): a reason, an id or a DAG id is text."""

from __future__ import annotations

from datetime import datetime, timezone

from aeries_hub.hub_view.model import HubRow, RejectReason, RunView
from aeries_hub.hub_view.render import render, url_segment, when

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
