"""What the end-to-end tests use to compute a vendor's expected files from the emulator's own data files,
independently of the mapping engine: Aeries values as the vendor sees them, and the order of a file's rows."""

from __future__ import annotations

import re


def s(value) -> str:
    """An Aeries value as text: null is blank, codes lose their padding, 10.0 is 10."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def day(value) -> str:
    """An Aeries date as YYYY-MM-DD; blank for null and for Aeries' null date 0001-01-01."""
    text = s(value)[:10]
    return "" if not text or text.startswith("0001-") else text


def natural(*keys: str) -> tuple:
    """Sort key of a row by its key columns: numbers inside the text compare as numbers (9 < 10)."""
    return tuple(re.sub(r"\d+", lambda m: m.group(0).zfill(20), k) for k in keys)
