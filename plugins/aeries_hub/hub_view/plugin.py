"""The AirflowPlugin of the hub view: its FastAPI app under ``/aeries-hub`` and an "Aeries hub" item in the UI's
navigation that shows the page inside Airflow's UI. Registered by ``plugins/aeries_hub_view.py`` (the plugins
folder's module, which Airflow imports; the package itself is in ``.airflowignore``)."""

from __future__ import annotations

from functools import cache

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/aeries-hub"


@cache
def _fastapi_apps() -> list[dict]:
    from aeries_hub.hub_view.app import create_app

    return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Aeries hub"}]


class _BuiltWhenRead:
    """``fastapi_apps``, built when the api-server (or ``airflow plugins``) reads it: every Airflow process loads
    the plugins (a task's for their macros), and only the api-server needs FastAPI and Airflow's API security."""

    def __get__(self, instance, owner) -> list[dict]:
        return _fastapi_apps()


class AeriesHubViewPlugin(AirflowPlugin):
    name = "aeries_hub_view"
    fastapi_apps = _BuiltWhenRead()
    external_views = [{"name": "Aeries hub", "href": f"{URL_PREFIX.lstrip('/')}/", "destination": "nav",
                       "url_route": "aeries_hub"}]
