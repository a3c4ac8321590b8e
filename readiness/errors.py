"""The one error type a user reads.

A :class:`ReadinessError` carries a message written for the person who caused it (what is wrong,
in their terms) and, where one helps, a hint (what to do). The command line prints it and exits 2;
a page shows it as a message. Any other exception is a bug: the command line reports it as one and
the app shows Streamlit's error, so a test sees it.

Each module's own errors subclass this one, and also the builtin they have always been
(``ValueError``, ``LookupError``, ``PermissionError``, ``RuntimeError``), so callers that catch the
builtin keep working.
"""

from __future__ import annotations


class ReadinessError(Exception):
    """Something the user can act on: ``message`` says what, ``hint`` (optional) what to do."""

    def __init__(self, message: str = "", hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} {self.hint}" if self.hint else text


class InvalidChoice(ReadinessError, ValueError):
    """A value outside the choices offered (a status, a format, a register)."""


class NotFound(ReadinessError, LookupError):
    """The thing asked for does not exist (or is not visible to the asker)."""
