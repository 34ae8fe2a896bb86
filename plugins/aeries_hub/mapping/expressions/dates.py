"""The date and time functions of expressions. A ``date`` is a pandas datetime64 Series at midnight (NaT: no date),
a ``datetime`` one that knows its time zone. Aeries writes dates and times as local text, ``YYYY-MM-DD`` or
``YYYY-MM-DDTHH:MM:SS``; ``0001-01-01`` and ``1900-01-01`` are its "no date".

Time zones are IANA names (zoneinfo): an offset is the one in force on that date, so a Los Angeles time is
-07:00 in summer and -08:00 in winter. A local time in the hour skipped in spring is read an hour later, one in
the hour repeated in autumn as its first (daylight) occurrence, as Python's zoneinfo reads them (fold=0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aeries_hub.mapping.expressions.registry import (
    DATE,
    DATETIME,
    NUMBER,
    TEXT,
    Param,
    format_problem,
    function,
    month_day_problem,
    zone_problem,
)

if TYPE_CHECKING:
    import pandas as pd

_NULL_DATES = ("0001-01-01", "1900-01-01")
_ZONE = Param("tz", (TEXT,), literal=True, check=zone_problem)
_MONTH_DAY = Param("month_day", (TEXT,), literal=True, default="07-01", check=month_day_problem)
#: ISO 8601 with the offset written +HH:MM (``%:z``, which strftime only has from Python 3.12).
ISO_DATETIME = "%Y-%m-%dT%H:%M:%S%:z"


def dates_of(values: pd.Series) -> pd.Series:
    """Aeries date text as dates (the first ten characters; blank, unreadable and Aeries' "no date" are NaT)."""
    import pandas as pd

    day = values.str.strip().str.slice(0, 10)
    return pd.to_datetime(day.where(~day.isin(_NULL_DATES), ""), format="%Y-%m-%d", errors="coerce")


def date_text(dates: pd.Series, fmt: str = "%Y-%m-%d") -> pd.Series:
    """Dates (or date-times) as text in a strftime format, blank for NaT; ``%:z`` writes the offset as -07:00.
    Written once per distinct value (dates repeat)."""
    from aeries_hub.mapping.text import TEXT as DTYPE
    from aeries_hub.mapping.text import per_distinct

    def written(value) -> str:
        if value is None or value != value:
            return ""
        if "%:z" in fmt:
            offset = value.strftime("%z")
            return value.strftime(fmt.replace("%:z", f"{offset[:3]}:{offset[3:]}" if offset else ""))
        return value.strftime(fmt)

    return per_distinct(dates, written).astype(DTYPE).fillna("")


@function("date", Param("x", (TEXT,)), returns=DATE, example="date(EnterDate)")
def _date(ctx, x):
    """An Aeries date (YYYY-MM-DD, or the date of YYYY-MM-DDTHH:MM:SS) as a date; blank, 0001-01-01 and
    1900-01-01 are no date."""
    return dates_of(x)


@function("today", returns=DATE, example="date(EndDate) < today()")
def _today(ctx):
    """The run's date in the mapping's time zone (the same for a re-run of the run; templates write it
    {run_date:%Y-%m-%d}, expressions also run_date)."""
    import pandas as pd

    return pd.Series(pd.Timestamp(ctx.run_date()), index=ctx.index)


@function("format_date", Param("d", (DATE, DATETIME)), Param("fmt", (TEXT,), literal=True, default="%Y-%m-%d",
                                                           check=format_problem),
          returns=TEXT, example="format_date(date(Birthdate), '%m/%d/%Y')")
def _format_date(ctx, d, fmt):
    """The date written in a strftime format (default YYYY-MM-DD); no date is blank."""
    return date_text(d, fmt)


@function("add_days", Param("d", (DATE, DATETIME)), Param("n", (NUMBER,)), returns=DATE,
          example="add_days(date(EndDate), 1)")
def _add_days(ctx, d, n):
    """The date n days later (earlier for a negative n)."""
    import pandas as pd

    return d + pd.to_timedelta(n, unit="D")


@function("days_between", Param("a", (DATE,)), Param("b", (DATE,)), returns=NUMBER,
          example="days_between(date(EnterDate), today()) >= 30")
def _days_between(ctx, a, b):
    """The number of days from a to b (negative when b is earlier); blank without both dates."""
    return (b - a).dt.days.astype("float64")


@function("year", Param("d", (DATE, DATETIME)), returns=NUMBER, example="year(date(Birthdate))")
def _year(ctx, d):
    """The year of the date."""
    return d.dt.year.astype("float64")


@function("datetime", Param("x", (TEXT, DATE)), _ZONE, returns=DATETIME,
          example="datetime(LastUpdated, 'America/Los_Angeles')")
def _datetime(ctx, x, tz):
    """Aeries local date-time text (YYYY-MM-DDTHH:MM:SS, or a date: midnight) read as a time in the IANA zone tz;
    no date is blank."""
    import numpy as np
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(x.dtype):
        stripped = x.str.strip().str.slice(0, 19)
        null = stripped.str.slice(0, 10).isin(_NULL_DATES)
        x = pd.to_datetime(stripped.where(~null, ""), format="ISO8601", errors="coerce")
    return x.dt.tz_localize(tz, ambiguous=np.ones(len(x), dtype=bool), nonexistent=pd.Timedelta(hours=1))


@function("format_datetime", Param("dt", (DATETIME,)),
          Param("fmt", (TEXT,), literal=True, default=ISO_DATETIME, check=format_problem),
          Param("tz", (TEXT,), literal=True, default="", check=lambda tz: zone_problem(tz) if tz else None),
          returns=TEXT, example="format_datetime(datetime(LastUpdated, 'America/Los_Angeles'))")
def _format_datetime(ctx, dt, fmt, tz):
    """The date-time written in a strftime format, by default ISO 8601 with the offset of that date
    (2026-07-01T08:00:00-07:00); %:z writes the offset as -07:00, %z as -0700. With tz, first converted to that
    IANA zone (e.g. 'UTC'). No date is blank."""
    return date_text(dt.dt.tz_convert(tz) if tz else dt, fmt)


@function("school_year_start", Param("d", (DATE,)), _MONTH_DAY, returns=DATE,
          example="school_year_start(date(EnterDate))")
def _school_year_start(ctx, d, month_day):
    """The first day of the school year the date falls in, school years starting each year on month_day
    (MM-DD, default 07-01): 2027-03-15 is in the school year starting 2026-07-01."""
    return _start_of_year(d, month_day)


@function("school_year", Param("d", (DATE,)), _MONTH_DAY, returns=TEXT, example="school_year(date(EnterDate))")
def _school_year(ctx, d, month_day):
    """The school year the date falls in, written as Aeries writes it (2026-2027), school years starting on
    month_day (default 07-01); blank without a date."""
    start = _start_of_year(d, month_day).dt.year
    from aeries_hub.mapping.text import TEXT as DTYPE

    written = start.astype("Int64").astype(DTYPE) + "-" + (start + 1).astype("Int64").astype(DTYPE)
    return written.fillna("")


def _start_of_year(d: pd.Series, month_day: str) -> pd.Series:
    import pandas as pd

    month, day = int(month_day[:2]), int(month_day[3:])
    before = (d.dt.month < month) | ((d.dt.month == month) & (d.dt.day < day))
    year = d.dt.year - before.astype("int64")
    parts = pd.DataFrame({"year": year, "month": month, "day": day})
    return pd.to_datetime(parts.where(d.notna()), errors="coerce")
