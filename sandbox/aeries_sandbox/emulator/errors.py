"""The error answer every sandbox server sends: ``HttpError(status, message)`` -> ``{"Message": message}``.

In its own module so that the emulator's modules and the other sandbox servers can all raise it.
"""

from __future__ import annotations

__all__ = ["HttpError"]


class HttpError(Exception):
    """An error answer: the status and the message a handler sends in its JSON error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
