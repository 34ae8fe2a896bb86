"""The hub view's FastAPI app, mounted by the plugin under ``/aeries-hub`` in Airflow's api-server.

Airflow does not protect a plugin's endpoints: every page here asks for the user Airflow's own API asks for
(``get_user``: the UI's session cookie or a bearer token) and shows only the DAGs the auth manager lets that user
read. No login is a 401 page with a link to Airflow's login; a run or the disclosure log of a DAG the user may not
read is a 403.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' annotations (the user dependency, defined
# in create_app) when they are defined.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from aeries_hub.hub_view.model import collect_hub, disclosure_log, run_detail
from aeries_hub.hub_view.plugin import URL_PREFIX
from aeries_hub.hub_view.render import render


def readable_dag_ids(user) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


def _bases(request: Request) -> dict[str, str]:
    """Where this app and Airflow's UI are, as absolute paths (behind a proxy's root path too)."""
    hub = request.scope.get("root_path", "").rstrip("/")
    return {"hub_base": f"{hub}/", "airflow_base": f"{hub.removesuffix(URL_PREFIX)}/"}


def create_app() -> FastAPI:
    from airflow.api_fastapi.core_api.security import get_user
    from airflow.utils.session import create_session

    #: The user Airflow's own API would see: 401 without a login, 403 for a token that is not valid.
    User = Annotated[Any, Depends(get_user)]
    app = FastAPI(title="Aeries hub", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(HTTPException)
    def refused(request: Request, exc: HTTPException) -> HTMLResponse:
        from airflow.api_fastapi.app import get_auth_manager

        login_url = None
        if exc.status_code == 401:
            title, message = "Not logged in", "Log in to Airflow to see the Aeries hub."
            login_url = get_auth_manager().get_url_login(next_url=str(request.url))
        elif exc.status_code == 403:
            title, message = "Not allowed", str(exc.detail)
        else:
            title, message = "Not found", str(exc.detail)
        return HTMLResponse(render("refused.html", title=title, message=message, login_url=login_url),
                            status_code=exc.status_code)

    @app.get("/", response_class=HTMLResponse)
    def hub(request: Request, user: User) -> HTMLResponse:
        with create_session() as session:
            rows = collect_hub(readable_dag_ids(user), session)
            return HTMLResponse(render("hub.html", rows=rows, **_bases(request)))

    def check_readable(user, dag_id: str) -> None:
        if dag_id not in readable_dag_ids(user):
            raise HTTPException(403, f"You may not read the DAG {dag_id}.")

    @app.get("/runs/{dag_id}/{run_id}", response_class=HTMLResponse)
    def run(request: Request, dag_id: str, run_id: str, user: User) -> HTMLResponse:
        check_readable(user, dag_id)
        with create_session() as session:
            detail = run_detail(dag_id, run_id, session)
        if detail is None:
            raise HTTPException(404, f"The DAG {dag_id} has no run {run_id}.")
        return HTMLResponse(render("run.html", run=detail.run, quality=detail.quality, staging=detail.staging,
                                   rejects_files=detail.rejects_files, report_json=detail.report_json,
                                   **_bases(request)))

    @app.get("/disclosures/{dag_id}", response_class=HTMLResponse)
    def disclosures(request: Request, dag_id: str, user: User) -> HTMLResponse:
        """What the DAG's vendor received (the disclosure log), for a user who may read the DAG."""
        check_readable(user, dag_id)
        return HTMLResponse(render("disclosures.html", log=disclosure_log(dag_id), **_bases(request)))

    return app
