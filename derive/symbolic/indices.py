"""Axis labels: the free and bound indices of an index-level expression.

``Z1[n, j]`` is the array ``Z1`` whose axes are labelled ``n`` and ``j``; an
expression's labels are the indices of its entries that no ``Sum`` binds.
The array printer (:mod:`derive.vector_printer`) lines arrays up by these
labels, and refuses what it cannot line up.
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Indexed, Sum


@lru_cache(maxsize=4096)
def free_indices(expr: sympy.Basic) -> frozenset:
    """The axis labels of ``expr``: the indices of its entries that no ``Sum`` binds.

    Raises:
        NotImplementedError: an entry indexed by something other than distinct
            index symbols (``W1[0, i]``, ``A[j, j]``), or a ``Sum`` that is not
            over a full range ``(index, 0, upper)``.
    """
    if isinstance(expr, Indexed):
        if not all(isinstance(index, sympy.Symbol) for index in expr.indices) or len(set(expr.indices)) != len(expr.indices):
            raise NotImplementedError("the array printer cannot print the entry %s: indices must be distinct "
                                      "index symbols, one per axis" % sympy.sstr(expr))
        return frozenset(expr.indices)
    if isinstance(expr, Sum):
        return free_indices(expr.function) - bound_indices(expr)
    if not isinstance(expr, sympy.Basic) or expr.is_Atom:
        return frozenset()
    return frozenset().union(*(free_indices(arg) for arg in expr.args))


def bound_indices(expr: Sum) -> frozenset:
    """The indices a ``Sum`` runs over (each over its full range 0..size-1)."""
    for limit in expr.limits:
        if len(limit) != 3 or limit[1] != 0 or not isinstance(limit[0], sympy.Symbol):
            raise NotImplementedError("the array printer cannot print the Sum %s: only sums over a whole axis "
                                      "(index, 0, size - 1) print as array reductions" % sympy.sstr(expr))
    return frozenset(limit[0] for limit in expr.limits)
