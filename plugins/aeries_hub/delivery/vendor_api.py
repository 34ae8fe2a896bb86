"""``VendorApiHook``: a vendor's HTTPS API (imports, export files) over an Airflow ``http`` connection.

    hook = VendorApiHook("schoolmint_enroll", retry=RetryPolicy(max_attempts=5))
    answer, status, attempts = hook.post_batch("/api/v1/students/import", body, idempotency_key=key, label="batch 1")
    data = hook.get_bytes("/api/v1/exports", label="the export list", max_bytes=10_000_000)

Connection (``conn_type`` http): ``schema`` http or https (default https), ``host`` (it may carry a path),
``port``; the API token in ``password`` (sent as ``Authorization: Bearer``), or ``login`` + ``password`` with
extra ``auth: basic``. Extra: ``timeout`` (seconds, default 30), ``verify_ssl`` (true, the default; false; or
a CA bundle's path), ``endpoint_prefix`` (put before every endpoint, e.g. ``/sandbox``), ``headers`` (static
headers). Schema http or ``verify_ssl: false`` is refused unless the extra says ``allow_insecure: true`` (test
servers only; logged as a warning): see :mod:`aeries_hub.connection_extras`. Any other extra key is refused,
naming the closest valid one. A problem with the connection is a :class:`DeliveryError` saying what to set.

One retry policy (:class:`RetryPolicy`, run by tenacity as ``HttpHook.run_with_advanced_retry`` does): 429, 500,
502, 503 and 504 answers, timeouts and failed or dropped connections are retried with exponential backoff and
full jitter (:mod:`aeries_hub.retrying`), never sooner than ``Retry-After`` (capped), and so is a 403 whose text
says "Rate Limit Exceeded" (Canvas's throttling). Other 401/403 fail at once ("check the API token"), other answers
fail at once with the status and the vendor's error text; redirects are not followed (the token would go with
them), and the token is only ever sent to the connection's own host. Requests that keep failing end in a
``retryable`` DeliveryError. The token and password never appear in logs or exception messages.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3
from airflow.providers.http.hooks.http import HttpHook

from aeries_hub.bounded import read_bounded
from aeries_hub.connection_extras import ExtraError, check_known_extras, tls_verification
from aeries_hub.delivery import DeliveryError
from aeries_hub.retrying import RETRY_STATUSES, backoff_delay, retry_after_seconds

__all__ = ["DeadlinePassed", "ResponseTooLarge", "RetryPolicy", "VendorApiHook"]

log = logging.getLogger(__name__)

#: Every extra key a vendor API connection may carry.
VENDOR_API_EXTRAS = ("auth", "endpoint_prefix", "headers", "timeout", "verify_ssl", "allow_insecure")
#: Longest vendor error text put into a message.
_ERROR_TEXT = 500
#: The most of an error answer's body read for its text.
_ERROR_BODY_BYTES = 64 * 1024

T = TypeVar("T")


class ResponseTooLarge(DeliveryError):
    """An answer to :meth:`VendorApiHook.get_bytes` is larger than its ``max_bytes``; it was not read whole."""


class DeadlinePassed(DeliveryError):
    """:meth:`VendorApiHook.get_bytes` reached its ``deadline`` before the answer was read whole."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long apart a request is tried: ``max_attempts`` in all; the first retry waits up to
    ``backoff_base`` seconds, doubling per attempt up to ``backoff_max``; a ``Retry-After`` wins, up to
    ``retry_after_max``. ``sleep`` is how to wait (tests pass a recorder)."""

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


class _WorthRetrying(Exception):
    """One attempt failed in a way another attempt may not: ``cause`` for the log, the server's Retry-After."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause, self.retry_after = cause, retry_after


@dataclass(frozen=True)
class _Settings:
    """What the hook read from its connection."""

    base_url: str
    auth: requests.auth.AuthBase = field(repr=False)
    headers: dict[str, str]
    timeout: float
    verify: bool | str
    secrets: tuple[str, ...] = field(repr=False)


class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` (an auth object, so that requests never adds ~/.netrc credentials)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class VendorApiHook(HttpHook):
    """A vendor's import/export API on an ``http`` connection: batches posted with idempotency keys, files
    fetched with a size bound, both under one :class:`RetryPolicy`. Not thread-safe: one session per hook."""

    conn_name_attr = "http_conn_id"
    default_conn_name = "vendor_api_default"
    conn_type = "http"
    hook_name = "Vendor API"

    def __init__(self, http_conn_id: str = default_conn_name, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(method="POST", http_conn_id=http_conn_id)
        self.retry = retry or RetryPolicy()
        self._settings: _Settings | None = None
        self._session: requests.Session | None = None

    # -- the connection -----------------------------------------------------------------------------
    @property
    def settings(self) -> _Settings:
        if self._settings is None:
            self._settings = self._read_connection()
        return self._settings

    def where(self, url: str) -> str:
        """How messages name the connection and a URL on it."""
        return f"http connection {self.http_conn_id!r} ({url})"

    def redact(self, text: str) -> str:
        """``text`` with the connection's token and password replaced by ``***``."""
        for secret in self.settings.secrets:
            text = text.replace(secret, "***")
        return text

    def url_from_endpoint(self, endpoint: str | None) -> str:
        """The URL of ``endpoint`` (after the connection's path and ``endpoint_prefix``), or ``endpoint`` itself
        when it is an absolute URL on the connection's own scheme, host and port (the token goes nowhere else)."""
        base = self.settings.base_url
        endpoint = endpoint or ""
        if "://" in endpoint:
            if urlsplit(endpoint)[:2] != urlsplit(base)[:2]:
                raise DeliveryError(f"{self.where(base)}: {_no_credentials(endpoint)} is on another host; the API "
                                    f"token is only sent to {urlsplit(base).netloc}")
            return endpoint
        return "/".join(p for p in (base.rstrip("/"), endpoint.strip("/")) if p)

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None
                 ) -> requests.Session:
        """The hook's one session (auth, TLS, static headers), kept for every request; ``headers`` are sent
        per request by :meth:`run`. ``extra_options`` may set ``stream`` and ``timeout``; redirects are never
        followed and answers are never checked here (the caller reads every status)."""
        settings = self.settings
        if self._session is None:
            session = requests.Session()
            session.auth = settings.auth
            session.verify = settings.verify
            session.headers.update(settings.headers)
            self.base_url, self._base_url_initialized = settings.base_url, True
            self._session = self._configure_session_from_mount_adapters(session)
        options = extra_options or {}
        self._session.stream = bool(options.get("stream", False))
        self.merged_extra = {"timeout": options.get("timeout", settings.timeout), "allow_redirects": False,
                             "check_response": False}
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> VendorApiHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read_connection(self) -> _Settings:
        conn_id = self.http_conn_id
        try:
            conn = self.get_connection(conn_id)
        except Exception as exc:
            if "notfound" in type(exc).__name__.lower():
                raise DeliveryError(
                    f"http connection {conn_id!r} is not defined: add it in Airflow (Admin > Connections) or as the "
                    f"AIRFLOW_CONN_{conn_id.upper()} environment variable, with the vendor API's host and the API "
                    "token as its password"
                ) from None
            raise DeliveryError(f"http connection {conn_id!r} cannot be read ({type(exc).__name__}); fix its "
                                "definition (host, password, extra as a JSON object)") from None
        if conn.conn_type and conn.conn_type.lower() not in ("http", "https"):
            raise DeliveryError(f"connection {conn_id!r} is of type {conn.conn_type!r}; the vendor API needs an http "
                                "connection")
        try:
            extra = conn.extra_dejson
        except Exception:  # noqa: BLE001 - an unreadable extra; its text may hold secrets, so it is not shown
            extra = None
        if not isinstance(extra, dict):
            raise DeliveryError(f"http connection {conn_id!r}: the extra must be a JSON object")
        try:
            check_known_extras(extra, VENDOR_API_EXTRAS, conn_id)
        except ExtraError as exc:
            raise DeliveryError(f"http {exc}") from None
        host = (conn.host or "").strip()
        if not host:
            raise DeliveryError(f"http connection {conn_id!r} has no host: set the vendor API's host name")
        address = urlsplit(host if "://" in host else f"//{host}")
        if address.username or address.password:
            raise DeliveryError(f"http connection {conn_id!r}: put no credentials in the host; the token goes in the "
                                "password")
        scheme = (conn.schema or address.scheme or "https").strip().lower()
        if scheme not in ("http", "https"):
            raise DeliveryError(f"http connection {conn_id!r}: schema {conn.schema!r} is not http or https")
        port = conn.port or address.port
        netloc = f"{address.hostname}:{port}" if port else address.hostname
        prefix = str(extra.get("endpoint_prefix") or "").strip("/")
        path = "/".join(p for p in (address.path.strip("/"), prefix) if p)
        base_url = f"{scheme}://{netloc}/{path}"

        mode = str(extra.get("auth") or "bearer").strip().lower()
        if mode not in ("bearer", "basic"):
            raise DeliveryError(f"http connection {conn_id!r}: extra auth {mode!r} is not bearer or basic")
        if not conn.password:
            what = "the API token" if mode == "bearer" else "the password (and the login)"
            raise DeliveryError(f"http connection {conn_id!r} has no API token: put {what} in the connection's password")
        if mode == "basic" and not conn.login:
            raise DeliveryError(f"http connection {conn_id!r} uses auth basic but has no login: set the login")
        auth = (_BearerAuth(conn.password) if mode == "bearer"
                else requests.auth.HTTPBasicAuth(conn.login or "", conn.password))

        headers = extra.get("headers") or {}
        if not isinstance(headers, dict) or any(str(k).lower() == "authorization" for k in headers):
            raise DeliveryError(f"http connection {conn_id!r}: extra headers must be an object of static headers, "
                                "without Authorization (the token goes in the password)")
        try:
            timeout = float(extra.get("timeout", 30))
        except (TypeError, ValueError):
            timeout = 0.0
        if not timeout > 0:
            raise DeliveryError(f"http connection {conn_id!r}: extra timeout must be a number of seconds above 0")
        try:
            verify = tls_verification(extra, scheme, conn_id, log)
        except ExtraError as exc:
            raise DeliveryError(f"http {exc}") from None
        return _Settings(
            base_url=base_url,
            auth=auth,
            headers={"Accept": "application/json", **{str(k): str(v) for k, v in headers.items()}},
            timeout=timeout,
            verify=verify,
            secrets=tuple(s for s in (conn.password, conn.login if mode == "basic" else None) if s),
        )

    # -- requests -----------------------------------------------------------------------------------
    def post_batch(self, endpoint: str, body: bytes, *, idempotency_key: str, label: str
                   ) -> tuple[dict[str, Any], int, int]:
        """POST the JSON ``body`` with ``Idempotency-Key``: :meth:`post_for_json`."""
        return self.post_for_json(endpoint, body, label=label, note="; nothing is imported twice when it is sent again",
                                  headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key})

    def post_for_json(self, endpoint: str, body: bytes, *, headers: dict[str, str], label: str, what: str = "the batch",
                      note: str = "") -> tuple[dict[str, Any], int, int]:
        """POST ``body`` (``what`` it is, for messages); the vendor's JSON object answer, its HTTP status, and how
        many attempts it took. A 2xx answer that is not a JSON object is retried."""
        url = self.url_from_endpoint(endpoint)

        def attempt() -> tuple[dict[str, Any], int]:
            response = self._send("POST", url, data=body, headers=headers)
            status = response.status_code
            error = "" if 200 <= status < 300 else self._vendor_text(response.content, response.encoding)
            self._raise_if_worth_retrying(response, error)
            if status in (401, 403):
                raise DeliveryError(f"{self.where(url)} answered HTTP {status} ({error}); "
                                    f"check the API token in connection {self.http_conn_id!r}")
            if 300 <= status < 400:
                raise DeliveryError(f"{self.where(url)} answered HTTP {status}, a redirect to "
                                    f"{_no_credentials(response.headers.get('Location') or '?')}, which is not "
                                    "followed: set the connection's host and endpoint_prefix to the final address")
            if not 200 <= status < 300:
                raise DeliveryError(f"{self.where(url)} refused {what} with HTTP {status}: {error}")
            try:
                answer = response.json()
            except ValueError:
                raise _WorthRetrying(f"HTTP {status} with a body that is not JSON") from None
            if not isinstance(answer, dict):
                raise _WorthRetrying(f"HTTP {status} with a JSON {type(answer).__name__}, not an object")
            return answer, status

        (answer, status), attempts = self._with_retries(attempt, f"{label} to {url}", f"{label} to {self.where(url)}", note)
        return answer, status, attempts

    def get_bytes(self, endpoint: str, *, label: str, max_bytes: int, deadline: float | None = None) -> bytes:
        """GET ``endpoint`` (or an absolute URL on the connection's host) and give its body, decoded (gzip), at
        most ``max_bytes`` of it: a larger answer is :class:`ResponseTooLarge`, read no further. ``deadline``
        (a ``time.monotonic()`` value) bounds every wait and read: past it is :class:`DeadlinePassed`, so a
        server that trickles a byte at a time is cut off too. ``label`` names what is fetched in messages."""
        url = self.url_from_endpoint(endpoint)
        where = self.where(url)

        def left() -> float:
            return float("inf") if deadline is None else deadline - time.monotonic()

        def check_deadline() -> None:
            if left() <= 0:
                raise DeadlinePassed(f"{where}: cut off while reading {label}: past the fetch's deadline")

        def too_large() -> ResponseTooLarge:
            return ResponseTooLarge(f"{where}: {label} is larger than {max_bytes} bytes")

        def read(response: requests.Response, limit: int, cut: bool) -> bytes:
            return read_bounded(lambda size: response.raw.read1(size, decode_content=True), limit,
                                check_deadline=check_deadline, too_large=None if cut else too_large)

        def attempt() -> bytes:
            check_deadline()
            # A socket read waits at most the connection's timeout, and never past the deadline.
            timeout = max(min(self.settings.timeout, left()), 0.001)
            try:
                with self._send("GET", url, extra_options={"stream": True, "timeout": timeout}) as response:
                    status = response.status_code
                    if 200 <= status < 300:
                        length = response.headers.get("Content-Length", "")
                        if length.isdigit() and int(length) > max_bytes:
                            raise too_large()
                        return read(response, max_bytes, cut=False)
                    # Only the start of an error answer: its text is shown cut anyway.
                    error = self._vendor_text(read(response, _ERROR_BODY_BYTES, cut=True), response.encoding)
            except _WorthRetrying:
                check_deadline()
                raise
            except urllib3.exceptions.TimeoutError:  # while the body streams
                check_deadline()
                raise _WorthRetrying(f"no answer within {timeout:g} s") from None
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
                raise _WorthRetrying(f"connection failed ({self.redact(reason_text(exc))})") from None
            self._raise_if_worth_retrying(response, error)
            if status in (401, 403):
                raise DeliveryError(f"{where} answered HTTP {status} to {label} ({error}); "
                                    f"check the API token in connection {self.http_conn_id!r}")
            raise DeliveryError(f"{where} answered HTTP {status} to {label}: {error}")

        data, _attempts = self._with_retries(attempt, f"{label} from {url}", f"{label} from {where}", "",
                                             left=left)
        return data

    def _send(self, method: str, url: str, **options: Any) -> requests.Response:
        """One request through ``HttpHook.run``; transport failures worth another attempt are
        :class:`_WorthRetrying`, a TLS failure is a DeliveryError."""
        timeout = (options.get("extra_options") or {}).get("timeout", self.settings.timeout)
        self.method = method  # HttpHook.run sends self.method (as the dbt Cloud hook sets it per request)
        try:
            return self.run(url, **options)
        except requests.exceptions.SSLError as exc:
            raise DeliveryError(f"TLS failed with {self.where(url)}: {self.redact(reason_text(exc))}; check the "
                                "server's certificate (or give the extra verify_ssl a CA bundle path)") from None
        except requests.exceptions.Timeout:
            raise _WorthRetrying(f"no answer within {timeout:g} s") from None
        except requests.exceptions.RequestException as exc:
            raise _WorthRetrying(f"connection failed ({self.redact(reason_text(exc))})") from None

    def _raise_if_worth_retrying(self, response: requests.Response, error: str) -> None:
        """``error``: the vendor's error text in the answer (:meth:`_vendor_text`)."""
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if response.status_code in RETRY_STATUSES:
            raise _WorthRetrying(f"HTTP {response.status_code} ({error})", retry_after)
        # Canvas throttles with "403 Forbidden (Rate Limit Exceeded)", to be retried later, not a bad token:
        # https://canvas.instructure.com/doc/api/file.throttling.html
        if response.status_code == 403 and "rate limit exceeded" in error.lower():
            raise _WorthRetrying(f"HTTP 403 ({error})", retry_after)

    def _with_retries(self, attempt: Callable[[], T], doing: str, failing: str, note: str, *,
                      left: Callable[[], float] | None = None) -> tuple[T, int]:
        """``attempt()``'s result and the number of attempts, under :attr:`retry`; ``doing`` heads the warning of
        each retry, ``failing`` (and ``note``) the retryable DeliveryError when every attempt failed."""
        policy = self.retry

        def wait(state: tenacity.RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            retry_after = getattr(failure, "retry_after", None)
            if retry_after is not None:
                retry_after = min(retry_after, policy.retry_after_max)
            delay = backoff_delay(state.attempt_number - 1, policy.backoff_base, policy.backoff_max, retry_after)
            return delay if left is None else min(delay, max(left(), 0.0))

        def warn(state: tenacity.RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            log.warning("%s: %s; attempt %d of %d, next in %.2f s", doing, getattr(failure, "cause", failure),
                        state.attempt_number, policy.max_attempts,
                        state.next_action.sleep if state.next_action else 0.0)

        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(policy.max_attempts), wait=wait,
                                     sleep=policy.sleep, retry=tenacity.retry_if_exception_type(_WorthRetrying),
                                     before_sleep=warn, reraise=True)
        try:
            for trying in retrying:
                with trying:
                    result = attempt()
        except _WorthRetrying as last:
            raise DeliveryError(f"{failing} kept failing after {policy.max_attempts} attempts; last cause: "
                                f"{last.cause}{note}", retryable=True) from None
        return result, trying.retry_state.attempt_number

    def _vendor_text(self, body: bytes, encoding: str | None) -> str:
        """The vendor's error text in an answer's ``body`` (in the ``encoding`` its Content-Type gives, else
        UTF-8), at most 500 characters, never with a secret in it."""
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            try:
                text = body.decode(encoding or "utf-8", errors="replace")
            except LookupError:  # a charset Python does not know
                text = body.decode("utf-8", errors="replace")
        else:
            text = str(document.get("error") or document.get("message") or document.get("Message") or document) \
                if isinstance(document, dict) else str(document)
        text = " ".join(text.split()) or "no message"
        return self.redact(text)[:_ERROR_TEXT]


def reason_text(exc: BaseException) -> str:
    """A requests error, shortly (its text carries the host and path, never headers)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"


def _no_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        return parts._replace(netloc=parts.hostname or "").geturl()
    return url
