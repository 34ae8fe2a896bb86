"""Airflow hook for the Aeries SIS REST API (https://district.aeries.net/admin/api/v5/...).

The connection (type ``aeries``) and its extras are described in :mod:`aeries_hub.aeries.settings`; the logical
tables in :mod:`aeries_hub.aeries.tables`. Requests run at most ``max_concurrency`` at a time per hook, with
retries (exponential backoff with full jitter, ``Retry-After`` honoured) for 429/5xx, dropped connections,
timeouts and bodies that are not JSON. 401/403 fail at once with :class:`AeriesAuthError`, which Airflow does
not retry. The certificate never appears in logs, exception messages or files written by the hook.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from datetime import datetime
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter

from aeries_hub.aeries.collect import read_schools
from aeries_hub.aeries.errors import (
    AeriesConfigError,
    AeriesNotFoundError,
    AeriesPageTooLarge,
    RequestCancelled,
    auth_error,
    not_found_error,
    request_error,
    server_message,
    validation_error,
    write_unknown_error,
)
from aeries_hub.aeries.logs import log
from aeries_hub.aeries.paging import RequestStats, fetch_units
from aeries_hub.aeries.records import as_list, single
from aeries_hub.aeries.school_year import SchoolYear, settle_school_year
from aeries_hub.aeries.settings import AeriesSettings, settings_from_connection
from aeries_hub.aeries.tables import DATA_CHANGES_AREAS, AeriesTable
from aeries_hub.bounded import read_bounded
from aeries_hub.retrying import RETRY_STATUSES, backoff_delay, retry_after_seconds


def environment_settings_once(session: requests.Session, url: str) -> None:
    """Read once, for a session that only asks ``url``'s server, what requests otherwise reads from the environment
    at every request: the proxy for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, honouring
    ``NO_PROXY``) and the CA bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``; only when the connection verifies
    with the default bundle, so that a ``verify_ssl`` path or false wins). requests looks through the whole
    environment twice a request, a third of a request's CPU in an Airflow task (docs/benchmarks.md)."""
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if session.verify is True and bundle:
        session.verify = bundle


class AeriesHook(BaseHook):
    """Read Aeries SIS tables over its REST API.

    :param aeries_conn_id: Airflow connection of type ``aeries``.
    :param database_year: school year to read (``?DatabaseYear=``, the year the school year starts);
        overrides the connection's ``database_year`` extra. None: the extra, else ``school_year``.
    :param school_year: the school year of the run's date (a backfill reads the year it covers), used when
        the connection's extra pins no ``database_year``. None: the district's default year.
    """

    conn_name_attr = "aeries_conn_id"
    default_conn_name = "aeries_default"
    conn_type = "aeries"
    hook_name = "Aeries SIS"

    def __init__(self, aeries_conn_id: str = default_conn_name, database_year: int | None = None,
                 school_year: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Plain stdlib logging: Airflow routes it into the task log, and tests can capture it.
        self._log = log  # type: ignore[assignment]  # BaseHook's is Airflow's structlog logger
        self.aeries_conn_id = aeries_conn_id
        self._database_year_override = int(database_year) if database_year is not None else None
        self._school_year = int(school_year) if school_year is not None else None
        self.sleep: Callable[[float], None] = time.sleep  # injectable (tests)
        self._lock = threading.RLock()
        self._settings: AeriesSettings | None = None
        self.__cert: str | None = None
        self._session: requests.Session | None = None
        self._slots: threading.BoundedSemaphore | None = None

    # -- configuration ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(aeries_conn_id={self.aeries_conn_id!r}, "
            f"database_year={self._database_year_override!r})"
        )

    @property
    def settings(self) -> AeriesSettings:
        """The connection's settings (loaded once; the certificate is kept apart and never shown)."""
        with self._lock:
            if self._settings is None:
                self._load_connection()
            assert self._settings is not None
            return self._settings

    @property
    def database_year(self) -> int | None:
        return self.settings.database_year

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def _load_connection(self) -> None:
        conn = self.get_connection(self.aeries_conn_id)
        cert = (conn.password or "").strip()
        if cert:
            self._mask(cert)
        self.__cert = cert or None
        settings = settings_from_connection(conn, self.aeries_conn_id, database_year=self._database_year_override,
                                            school_year=self._school_year, redact=self.redact)
        self._settings = settings
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)

    @staticmethod
    def _mask(secret: str) -> None:
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:  # pragma: no cover - older task SDKs
            return
        try:
            mask_secret(secret, "AERIES-CERT")
        except Exception:  # noqa: BLE001 - masking is best effort; never fail a task on it
            pass

    def redact(self, text: str) -> str:
        """``text`` with the connection's certificate, if it is in it, replaced by ``***``."""
        cert = self.__cert
        if cert and text:
            text = text.replace(cert, "***")
        return text

    def _require_cert(self) -> str:
        self.settings  # noqa: B018 - loads the connection
        if not self.__cert:
            raise AeriesConfigError(
                f"Connection {self.aeries_conn_id!r} has no Aeries certificate: put the API certificate "
                "(AERIES-CERT) in the connection's password."
            )
        return self.__cert

    def get_conn(self) -> requests.Session:
        """The hook's requests session (one per hook, pool sized to ``max_concurrency``)."""
        with self._lock:
            if self._session is None:
                settings = self.settings
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.max_concurrency, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                session.verify = settings.verify_ssl
                session.headers.update({"Accept": "application/json", "User-Agent": "aeries-integration-hub"})
                environment_settings_once(session, settings.base_url)
                self._session = session
            return self._session

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __enter__(self) -> AeriesHook:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- HTTP -------------------------------------------------------------------------------------
    def request(
        self,
        path: str,
        *,
        security_area: str | None,
        stats: RequestStats | None = None,
        params: dict[str, Any] | None = None,
        with_cert: bool = True,
        stop: threading.Event | None = None,
        max_retries: int | None = None,
        method: str = "GET",
        json_body: Any = None,
        idempotent: bool = True,
        decode: Callable[[bytes], Any] | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """``method`` ``{base}/api/vN/{path}`` (with ``json_body``) and return the parsed JSON, retrying transient
        failures. A request that is not ``idempotent`` (an insert) is retried only when the server certainly
        did nothing (429, 503); a lost answer raises AeriesWriteUnknownError instead.

        :param security_area: named in the error when Aeries answers 403 (None: not known).
        :param stats: counts the request and its retries (one object per hook call, shared by its threads;
            None: not counted).
        :param with_cert: send the certificate and the hook's ``DatabaseYear`` (false for ``systeminfo``).
        :param stop: set by the caller to abandon the request before its next attempt (RequestCancelled).
        :param max_retries: instead of the connection's ``max_retries``.
        :param decode: parses the body instead of ``json.loads`` (a ValueError is retried like invalid JSON).
        :param max_bytes: an answer longer than this is AeriesPageTooLarge (naming the connection extra
            ``max_page_bytes``), read no further and not retried. None: no bound.
        """
        settings = self.settings
        stats = stats if stats is not None else RequestStats()
        cert = self._require_cert() if with_cert else None
        session = self.get_conn()
        assert self._slots is not None
        endpoint = f"{settings.api_prefix}/{path.lstrip('/')}"
        url = settings.base_url + endpoint
        query = dict(params or {})
        if with_cert and settings.database_year is not None:
            query.setdefault("DatabaseYear", settings.database_year)
        retries = settings.max_retries if max_retries is None else max_retries
        attempts = retries + 1
        last_cause = ""
        for attempt in range(attempts):
            if stop is not None and stop.is_set():
                raise RequestCancelled()
            retry_after: float | None = None
            headers = {"AERIES-CERT": cert} if cert else {}
            started = time.monotonic()
            try:
                with self._slots:
                    stats.add_request()
                    response = session.request(
                        method, url, params=query or None, headers=headers, json=json_body, timeout=settings.timeout,
                        allow_redirects=False, stream=max_bytes is not None,
                    )
                    body = response.content if max_bytes is None else self._read_at_most(response, max_bytes)
            except requests.exceptions.SSLError as exc:
                raise request_error(
                    self.aeries_conn_id, self.redact, endpoint, attempt + 1,
                    f"TLS error ({type(exc).__name__}); check the certificate of the server "
                    "(or give the extra verify_ssl the path of its CA bundle)", status=None,
                ) from None
            except requests.exceptions.Timeout as exc:
                cause, last_cause = "timeout", f"timed out after {settings.timeout:g} s ({type(exc).__name__})"
            except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                cause, last_cause = "dropped", f"connection dropped while reading the response ({type(exc).__name__})"
            except requests.exceptions.ConnectionError as exc:
                text = str(exc)
                if "aborted" in text.lower() or "reset" in text.lower() or "RemoteDisconnected" in text:
                    cause, last_cause = "dropped", "connection dropped by the server before it answered"
                else:
                    cause, last_cause = "connection", f"could not connect ({type(exc).__name__})"
            except requests.exceptions.RequestException as exc:
                raise request_error(
                    self.aeries_conn_id, self.redact, endpoint, attempt + 1,
                    f"invalid request: {type(exc).__name__}: {exc}",
                ) from None
            else:
                status = response.status_code
                elapsed_ms = (time.monotonic() - started) * 1000
                log.debug("%s %s -> %d in %.0f ms (attempt %d)", method, endpoint, status, elapsed_ms, attempt + 1)
                content_type = response.headers.get("Content-Type", "")
                if status in (401, 403):
                    raise auth_error(
                        self.aeries_conn_id, self.redact, endpoint, status, security_area, server_message(body)
                    )
                if status in RETRY_STATUSES:
                    cause = f"http_{status}"
                    message = server_message(body)
                    last_cause = f"HTTP {status}" + (f": {message}" if message else "")
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                elif status == 404:
                    raise not_found_error(self.aeries_conn_id, self.redact, endpoint, attempt + 1, server_message(body))
                elif 300 <= status < 400:
                    location = urlsplit(response.headers.get("Location", "")).path or "?"
                    raise request_error(
                        self.aeries_conn_id, self.redact, endpoint, attempt + 1,
                        f"HTTP {status} redirect to {location}; check the base URL of the connection "
                        "(redirects are not followed, so the certificate is never sent elsewhere)",
                        status=status,
                    )
                elif status == 400 and method != "GET":
                    raise validation_error(
                        self.aeries_conn_id, self.redact, method, endpoint, attempt + 1, server_message(body)
                    )
                elif status >= 400:
                    message = server_message(body)
                    raise request_error(
                        self.aeries_conn_id, self.redact, endpoint, attempt + 1,
                        f"HTTP {status}" + (f": {message}" if message else ""), status=status,
                    )
                elif "html" in content_type.lower() or body.lstrip()[:1] == b"<":
                    cause = "html"
                    last_cause = f"HTTP {status} with an HTML page instead of JSON (a login or error page?)"
                else:
                    try:
                        if decode is not None:
                            return decode(body)
                        return json.loads(body.decode("utf-8-sig"))
                    except (UnicodeDecodeError, ValueError) as exc:
                        cause = "invalid_json"
                        last_cause = (
                            f"HTTP {status} with a body that is not valid JSON ({len(body)} bytes; "
                            f"{type(exc).__name__} at position {getattr(exc, 'pos', '?')})"
                        )
            if not idempotent and cause not in ("http_429", "http_503", "connection"):
                raise write_unknown_error(self.aeries_conn_id, self.redact, method, endpoint, attempt + 1, last_cause)
            if attempt + 1 >= attempts:
                break
            stats.add_retry(cause)
            delay = backoff_delay(attempt, settings.backoff_base, settings.backoff_max, retry_after)
            log.warning(
                "Aeries %s: %s; retry %d of %d in %.2f s (connection %r)",
                endpoint, self.redact(last_cause), attempt + 1, retries, delay, self.aeries_conn_id,
            )
            self._pause(delay, stop)
        raise request_error(
            self.aeries_conn_id, self.redact, endpoint, attempts, f"last cause: {last_cause}", exhausted=True
        )

    @staticmethod
    def _read_at_most(response: requests.Response, max_bytes: int) -> bytes:
        """The body of a streamed ``response``; AeriesPageTooLarge past ``max_bytes`` (by its Content-Length, else once
        that many bytes have come), the rest left unread."""

        def too_large() -> AeriesPageTooLarge:
            response.close()
            return AeriesPageTooLarge(
                f"the answer is larger than {max_bytes} bytes, the connection extra max_page_bytes: raise it, or "
                "lower page_size so that a page holds fewer records"
            )

        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise too_large()
        chunks = response.iter_content(64 * 1024)
        return read_bounded(lambda _size: next(chunks, b""), max_bytes, check_deadline=lambda: None,
                            too_large=too_large)

    def _pause(self, delay: float, stop: threading.Event | None) -> None:
        """Sleep before a retry; the default sleep wakes up early when the call was abandoned."""
        if stop is not None and stop.is_set():
            raise RequestCancelled()
        if stop is not None and self.sleep is time.sleep:
            if stop.wait(delay):
                raise RequestCancelled()
            return
        self.sleep(delay)

    # -- public API -------------------------------------------------------------------------------
    def get_system_info(self, *, database_year: int | None = None, stats: RequestStats | None = None,
                        max_retries: int | None = None) -> dict[str, Any]:
        """``GET systeminfo`` (no certificate sent): AeriesVersion, LocalTimeZoneName, CurrentDateTime,
        DatabaseYear, AvailableDatabaseYears.

        :param database_year: ask as a request for that school year would (``?DatabaseYear=``).
        :param stats: counts the request (a caller's own call statistics).
        :param max_retries: instead of the connection's ``max_retries``.
        """
        params = {"DatabaseYear": database_year} if database_year is not None else None
        data = self.request("systeminfo", security_area=None, stats=stats, with_cert=False, params=params,
                            max_retries=max_retries)
        return single(data) or {}

    def check_database_year(self) -> SchoolYear:
        """Ask Aeries which school year it serves for the one asked for, and settle on the year to read
        (:func:`~aeries_hub.aeries.school_year.settle_school_year`): every later request of this hook asks for it.
        AeriesConfigError when the connection's extra ``unavailable_year`` is ``fail`` and Aeries does not offer
        the year asked for."""
        settings = self.settings
        requested = settings.database_year
        year = settle_school_year(requested, self.get_system_info, settings.unavailable_year, self.aeries_conn_id)
        if year.note:
            log.warning("Aeries connection %r: %s", self.aeries_conn_id, year.note)
        if year.served is not None and year.served != requested:
            with self._lock:
                self._settings = dataclasses.replace(settings, database_year=year.served)
        return year

    def get_json(self, path: str, *, params: dict[str, Any] | None = None, security_area: str | None = None) -> Any:
        """GET any endpoint under ``/api/vN/`` (e.g. ``schools/994/students/99400001``) and return its JSON."""
        return self.request(path, security_area=security_area, params=params)

    def get_records(
        self, path: str, *, security_area: str | None, stats: RequestStats | None = None
    ) -> list[dict[str, Any]]:
        """GET an endpoint under ``/api/vN/`` that answers records (a list; a single object is one record, null
        none), as one request: unlike :meth:`get_paged`, no ``StartingRecord``/``EndingRecord``."""
        return as_list(self.request(path, security_area=security_area, stats=stats), path)

    def get_data_changes(
        self, route: str, since: datetime, *, stats: RequestStats | None = None
    ) -> list[dict[str, Any]]:
        """The keys Aeries lists as changed since ``since`` (the district's local time, to the minute) at
        ``route``, a ``*DataChanges`` endpoint of :data:`~aeries_hub.aeries.tables.DATA_CHANGES_AREAS` with its kind (e.g.
        ``StudentDataChanges/enrollment``). Aeries lists changed keys only, never deletions."""
        path = f"{route}/{since.year}/{since.month}/{since.day}/{since.hour}/{since.minute}"
        return self.get_records(path, security_area=DATA_CHANGES_AREAS[route.split("/")[0]], stats=stats)

    def write(self, path: str, body: Any, *, security_area: str, method: str = "POST", idempotent: bool = False) -> Any:
        """POST (or PUT) JSON to an endpoint under ``/api/vN/`` (e.g. ``UpdateStudent/99400001``) and return its JSON.

        :param idempotent: True for a write that may safely be sent twice (an update to given values); an
            insert is retried only when Aeries certainly did nothing (429, 503, no connection).
        :raises AeriesValidationError: Aeries refused the record (HTTP 400), with Aeries' reason.
        :raises AeriesWriteUnknownError: the answer was lost; whether Aeries wrote it is unknown.
        """
        return self.request(path, security_area=security_area, method=method, json_body=body, idempotent=idempotent)

    def get_paged(self, path: str, *, security_area: str, key: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every record of a list endpoint under ``/api/vN/`` (e.g. ``schools/994/scheduling/courserequests``),
        asked for page by page with ``StartingRecord``/``EndingRecord`` and checked like a table's pages: a
        server that ignores the range is read once, one that caps the rows per request is paged by its cap."""
        spec = AeriesTable(name=path, endpoint=path, security_area=security_area, per_school=False, paged=True,
                           key=tuple(key))
        stats = RequestStats()
        self._require_cert()
        pages = fetch_units(self, spec, [None], stats, lambda _unit, rows: rows)
        return [row for _, unit_pages in pages for page in unit_pages for row in page]

    def get_schools(self) -> list[dict[str, Any]]:
        """Every school of the district (including SchoolCode 0, the district office)."""
        return read_schools(self, RequestStats(), count_page=True)

    def get_school(self, school_code: int) -> dict[str, Any]:
        """One school; AeriesNotFoundError when it does not exist."""
        data = self.request(f"schools/{int(school_code)}", security_area="Schools")
        school = single(data)
        if school is None:
            raise AeriesNotFoundError(
                f"Aeries connection {self.aeries_conn_id!r}: school {school_code} was not found",
                conn_id=self.aeries_conn_id, endpoint=f"{self.settings.api_prefix}/schools/{school_code}", status=None,
            )
        return school

    def test_connection(self) -> tuple[bool, str]:
        """Check the server (systeminfo) and the certificate (GET schools); never echoes the certificate."""
        try:
            stats = RequestStats()
            info = self.get_system_info(stats=stats, max_retries=1)
            schools = self.request("schools", stats=stats, security_area="Schools", max_retries=1)
            schools = as_list(schools, "schools")
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, self.redact(str(exc))
        version = info.get("AeriesVersion", "unknown version")
        return True, (
            f"Connected to Aeries {version} at {self.settings.base_url}{self.settings.api_prefix}: "
            f"the certificate can read {len(schools)} schools."
        )
