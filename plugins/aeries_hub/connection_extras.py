"""The transport settings of the hub's HTTP connections (Aeries, vendor APIs), read the same way everywhere.

Transport fails closed: a connection over plain ``http://`` or with ``verify_ssl: false`` is refused unless its
extra says ``allow_insecure: true``, and then every use logs a warning. That is for test servers on localhost
(the emulator, the demo stack): a real Aeries certificate or vendor token must never travel unencrypted or to a
server whose certificate is not checked. A true/false extra is JSON ``true``/``false`` (or the text
``"true"``/``"false"``, as an Airflow URI gives it): anything else (``null``, ``0``, ``[]``, ``"no"``) is a load
error naming the connection and the extra, never read as false (the Aeries hook drops ``null`` extras first:
its connection form saves an empty field as ``null``). An extra key the connection type does not know
is a load error too (:func:`check_known_extras`), naming the closest valid key: a misspelt setting would
otherwise be silently ignored.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

#: The one extra that lets a connection use plain http or skip certificate checks.
ALLOW_INSECURE = "allow_insecure"


class ExtraError(ValueError):
    """An extra the hub cannot use; the message names the connection and the extra."""


def check_known_extras(extra: dict[str, Any], known: Iterable[str], conn_id: str) -> None:
    """Refuse every key of ``extra`` that is not in ``known``.

    :raises ExtraError: ``connection 'x': unknown extra 'page_sise' (did you mean 'page_size'?); the extras this
        connection type reads are: ...``
    """
    known = sorted(known)
    unknown = [key for key in extra if key not in known]
    if not unknown:
        return
    named = []
    for key in unknown:
        closest = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        named.append(f"{key!r} (did you mean {closest[0]!r}?)" if closest else repr(key))
    raise ExtraError(f"connection {conn_id!r}: unknown extra {', '.join(named)}; the extras this connection type "
                     f"reads are: {', '.join(known)}")


def extra_flag(extra: dict[str, Any], key: str, default: bool, conn_id: str) -> bool:
    """The true/false extra ``key`` (``default`` when absent)."""
    if key not in extra:
        return default
    value = extra[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ExtraError(f"connection {conn_id!r}: extra {key} must be true or false, not {json.dumps(value)}")


def tls_verification(extra: dict[str, Any], scheme: str, conn_id: str, log: logging.Logger) -> bool | str:
    """requests' ``verify`` for the connection: True, a CA bundle path, or False (only with allow_insecure).

    :param scheme: the scheme the connection's URL ends up with (``http`` or ``https``).
    :raises ExtraError: plain http or ``verify_ssl: false`` without ``allow_insecure: true``, or a bad extra.
    """
    value = extra.get("verify_ssl", True)
    if isinstance(value, str) and value.strip().lower() not in ("true", "false"):
        if not os.path.isfile(value):
            raise ExtraError(f"connection {conn_id!r}: extra verify_ssl must be true, false or the path of a CA bundle "
                             f"file; {json.dumps(value)} is none of them")
        verify: bool | str = value
    else:
        verify = extra_flag(extra, "verify_ssl", True, conn_id)
    allowed = extra_flag(extra, ALLOW_INSECURE, False, conn_id)
    insecure = [what for what, used in (
        ("plain http:// (the credentials and student data travel unencrypted)", scheme == "http"),
        ("verify_ssl false (any server can pretend to be this one)", verify is False),
    ) if used]
    if insecure and not allowed:
        raise ExtraError(f"connection {conn_id!r} uses {' and '.join(insecure)}: use https with certificate checks, "
                         f"or, for a test server only, set the extra {ALLOW_INSECURE}: true")
    if insecure:
        log.warning("INSECURE: connection %r uses %s, allowed by its extra %s: true; never use it for real student "
                    "data", conn_id, " and ".join(insecure), ALLOW_INSECURE)
    return verify


def _field(label: str, types: list[str], description: str, default: Any = None, **schema: Any) -> dict[str, Any]:
    definition = {"type": types, **({"default": default} if default is not None else {}), **schema}
    return {"label": label, "description": description, "schema": definition}


#: The extras of an ``aeries`` connection as the Airflow UI's form fields (provider info ``conn-fields``); their
#: keys are every extra the Aeries hook reads (:func:`check_known_extras`).
AERIES_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "api_version": _field("API version", ["integer", "null"], "Aeries API version in the URL path.", 5, minimum=1),
    "database_year": _field("Database year", ["integer", "null"],
                            "Pin the Aeries DatabaseYear read (e.g. 2025); empty: the run's school year."),
    "unavailable_year": _field("When the school year is not offered", ["string", "null"],
                               "newest_started: read the newest offered year that has started; fail: stop the run.",
                               "newest_started", enum=["newest_started", "fail"]),
    "timeout": _field("Timeout (seconds)", ["number", "null"], "Seconds to wait for an answer.", 30),
    "max_concurrency": _field("Concurrent requests", ["integer", "null"], "Requests at most at a time per hook.", 4,
                              minimum=1),
    "page_size": _field("Page size", ["integer", "null"], "Records asked per page of a paged endpoint.", 500,
                        minimum=1),
    "max_page_bytes": _field("Largest page (bytes)", ["integer", "null"],
                             "An answer of a paged endpoint larger than this fails the extract, read no further.",
                             64 << 20, minimum=1),
    "prefetch_pages": _field("Pages fetched ahead", ["integer", "null"],
                             "Pages fetched ahead speculatively at a paged extract's end; empty: concurrency - 1; "
                             "0 turns it off.", minimum=0),
    "probe_short_pages": _field("Probe short pages", ["boolean", "null"],
                                "After a short first page, ask once for the records after it (tells a unit's end "
                                "from a server that caps the rows per request).", True),
    "terms_from_schools": _field("Terms from schools", ["boolean", "null"],
                                 "Take terms from each school's Terms list instead of calling schools/{sc}/terms.",
                                 True),
    "max_retries": _field("Retries", ["integer", "null"], "Retries of a request (429, 5xx, timeouts).", 6, minimum=0),
    "backoff_base": _field("Backoff base (seconds)", ["number", "null"],
                           "The first retry waits up to this long, doubling per retry.", 0.5, minimum=0),
    "backoff_max": _field("Backoff cap (seconds)", ["number", "null"], "The longest wait between retries.", 30,
                          minimum=0),
    "verify_ssl": _field("Verify TLS certificate", ["string", "null"],
                         "true, false or the path of a CA bundle file; false needs allow_insecure.", "true"),
    ALLOW_INSECURE: _field("Allow insecure transport", ["boolean", "null"],
                           "Let plain http:// or verify_ssl false through (test servers only; logged as a warning).",
                           False),
}

#: The ``aeries`` connection form's standard fields (provider info ``ui-field-behaviour``).
AERIES_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "login", "extra"],
    "relabeling": {"host": "Aeries base URL (with its path, e.g. https://district.aeries.net/admin)",
                   "password": "API certificate"},
    "placeholders": {"host": "https://district.aeries.net/admin", "password": "32-character AERIES-CERT certificate"},
}
