"""Airflow's own api-server app, in process (FastAPI's TestClient), with the plugins of the project's plugins folder
mounted as the api-server mounts them, and tokens of its auth manager (the simple auth manager unless a test sets
``[core] auth_manager``)."""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from fastapi.testclient import TestClient

#: The user of :class:`OneDagAuthManager` who may read one DAG only: ``aeries_to_destiny``.
ONE_DAG_READER = "destiny-reader"


class OneDagAuthManager(SimpleAuthManager):
    """The simple auth manager, except that user :data:`ONE_DAG_READER` may read the Destiny DAG only (the simple
    auth manager lets every user read every DAG): ``[core] auth_manager`` for a test of what such a user sees."""

    def get_authorized_dag_ids(self, *, user, method="GET", **kwargs) -> set[str]:
        dag_ids = super().get_authorized_dag_ids(user=user, method=method, **kwargs)
        return dag_ids & {"aeries_to_destiny"} if user.get_name() == ONE_DAG_READER else dag_ids


def airflow_client() -> TestClient:
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app("core"))


def token_of(username: str, role: str = "viewer") -> str:
    """A JWT of the app's auth manager for a simple-auth-manager user, as the UI's login would give."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


def hub_pages(dag_id: str, run_id: str, user: str = "operator") -> tuple[str, str]:
    """The hub page and the page of ``dag_id``'s run ``run_id`` as ``user`` sees them (who, under the simple auth
    manager, may read every DAG)."""
    from aeries_hub.hub_view.render import url_segment

    with airflow_client() as client:
        logged_in = {"_token": token_of(user)}
        hub = client.get("/aeries-hub/", cookies=logged_in)
        run = client.get(f"/aeries-hub/runs/{dag_id}/{url_segment(run_id)}", cookies=logged_in)
    assert (hub.status_code, run.status_code) == (200, 200), (hub.text[:300], run.text[:300])
    return hub.text, run.text
