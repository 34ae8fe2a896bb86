"""The hub view's HTML, from the Jinja2 templates beside this module, every value escaped (autoescape)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote

TEMPLATES = Path(__file__).resolve().parent / "templates"


def when(value: datetime | None) -> str:
    """``2026-12-03 23:14 UTC``, or nothing."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def url_segment(value: str) -> str:
    """A DAG or run id as one path segment (a run id holds ``:`` and ``+``)."""
    return quote(value, safe="")


@cache
def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.filters.update(when=when, urlsegment=url_segment)
    return env


def render(template: str, **values) -> str:
    return environment().get_template(template).render(**values)
