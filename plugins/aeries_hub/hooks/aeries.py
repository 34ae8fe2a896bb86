"""Airflow hook for the Aeries SIS REST API (https://district.aeries.net/admin/api/v5/...).

Connection (type ``aeries``):

* host: the Aeries base URL with its path, e.g. ``https://district.aeries.net/admin`` (https is assumed when
  the scheme is missing);
* password: the API certificate sent as the ``AERIES-CERT`` header (32 characters);
* extra (JSON, every key optional)::

    {"api_version": 5, "database_year": 2025, "timeout": 30, "max_concurrency": 4, "verify_ssl": true,
     "page_size": 500, "max_retries": 6, "backoff_base": 0.5, "backoff_max": 30}

  plus ``prefetch_pages`` (pages fetched ahead speculatively at the end of a paged extract, default
  ``max_concurrency - 1``; 0 turns it off), ``terms_from_schools`` (take terms from each school's ``Terms``
  list instead of calling ``schools/{sc}/terms``; default true), ``probe_short_pages`` (default true: after a
  paged unit's first page comes back shorter than ``page_size`` but not empty, ask once for the records after
  it, to tell the unit's end from a server that caps the rows per request; one extra request per such school,
  fewer once a cap or a genuine end is known; false trusts a short page as the end) and ``unavailable_year``
  (what :meth:`AeriesHook.check_database_year` does when Aeries does not offer the school year asked for:
  ``"newest_started"``, the default, or ``"fail"``). ``verify_ssl`` is true,
  false or the path of a CA bundle; a host over plain ``http://`` or ``verify_ssl: false`` is refused unless the
  extra says ``allow_insecure: true`` (test servers only; logged as a warning), see
  :mod:`aeries_hub.connection_extras`.

``TABLES`` (defined in :mod:`aeries_hub.tables`, a light module the mapping loader also reads at DAG parse
time; re-exported here) is the single source of truth for the logical tables: endpoint, security area,
paging, key and the columns known for each. Requests run at most ``max_concurrency`` at a time per hook, with
retries (exponential backoff with full jitter, ``Retry-After`` honoured) for 429/5xx, dropped connections,
timeouts and bodies that are not JSON. 401/403 fail at once with :class:`AeriesAuthError`, which Airflow does
not retry. The certificate never appears in logs, exception messages or files written by the hook.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import requests
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException
from requests.adapters import HTTPAdapter

from aeries_hub.connection_extras import ExtraError, extra_flag, tls_verification
from aeries_hub.retrying import RETRY_STATUSES, backoff_delay, retry_after_seconds
from aeries_hub.tables import _B, _F, _I, TABLES, AeriesTable  # TABLES and AeriesTable are re-exported

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from airflow.sdk import ObjectStoragePath

__all__ = [
    "TABLES",
    "AeriesAuthError",
    "AeriesConfigError",
    "AeriesError",
    "AeriesHook",
    "AeriesNotFoundError",
    "AeriesRequestError",
    "AeriesTable",
    "ExtractResult",
    "SchoolYear",
    "rows_to_arrow",
    "table_spec",
]

LOGGER_NAME = "airflow.task.hooks.aeries_hub.hooks.aeries.AeriesHook"
log = logging.getLogger(LOGGER_NAME)

DISTRICT_OFFICE = 0

#: The connection extra ``unavailable_year``: read the newest offered year that has started, or fail.
UNAVAILABLE_YEAR_RULES = ("newest_started", "fail")


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------
class AeriesError(Exception):
    """Base class of the errors raised by :class:`AeriesHook`."""


class AeriesRequestError(AeriesError):
    """A request failed for good (retries exhausted, or a 4xx other than 401/403/404)."""

    def __init__(self, message: str, *, conn_id: str = "", endpoint: str = "", status: int | None = None,
                 attempts: int = 0, cause: str = ""):
        super().__init__(message)
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.status = status
        self.attempts = attempts
        self.cause = cause


class AeriesNotFoundError(AeriesRequestError):
    """HTTP 404: the single object asked for does not exist."""


class AeriesValidationError(AeriesRequestError):
    """HTTP 400 on a write: Aeries refused the record (its message says which rule); never retried."""


class AeriesWriteUnknownError(AeriesRequestError):
    """A write whose answer was lost (timeout, dropped connection, 5xx): Aeries may or may not have made it.
    It is not retried blindly; read the record back before writing it again."""


class AeriesAuthError(AirflowFailException, AeriesError):
    """HTTP 401/403: the certificate was refused or lacks a security area. Airflow does not retry it."""

    def __init__(self, message: str, *, conn_id: str = "", endpoint: str = "", status: int | None = None,
                 security_area: str | None = None):
        super().__init__(message)
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.status = status
        self.security_area = security_area


class AeriesConfigError(AirflowFailException, AeriesError):
    """The Aeries connection is unusable as configured (bad extra, missing certificate, unknown table)."""


class _Cancelled(Exception):
    """Internal: another request of the same call failed, so this one gave up."""


# --------------------------------------------------------------------------------------------------
# Table registry: lives in aeries_hub.tables (imported at DAG parse time, so kept light); re-exported here.
# --------------------------------------------------------------------------------------------------

# Pre-v5 servers use other names for some fields.
PRE_V5_RENAMES = {"PermanentID": "StudentID", "Sex": "Gender"}


def table_spec(table: str) -> AeriesTable:
    """The registry entry of ``table``; AeriesConfigError naming the known tables otherwise."""
    try:
        return TABLES[table]
    except KeyError:
        raise AeriesConfigError(f"Unknown Aeries table {table!r}; known tables: {', '.join(TABLES)}") from None


# --------------------------------------------------------------------------------------------------
# Results and statistics
# --------------------------------------------------------------------------------------------------
@dataclass
class ExtractResult:
    """What :meth:`AeriesHook.extract_to_parquet` did (small and JSON-friendly: fit for XCom)."""

    table: str
    rows: int
    pages: int
    requests: int
    retries: int
    seconds: float
    path: str
    retry_causes: dict[str, int] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    #: What the server was found to do with paging, when it was not plain paging: ``ignored_by_server`` (the
    #: schools whose answers ignored StartingRecord/EndingRecord), ``row_cap`` (rows per request), ``probes``.
    paging: dict[str, Any] = field(default_factory=dict)
    #: teachers only: per school that schedules with section staff, how many teachers came from its section staff
    section_staff_teachers: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "pages": self.pages,
            "requests": self.requests,
            "retries": self.retries,
            "seconds": self.seconds,
            "path": self.path,
            "retry_causes": dict(self.retry_causes),
            "columns": list(self.columns),
            "paging": dict(self.paging),
            **({"teachers_from_section_staff": dict(self.section_staff_teachers)} if self.section_staff_teachers else {}),
        }


@dataclass(frozen=True)
class SchoolYear:
    """The school year an extraction reads (:meth:`AeriesHook.check_database_year`).

    Years are Aeries' DatabaseYear, the year the school year starts (2026 is 2026-2027).
    """

    requested: int | None  # asked for (the run's school year, or the connection's database_year); None: default
    served: int | None  # what Aeries serves, as its systeminfo says; None: it did not say
    available: tuple[int, ...] = ()  # AvailableDatabaseYears, newest first; empty: not listed
    note: str | None = None  # why the served year is not the one asked for, for the run report

    @property
    def label(self) -> str | None:
        return school_year_label(self.served) if self.served is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "database_year": self.served,
            "school_year": self.label,
            "requested_year": self.requested,
            "available_years": [school_year_label(year) for year in self.available],
            "year_note": self.note,
        }


def school_year_label(year: int) -> str:
    """Aeries' 9-character form of a school year (systeminfo's DatabaseYear): 2026 -> ``"2026-2027"``."""
    return f"{year}-{year + 1}"


def school_year_start(value: Any) -> int | None:
    """A school year as Aeries gives it (``2026``, ``"2026"``, ``"2026-2027"``) as the year it starts; None
    when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    first, dash, second = text.partition("-")
    if not (len(first) == 4 and first.isdigit()):
        return None
    if dash and not (second.strip().isdigit() and int(second) == int(first) + 1):
        return None
    return int(first)


class _Stats:
    """Counters of one public call; shared by the worker threads of that call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.pages = 0
        self.retry_causes: Counter[str] = Counter()
        self.paging: dict[str, Any] = {}
        self.section_staff_teachers: dict[str, int] = {}  # school code -> teachers made from its section staff
        self.started = time.monotonic()

    def add_request(self) -> None:
        with self._lock:
            self.requests += 1

    def add_retry(self, cause: str) -> None:
        with self._lock:
            self.retry_causes[cause] += 1

    @property
    def retries(self) -> int:
        return sum(self.retry_causes.values())

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def describe_retries(self) -> str:
        if not self.retry_causes:
            return "0 retries"
        causes = ", ".join(f"{cause} {n}" for cause, n in sorted(self.retry_causes.items()))
        return f"{self.retries} retries ({causes})"


@dataclass(frozen=True)
class _Settings:
    base_url: str
    api_version: int
    database_year: int | None
    timeout: float
    max_concurrency: int
    verify_ssl: bool | str
    page_size: int
    max_retries: int
    backoff_base: float
    backoff_max: float
    prefetch_pages: int
    terms_from_schools: bool
    unavailable_year: str = "newest_started"
    probe_short_pages: bool = True


def _normalise_base_url(host: str, port: int | None = None, schema: str | None = None) -> str:
    host = (host or "").strip()
    if not host:
        raise ValueError("the host (Aeries base URL) is empty")
    if "://" not in host:
        host = f"https://{host}"
    parts = urlsplit(host)
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    path = parts.path.rstrip("/")
    if not path and schema:  # URI-style connections put the path in "schema"
        path = "/" + schema.strip("/")
    return f"{parts.scheme}://{netloc}{path}"


# --------------------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------------------
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
        self._settings: _Settings | None = None
        self.__cert: str | None = None
        self._session: requests.Session | None = None
        self._slots: threading.BoundedSemaphore | None = None

    # -- Airflow UI -------------------------------------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "port", "login"],
            "relabeling": {
                "host": "Aeries base URL (with its path, e.g. https://district.aeries.net/admin)",
                "password": "API certificate",
            },
            "placeholders": {
                "host": "https://district.aeries.net/admin",
                "password": "32-character AERIES-CERT certificate",
                "extra": json.dumps(
                    {
                        "api_version": 5,
                        "database_year": 2025,
                        "timeout": 30,
                        "max_concurrency": 4,
                        "verify_ssl": True,
                        "page_size": 500,
                        "max_retries": 6,
                        "backoff_base": 0.5,
                        "backoff_max": 30,
                    },
                    indent=2,
                ),
            },
        }

    # -- configuration ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(aeries_conn_id={self.aeries_conn_id!r}, "
            f"database_year={self._database_year_override!r})"
        )

    @property
    def settings(self) -> _Settings:
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
        try:
            extra = conn.extra_dejson or {}
        except Exception:  # noqa: BLE001 - a malformed extra
            raise AeriesConfigError(f"Connection {self.aeries_conn_id!r}: the extra is not valid JSON") from None
        if not isinstance(extra, dict):
            raise AeriesConfigError(f"Connection {self.aeries_conn_id!r}: the extra must be a JSON object")
        try:
            base_url = _normalise_base_url(conn.host or "", conn.port, conn.schema)
            verify_ssl = tls_verification(extra, urlsplit(base_url).scheme, self.aeries_conn_id, log)
            terms_from_schools = extra_flag(extra, "terms_from_schools", True, self.aeries_conn_id)
            probe_short_pages = extra_flag(extra, "probe_short_pages", True, self.aeries_conn_id)
        except ExtraError as exc:
            raise AeriesConfigError(str(exc)) from None
        except ValueError as exc:
            raise AeriesConfigError(f"Connection {self.aeries_conn_id!r} is misconfigured: {exc}") from None
        try:
            max_concurrency = int(extra.get("max_concurrency", 4))
            year = self._database_year_override
            if year is None and extra.get("database_year") not in (None, ""):
                year = int(extra["database_year"])
            if year is None:
                year = self._school_year
            settings = _Settings(
                base_url=base_url,
                api_version=int(extra.get("api_version", 5)),
                database_year=year,
                timeout=float(extra.get("timeout", 30)),
                max_concurrency=max_concurrency,
                verify_ssl=verify_ssl,
                page_size=int(extra.get("page_size", 500)),
                max_retries=int(extra.get("max_retries", 6)),
                backoff_base=float(extra.get("backoff_base", 0.5)),
                backoff_max=float(extra.get("backoff_max", 30)),
                prefetch_pages=int(extra.get("prefetch_pages", max(0, max_concurrency - 1))),
                terms_from_schools=terms_from_schools,
                unavailable_year=str(extra.get("unavailable_year", "newest_started")).strip().lower(),
                probe_short_pages=probe_short_pages,
            )
        except (TypeError, ValueError) as exc:
            raise AeriesConfigError(
                f"Connection {self.aeries_conn_id!r} is misconfigured: {self._redact(str(exc))}"
            ) from None
        problems = []
        if settings.api_version < 1:
            problems.append("api_version must be at least 1")
        if settings.max_concurrency < 1:
            problems.append("max_concurrency must be at least 1")
        if settings.page_size < 1:
            problems.append("page_size must be at least 1")
        if settings.max_retries < 0:
            problems.append("max_retries must be 0 or more")
        if settings.timeout <= 0:
            problems.append("timeout must be positive")
        if settings.backoff_base < 0 or settings.backoff_max < 0:
            problems.append("backoff_base and backoff_max must be 0 or more")
        if settings.prefetch_pages < 0:
            problems.append("prefetch_pages must be 0 or more")
        if settings.unavailable_year not in UNAVAILABLE_YEAR_RULES:
            problems.append(f"unavailable_year must be \"newest_started\" or \"fail\", not "
                            f"{json.dumps(extra.get('unavailable_year'))}")
        if problems:
            raise AeriesConfigError(f"Connection {self.aeries_conn_id!r} is misconfigured: {'; '.join(problems)}")
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

    def _redact(self, text: str) -> str:
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

    @property
    def _api_prefix(self) -> str:
        version = self.settings.api_version
        return "/api" if version == 1 else f"/api/v{version}"

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
    def _request(
        self,
        path: str,
        *,
        stats: _Stats,
        security_area: str | None,
        params: dict[str, Any] | None = None,
        with_cert: bool = True,
        stop: threading.Event | None = None,
        max_retries: int | None = None,
        method: str = "GET",
        json_body: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """``method`` ``{base}/api/vN/{path}`` (with ``json_body``) and return the parsed JSON, retrying transient
        failures. A request that is not ``idempotent`` (an insert) is retried only when the server certainly
        did nothing (429, 503); a lost answer raises AeriesWriteUnknownError instead."""
        settings = self.settings
        cert = self._require_cert() if with_cert else None
        session = self.get_conn()
        assert self._slots is not None
        endpoint = f"{self._api_prefix}/{path.lstrip('/')}"
        url = settings.base_url + endpoint
        query = dict(params or {})
        if with_cert and settings.database_year is not None:
            query.setdefault("DatabaseYear", settings.database_year)
        retries = settings.max_retries if max_retries is None else max_retries
        attempts = retries + 1
        last_cause = ""
        for attempt in range(attempts):
            if stop is not None and stop.is_set():
                raise _Cancelled()
            retry_after: float | None = None
            headers = {"AERIES-CERT": cert} if cert else {}
            started = time.monotonic()
            try:
                with self._slots:
                    stats.add_request()
                    response = session.request(
                        method, url, params=query or None, headers=headers, json=json_body, timeout=settings.timeout,
                        allow_redirects=False,
                    )
            except requests.exceptions.SSLError as exc:
                raise self._request_error(
                    endpoint, attempt + 1, f"TLS error ({type(exc).__name__}); check the certificate of the server "
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
                raise self._request_error(
                    endpoint, attempt + 1, f"invalid request: {type(exc).__name__}: {exc}"
                ) from None
            else:
                status = response.status_code
                elapsed_ms = (time.monotonic() - started) * 1000
                log.debug("%s %s -> %d in %.0f ms (attempt %d)", method, endpoint, status, elapsed_ms, attempt + 1)
                body = response.content
                content_type = response.headers.get("Content-Type", "")
                if status in (401, 403):
                    raise self._auth_error(endpoint, status, security_area, _server_message(body))
                if status in RETRY_STATUSES:
                    cause = f"http_{status}"
                    message = _server_message(body)
                    last_cause = f"HTTP {status}" + (f": {message}" if message else "")
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                elif status == 404:
                    message = _server_message(body)
                    raise AeriesNotFoundError(
                        self._redact(
                            f"Aeries connection {self.aeries_conn_id!r}: {endpoint} was not found (HTTP 404)"
                            + (f": {message}" if message else "")
                        ),
                        conn_id=self.aeries_conn_id, endpoint=endpoint, status=404, attempts=attempt + 1,
                        cause="HTTP 404",
                    )
                elif 300 <= status < 400:
                    location = urlsplit(response.headers.get("Location", "")).path or "?"
                    raise self._request_error(
                        endpoint, attempt + 1,
                        f"HTTP {status} redirect to {location}; check the base URL of the connection "
                        "(redirects are not followed, so the certificate is never sent elsewhere)",
                        status=status,
                    )
                elif status == 400 and method != "GET":
                    message = _server_message(response.content)
                    raise AeriesValidationError(
                        self._redact(
                            f"Aeries refused {method} {endpoint} for connection {self.aeries_conn_id!r} (HTTP 400): "
                            + (message or "no reason given")
                        ),
                        conn_id=self.aeries_conn_id, endpoint=endpoint, status=400, attempts=attempt + 1,
                        cause=self._redact(message or "HTTP 400"),
                    )
                elif status >= 400:
                    message = _server_message(body)
                    raise self._request_error(
                        endpoint, attempt + 1, f"HTTP {status}" + (f": {message}" if message else ""), status=status
                    )
                elif "html" in content_type.lower() or body.lstrip()[:1] == b"<":
                    cause = "html"
                    last_cause = f"HTTP {status} with an HTML page instead of JSON (a login or error page?)"
                else:
                    try:
                        return json.loads(body.decode("utf-8-sig"))
                    except (UnicodeDecodeError, ValueError) as exc:
                        cause = "invalid_json"
                        last_cause = (
                            f"HTTP {status} with a body that is not valid JSON ({len(body)} bytes; "
                            f"{type(exc).__name__} at position {getattr(exc, 'pos', '?')})"
                        )
            if not idempotent and cause not in ("http_429", "http_503", "connection"):
                raise AeriesWriteUnknownError(
                    self._redact(
                        f"Aeries {method} {endpoint} for connection {self.aeries_conn_id!r}: {last_cause}; Aeries may "
                        "or may not have written it, so it was not sent again. Read the record back before writing it again"
                    ),
                    conn_id=self.aeries_conn_id, endpoint=endpoint, attempts=attempt + 1, cause=self._redact(last_cause),
                )
            if attempt + 1 >= attempts:
                break
            stats.add_retry(cause)
            delay = backoff_delay(attempt, settings.backoff_base, settings.backoff_max, retry_after)
            log.warning(
                "Aeries %s: %s; retry %d of %d in %.2f s (connection %r)",
                endpoint, self._redact(last_cause), attempt + 1, retries, delay, self.aeries_conn_id,
            )
            self._pause(delay, stop)
        raise self._request_error(endpoint, attempts, f"last cause: {last_cause}", exhausted=True)

    def _pause(self, delay: float, stop: threading.Event | None) -> None:
        """Sleep before a retry; the default sleep wakes up early when the call was abandoned."""
        if stop is not None and stop.is_set():
            raise _Cancelled()
        if stop is not None and self.sleep is time.sleep:
            if stop.wait(delay):
                raise _Cancelled()
            return
        self.sleep(delay)

    def _request_error(self, endpoint: str, attempts: int, cause: str, *, status: int | None = None,
                       exhausted: bool = False) -> AeriesRequestError:
        noun = "attempt" if attempts == 1 else "attempts"
        if exhausted:
            where = f"{endpoint} after {attempts} {noun}; {cause}"
        else:
            where = f"{endpoint} ({attempts} {noun}): {cause}"
        message = f"Aeries request failed for connection {self.aeries_conn_id!r} at {where}"
        return AeriesRequestError(
            self._redact(message), conn_id=self.aeries_conn_id, endpoint=endpoint, status=status, attempts=attempts,
            cause=self._redact(cause),
        )

    def _auth_error(self, endpoint: str, status: int, area: str | None, server_message: str) -> AeriesAuthError:
        prefix = f"Aeries refused connection {self.aeries_conn_id!r} at {endpoint} (HTTP {status}): "
        if status == 401:
            text = (
                "the certificate was not accepted. Check the password (API certificate) of connection "
                f"{self.aeries_conn_id!r}."
            )
        elif area:
            text = (
                f"the certificate lacks the security area {area!r}. Grant it in Aeries under "
                "Security > API Security for this certificate."
            )
        else:
            text = (
                "the certificate lacks a security area this endpoint needs. Grant it in Aeries under "
                "Security > API Security for this certificate."
            )
        if server_message:
            text += f" Aeries said: {server_message}"
        return AeriesAuthError(
            self._redact(prefix + text), conn_id=self.aeries_conn_id, endpoint=endpoint, status=status,
            security_area=area,
        )

    # -- public API -------------------------------------------------------------------------------
    def get_system_info(self) -> dict[str, Any]:
        """``GET systeminfo`` (no certificate sent): AeriesVersion, LocalTimeZoneName, CurrentDateTime."""
        data = self._request("systeminfo", stats=_Stats(), security_area=None, with_cert=False)
        return _single(data) or {}

    def check_database_year(self) -> SchoolYear:
        """Ask Aeries which school year it serves for the one asked for, and settle on the year to read.

        Aeries serves its default year, silently, when the ``?DatabaseYear=`` asked for is not available;
        ``systeminfo`` says which year a request reads (``DatabaseYear``, ``"2026-2027"``; an int is accepted
        too) and which years it offers (``AvailableDatabaseYears``). When the year asked for is not offered,
        the connection's extra ``unavailable_year`` decides: ``newest_started`` (default) reads the newest
        offered year not after it (for a run: the newest whose start has passed by the run's date, so a
        district keeps delivering through the July rollover) and says so in :attr:`SchoolYear.note`;
        ``fail`` raises AeriesConfigError naming the years Aeries offers. Every later request of this hook
        asks for the year settled on.
        """
        settings = self.settings
        requested = settings.database_year
        info = self._system_info_for(requested)
        served = school_year_start(info.get("DatabaseYear"))
        listed = info.get("AvailableDatabaseYears")
        listed = listed if isinstance(listed, list) else []
        available = tuple(sorted({y for y in map(school_year_start, listed) if y is not None}, reverse=True))
        if requested is None:
            year = SchoolYear(None, served, available)
        elif served is None and not available:
            year = SchoolYear(requested, requested, note=(
                f"Aeries' systeminfo did not say which school year it serves; the files are labelled with the "
                f"school year asked for, {school_year_label(requested)}"))
        elif served == requested and (not available or requested in available):
            year = SchoolYear(requested, served, available)
        else:
            year = self._fall_back(requested, served, available, settings.unavailable_year)
        if year.note:
            log.warning("Aeries connection %r: %s", self.aeries_conn_id, year.note)
        if year.served is not None and year.served != requested:
            with self._lock:
                self._settings = dataclasses.replace(settings, database_year=year.served)
        return year

    def _system_info_for(self, year: int | None) -> dict[str, Any]:
        """systeminfo as a request for ``year`` sees it; {} from a server without it (then nothing is known)."""
        params = {"DatabaseYear": year} if year is not None else None
        try:
            info = _single(self._request("systeminfo", stats=_Stats(), security_area=None, with_cert=False,
                                         params=params))
        except AeriesNotFoundError:
            return {}
        return info if isinstance(info, dict) else {}

    def _fall_back(self, requested: int, served: int | None, available: tuple[int, ...], rule: str) -> SchoolYear:
        """The year asked for is not offered: the newest offered year not after it, or AeriesConfigError."""
        offered = available or ((served,) if served is not None else ())
        offers = ", ".join(school_year_label(y) for y in offered)
        missing = (f"Aeries connection {self.aeries_conn_id!r} does not offer the school year "
                   f"{school_year_label(requested)} (DatabaseYear {requested}); it offers {offers}")
        started = [y for y in offered if y <= requested]
        if rule == "fail":
            raise AeriesConfigError(
                f"{missing}. The connection's extra unavailable_year is \"fail\": pin one of those years with the "
                "extra database_year, or set unavailable_year to \"newest_started\" to read the newest year that "
                "has started"
            )
        if not started:
            raise AeriesConfigError(
                f"{missing}, all of them later. Pin one of those years with the connection's extra database_year"
            )
        chosen = max(started)
        if chosen != served:  # ask for it by name, and check that Aeries serves it
            served = school_year_start(self._system_info_for(chosen).get("DatabaseYear"))
            if served not in (chosen, None):
                raise AeriesConfigError(
                    f"{missing}. Asked for {school_year_label(chosen)}, which it lists, Aeries served "
                    f"{school_year_label(served)}; pin a year with the connection's extra database_year"
                )
        return SchoolYear(requested, chosen, available, note=(
            f"Aeries does not offer the school year {school_year_label(requested)} (it offers {offers}); read "
            f"{school_year_label(chosen)}, the newest that has started (connection extra unavailable_year: "
            "newest_started)"
        ))

    def get_json(self, path: str, *, params: dict[str, Any] | None = None, security_area: str | None = None) -> Any:
        """GET any endpoint under ``/api/vN/`` (e.g. ``schools/994/students/99400001``) and return its JSON."""
        return self._request(path, stats=_Stats(), security_area=security_area, params=params)

    def write(self, path: str, body: Any, *, security_area: str, method: str = "POST", idempotent: bool = False) -> Any:
        """POST (or PUT) JSON to an endpoint under ``/api/vN/`` (e.g. ``UpdateStudent/99400001``) and return its JSON.

        :param idempotent: True for a write that may safely be sent twice (an update to given values); an
            insert is retried only when Aeries certainly did nothing (429, 503, no connection).
        :raises AeriesValidationError: Aeries refused the record (HTTP 400), with Aeries' reason.
        :raises AeriesWriteUnknownError: the answer was lost; whether Aeries wrote it is unknown.
        """
        return self._request(path, stats=_Stats(), security_area=security_area, method=method, json_body=body,
                             idempotent=idempotent)

    def get_paged(self, path: str, *, security_area: str, key: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Every record of a list endpoint under ``/api/vN/`` (e.g. ``schools/994/scheduling/courserequests``),
        asked for page by page with ``StartingRecord``/``EndingRecord`` and checked like a table's pages: a
        server that ignores the range is read once, one that caps the rows per request is paged by its cap."""
        spec = AeriesTable(name=path, endpoint=path, security_area=security_area, per_school=False, paged=True,
                           key=tuple(key))
        stats = _Stats()
        self._require_cert()
        pages = self._fetch_units(spec, [None], stats, lambda _unit, rows: rows)
        return [row for _, unit_pages in pages for page in unit_pages for row in page]

    def get_schools(self) -> list[dict[str, Any]]:
        """Every school of the district (including SchoolCode 0, the district office)."""
        return self._schools(_Stats(), count_page=True)

    def get_school(self, school_code: int) -> dict[str, Any]:
        """One school; AeriesNotFoundError when it does not exist."""
        data = self._request(f"schools/{int(school_code)}", stats=_Stats(), security_area="Schools")
        school = _single(data)
        if school is None:
            raise AeriesNotFoundError(
                f"Aeries connection {self.aeries_conn_id!r}: school {school_code} was not found",
                conn_id=self.aeries_conn_id, endpoint=f"{self._api_prefix}/schools/{school_code}", status=None,
            )
        return school

    def get_table(self, table: str, *, school_codes: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """All rows of a logical table (see ``TABLES``), optionally limited to some schools."""
        spec = table_spec(table)
        stats = _Stats()
        rows = self._collect(spec, school_codes, stats)
        log.info(
            "Aeries %s: %d rows, %d pages, %d requests, %s in %.2f s (connection %r%s)",
            spec.name, len(rows), stats.pages, stats.requests, stats.describe_retries(), stats.seconds,
            self.aeries_conn_id, self._year_note(),
        )
        return rows

    def extract_to_parquet(
        self,
        table: str,
        path: ObjectStoragePath | str | os.PathLike[str],
        *,
        school_codes: Iterable[int] | None = None,
    ) -> ExtractResult:
        """Write one logical table as one Parquet file (``s3://`` etc. through ObjectStoragePath)."""
        import pyarrow.parquet as pq

        spec = table_spec(table)
        stats = _Stats()
        arrow_table = self._collect(spec, school_codes, stats, as_arrow=True)
        arrow_table = arrow_table.replace_schema_metadata(
            {
                **(arrow_table.schema.metadata or {}),
                b"aeries.table": spec.name.encode(),
                b"aeries.key": ",".join(spec.key).encode(),
                b"aeries.api_version": str(self.settings.api_version).encode(),
                b"aeries.database_year": str(self.settings.database_year or "").encode(),
            }
        )
        target = _write_target(path)
        if isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
            try:
                pq.write_table(arrow_table, partial)
                os.replace(partial, target)
            finally:
                if partial.exists():
                    partial.unlink()
        else:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except Exception:  # noqa: BLE001 - object stores have no folders
                pass
            with target.open("wb") as handle:
                pq.write_table(arrow_table, handle)
        result = ExtractResult(
            table=spec.name,
            rows=arrow_table.num_rows,
            pages=stats.pages,
            requests=stats.requests,
            retries=stats.retries,
            seconds=round(stats.seconds, 3),
            path=str(path),
            retry_causes=dict(stats.retry_causes),
            columns=list(arrow_table.column_names),
            paging=dict(stats.paging),
            section_staff_teachers=dict(stats.section_staff_teachers),
        )
        log.info(
            "Aeries %s: %d rows, %d pages, %d requests, %s in %.2f s -> %s (connection %r%s)",
            spec.name, result.rows, result.pages, result.requests, stats.describe_retries(), result.seconds,
            result.path, self.aeries_conn_id, self._year_note(),
        )
        return result

    def test_connection(self) -> tuple[bool, str]:
        """Check the server (systeminfo) and the certificate (GET schools); never echoes the certificate."""
        try:
            stats = _Stats()
            info = self._request("systeminfo", stats=stats, security_area=None, with_cert=False, max_retries=1)
            info = _single(info) or {}
            schools = self._request("schools", stats=stats, security_area="Schools", max_retries=1)
            schools = _as_list(schools, "schools")
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, self._redact(str(exc))
        version = info.get("AeriesVersion", "unknown version")
        return True, (
            f"Connected to Aeries {version} at {self.settings.base_url}{self._api_prefix}: "
            f"the certificate can read {len(schools)} schools."
        )

    # -- internals --------------------------------------------------------------------------------
    def _year_note(self) -> str:
        year = self.settings.database_year
        return f", DatabaseYear {year}" if year is not None else ""

    def _schools(self, stats: _Stats, *, count_page: bool = False) -> list[dict[str, Any]]:
        data = self._request("schools", stats=stats, security_area="Schools")
        if count_page:
            stats.pages += 1
        return _as_list(data, "schools")

    def _select_schools(self, schools: list[dict[str, Any]], school_codes: Iterable[int] | None,
                        *, keep_district_office: bool) -> list[dict[str, Any]]:
        wanted = None if school_codes is None else {int(code) for code in school_codes}
        if wanted is not None and not wanted:
            wanted = None
        selected = []
        for school in schools:
            code = school.get("SchoolCode")
            if code == DISTRICT_OFFICE and not keep_district_office:
                continue
            if wanted is not None and code not in wanted:
                continue
            selected.append(school)
        if wanted is not None:
            missing = sorted(wanted - {s.get("SchoolCode") for s in schools})
            if missing:
                log.warning(
                    "Aeries connection %r: school codes %s are not in the schools list%s; they are skipped",
                    self.aeries_conn_id, ", ".join(map(str, missing)), self._year_note(),
                )
        return selected

    def _collect(self, spec: AeriesTable, school_codes: Iterable[int] | None, stats: _Stats, *,
                 as_arrow: bool = False) -> Any:
        """Every row of ``spec`` for the selected schools: a list of records, or (``as_arrow``) one Arrow
        table built page by page as the pages arrive, so that a table of millions of rows is never held as
        Python records."""
        settings = self.settings
        self._require_cert()
        codes = None if school_codes is None else [int(c) for c in school_codes]

        def prepare(unit: int | None, rows: list[dict[str, Any]]) -> Any:
            if spec.per_school:
                rows = [row if "SchoolCode" in row else {"SchoolCode": unit, **row} for row in rows]
            if settings.api_version < 5:
                rows = [_rename_pre_v5(row) for row in rows]
            return _rows_to_arrow_page(spec.name, rows) if as_arrow else rows

        if spec.name == "schools":
            schools = self._schools(stats, count_page=True)
            parts = [prepare(None, self._select_schools(schools, codes, keep_district_office=True))]
        elif not spec.per_school:
            parts = [page for _, pages in self._fetch_units(spec, [None], stats, prepare) for page in pages]
        else:
            schools = self._select_schools(self._schools(stats), codes, keep_district_office=False)
            embedded: dict[int, list[Any]] = {}
            if spec.name == "terms" and settings.terms_from_schools:
                for school in schools:
                    if isinstance(school.get("Terms"), list):
                        terms = [{"SchoolCode": school["SchoolCode"], **term} for term in school["Terms"]]
                        embedded[school["SchoolCode"]] = [prepare(school["SchoolCode"], terms)]
            to_fetch = [s["SchoolCode"] for s in schools if s["SchoolCode"] not in embedded]
            fetched = dict(self._fetch_units(spec, to_fetch, stats, prepare)) if to_fetch else {}
            if spec.name == "teachers":
                for code, rows in self._section_staff_teachers(schools, fetched, stats).items():
                    fetched[code] = [*fetched.get(code, []), prepare(code, rows)]
            parts = [page for school in schools for page in embedded.get(school["SchoolCode"]) or fetched.get(school["SchoolCode"], [])]
        if as_arrow:
            return _concat_pages(spec.name, parts)
        return [row for part in parts for row in part]

    def _section_staff_teachers(self, schools: list[dict[str, Any]], fetched: dict[int | None, list[Any]],
                                stats: _Stats) -> dict[int, list[dict[str, Any]]]:
        """Teachers from section staff: at a school that schedules with section staff (Flex scheduling), "TCH
        records are not used and may not exist" (Aeries API documentation, support article 14000077926), so
        each staff member named in its sections' ``SectionStaffMembers`` who has no teacher record there becomes
        one, built from the staff (STF) record (:func:`section_staff_teachers`). The counts per school go in
        ``stats.section_staff_teachers`` (and the extract's result and log)."""
        codes = [s["SchoolCode"] for s in schools if uses_section_staff(s)]
        if not codes:
            return {}
        sections = dict(self._fetch_units(TABLES["sections"], codes, stats, lambda _unit, rows: rows))
        staff = [row for _, pages in self._fetch_units(TABLES["staff"], [None], stats, lambda _unit, rows: rows)
                 for page in pages for row in page]
        staff_by_id = {_id_key(row.get("ID")): row for row in staff}
        added: dict[int, list[dict[str, Any]]] = {}
        for code in codes:
            known = {_id_key(value) for page in fetched.get(code, []) for value in _column_values(page, "StaffID1")}
            rows = section_staff_teachers(code, [row for page in sections.get(code, []) for row in page], staff_by_id,
                                          known)
            stats.section_staff_teachers[str(code)] = len(rows)
            log.info("Aeries teachers: school %s uses section staff (Flex scheduling): %d teachers from its "
                     "sections' staff members and their staff records, %d teacher (TCH) records", code, len(rows),
                     len(known - {None}))
            if rows:
                added[code] = rows
        return added

    def _fetch_units(
        self, spec: AeriesTable, units: Sequence[int | None], stats: _Stats,
        prepare: Callable[[int | None, list[dict[str, Any]]], Any],
    ) -> list[tuple[int | None, list[Any]]]:
        """Fetch every page of every unit (a school code, or None for a district-wide table).

        Runs at most ``max_concurrency`` requests at once. Pages a unit certainly needs come first; idle
        workers then fetch later pages ahead (``prefetch_pages``) for units whose first page came back
        full. Pages past the last one are discarded (and so are their errors). Each page's records go
        through ``prepare(unit, rows)`` in the worker thread that fetched it (while other requests are in
        flight). Returns ``(unit, prepared pages in page order)`` in unit order.

        Paging is checked, not trusted (Aeries documents ``StartingRecord``/``EndingRecord`` for the student
        endpoints only): a first page longer than asked, or a later page that starts with the first page's
        first record, means the server ignores the range, so the unit is its first answer, once. A short
        first page is followed by one probe of the records after it (``probe_short_pages``): if the server
        has more, it caps the rows per request, and the unit is paged by that cap. See :class:`_UnitPages`.
        """
        settings = self.settings
        page_size = settings.page_size
        prefetch = settings.prefetch_pages if spec.paged else 0
        endpoint = _EndpointPaging(probe=settings.probe_short_pages)
        states = [_UnitPages(unit, page_size) for unit in units]
        stop = threading.Event()
        in_flight: dict[Future, tuple[_UnitPages, int, int]] = {}
        pool = ThreadPoolExecutor(max_workers=settings.max_concurrency, thread_name_prefix=f"aeries-{spec.name}")

        def fetch(unit: int | None, page: int, size: int) -> tuple[int, str | None, Any]:
            params = None
            if spec.paged:
                params = {"StartingRecord": (page - 1) * size + 1, "EndingRecord": page * size}
            data = self._request(
                spec.path_for(unit) if spec.per_school else spec.endpoint,
                stats=stats, security_area=spec.security_area, params=params, stop=stop,
            )
            rows = _as_list(data, spec.path_for(unit) if spec.per_school else spec.endpoint)
            first = json.dumps(rows[0], sort_keys=True, default=str) if rows else None
            return len(rows), first, prepare(unit, rows)

        def next_candidate() -> tuple[_UnitPages, int] | None:
            for state in states:  # pages certainly needed first
                page = state.needed_page()
                if page is not None:
                    return state, page
            for state in states:  # then speculative pages
                page = state.speculative_page(prefetch)
                if page is not None:
                    return state, page
            return None

        try:
            while True:
                while len(in_flight) < settings.max_concurrency:
                    candidate = next_candidate()
                    if candidate is None:
                        break
                    state, page = candidate
                    state.pending.add(page)
                    state.failed.discard(page)
                    in_flight[pool.submit(fetch, state.unit, page, state.size)] = (state, page, state.size)
                if not in_flight:
                    break
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in done:
                    state, page, size = in_flight.pop(future)
                    state.pending.discard(page)
                    try:
                        count, first, rows = future.result()
                    except _Cancelled:
                        continue
                    except Exception:
                        if size == state.size and state.is_needed(page):
                            raise
                        state.failed.add(page)  # speculative: refetched if it turns out to be needed
                        continue
                    if size != state.size:  # asked before the unit's page size changed (a cap was found)
                        continue
                    if not spec.paged:
                        state.record_unpaged(count, rows)
                    else:
                        problem = state.record(page, count, first, rows, endpoint)
                        if problem:
                            raise AeriesError(self._paging_problem(spec, state.unit, problem))
                if all(state.complete for state in states):
                    break  # only speculative pages past the end can still be in flight
        finally:
            # Abandon what is left (speculative pages, or the rest after a failure): queued pages never
            # start, running ones stop before their next attempt. Nothing waits for them.
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        for state in states:
            stats.pages += state.final or 0
        if spec.paged:
            self._report_paging(spec, endpoint, page_size, stats)
        return [(state.unit, state.pages_in_order()) for state in states]

    def _paging_problem(self, spec: AeriesTable, unit: int | None, problem: str) -> str:
        where = f"{spec.endpoint.format(school_code=unit)} (school {unit})" if spec.per_school else spec.endpoint
        return self._redact(f"Aeries connection {self.aeries_conn_id!r}: {where} {problem}")

    def _report_paging(self, spec: AeriesTable, endpoint: _EndpointPaging, page_size: int, stats: _Stats) -> None:
        """Warn once per extract about what the server does with paging, and keep it for :class:`ExtractResult`."""
        path = spec.endpoint.format(school_code="{sc}") if spec.per_school else spec.endpoint
        schools = ", ".join(str(unit) for unit in sorted(endpoint.ignored_at, key=str))
        if endpoint.ignored_at:
            where = f"{path} at school(s) {schools}" if spec.per_school else path
            log.warning(
                "Aeries connection %r: %s ignores StartingRecord/EndingRecord (an answer longer than asked, or the "
                "same records again for the next range): each was read whole from one answer, kept once",
                self.aeries_conn_id, where,
            )
        if endpoint.cap is not None:
            log.warning(
                "Aeries connection %r: %s returns at most %d rows per request (asked for %d): read in pages of %d "
                "instead. Set the connection extra page_size to %d to save the probe requests",
                self.aeries_conn_id, path, endpoint.cap, page_size, endpoint.cap, endpoint.cap,
            )
        stats.paging = endpoint.summary()


#: A unit that still returns full pages after this many is an error, never an endless loop.
MAX_PAGES_PER_UNIT = 100_000


@dataclass
class _EndpointPaging:
    """What one extract learned about how the server pages one endpoint; shared by its units (schools)."""

    probe: bool = True
    ignores: bool = False  # the server answers every range with the whole list
    ignored_at: list[Any] = field(default_factory=list)
    cap: int | None = None  # the server returns at most this many rows per request
    end_floor: int = 0  # the longest short first page known to be a unit's end (a cap, if any, is not below it)
    probes: int = 0

    def note_ignored(self, unit: Any) -> None:
        self.ignores = True
        if unit not in self.ignored_at:
            self.ignored_at.append(unit)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.ignored_at:
            found["ignored_by_server"] = sorted(self.ignored_at, key=str)
        if self.cap is not None:
            found["row_cap"] = self.cap
        if self.probes:
            found["probes"] = self.probes
        return found


class _UnitPages:
    """Paging state of one school (or of a district-wide table).

    Page ``p`` asks for records ``(p - 1) * size + 1`` to ``p * size``. ``size`` starts as the connection's
    ``page_size``; it becomes the length of a short first page while that page is probed (the probe is page 2
    at that size), and stays so when the probe shows a row cap.
    """

    def __init__(self, unit: int | None, size: int) -> None:
        self.unit = unit
        self.size = size
        self.asked = size  # the rows page 1 asks for (the connection's page_size)
        self.pages: dict[int, Any] = {}  # page -> its prepared rows
        self.counts: dict[int, int] = {}  # page -> how many records it held
        self.first_record: str | None = None  # the first record of page 1 (JSON), to recognise the same page again
        self.pending: set[int] = set()
        self.failed: set[int] = set()
        self.final: int | None = None  # the last page, once known
        self.probing = False  # page 2 is a probe: is the short page 1 the end, or a cap?

    def contiguous_full(self) -> int:
        n = 0
        while n + 1 in self.pages and self.counts[n + 1] == self.size and self.final != n + 1:
            n += 1
        return n

    def is_needed(self, page: int) -> bool:
        return (self.final is None or page <= self.final) and self.contiguous_full() >= page - 1

    def needed_page(self) -> int | None:
        page = self.contiguous_full() + 1
        if self.final is not None and page > self.final:
            return None
        if page in self.pages or page in self.pending:
            return None
        return page

    def speculative_page(self, prefetch: int) -> int | None:
        if self.final is not None or prefetch <= 0 or self.probing:
            return None
        full = self.contiguous_full()
        if full == 0:  # speculate only once a full first page shows that this unit has more
            return None
        first = full + 1
        for page in range(first + 1, first + 1 + prefetch):
            if page not in self.pages and page not in self.pending and page not in self.failed:
                return page
        return None

    def record_unpaged(self, count: int, rows: Any) -> None:
        self.pages[1], self.counts[1], self.final = rows, count, 1

    def _end(self, page: int) -> None:
        self.final = page if self.final is None else min(self.final, page)

    def record(self, page: int, count: int, first: str | None, rows: Any, endpoint: _EndpointPaging) -> str | None:
        """Keep one page's answer and decide what comes next; returns a problem to raise, or None."""
        size = self.size
        if page > 1 and count and first == self.first_record:  # the same records again: the range is ignored
            endpoint.note_ignored(self.unit)
            self.probing = False
            self._end(1)
            return self._maybe_cut(self.counts[1])
        if count > size:
            if page > 1:
                return (f"returned {count} records for records {(page - 1) * size + 1}-{page * size} (more than "
                        "asked, and not the first page again): its paging is inconsistent. Set the connection extra "
                        "page_size above the largest list, or ask Aeries support")
            endpoint.note_ignored(self.unit)  # the whole list at once: nothing more to ask for
            self.pages[1], self.counts[1], self.first_record = rows, count, first
            self._end(1)
            return None
        self.pages[page], self.counts[page] = rows, count
        if page == 1:
            self.first_record = first
            if endpoint.ignores or count == 0:
                self._end(1)
                return self._maybe_cut(count) if endpoint.ignores else None
            if count < size:
                self._short_first_page(count, endpoint)
            return None
        if self.probing and page == 2:
            self.probing = False
            if count == 0:  # page 1 was the end after all
                endpoint.end_floor = max(endpoint.end_floor, size)
                self._end(1)
                return None
            endpoint.cap = size if endpoint.cap is None else endpoint.cap
        if count < size:
            self._end(page)
        elif page >= MAX_PAGES_PER_UNIT and self.final is None:
            return (f"still returned full pages of {size} after {page} pages ({page * size} records): stopped "
                    "instead of paging on. Check that the server honours StartingRecord/EndingRecord")
        return None

    def _maybe_cut(self, count: int) -> str | None:
        """The unit is the first answer of a server that ignores the range: one exactly as long as what was asked
        for may be cut there by a cap on the rows per request too, and the records after it would be lost."""
        if count != self.asked:
            return None
        return (f"ignores StartingRecord/EndingRecord and answered exactly {count} records, as many as asked for: "
                f"if it also returns at most {count} rows per request, the records after them are missing, so none "
                f"was kept. If the list holds exactly {count} records, set the connection extra page_size above the "
                "largest list; else ask Aeries support how to read the whole list")

    def _short_first_page(self, count: int, endpoint: _EndpointPaging) -> None:
        """Page 1 held fewer records than asked: the unit's end, or the server's row cap?"""
        if count == endpoint.cap:
            self.size = count  # a full page at the known cap: page on by the cap
        elif not endpoint.probe or count < max(endpoint.end_floor, endpoint.cap or 0):
            self._end(1)  # below the cap, or below a page known to be an end (a cap is not below that)
        else:
            endpoint.probes += 1
            self.size = count
            self.probing = True

    @property
    def complete(self) -> bool:
        return self.final is not None and all(page in self.pages for page in range(1, self.final + 1))

    def pages_in_order(self) -> list[Any]:
        if self.final is None:  # pragma: no cover - the loop only ends once every unit is complete
            raise RuntimeError(f"paging of {self.unit} did not finish")
        return [self.pages[page] for page in range(1, self.final + 1)]


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------
def uses_section_staff(school: dict[str, Any]) -> bool:
    """A school whose sections name their staff in ``SectionStaffMembers`` instead of teacher (TCH) records:
    ``ScheduleType`` "Flexible" (Flex scheduling), or ``UsingSectionStaffInMasterSchedule`` ("Use Staff In
    Sections", on by default at a Flex school and possible at others: support article 14000108571)."""
    return (str(school.get("ScheduleType") or "").strip().lower() == "flexible"
            or school.get("UsingSectionStaffInMasterSchedule") is True)


def section_staff_teachers(school_code: int, sections: Sequence[dict[str, Any]], staff_by_id: dict[Any, dict[str, Any]],
                           teacher_staff_ids: set[Any]) -> list[dict[str, Any]]:
    """One teacher-shaped record per staff member of the school's sections who is active there on some
    section (member ``InactiveStatusCode`` blank) and has no teacher record at the school (``teacher_staff_ids``):
    ``StaffID1`` the staff ID, names, e-mail and ``InactiveStatusCode`` from the staff record (from the member
    when there is none), ``TeacherNumber`` null, ``FromSectionStaff`` true, and ``SectionStaffStartDate`` /
    ``SectionStaffEndDate`` the earliest start and latest end of those assignments (null when one is open), so
    that a mapping can leave out a teacher whose every assignment ended or has not begun. In staff ID order."""
    members: dict[Any, list[dict[str, Any]]] = {}
    for section in sections:
        for member in section.get("SectionStaffMembers") or ():
            staff_id = _id_key(member.get("StaffID"))
            if staff_id is None or staff_id in teacher_staff_ids or str(member.get("InactiveStatusCode") or "").strip():
                continue
            members.setdefault(staff_id, []).append(member)
    records = []
    for staff_id in sorted(members):
        assignments = members[staff_id]
        staff = staff_by_id.get(staff_id) or {}
        names = staff if staff else assignments[0]
        starts = [str(m.get("StartDate") or "").strip() for m in assignments]
        ends = [str(m.get("EndDate") or "").strip() for m in assignments]
        records.append({
            "SchoolCode": school_code, "TeacherNumber": None, "DisplayName": "",
            "FirstName": names.get("FirstName") or "", "LastName": names.get("LastName") or "", "Room": "",
            "EmailAddress": staff.get("EmailAddress") or "", "StaffID1": staff_id, "StaffID2": None, "StaffID3": None,
            "InactiveStatusCode": staff.get("InactiveStatusCode") or "", "LowGrade": None, "HighGrade": None,
            "FromSectionStaff": True,
            "SectionStaffStartDate": None if "" in starts else min(starts),
            "SectionStaffEndDate": None if "" in ends else max(ends),
        })
    return records


def _id_key(value: Any) -> Any:
    """A staff ID as a number when it is one (``"994001"`` and ``994001`` are one staff member); None when blank."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _column_values(page: Any, column: str) -> list[Any]:
    """The values of one column of a prepared page (a list of records, or an Arrow table)."""
    if isinstance(page, list):
        return [row.get(column) for row in page]
    return page.column(column).to_pylist() if column in page.column_names else []


def _server_message(body: bytes) -> str:
    """The ``Message`` of an Aeries error body, shortened; "" when there is none."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return ""
    message = ""
    if isinstance(data, dict):
        message = str(data.get("Message") or data.get("message") or "")
        detail = data.get("ExceptionMessage") or data.get("MessageDetail")
        if detail and str(detail) not in message:
            message = f"{message} ({detail})" if message else str(detail)
    return " ".join(message.split())[:500]


def _as_list(data: Any, path: str) -> list[dict[str, Any]]:
    if data is None:
        return []
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        return [data]
    raise AeriesError(f"Aeries returned a JSON {type(data).__name__} at {path} where a list of records was expected")


def _single(data: Any) -> dict[str, Any] | None:
    if isinstance(data, list):
        return data[0] if data else None
    return data


def _rename_pre_v5(row: dict[str, Any]) -> dict[str, Any]:
    if not any(old in row for old in PRE_V5_RENAMES):
        return row
    out: dict[str, Any] = {}
    for key, value in row.items():
        new = PRE_V5_RENAMES.get(key)
        if new is not None and new not in row:
            out[new] = value
        elif new is None or new not in out:
            out[key] = value
    return out


def _write_target(path: Any) -> Any:
    if isinstance(path, (str, os.PathLike)) and not hasattr(path, "protocol"):
        text = os.fspath(path)
        if "://" in text and not text.startswith("file://"):
            from airflow.sdk import ObjectStoragePath

            return ObjectStoragePath(text)
        if text.startswith("file://"):
            text = text[len("file://"):]
        return Path(text)
    return path


# --------------------------------------------------------------------------------------------------
# Arrow
# --------------------------------------------------------------------------------------------------
def _arrow_type(spec: Any) -> pa.DataType:
    import pyarrow as pa

    if isinstance(spec, dict) and "list" in spec:
        return pa.list_(pa.struct([(name, _arrow_type(sub)) for name, sub in spec["list"].items()]))
    return {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "string": pa.string(),
    }[spec]


def _is_null_type(data_type: pa.DataType) -> bool:
    import pyarrow as pa

    if pa.types.is_null(data_type):
        return True
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return pa.types.is_null(data_type.value_type)
    return False


def _as_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return json.dumps(value) if isinstance(value, bool) else str(value)


#: Registry types in which a blank string (``""`` or padded ``"  "``, as Aeries sends an unset code) is null.
_BLANK_IS_NULL_TYPES = (_I, _F, _B)


def rows_to_arrow(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """An Arrow table from Aeries records: the union of their keys (missing -> null) plus the table's
    known columns, nested values kept as nested types (list<struct>). Types are inferred from the data;
    the registry's types apply to columns that are null (or empty lists) in every row. A column whose
    values mix types that Arrow cannot unify is written as text (JSON for nested values).

    In a column the registry knows as a number or a boolean, a blank string (empty or only spaces: an
    unset code padded to its width) is null, so one padded blank neither turns the column into text nor
    reaches a vendor file as spaces.
    """
    return _typed_nulls(table, _rows_to_arrow_page(table, rows))


def _rows_to_arrow_page(table: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """:func:`rows_to_arrow` of some of a table's rows (one page), with columns that are null throughout
    left as Arrow's null type, so that the pages of a table concatenate into the types of the whole."""
    import pyarrow as pa

    spec = TABLES.get(table)
    known = dict(spec.columns) if spec else {}
    names: dict[str, None] = {}
    for row in rows:
        for key in row:
            names.setdefault(key, None)
    for key in known:
        names.setdefault(key, None)
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        if known.get(name) in _BLANK_IS_NULL_TYPES:
            values = [None if isinstance(v, str) and not v.strip() else v for v in values]
        declared = _arrow_type(known[name]) if name in known else None
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            array = None
            if declared is not None:
                try:
                    array = pa.array(values, type=declared)
                except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                    array = None
            if array is None:
                log.warning("Aeries %s: column %s mixes value types; it is written as text", table, name)
                array = pa.array([_as_text(v) for v in values], type=pa.string())
        arrays.append(array)
    return pa.table(arrays, names=list(names)) if names else pa.table({})


def _typed_nulls(table: str, arrow_table: pa.Table) -> pa.Table:
    """Columns null (or empty lists) in every row take the registry's type, else text."""
    import pyarrow as pa

    spec = TABLES.get(table)
    known = dict(spec.columns) if spec else {}
    for index, name in enumerate(arrow_table.column_names):
        column = arrow_table.column(index)
        if not _is_null_type(column.type):
            continue
        target = _arrow_type(known[name]) if name in known else None
        if target is None:
            target = pa.string() if pa.types.is_null(column.type) else pa.list_(pa.string())
        if pa.types.is_null(column.type) or pa.types.is_list(target):
            values = column.to_pylist()
            arrow_table = arrow_table.set_column(index, name, pa.array(values, type=target))
    return arrow_table


def _concat_pages(table: str, pages: list[pa.Table]) -> pa.Table:
    """One table from the pages of :func:`_rows_to_arrow_page`, typed as :func:`rows_to_arrow` types all
    rows at once. Pages whose types do not unify (a column that is a number in one page and text in
    another) are rebuilt from their records, as a whole, the rare slow way."""
    import pyarrow as pa

    pages = [page for page in pages if page.num_columns] or pages[:1]
    if not pages:
        return rows_to_arrow(table, [])
    try:
        combined = pa.concat_tables(pages, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        combined = _rows_to_arrow_page(table, [row for page in pages for row in page.to_pylist()])
    return _typed_nulls(table, combined.combine_chunks())
