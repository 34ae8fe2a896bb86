"""What every route module uses: a path segment as a number, a record by its key or a 404."""

from __future__ import annotations

import re
from typing import Any, Mapping

from aeries_sandbox.emulator.errors import HttpError

__all__ = ["one", "parse_int"]


def one(table: Mapping[Any, Any], key: Any, message: str) -> Any:
    found = table.get(key)
    if found is None:
        raise HttpError(404, message)
    return found


def parse_int(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,12}", text):
        return None
    return int(text)
