"""How the emulator pages list answers: ``StartingRecord``/``EndingRecord``, the routes that ignore them, a row cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from aeries_sandbox.emulator.errors import HttpError

__all__ = ["PAGED_ROUTES", "DEFAULT_UNPAGED_ROUTES", "PagingConfig", "requested_range"]


#: The list routes that take ``StartingRecord``/``EndingRecord`` in the emulator's API.
PAGED_ROUTES = ("students", "contacts", "classes", "section_students", "course_requests")
#: The routes whose answers ignore the paging parameters unless told otherwise. Aeries documents
#: ``StartingRecord``/``EndingRecord`` for the student endpoints only (support article 14000113683; the
#: Posh-AeriesApi client pages only ``Get-AeriesStudent``), so by default every other list answers whole.
DEFAULT_UNPAGED_ROUTES = ("contacts", "classes", "section_students", "course_requests")


@dataclass(frozen=True)


class PagingConfig:
    """How the emulator pages: ``unpaged_routes`` answer whole whatever the range asked; every list answer of a
    paged route is cut to ``max_rows_per_request`` rows (None: no cap)."""

    unpaged_routes: frozenset[str] = frozenset(DEFAULT_UNPAGED_ROUTES)
    max_rows_per_request: int | None = None

    @classmethod
    def build(cls, unpaged_routes: Any = None, max_rows_per_request: Any = None) -> PagingConfig:
        """From ``"contacts,classes"``, a list, ``"none"``/``""``/``[]`` (every route pages) or None (the default);
        ValueError naming a route that does not exist or a cap that is not a positive whole number."""
        if unpaged_routes is None:
            routes: frozenset[str] = frozenset(DEFAULT_UNPAGED_ROUTES)
        else:
            if isinstance(unpaged_routes, str):
                items = [] if unpaged_routes.strip().lower() == "none" else unpaged_routes.split(",")
            elif isinstance(unpaged_routes, (list, tuple, set, frozenset)):
                items = list(unpaged_routes)
            else:
                raise ValueError("unpaged_routes must be a comma-separated string or a list of route names")
            routes = frozenset(str(item).strip() for item in items if str(item).strip())
            unknown = sorted(routes - set(PAGED_ROUTES))
            if unknown:
                raise ValueError(f"unpaged_routes: unknown routes {unknown}; paged routes: {', '.join(PAGED_ROUTES)}")
        cap = max_rows_per_request
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"max_rows_per_request must be null or a whole number of at least 1, not {cap!r}")
        return cls(routes, cap)

    def to_json(self) -> dict[str, Any]:
        return {"unpaged_routes": sorted(self.unpaged_routes), "max_rows_per_request": self.max_rows_per_request}


def requested_range(rows: list[dict[str, Any]], params: Mapping[str, str]) -> list[dict[str, Any]]:
    """``StartingRecord``/``EndingRecord``: 1-based and inclusive; either may be left out."""
    start_text = params.get("startingrecord")
    end_text = params.get("endingrecord")
    if not start_text and not end_text:
        return rows
    try:
        start = int(start_text) if start_text else 1
        end = int(end_text) if end_text else len(rows)
    except ValueError:
        raise HttpError(400, "StartingRecord and EndingRecord must be whole numbers") from None
    start = max(start, 1)
    if end < start:
        return []
    return rows[start - 1:end]
