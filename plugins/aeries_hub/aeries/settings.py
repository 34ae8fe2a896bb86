"""The settings of an Aeries connection (type ``aeries``), read from the connection and checked.

Connection:

* host: the Aeries base URL with its path, e.g. ``https://district.aeries.net/admin`` (https is assumed when
  the scheme is missing);
* password: the API certificate sent as the ``AERIES-CERT`` header (32 characters; kept by the hook, never here);
* extra (JSON, every key optional)::

    {"api_version": 5, "database_year": 2025, "timeout": 30, "max_concurrency": 4, "verify_ssl": true,
     "page_size": 500, "max_retries": 6, "backoff_base": 0.5, "backoff_max": 30}

  plus ``max_page_bytes`` (the largest answer of a paged endpoint read, default 64 MiB: a larger one fails the
  extract naming the table, the school and the page, read no further; a 500-student page is about 1 MB),
  ``prefetch_pages`` (pages fetched ahead speculatively at the end of a paged extract, default
  ``max_concurrency - 1``; 0 turns it off), ``terms_from_schools`` (take terms from each school's ``Terms``
  list instead of calling ``schools/{sc}/terms``; default true), ``probe_short_pages`` (default true: after a
  paged unit's first page comes back shorter than ``page_size`` but not empty, ask once for the records after
  it, to tell the unit's end from a server that caps the rows per request; one extra request per such school,
  fewer once a cap or a genuine end is known; false trusts a short page as the end) and ``unavailable_year``
  (what :meth:`AeriesHook.check_database_year` does when Aeries does not offer the school year asked for:
  ``"newest_started"``, the default, or ``"fail"``). ``verify_ssl`` is true,
  false or the path of a CA bundle; a host over plain ``http://`` or ``verify_ssl: false`` is refused unless the
  extra says ``allow_insecure: true`` (test servers only; logged as a warning), see
  :mod:`aeries_hub.connection_extras`. A ``null`` value (what the connection form saves for an empty field)
  is the default; any other key is refused, naming the closest valid one
  (:data:`aeries_hub.connection_extras.AERIES_CONN_FIELDS`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from aeries_hub.aeries.errors import AeriesConfigError
from aeries_hub.aeries.logs import log
from aeries_hub.connection_extras import (
    AERIES_CONN_FIELDS,
    ExtraError,
    check_known_extras,
    extra_flag,
    tls_verification,
)

#: The connection extra ``max_page_bytes``'s default: 64 MiB, some 60 times a 500-student page.
DEFAULT_MAX_PAGE_BYTES = 64 << 20

#: The connection extra ``unavailable_year``: read the newest offered year that has started, or fail.
UNAVAILABLE_YEAR_RULES = ("newest_started", "fail")


@dataclass(frozen=True)
class AeriesSettings:
    """An Aeries connection's settings (see the module's docstring); the certificate is not one of them."""

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
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES

    @property
    def api_prefix(self) -> str:
        """The path of the API under the base URL: ``/api`` for version 1, else ``/api/vN``."""
        return "/api" if self.api_version == 1 else f"/api/v{self.api_version}"


def normalise_base_url(host: str, port: int | None = None, schema: str | None = None) -> str:
    """The connection's host as a base URL: https when no scheme is given, the port and (URI-style
    connections) the path from ``schema`` added, no trailing slash. ValueError when the host is empty."""
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


def settings_from_connection(conn: Any, conn_id: str, *, database_year: int | None, school_year: int | None,
                             redact: Callable[[str], str]) -> AeriesSettings:
    """The settings of connection ``conn`` (an Airflow Connection); AeriesConfigError naming every problem.

    The school year read is ``database_year`` (the hook's argument), else the extra's ``database_year``, else
    ``school_year`` (the run's). ``redact`` removes the certificate from the text of an error."""
    try:
        extra = conn.extra_dejson or {}
    except Exception:  # noqa: BLE001 - a malformed extra
        raise AeriesConfigError(f"Connection {conn_id!r}: the extra is not valid JSON") from None
    if not isinstance(extra, dict):
        raise AeriesConfigError(f"Connection {conn_id!r}: the extra must be a JSON object")
    # The connection form saves an empty field as null: the extra's default, as if the key were not there.
    extra = {key: value for key, value in extra.items() if value is not None}
    try:
        check_known_extras(extra, AERIES_CONN_FIELDS, conn_id)
        base_url = normalise_base_url(conn.host or "", conn.port, conn.schema)
        verify_ssl = tls_verification(extra, urlsplit(base_url).scheme, conn_id, log)
        terms_from_schools = extra_flag(extra, "terms_from_schools", True, conn_id)
        probe_short_pages = extra_flag(extra, "probe_short_pages", True, conn_id)
    except ExtraError as exc:
        raise AeriesConfigError(str(exc)) from None
    except ValueError as exc:
        raise AeriesConfigError(f"Connection {conn_id!r} is misconfigured: {exc}") from None
    try:
        max_concurrency = int(extra.get("max_concurrency", 4))
        year = database_year
        if year is None and extra.get("database_year") not in (None, ""):
            year = int(extra["database_year"])
        if year is None:
            year = school_year
        settings = AeriesSettings(
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
            max_page_bytes=int(extra.get("max_page_bytes", DEFAULT_MAX_PAGE_BYTES)),
        )
    except (TypeError, ValueError) as exc:
        raise AeriesConfigError(f"Connection {conn_id!r} is misconfigured: {redact(str(exc))}") from None
    problems = _problems(settings, extra)
    if problems:
        raise AeriesConfigError(f"Connection {conn_id!r} is misconfigured: {'; '.join(problems)}")
    return settings


def _problems(settings: AeriesSettings, extra: dict[str, Any]) -> list[str]:
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
    if settings.max_page_bytes < 1:
        problems.append("max_page_bytes must be at least 1")
    if settings.prefetch_pages < 0:
        problems.append("prefetch_pages must be 0 or more")
    if settings.unavailable_year not in UNAVAILABLE_YEAR_RULES:
        problems.append(f"unavailable_year must be \"newest_started\" or \"fail\", not "
                        f"{json.dumps(extra.get('unavailable_year'))}")
    return problems
