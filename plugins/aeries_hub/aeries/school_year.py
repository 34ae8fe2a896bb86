"""The school year Aeries serves: systeminfo's ``DatabaseYear`` against the year asked for.

Years are Aeries' DatabaseYear, the year the school year starts (2026 is 2026-2027).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from aeries_hub.aeries.errors import AeriesConfigError, AeriesNotFoundError


@dataclass(frozen=True)
class SchoolYear:
    """The school year an extraction reads (:meth:`AeriesHook.check_database_year`)."""

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


def settle_school_year(requested: int | None, get_system_info: Callable[..., dict[str, Any]], rule: str,
                       conn_id: str) -> SchoolYear:
    """The school year to read when ``requested`` is asked for (:meth:`AeriesHook.check_database_year`).

    Aeries serves its default year, silently, when the ``?DatabaseYear=`` asked for is not available;
    ``systeminfo`` says which year a request reads (``DatabaseYear``, ``"2026-2027"``; an int is accepted
    too) and which years it offers (``AvailableDatabaseYears``). When the year asked for is not offered,
    ``rule`` (the connection's extra ``unavailable_year``) decides: ``newest_started`` (default) reads the newest
    offered year not after it (for a run: the newest whose start has passed by the run's date, so a
    district keeps delivering through the July rollover) and says so in :attr:`SchoolYear.note`;
    ``fail`` raises AeriesConfigError naming the years Aeries offers.

    ``get_system_info(database_year=year)`` is systeminfo as a request for ``year`` sees it
    (:meth:`AeriesHook.get_system_info`)."""

    def system_info_for(year: int | None) -> dict[str, Any]:
        """{} from a server without systeminfo (then nothing is known)."""
        try:
            info = get_system_info(database_year=year)
        except AeriesNotFoundError:
            return {}
        return info if isinstance(info, dict) else {}

    info = system_info_for(requested)
    served = school_year_start(info.get("DatabaseYear"))
    listed = info.get("AvailableDatabaseYears")
    listed = listed if isinstance(listed, list) else []
    available = tuple(sorted({y for y in map(school_year_start, listed) if y is not None}, reverse=True))
    if requested is None:
        return SchoolYear(None, served, available)
    if served is None and not available:
        return SchoolYear(requested, requested, note=(
            f"Aeries' systeminfo did not say which school year it serves; the files are labelled with the "
            f"school year asked for, {school_year_label(requested)}"))
    if served == requested and (not available or requested in available):
        return SchoolYear(requested, served, available)
    return _fall_back(requested, served, available, rule, system_info_for, conn_id)


def _fall_back(requested: int, served: int | None, available: tuple[int, ...], rule: str,
               system_info_for: Callable[[int | None], dict[str, Any]], conn_id: str) -> SchoolYear:
    """The year asked for is not offered: the newest offered year not after it, or AeriesConfigError."""
    offered = available or ((served,) if served is not None else ())
    offers = ", ".join(school_year_label(y) for y in offered)
    missing = (f"Aeries connection {conn_id!r} does not offer the school year "
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
        served = school_year_start(system_info_for(chosen).get("DatabaseYear"))
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
