"""The precision a sheet asks for, and when an answer is within it.

A sheet asks for ``digits`` significant digits (4 by default: 0.5498,
−0.002128, 12.35).  An answer counts as a value when it is within
:data:`UNITS` units of the last of those digits of the value (2 units: a
rounding of the answer itself, and one more for the rounding of the numbers
it was computed from).  A value that is 0 (an input of 0 makes a gradient
exactly 0) is matched within :data:`FLOOR`, which only forgives rounding noise.
"""

from __future__ import annotations

import numpy as np

#: An answer is accepted within this many units of its last significant digit.
UNITS = 2
#: The tolerance around a value of 0.
FLOOR = 1e-12
#: The digits a sheet may ask for.
DIGITS = range(2, 9)


def unit_in_last_place(value, digits: int):
    """One unit of the ``digits``-th significant digit of ``value`` (elementwise; 0 for 0)."""
    magnitude = np.abs(np.asarray(value, dtype=np.float64))
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log10(np.where(magnitude > 0, magnitude, 1.0)))
    unit = np.where(magnitude > 0, 10.0 ** (exponent - digits + 1), 0.0)
    return float(unit) if unit.ndim == 0 else unit


def tolerance(value: float, digits: int) -> float:
    """How far an answer may be from ``value`` (see the module docstring)."""
    return max(UNITS * unit_in_last_place(value, digits), FLOOR)


def close(answer: float, value: float, digits: int) -> bool:
    """Whether ``answer`` is ``value`` to the precision a sheet of ``digits`` digits asks for."""
    return bool(np.isfinite(value) and abs(answer - value) <= tolerance(value, digits))


def rounded(value, places: int, significant: bool = True):
    """``value`` rounded to ``places`` significant digits, or (``significant=False``) to ``places`` decimals."""
    value = np.asarray(value, dtype=np.float64)
    if not significant:
        return np.round(value, places)
    unit = unit_in_last_place(value, places)
    safe = np.where(unit > 0, unit, 1.0)
    return np.where(unit > 0, np.round(value / safe) * safe, value)
