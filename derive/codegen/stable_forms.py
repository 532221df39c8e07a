"""Stable forms: the expressions that overflow or take log(0) when printed literally, rewritten.

Printed as written, ``exp(Z[n, j]) / Sum(exp(Z[n, m]), m)`` overflows at
z = 1000, ``log`` of a softmax or sigmoid output is ``log(0)`` once the output
rounds to 0, and ``1/(1 + exp(-z))`` overflows for z = -1000.  Before printing,
:func:`stabilize` replaces these forms by equal ones that cannot fail:

* the softmax quotient by the node ``softmax(u, j)``, printed as the stable
  helper of :mod:`derive.model.numeric` (shifted by the row maximum);
* ``log(softmax(u, j))`` by ``log_softmax(u, j)`` (``u - logsumexp``);
* ``log(g(u))`` and ``log(1 - g(u))`` by the stable log forms of g's
  activation record (sigmoid: ``-softplus(-u)`` and ``-softplus(u)``).

These are identities between functions, not derivatives: every derivative
still comes from ``sympy.diff``.  Backprop's own functions (sigmoid, relu, ...)
print as calls to their stable helpers in :mod:`derive.model.numeric`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Mul, Sum

from derive.model.registry import ACTIVATIONS
from derive.symbolic.indices import free_indices

from .printing import EQUAL_PRINTS_ALIKE


class softmax(sympy.Function):
    """``softmax(u, j)``: exp(u) / (sum of exp(u) over index j); a printing node made by :func:`stabilize`."""

    nargs = 2


class log_softmax(sympy.Function):
    """``log_softmax(u, j)``: log of :class:`softmax`, printed without forming it."""

    nargs = 2


def stabilize(expr: sympy.Expr) -> sympy.Expr:
    """Rewrite the forms that overflow or take log(0) into stable printing nodes.

    * ``exp(u[j]) / Sum(exp(u[m]), m)`` becomes ``softmax(u, j)``;
    * ``log(softmax(u, j))`` becomes ``log_softmax(u, j)``;
    * ``log(g(u))`` and ``log(1 - g(u))`` become the stable log forms of g's
      activation record (sigmoid: ``-softplus(-u)`` and ``-softplus(u)``):
      identities, finite where g rounds to 0 or 1.

    Done once per expression in this process where SymPy's equality allows
    (structures share their layers' equations).
    """
    expr = sympy.sympify(expr, strict=True)
    return _stabilized(expr) if EQUAL_PRINTS_ALIKE else _stabilize(expr)


def _stabilize(expr: sympy.Expr) -> sympy.Expr:
    expr = expr.replace(lambda e: e.is_Mul and _softmax_parts(e) is not None, _to_softmax)
    return expr.replace(lambda e: isinstance(e, sympy.log), _stable_log)


_stabilized = lru_cache(maxsize=4096)(_stabilize)


def _softmax_parts(expr: sympy.Mul):
    """``(u, j, denominator, numerator)`` if ``expr`` contains exp(u)/Sum(exp(u with j -> m), m)."""
    for denominator in expr.args:
        if not (denominator.is_Pow and denominator.exp == -1 and isinstance(denominator.base, Sum)):
            continue
        total = denominator.base
        if len(total.limits) != 1 or not isinstance(total.function, sympy.exp):
            continue
        m = total.limits[0][0]
        for numerator in expr.args:
            if isinstance(numerator, sympy.exp):
                u = numerator.args[0]
                for j in sorted(free_indices(u), key=str):
                    if u.xreplace({j: m}) == total.function.args[0]:
                        return u, j, denominator, numerator
    return None


def _to_softmax(expr: sympy.Mul) -> sympy.Expr:
    u, j, denominator, numerator = _softmax_parts(expr)
    rest = [arg for arg in expr.args if arg is not denominator and arg is not numerator]
    return Mul(*rest) * softmax(u, j)


def _log_forms() -> dict:
    """The stable log forms of each of our SymPy functions that has them, by function class."""
    return {record.function: record.log_forms for record in ACTIVATIONS.values()
            if record.function is not None and record.log_forms is not None}


def _stable_log(expr: sympy.log) -> sympy.Expr:
    arg = expr.args[0]
    if isinstance(arg, softmax):
        return log_softmax(*arg.args)
    forms = _log_forms()
    if type(arg) in forms and forms[type(arg)].output is not None and len(arg.args) == 1:
        return forms[type(arg)].output(arg.args[0])
    complement = 1 - arg
    if type(complement) in forms and forms[type(complement)].complement is not None and len(complement.args) == 1:
        return forms[type(complement)].complement(complement.args[0])
    return expr
