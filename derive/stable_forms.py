"""Stable forms: the expressions that overflow or take log(0) when printed literally, rewritten.

Printed as written, ``exp(Z[n, j]) / Sum(exp(Z[n, m]), m)`` overflows at
z = 1000, ``log`` of a softmax or sigmoid output is ``log(0)`` once the output
rounds to 0, and ``1/(1 + exp(-z))`` overflows for z = -1000.  Before printing,
:func:`stabilize` replaces these forms by equal ones that cannot fail:

* the softmax quotient by the node ``softmax(u, j)``, printed as the stable
  helper of :mod:`derive.numeric` (shifted by the row maximum);
* ``log(softmax(u, j))`` by ``log_softmax(u, j)`` (``u - logsumexp``);
* ``log(sigmoid(u))`` by ``-softplus(-u)`` and ``log(1 - sigmoid(u))`` by ``-softplus(u)``.

These are identities between functions, not derivatives: every derivative
still comes from ``sympy.diff``.  Backprop's own functions (sigmoid, relu, ...)
print as calls to their stable helpers in :mod:`derive.numeric`.
"""

from __future__ import annotations

import sympy
from sympy import Mul, Sum

from .functions import sigmoid, softplus
from .indices import free_indices


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
    * ``log(sigmoid(u))`` becomes ``-softplus(-u)`` and ``log(1 - sigmoid(u))``
      becomes ``-softplus(u)``: identities, finite where ``sigmoid`` rounds to 0 or 1.
    """
    expr = sympy.sympify(expr, strict=True).replace(lambda e: e.is_Mul and _softmax_parts(e) is not None, _to_softmax)
    return expr.replace(lambda e: isinstance(e, sympy.log), _stable_log)


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


def _stable_log(expr: sympy.log) -> sympy.Expr:
    arg = expr.args[0]
    if isinstance(arg, softmax):
        return log_softmax(*arg.args)
    if isinstance(arg, sigmoid):
        return -softplus(-arg.args[0])
    complement = 1 - arg
    if isinstance(complement, sigmoid):
        return -softplus(complement.args[0])
    return expr
