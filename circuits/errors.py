"""Errors for bad input. Every one of them is a ValueError, and prints as one line."""
from __future__ import annotations


class CotsimInputError(ValueError):
    """Bad input from a user: a file, a bit string, a parameter.

    The CLI prints ``str(err)`` on one line and exits with status 2.
    """


class ParseError(CotsimInputError):
    """A file that cannot be read as the format it claims to be.

    ``str()`` gives ``path:line: message`` (or ``path: message`` when no line applies).
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class CircuitTooLarge(CotsimInputError):
    """A circuit over a set size limit."""
