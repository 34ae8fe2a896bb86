"""The hub view's plugin in Airflow's api-server app (in process): registered, mounted, and closed to anyone
Airflow's API would refuse. The page's contents over real runs: tests/dags/test_bad_inputs.py; in a real browser
against a real api-server: tests/system/test_scheduler.py."""

from __future__ import annotations

import pytest

from tests.plugins.aeries_hub.hub_view.client import airflow_client, token_of


@pytest.fixture(scope="module")
def client(airflow_db):
    with airflow_client() as client:
        yield client


def test_airflow_loads_the_plugin_from_the_plugins_folder_with_its_app_and_menu_item(airflow_db):
    from airflow import plugins_manager

    (info,) = [p for p in plugins_manager.get_plugin_info() if p["name"] == "aeries_hub_view"]
    assert str(info["source"]) == "$PLUGINS_FOLDER/aeries_hub_view.py"
    assert info["fastapi_apps"] == [{"app": "fastapi.applications.FastAPI", "url_prefix": "/aeries-hub",
                                     "name": "Aeries hub"}]
    assert info["external_views"] == [{"name": "Aeries hub", "href": "aeries-hub/", "destination": "nav",
                                       "url_route": "aeries_hub"}]


def test_an_anonymous_request_is_refused_with_a_link_to_airflows_login(client):
    response = client.get("/aeries-hub/")
    assert response.status_code == 401
    assert "<h1>Not logged in</h1>" in response.text
    assert 'href="/auth/login?next=http%3A%2F%2Ftestserver%2Faeries-hub%2F"' in response.text
    assert "<table" not in response.text


def test_a_run_page_or_a_disclosure_page_without_a_login_is_refused_too(client):
    response = client.get("/aeries-hub/runs/aeries_to_destiny/manual__2026-12-01T00%3A00%3A00%2B00%3A00")
    assert response.status_code == 401
    response = client.get("/aeries-hub/disclosures/aeries_to_destiny")
    assert response.status_code == 401 and "<table" not in response.text


def test_a_token_that_is_not_airflows_is_refused(client):
    response = client.get("/aeries-hub/", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 403
    response = client.get("/aeries-hub/", cookies={"_token": "not-a-token"})
    assert response.status_code == 403


def test_a_logged_in_user_sees_the_page_by_session_cookie_or_bearer_token(client):
    token = token_of("viewer-1")
    for response in (client.get("/aeries-hub/", cookies={"_token": token}),
                     client.get("/aeries-hub/", headers={"Authorization": f"Bearer {token}"})):
        assert response.status_code == 200
        assert "<h1>Aeries hub</h1>" in response.text and '<table id="hub">' in response.text


def test_a_run_of_a_dag_the_user_may_not_read_is_refused(client):
    for page in ("runs/no_such_dag/manual__1", "disclosures/no_such_dag"):
        response = client.get(f"/aeries-hub/{page}", cookies={"_token": token_of("viewer-1")})
        assert response.status_code == 403
        assert "You may not read the DAG no_such_dag." in response.text
