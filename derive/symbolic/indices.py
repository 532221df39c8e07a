"""Indices: the free ones are axis labels; the bound ones are renamed by one routine.

``Z1[n, j]`` is the array ``Z1`` whose axes are labelled ``n`` and ``j``; an
expression's labels are the indices of its entries that no ``Sum`` binds.
The array printer (:mod:`derive.codegen.array_printer`) lines arrays up by
these labels, and refuses what it cannot line up.

A ``Sum``'s own index is a bound variable: its name means nothing outside the
sum.  :func:`rename_bound` renames bound indices, each in the sum that binds
it, and serves the derivation twice:

* before differentiating, every summation index becomes a fresh ``Dummy``
  (:func:`fresh_index`), so that a summation index can never be confused with
  a free index of the same name (``diff(Sum(W[k, i]*A[n, i], i), W[j, i])``);
* in the results, every ``Dummy`` left becomes a readable name
  (:func:`readable_index`: ``m``, ``k``, or the dummy's name primed, ``k'``).
  A ``Dummy`` prints and sorts by a counter that depends on how many the
  process has made, so results without them print the same in every process:
  that is what makes the generated source byte-identical.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import chain, count
from typing import Callable, Optional

import sympy
from sympy import Indexed, Sum

#: Chooses the new name of a bound index, given every symbol already taken; None keeps the index.
Renaming = Callable[[sympy.Symbol, set], Optional[sympy.Symbol]]


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


def rename_bound(expr: sympy.Expr, renaming: Renaming) -> sympy.Expr:
    """``expr`` with its summation indices renamed, each in the sum that binds it, outer sums first.

    Args:
        expr: An index-level expression.
        renaming: ``renaming(index, taken)`` gives an index's new name, or
            None to keep it; ``taken`` holds every symbol of ``expr`` and every
            name given so far, which a new name must avoid so that no renaming
            captures an index.  An index bound by several sums (the same
            ``Dummy`` in both branches of a ``Piecewise``) is renamed once, to
            one name.

    Returns:
        The renamed expression (``expr`` itself when nothing is renamed).
    """
    taken = {symbol for symbol in sympy.preorder_traversal(expr) if isinstance(symbol, sympy.Symbol)}
    given: dict = {}  # one new name per index, however many sums bind it

    def visit(node: sympy.Basic) -> sympy.Basic:
        if isinstance(node, Sum):
            for limit in node.limits:
                if limit[0] not in given:
                    given[limit[0]] = renaming(limit[0], taken)
                    taken.add(given[limit[0]] or limit[0])
            renames = {limit[0]: given[limit[0]] for limit in node.limits if given[limit[0]] is not None}
            node = node.xreplace(renames) if renames else node
            function = visit(node.function)
            return node if function is node.function else Sum(function, *node.limits)
        if not node.args or isinstance(node, Indexed):
            return node
        args = [visit(arg) for arg in node.args]
        return node if all(new is old for new, old in zip(args, node.args)) else node.func(*args)

    return visit(expr)


def fresh_index(index: sympy.Symbol, taken: set) -> sympy.Dummy:
    """A new ``Dummy`` of ``index``'s name and assumptions: it can be confused with no other index."""
    return sympy.Dummy(index.name, **index.assumptions0)


def readable_index(*preferred: sympy.Symbol) -> Renaming:
    """A renaming of ``Dummy`` indices to readable symbols (other indices are kept).

    Args:
        *preferred: Candidate names, most preferred first (``m, k, i``).

    Returns:
        A renaming that gives each dummy the first candidate not taken, then
        the dummy's own name primed (``k'``, ``k''``, ...): it always finds one.
    """
    def rename(index: sympy.Symbol, taken: set) -> sympy.Symbol | None:
        if not isinstance(index, sympy.Dummy):
            return None
        primes = (sympy.Symbol(index.name + "'" * times, **index.assumptions0) for times in count(1))
        for candidate in chain(preferred, primes):
            if candidate not in taken:
                return candidate
    return rename
