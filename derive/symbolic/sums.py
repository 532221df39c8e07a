"""Sums over unit and example indices: collapsing the KroneckerDeltas that ``sympy.diff`` leaves.

Differentiating an index-level expression with respect to one entry of an
array gives a ``KroneckerDelta`` per index, inside the sums the expression
already had::

    diff(Sum(W[k, i] * A[n, i], (i, 0, n_0 - 1)), W[j, q])
      = Sum(KroneckerDelta(j, k) * KroneckerDelta(i, q) * A[n, i], (i, 0, n_0 - 1))

Summing a delta over its index picks one term.  :func:`collapse_deltas` does
that for every ``Sum`` in an expression, innermost first, with
:func:`sympy.concrete.delta.deltasummation`, so the result above becomes
``KroneckerDelta(j, k) * A[n, q]``.  ``deltasummation`` would wrap the picked
term in ``Piecewise((term, q <= n_0 - 1), (0, True))``, because it cannot know
that ``q`` is a valid unit index; here it always is (every free index of the
derivation ranges over its layer's units by construction), so the collapse
asks for ``no_piecewise`` and the results carry neither deltas nor range
conditions.

:func:`factor_sums` pulls factors that do not depend on a summation index out
of its sum (``Sum(t[m] * a, m) -> a * Sum(t[m], m)``).
"""

from __future__ import annotations

from collections import Counter
from functools import reduce

import sympy
from sympy import Add, KroneckerDelta, Mul, Sum
from sympy.concrete.delta import deltasummation


def collapse_deltas(expr: sympy.Expr) -> sympy.Expr:
    """Sum out every KroneckerDelta that sits inside a ``Sum`` over one of its indices.

    Sums are processed innermost first; a sum with several limits is summed
    one limit at a time, its first (innermost) limit first.

    Args:
        expr: An index-level expression, typically the output of ``sympy.diff``.

    Returns:
        An equal expression in which no ``Sum`` contains a KroneckerDelta in its
        own summation index, and with no index-range ``Piecewise``.
    """
    if not expr.args or not expr.has(Sum):
        return expr
    if isinstance(expr, Sum):
        body = _unfold_piecewise(collapse_deltas(expr.function))
        for limit in expr.limits:
            body = _sum_out(body, limit)
        return body
    return expr.func(*[collapse_deltas(arg) for arg in expr.args])


def _sum_out(body: sympy.Expr, limit: tuple) -> sympy.Expr:
    """``Sum(body, limit)``, with the terms that carry a delta in the index summed exactly."""
    index = limit[0]
    if index not in body.free_symbols:
        return body * (limit[2] - limit[1] + 1)
    terms = []
    for term in _distribute_deltas(body, index):
        outside, inside = term.as_independent(index, as_Add=False)
        if _has_delta(inside, index):
            terms.append(outside * _pick(inside, limit))
        elif inside == 1:
            terms.append(outside * (limit[2] - limit[1] + 1))
        else:
            terms.append(outside * Sum(inside, limit))
    return Add(*terms)


def pull_out_deltas(expr: sympy.Expr) -> sympy.Expr:
    """Factor the KroneckerDeltas common to every term of ``expr`` out of the sum of terms.

    ``KroneckerDelta(j, k)*a + KroneckerDelta(j, k)*b`` becomes
    ``KroneckerDelta(j, k)*(a + b)``, so that summing the delta out keeps
    ``a + b`` together (``g'(Z)``, as ``sympy.diff`` gave it) instead of
    distributing the rest of the chain over its terms.  A delta inside a
    sum factor of a term (the product rule's ``z*(delta + 3*z**2*delta)``) is
    pulled out of that factor first.
    """
    terms = [Mul(*[pull_out_deltas(factor) if factor.is_Add and factor.has(KroneckerDelta) else factor
                   for factor in Mul.make_args(term)]) for term in Add.make_args(expr)]
    common, rests = _common_factors(terms, lambda factor: isinstance(factor, KroneckerDelta))
    if common == 1 or len(terms) == 1:
        return Add(*terms)
    return common * Add(*rests)


def _unfold_piecewise(expr: sympy.Expr) -> sympy.Expr:
    """Move the factors common to every branch of each ``Piecewise`` out of it.

    Building a ``Sum`` folds its factors into a ``Piecewise`` summand
    (``Sum(KroneckerDelta(j, k) * Piecewise((1, z > 0), (a, True)), ...)`` holds
    ``Piecewise((KroneckerDelta(j, k), z > 0), (a*KroneckerDelta(j, k), True))``),
    which hides the deltas from ``deltasummation``; this undoes the folding.
    """
    def unfold(piecewise: sympy.Piecewise) -> sympy.Expr:
        common, rests = _common_factors([branch.expr for branch in piecewise.args], lambda factor: True)
        if common == 1:
            return piecewise
        branches = [(rest, branch.cond) for rest, branch in zip(rests, piecewise.args)]
        return common * sympy.Piecewise(*branches, evaluate=False)
    return expr.replace(lambda e: isinstance(e, sympy.Piecewise), unfold)


def _common_factors(products, wanted) -> tuple[sympy.Expr, list[sympy.Expr]]:
    """The ``wanted`` factors every product shares, and each product divided by them."""
    factors = [Counter(Mul.make_args(product)) for product in products]
    common = reduce(lambda a, b: a & b, factors)
    common = Counter({factor: count for factor, count in common.items() if wanted(factor)})
    return Mul(*common.elements()), [Mul(*(f - common).elements()) for f in factors]


def _distribute_deltas(expr: sympy.Expr, index: sympy.Symbol) -> list:
    """The terms of ``expr``, with every sum-factor that holds a delta in ``index`` multiplied out.

    Only those factors are distributed (as ``deltasummation``'s own expansion
    does), so ``(A - T) * A * (1 - A)`` keeps its factored form.
    """
    terms = []
    for term in Add.make_args(expr):
        factor = next((f for f in Mul.make_args(term) if f.is_Add and _has_delta(f, index)), None)
        if factor is None:
            terms.append(term)
            continue
        rest = Mul(*[f for f in Mul.make_args(term) if f is not factor])
        terms.extend(_distribute_deltas(Add(*[rest * part for part in factor.args]), index))
    return terms


def _pick(inside: sympy.Expr, limit: tuple) -> sympy.Expr:
    """``Sum(inside, limit)`` for a summand holding a KroneckerDelta in the index: the one term it picks.

    The common case, a product with one factor ``KroneckerDelta(index, j)``
    (``j`` another index, in range by construction) and no other delta in the
    index, is the product of the other factors at ``index = j``: what
    ``deltasummation(..., no_piecewise=True)`` returns, without its general
    search.  Anything else goes to ``deltasummation``.
    """
    index = limit[0]
    deltas = [f for f in Mul.make_args(inside) if isinstance(f, KroneckerDelta) and index in f.free_symbols]
    if len(deltas) == 1:
        first, second = deltas[0].args
        other = second if first == index else first if second == index else None
        rest = Mul(*[f for f in Mul.make_args(inside) if f is not deltas[0]])
        if isinstance(other, sympy.Symbol) and other != index and not _has_delta(rest, index):
            return rest.xreplace({index: other})
    return deltasummation(inside, limit, no_piecewise=True)


def _has_delta(expr: sympy.Expr, index: sympy.Symbol) -> bool:
    """Whether ``expr`` contains a KroneckerDelta in ``index``."""
    return any(index in delta.free_symbols for delta in expr.atoms(KroneckerDelta))


def factor_sums(expr: sympy.Expr) -> sympy.Expr:
    """Pull the factors of each summand that do not depend on the summation index out of the sum."""
    def pull_out(total: Sum) -> sympy.Expr:
        if len(total.limits) != 1:
            return total
        index = total.limits[0][0]
        terms = []
        for term in Add.make_args(total.function):
            outside, inside = term.as_independent(index, as_Add=False)
            terms.append(outside * Sum(inside, total.limits[0]))
        return Add(*terms)
    return expr.replace(lambda e: isinstance(e, Sum), pull_out)


__all__ = ["collapse_deltas", "factor_sums", "pull_out_deltas"]
