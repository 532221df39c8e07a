"""When the user's code fails inside a check: which failures are the user's to hear about as one line.

Everything a model, its factory or its forward raises is reported as one
:class:`derive.InputError` line by the caller, ``SystemExit`` included (a
``sys.exit()`` in a model must never end a check as if it had passed), and a
``KeyboardInterrupt`` the user's code raises itself (``raise KeyboardInterrupt``).
A real Ctrl-C, which arrives wherever the program happens to be, still stops the check.
"""

from __future__ import annotations

import traceback

from derive import InputError


def users_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised while running the user's code, is to be reported as their error.

    False for :class:`derive.InputError` (already one line, passed on as it is) and
    for a ``KeyboardInterrupt`` that no ``raise`` statement raised (the user pressed Ctrl-C).
    """
    if isinstance(exc, InputError):
        return False
    if isinstance(exc, KeyboardInterrupt):
        frames = traceback.extract_tb(exc.__traceback__)
        return bool(frames) and (frames[-1].line or "").lstrip().startswith("raise")
    return True
