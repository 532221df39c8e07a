"""Where a parameter's wrong entries sit, and what they have in common, said the way a reader looks for a bug.

A weight gradient's row j belongs to the unit the weights lead into, its
column i to the unit they come from; a bias gradient's entry j to unit j.  So
the wrong entries of ``W1`` that fill rows 200–299 and nothing else say that
hidden units 200–299 have a wrong error term (a slice dropped from the
backward pass), and columns say the same of the layer below.  Besides where,
:func:`describe_wrong` says what the wrong values share: all exactly 0 (never
computed, or overwritten), all the same number (a scalar broadcast where an
array was meant), one constant ratio to the right values, or a ratio that
varies.  :func:`units_text` writes unit sets as ranges: ``hidden units
200–299``, ``output units 0, 3``.
"""

from __future__ import annotations

import numpy as np

from derive import Network

from .kinks_and_saturation import describe_entry, unit_name


def ranges(indices) -> str:
    """``0–3, 7, 9–10``: sorted integers as ranges."""
    values = sorted(int(i) for i in indices)
    parts, start = [], None
    for position, value in enumerate(values):
        if start is None:
            start = value
        if position + 1 == len(values) or values[position + 1] != value + 1:
            parts.append(str(start) if start == value else "%d–%d" % (start, value))
            start = None
    if len(parts) > 8:
        parts = parts[:8] + ["… (%d ranges in all)" % len(parts)]
    return ", ".join(parts)


def units_text(network: Network, layer: int, units) -> str:
    """``hidden units 200–299``, ``output unit 3``, ``input units 0–9``, ``units 2, 5 of hidden layer 2``."""
    units = sorted(set(int(u) for u in units))
    if len(units) == 1:
        return unit_name(network, layer, units[0])
    kind = unit_name(network, layer, 0)
    if " of " in kind:  # "unit 0 of hidden layer 2"
        return "units %s of %s" % (ranges(units), kind.split(" of ", 1)[1])
    return "%s units %s" % (kind.rsplit(" unit", 1)[0], ranges(units))


def wrong_units(name: str, wrong: np.ndarray) -> set[int] | None:
    """The units whose whole row (weights) or entry (biases) is wrong, when those rows are all that is wrong."""
    if name.startswith("b"):
        return set(np.flatnonzero(wrong).tolist())
    rows = np.flatnonzero(wrong.any(axis=1))
    if wrong[rows].all() and wrong.sum() == len(rows) * wrong.shape[1]:
        return set(rows.tolist())
    return None


def describe_wrong(network: Network, name: str, candidate: np.ndarray, reference: np.ndarray,
                   wrong: np.ndarray) -> str:
    """Where the wrong entries of one parameter sit, and what they share, in one clause."""
    places = np.argwhere(wrong)
    count, layer = len(places), int(name[1:])
    if count == 0:
        return "no entry of %s is wrong" % name
    if count == 1:
        index = tuple(int(i) for i in places[0])
        return "only %s[%s] (%s) is wrong%s" % (name, ", ".join(map(str, index)),
                                                describe_entry(network, (name, index)),
                                                shared(candidate[wrong], reference[wrong]))
    if name.startswith("b"):
        where = ("every entry of %s is wrong" % name if count == wrong.size else
                 "the %d wrong entries of %s are the biases of %s; every other entry is right"
                 % (count, name, units_text(network, layer, places[:, 0])))
        return where + shared(candidate[wrong], reference[wrong])
    rows, columns = sorted(set(places[:, 0].tolist())), sorted(set(places[:, 1].tolist()))
    full_rows = count == len(rows) * wrong.shape[1]
    full_columns = count == len(columns) * wrong.shape[0]
    if count == wrong.size:
        where = "every entry of %s is wrong" % name
    elif full_rows:
        where = ("all %d wrong entries of %s lead into %s (every weight into %s; every other entry is right)"
                 % (count, name, units_text(network, layer, rows), "it" if len(rows) == 1 else "them"))
    elif full_columns:
        where = ("all %d wrong entries of %s come from %s (every weight out of %s; every other entry is right)"
                 % (count, name, units_text(network, layer - 1, columns), "it" if len(columns) == 1 else "them"))
    elif len(rows) == 1:
        where = "the %d wrong entries of %s all lead into %s" % (count, name, unit_name(network, layer, rows[0]))
    elif len(columns) == 1:
        where = "the %d wrong entries of %s all come from %s" % (count, name, unit_name(network, layer - 1,
                                                                                       columns[0]))
    else:
        where = ("%d of the %s entries of %s are wrong, leading into %s from %s"
                 % (count, format(wrong.size, ","), name, units_text(network, layer, rows),
                    units_text(network, layer - 1, columns)))
    return where + shared(candidate[wrong], reference[wrong])


def shared(values: np.ndarray, right: np.ndarray) -> str:
    """``: they are exactly 0 (...)``, ``: they all hold 0.25 (...)``, or how their ratio to the right values runs."""
    if values.size > 1 and not values.any():
        return "; they are exactly 0: not computed, or overwritten"
    if values.size > 1 and np.all(values == values[0]) and not np.all(right == right[0]):
        return "; they all hold the same value %.6g: a scalar broadcast where an array was meant?" % values[0]
    nonzero = right != 0
    if not nonzero.any():
        return ""
    ratio = values[nonzero] / right[nonzero]
    low, high = float(np.min(ratio)), float(np.max(ratio))
    if values.size == 1:
        return " (%.6g, where %.6g is right: %.4g x)" % (values[0], right[0], ratio[0])
    if np.isclose(low, high, rtol=1e-6, atol=0):
        return "; each is %.4g x the right value" % low
    return "; their ratio to the right values varies from %.3g to %.3g" % (low, high)


__all__ = ["describe_wrong", "ranges", "shared", "units_text", "wrong_units"]
