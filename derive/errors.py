"""The one exception type users see.

Every problem with user input (a network description, a spec file, a parameter
file, data, an activation expression) raises :class:`InputError` with a message
that fits on one line and says three things: what was wrong, where, and what is
accepted.  The CLI turns it into that one line on stderr and exit code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input, explained in one line: what, where, and what is accepted."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def choices(options) -> str:
    """Format a list of valid options for an error message: ``a, b, c``."""
    return ", ".join(sorted(options))
