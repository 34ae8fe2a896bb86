"""Retry timing shared by the HTTP clients (the Aeries hook, the vendor API delivery)."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

#: HTTP statuses worth another attempt: rate limiting and server trouble.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds before retry ``attempt`` (0 for the first retry): full jitter on an exponential backoff,
    but never sooner than the server's ``Retry-After``."""
    delay = random.uniform(0, min(cap, base * 2**attempt))
    return max(delay, retry_after) if retry_after is not None else delay


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
