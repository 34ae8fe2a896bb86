"""A district's allowed pull window, e.g. "weekends from 8 p.m. to 2 a.m." (Xello, seed 003).

A window opens on each listed day at ``start`` and closes at ``end``, on the next day when ``end`` is not
after ``start``: Saturday 20:00-02:00 runs into Sunday morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class PullWindow:
    days: tuple[str, ...]
    start: time
    end: time
    timezone: str
    outside: str = "wait"  # wait | skip
    max_wait_hours: float = 24

    @classmethod
    def from_config(cls, config: dict) -> PullWindow:
        return cls(
            days=tuple(config["days"]),
            start=time.fromisoformat(config["start"]),
            end=time.fromisoformat(config["end"]),
            timezone=config["timezone"],
            outside=config.get("outside", "wait"),
            max_wait_hours=config.get("max_wait_hours", 24),
        )

    def _span(self, day: date) -> tuple[datetime, datetime]:
        tz = ZoneInfo(self.timezone)
        opens = datetime.combine(day, self.start, tzinfo=tz)
        closes_on = day if self.end > self.start else day + timedelta(days=1)
        return opens, datetime.combine(closes_on, self.end, tzinfo=tz)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(ZoneInfo(self.timezone))
        for day in (local.date(), local.date() - timedelta(days=1)):
            if DAYS[day.weekday()] in self.days:
                opens, closes = self._span(day)
                if opens <= local < closes:
                    return True
        return False

    def next_opening(self, moment: datetime) -> datetime:
        local = moment.astimezone(ZoneInfo(self.timezone))
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if DAYS[day.weekday()] in self.days:
                opens, _ = self._span(day)
                if opens > local:
                    return opens
        raise ValueError("a window with no days never opens")

    def describe(self) -> str:
        return f"{', '.join(self.days)} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"
