"""Which sum prints how: the contractions of the array printer, decided before anything is printed.

A ``Sum`` over a label shared by two factors prints as ``@``, over more factors
as ``np.einsum``, over one factor as ``.sum(axis=...)``
(:class:`derive.codegen.array_printer.ArrayPrinter`).  :func:`contraction`
says which, so that the planner knows before printing whether a value can be
written into given memory (``out=``: :mod:`derive.codegen.inplace`); the other
functions here are the label bookkeeping the printer needs for each form: the
labels ``@`` contracts, the einsum letters, the axis order that needs no
transpose, and the direction axis ``v`` of many directions at once
(:data:`derive.symbolic.second_order.v`), which is always an array's first axis.
"""

from __future__ import annotations

import sympy
from sympy import Indexed, Mul, Sum

from derive.symbolic.indices import bound_indices, free_indices
from derive.symbolic.second_order import v as DIRECTION

__all__ = ["as_product", "contraction", "directed", "einsum_letters", "matmul_labels", "natural_layout", "sum_by_ones"]


def contraction(expr: sympy.Expr) -> str | None:
    """How :class:`~derive.codegen.array_printer.ArrayPrinter` prints ``expr`` if it is a contraction, which can
    write into given memory.

    Returns:
        ``"matmul"`` for a sum of two factors over one label, each with at
        most one other label and not the same one (``delta2 @ W2``);
        ``"einsum"`` for other sums of several factors whose labels differ,
        and every other sum along the direction axis (an ellipsis einsum
        reduces over a middle axis several times faster than ``np.add.reduce``;
        the printer prints the row and column sums of :func:`sum_by_ones` as
        products with ones, which write into given memory as well);
        None for anything else (a reduction ``np.add.reduce`` or a product with
        a vector of ones, a sum with factors that do not depend on its labels,
        not a sum at all).
    """
    if not isinstance(expr, Sum) or as_product(expr) is not None:
        return None
    bound = bound_indices(expr)
    factors = Mul.make_args(expr.function)
    if len(bound) == 1 and len(factors) == 2 and matmul_labels(factors, next(iter(bound))) is not None:
        return "matmul"
    if len(factors) >= 2 and len({free_indices(factor) - {DIRECTION} for factor in factors}) > 1:
        return "einsum"
    return "einsum" if DIRECTION in free_indices(expr) else None


def sum_by_ones(total: sympy.Expr) -> str | None:
    """``"rows"`` or ``"columns"`` if ``total`` sums one matrix (or stack of matrices) over its first or last label.

    Such a sum prints as a matrix-vector product with a vector of ones
    (``np.ones(N) @ delta1`` for a bias gradient, ``T @ np.ones(n_2)`` for a
    row sum): BLAS does it in one pass at full speed, where ``np.add.reduce``
    over the first axis adds row after row, and over a short last axis pays
    its loop overhead per row (two to five times as long at batch 256).
    ``"rows"`` sums over the first label (ones on the left), ``"columns"`` over
    the last.  None for anything else.
    """
    if not isinstance(total, Sum) or not isinstance(total.function, Indexed) or len(total.limits) != 1:
        return None
    own = tuple(label for label in total.function.indices if label != DIRECTION)
    bound = total.limits[0][0]
    if len(own) != 2 or len(set(total.function.indices)) != len(total.function.indices) or bound not in own:
        return None
    if DIRECTION in total.function.indices and total.function.indices[0] != DIRECTION:
        return None
    return "rows" if own[0] == bound else "columns"


def as_product(total: Sum) -> sympy.Expr | None:
    """``c*Sum(f, ...)`` for a ``Sum(c*f, ...)`` whose factors ``c`` do not depend on its labels; None without such."""
    bound = bound_indices(total)
    factors = Mul.make_args(total.function)
    outside = [factor for factor in factors if not free_indices(factor) & bound]
    if not outside:
        return None
    return Mul(*outside) * Sum(Mul(*[factor for factor in factors if factor not in outside]), *total.limits)


def matmul_labels(factors: tuple, index: sympy.Symbol) -> list[tuple] | None:
    """The other labels of each of two factors summed over ``index``, if ``@`` can contract them.

    The direction label is not among them: ``@`` broadcasts over it, for a
    factor that is a stack of matrices (a stack of vectors is an einsum).
    """
    labels = [tuple(free_indices(factor) - {index, DIRECTION}) for factor in factors]
    if len(labels[0]) > 1 or len(labels[1]) > 1 or set(labels[0]) & set(labels[1]):
        return None
    if any(DIRECTION in free_indices(factor) and not own for factor, own in zip(factors, labels)):
        return None
    return labels


def directed(*exprs) -> tuple:
    """``(v,)`` if any of ``exprs`` runs along the direction axis, else ``()``."""
    return (DIRECTION,) if any(DIRECTION in free_indices(expr) for expr in exprs) else ()


def einsum_letters(labels: tuple) -> dict:
    """One einsum letter per label: its own name when that is a single letter, else a free letter."""
    letters, used = {}, set()
    for label in labels:
        name = str(label)
        if len(name) == 1 and name.isalpha() and name not in used:
            letters[label] = name
            used.add(name)
    spare = (c for c in "abcdefghopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used)
    for label in labels:
        if label not in letters:
            letters[label] = next(spare)
    return letters


def natural_layout(expr: sympy.Expr) -> tuple:
    """The axis order of the first entry in ``expr`` that carries all its labels (no transpose needed)."""
    labels = free_indices(expr)
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, Indexed) and frozenset(node.indices) == labels:
            return tuple(node.indices)
    return tuple(sorted(labels, key=lambda label: (label != DIRECTION, str(label))))
