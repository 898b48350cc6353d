"""Why the execution layer will not go on: one exception with the diagnostic code users see."""

from __future__ import annotations


class Refused(Exception):
    """A command refuses to go on as asked; `code` is the diagnostic code (README)."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint
