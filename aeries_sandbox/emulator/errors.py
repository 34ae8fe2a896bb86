"""The error answer every sandbox server sends: ``HttpError(status, message)`` -> ``{"Message": message}``.

In its own module so that :mod:`aeries_sandbox.emulator.server` and :mod:`aeries_sandbox.emulator.writes` can both
raise it (``server`` re-exports it, as other sandbox servers import it from there).
"""

from __future__ import annotations

__all__ = ["HttpError"]


class HttpError(Exception):
    """An error answer: the status and the message a handler sends in its JSON error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
