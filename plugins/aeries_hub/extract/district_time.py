"""The district's local time, as Aeries stamps its changes: Aeries' clock, else its time zone, else the earliest."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from aeries_hub.aeries.hook import AeriesHook
    from aeries_hub.aeries.paging import RequestStats

log = logging.getLogger(__name__)

#: The latest offset behind UTC of any place (UTC-12): the district-local time assumed when Aeries tells
#: neither its clock nor its time zone, so that no change is ever missed (some are fetched twice).
_EARLIEST_OFFSET = timedelta(hours=-12)

#: Windows time-zone names of US districts -> IANA names. Aeries' ``LocalTimeZoneName`` is either the zone's id
#: ("Pacific Standard Time") or its display name, as in Aeries' documented systeminfo answer
#: ("(UTC-08:00) Pacific Time (US & Canada)"; aeripy's fixture spells the offset "(UTC-0:8:00)"): the display
#: name is matched without its offset.
_WINDOWS_ZONES = {
    "Pacific Standard Time": "America/Los_Angeles",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "Mountain Standard Time": "America/Denver",
    "Mountain Time (US & Canada)": "America/Denver",
    "US Mountain Standard Time": "America/Phoenix",
    "Arizona": "America/Phoenix",
    "Central Standard Time": "America/Chicago",
    "Central Time (US & Canada)": "America/Chicago",
    "Eastern Standard Time": "America/New_York",
    "Eastern Time (US & Canada)": "America/New_York",
    "Alaskan Standard Time": "America/Anchorage",
    "Alaska": "America/Anchorage",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Hawaii": "Pacific/Honolulu",
    "UTC": "UTC",
    "Coordinated Universal Time": "UTC",
}

#: "(UTC-08:00) Pacific Time (US & Canada)": the offset prefix of a Windows display name, however its digits are
#: grouped ("-08:00", "-0:8:00", "+05:30"), and the name after it.
_DISPLAY_NAME = re.compile(r"^\(UTC(?:(?P<sign>[+-])(?P<digits>[\d:]+))?\)\s*(?P<name>.*)$")


def district_now(hook: AeriesHook, stats: RequestStats, clock: Callable[[], datetime] | None = None) -> datetime:
    """The district's local time now (naive), as Aeries stamps changes: Aeries' own ``CurrentDateTime`` from
    systeminfo; else the hook's clock in Aeries' ``LocalTimeZoneName``; else the earliest local time anywhere."""
    now = (clock or (lambda: datetime.now(timezone.utc)))()
    info: dict[str, Any] = {}
    try:
        info = hook.get_system_info(stats=stats, max_retries=2)
    except Exception as exc:  # noqa: BLE001 - the fallbacks below are safe
        log.warning("Aeries systeminfo did not answer (%s); the district's time comes from this machine's clock", exc)
    return local_time(info, now)


def local_time(info: dict[str, Any], now_utc: datetime) -> datetime:
    current = info.get("CurrentDateTime")
    if isinstance(current, str):
        try:
            return datetime.fromisoformat(current.strip()).replace(tzinfo=None, microsecond=0)
        except ValueError:
            pass
    name = str(info.get("LocalTimeZoneName") or "").strip()
    display = _DISPLAY_NAME.match(name)
    zone_name = _WINDOWS_ZONES.get(display["name"] if display else name, name)
    if zone_name:
        try:
            from zoneinfo import ZoneInfo

            return now_utc.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None, microsecond=0)
        except (KeyError, ValueError, OSError):
            pass
    # An unknown display name still states its standard offset: during daylight saving time that is an hour
    # early, which, like the earliest zone below, only asks for changes again.
    offset = _standard_offset(display) if display else None
    return (now_utc.astimezone(timezone.utc) + (_EARLIEST_OFFSET if offset is None else offset)).replace(
        tzinfo=None, microsecond=0)


def _standard_offset(display: re.Match[str]) -> timedelta | None:
    if not display["sign"]:
        return timedelta(0)
    digits = display["digits"].replace(":", "")
    if not digits.isdigit() or len(digits) not in (3, 4):
        return None
    hours, minutes = int(digits[:-2]), int(digits[-2:])
    if hours > 14 or minutes >= 60:
        return None
    return (1 if display["sign"] == "+" else -1) * timedelta(hours=hours, minutes=minutes)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")

