"""The local factors of the chain rule, each derived by ``sympy.diff`` once per process and shared.

An activation's Jacobian ``dA_l[n', k']/dZ_l[n, j]`` (:func:`jacobian_factors`)
is the same derivation for every loss and every layer the activation is used
in, and the loss's derivative dE/dA_L the same for every output activation:
:func:`derived_once` keeps each under what it depends on
(:func:`definition_key` of an activation), in the caller's summation indices.
:func:`output_chain` carries any dE/dA_L back through g_L (the Gauss-Newton
product sends the loss's curvature back this way), and :func:`shortest` picks
the shortest written form of a result.  :mod:`derive.symbolic.chain_rule`
combines these factors into the deltas and gradients.
"""

from __future__ import annotations

from typing import Callable

import sympy
from sympy import Dummy, Sum

from derive.model.network import Network

from .indices import readable_index, rename_bound
from .layers import back_substitute, layer_output
from .sums import collapse_deltas, factor_sums, pull_out_deltas
from .symbols import N, i, j, k, m, n, preactivations, size

#: Factors already derived in this process (see :func:`derived_once`).
_DERIVED: dict = {}


def clear_factors() -> None:
    """Forget the factors derived so far."""
    _DERIVED.clear()


def jacobian_factors(network: Network, layer: int, example: Dummy, unit: Dummy) -> tuple[sympy.Expr, sympy.Expr]:
    """``diff(A_l[example, unit], Z_l[n, j])``, collapsed: as ``sympy.diff`` gave it, and in terms of A_l."""
    # Only softmax's normalising sum has a bound index (m), never a free index of the derivation.
    output = layer_output(network, layer, example, unit)
    derivative = pull_out_deltas(collapse_deltas(sympy.diff(output, preactivations(layer)[n, j])))
    return derivative, back_substitute(derivative, network, layer)


def derived_jacobian(network: Network, layer: int, example: Dummy, unit: Dummy) -> tuple[sympy.Expr, sympy.Expr]:
    """:func:`jacobian_factors`, derived once per activation and layer number in this process (the output layer
    and the hidden layer of the stand-in networks are both layer 1), in the caller's summation indices."""
    def derive_once():
        indices = dummies("n k")
        return indices, jacobian_factors(network, layer, *indices)

    (our_example, our_unit), factors = derived_once(("jacobian", definition_key(network.activations[layer - 1]), layer),
                                               derive_once)
    swap = {our_example: example, our_unit: unit}
    return tuple(factor.xreplace(swap) for factor in factors)


def derived_once(key: tuple, build: Callable):
    """``build()``, once per ``key`` in this process: a factor that several pieces share (the loss's derivative
    serves every output activation, an activation's Jacobian every loss and layer)."""
    if key not in _DERIVED:
        _DERIVED[key] = build()
    return _DERIVED[key]


def jacobian(network: Network, layer: int, example: Dummy, unit: Dummy) -> sympy.Expr:
    """``diff(A_l[example, unit], Z_l[n, j])``, collapsed and in terms of A_l where possible."""
    return jacobian_factors(network, layer, example, unit)[1]


def output_chain(network: Network, upstream: sympy.Expr) -> sympy.Expr:
    """``Sum_{n', k'} upstream[n', k'] * dA_L[n', k']/dZ_L[n, j]``: a dE/dA_L (free n, j) carried back through g_L.

    The same chain rule as delta_L's, for any upstream: the Gauss-Newton
    product sends the loss's curvature back this way.
    """
    L = network.depth
    example, unit = dummies("n k")
    chain = Sum(upstream.xreplace({n: example, j: unit}) * jacobian(network, L, example, unit),
                (unit, 0, size(L) - 1), (example, 0, N - 1))
    return rename_bound(shortest(back_substitute(collapse_deltas(chain), network, L)), readable_index(m, k, i))


def definition_key(activation) -> tuple:
    """What an activation's derivative depends on: its name and SymPy definition (two may share a name)."""
    return (activation.name, activation.expression if activation.elementwise else None)


def dummies(names: str) -> tuple[Dummy, ...]:
    return tuple(Dummy(name, integer=True, nonnegative=True) for name in names.split())


def shortest(expr: sympy.Expr) -> sympy.Expr:
    """The shortest (by operation count) of ``expr``, its sums factored, and its ``factor``."""
    candidates = [expr, factor_sums(expr)]
    try:
        candidates.append(sympy.factor(candidates[-1]))
    except sympy.PolynomialError:  # a custom activation SymPy cannot factor through: keep the others
        pass
    return min(candidates, key=sympy.count_ops)
