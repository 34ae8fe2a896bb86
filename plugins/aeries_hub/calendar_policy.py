"""A vendor's calendar (the mapping's ``calendar``): blackout date ranges, in which nothing is delivered, and
additions-only windows, in which deliveries hold changes and removals (:mod:`aeries_hub.delivery.holds`).

Each range is named and runs from ``start`` to ``end``, both days included, in the time zone of the mapping's
schedule (UTC without one); a run falls in it by its date (:func:`aeries_hub.extract.school_year.run_date`). A
blackout wins over an additions-only window on the same day. Light on purpose: imported at DAG parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class DateRange:
    """A named range of days, both ends included (ISO dates as the mapping spells them; checked at load)."""

    name: str
    start: str
    end: str

    def contains(self, day: date) -> bool:
        return self.start <= day.isoformat() <= self.end  # ISO dates sort as the days do


@dataclass(frozen=True)
class CalendarPolicy:
    blackouts: tuple[DateRange, ...] = ()
    additions_only: tuple[DateRange, ...] = ()

    @classmethod
    def from_config(cls, config: dict | None) -> CalendarPolicy:
        config = config or {}
        return cls(**{kind: tuple(DateRange(r["name"], r["start"], r["end"]) for r in config.get(kind) or ())
                      for kind in ("blackouts", "additions_only")})

    def blackout_on(self, day: date) -> DateRange | None:
        return next((r for r in self.blackouts if r.contains(day)), None)

    def additions_only_on(self, day: date) -> DateRange | None:
        return next((r for r in self.additions_only if r.contains(day)), None)

    def problems(self) -> list[str]:
        """Each range whose days are not real dates or that ends before it starts, as ``<key path>: <problem>``."""
        problems = []
        for kind in ("blackouts", "additions_only"):
            ranges = getattr(self, kind)
            for i, item in enumerate(ranges):
                at = f"calendar.{kind}[{i}]"
                bad = [f"{at}.{end}: {getattr(item, end)!r} is not a date (YYYY-MM-DD)"
                       for end in ("start", "end") if not _is_date(getattr(item, end))]
                if bad:
                    problems += bad
                elif item.end < item.start:
                    problems.append(f"{at}: {item.name!r} ends on {item.end}, before it starts on {item.start}; "
                                    "a range's end is its last day, on or after its start")
            names = [item.name for item in ranges]
            problems += [f"calendar.{kind}: {name!r} names more than one range"
                         for name in sorted({n for n in names if names.count(n) > 1})]
        return problems


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def blackout_line(blackout: DateRange) -> str:
    """The report's reason for a run in a blackout."""
    return f"held: blackout {blackout.name} until {blackout.end}; nothing was delivered (calendar.blackouts)"


def additions_only_line(window: DateRange) -> str:
    """Why a delivery held changes and removals."""
    return f"additions only: {window.name} until {window.end} (calendar.additions_only)"
