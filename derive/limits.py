"""Size guards: refuse work that would exhaust the machine, before starting it, with the estimate.

A 2-99999999-1 network has 4e8 weights (3.2 GB as float64, several times
that while training); writing out one partial for 1e8 examples builds 1e11
terms.  Rather than end in a ``MemoryError`` (or swap for an hour), each
entry point estimates what it needs from the sizes alone and calls
:func:`check_memory`, which refuses with the estimate and the limit.

The limit is half of this machine's physical memory, or the number of bytes
in the environment variable ``BACKPROP_MEMORY_LIMIT``.
"""

from __future__ import annotations

import os

from derive.errors import InputError

LIMIT_VARIABLE = "BACKPROP_MEMORY_LIMIT"


def memory_limit() -> int:
    """Bytes a single job may use: ``$BACKPROP_MEMORY_LIMIT``, else half the physical memory."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if text:
        try:
            return int(float(text))
        except ValueError:
            raise InputError("%s=%r is not a number of bytes" % (LIMIT_VARIABLE, text)) from None
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # not a POSIX system: assume 8 GB
        return 8 * 2**30


def human_bytes(count: float) -> str:
    """``1.5 GB``, ``320 MB``, ``12 kB`` (powers of 1000, as disk and memory sizes are quoted)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return "%.3g %s" % (count / size, unit)
    return "%d bytes" % count


def check_memory(estimate: float, what: str, hint: str) -> None:
    """Refuse ``what`` if its estimated memory exceeds :func:`memory_limit`.

    Args:
        estimate: Estimated bytes.
        what: What would need them (``"training 2-99999999-1 with batches of 4"``).
        hint: What to do instead.

    Raises:
        InputError: with the estimate, the limit and the hint.
    """
    limit = memory_limit()
    if estimate > limit:
        raise InputError("%s would need about %s of memory, above the limit of %s (half this machine's memory, "
                         "or $%s); %s" % (what, human_bytes(estimate), human_bytes(limit), LIMIT_VARIABLE, hint))
