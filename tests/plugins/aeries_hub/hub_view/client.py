"""Airflow's own api-server app, in process (FastAPI's TestClient), with the plugins of the project's plugins folder
mounted as the api-server mounts them, and tokens of its auth manager (the simple auth manager unless a test sets
``[core] auth_manager``)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def airflow_client() -> TestClient:
    from airflow.api_fastapi.app import create_app

    return TestClient(create_app("core"))


def token_of(username: str, role: str = "viewer") -> str:
    """A JWT of the app's auth manager for a simple-auth-manager user, as the UI's login would give."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))
