"""What the subcommands print: to standard output, with a full disk or a closed stdout caught as one line."""

from __future__ import annotations

import os
import sys

from derive import InputError


def write_stdout(text: str) -> None:
    """Print ``text`` to standard output now (flushed), so that a full disk or a closed stdout is caught here.

    Raises:
        InputError: stdout cannot take it (one line saying why).
    """
    if sys.stdout is None:
        raise InputError("cannot write the output: standard output is closed")
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        discard_stdout()
        raise InputError("cannot write the output to standard output: %s" % (getattr(exc, "strerror", None) or exc)) \
            from None


def discard_stdout() -> None:
    """Point stdout at /dev/null, so that what could not be written is not tried again (noisily) at exit."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
