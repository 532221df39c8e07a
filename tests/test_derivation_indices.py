"""One renamer of summation indices (derive/symbolic/indices.py), in its three uses.

Fresh ``Dummy`` indices before differentiating, readable names in the
results, and therefore results that print the same in every process.
Expected values are written by hand.
"""

from __future__ import annotations

import pytest
import sympy
from sympy import Dummy, KroneckerDelta, Piecewise, Sum

from derive import ACTIVATIONS, Network, derive
from derive.symbolic.indices import fresh_index, readable_index, rename_bound
from derive.symbolic.sums import collapse_deltas
from derive.symbolic.symbols import activations, deltas, i, j, k, m, n, size, weights

W1, W2, A0, delta2 = weights(1), weights(2), activations(0), deltas(2)


def test_fresh_indices_keep_a_summation_index_apart_from_a_free_index_of_the_same_name():
    net = Sum(W1[k, i] * A0[n, i], (i, 0, size(0) - 1))  # Z1[n, k]; i is bound here
    # Differentiating by W1[j, i] with the free i of the gradient: the bound i must not be taken for it.
    fresh = rename_bound(net, fresh_index)
    bound = fresh.limits[0][0]
    assert isinstance(bound, Dummy) and bound.name == "i" and bound.assumptions0 == i.assumptions0
    assert collapse_deltas(sympy.diff(fresh, W1[j, i])) == KroneckerDelta(j, k) * A0[n, i]


def test_readable_names_are_the_first_preferred_name_no_symbol_uses_then_primes():
    inner, outer = Dummy("k", integer=True, nonnegative=True), Dummy("n", integer=True, nonnegative=True)
    expr = Sum(W2[inner, j] * delta2[outer, inner] * Sum(A0[outer, m], (m, 0, 3)), (inner, 0, 2), (outer, 0, 4))
    # m is taken (by the inner sum), so the first dummy becomes k; for the second, m and k are taken: n'.
    n_prime = sympy.Symbol("n'", integer=True, nonnegative=True)
    expected = Sum(W2[k, j] * delta2[n_prime, k] * Sum(A0[n_prime, m], (m, 0, 3)), (k, 0, 2), (n_prime, 0, 4))
    assert rename_bound(expr, readable_index(m, k)) == expected


def test_an_index_bound_by_two_sums_gets_one_name():
    dummy = Dummy("k", integer=True, nonnegative=True)
    total = Sum(W2[dummy, j] * delta2[n, dummy], (dummy, 0, 2))
    z = sympy.Symbol("z", real=True)
    expr = Piecewise((total, z > 0), (2 * total, True))
    renamed = rename_bound(expr, readable_index())
    primed = sympy.Symbol("k'", integer=True, nonnegative=True)
    assert renamed == expr.xreplace({dummy: primed})


def test_only_dummies_are_renamed_and_nothing_changes_without_them():
    expr = Sum(W2[k, j] * delta2[n, k], (k, 0, 2))
    assert rename_bound(expr, readable_index(m)) is expr


@pytest.mark.parametrize("activation", [name for name, a in ACTIVATIONS.items() if a.elementwise] + ["x/(1+abs(x))"])
def test_no_dummy_is_left_anywhere_in_a_derivation(activation):
    d = derive(Network([2, 3, 2], activation=[activation, "softmax"], loss="cross_entropy", weight_decay=0.1))
    expressions = [d.loss, *(eq.rhs for eq in d.forward_equations), *(step.equation for step in d.steps)]
    expressions += [d.delta(layer) for layer in (1, 2)] + [d.gradient(name) for name in d.parameters]
    assert not any(expr.atoms(Dummy) for expr in expressions)


@pytest.mark.parametrize("network", [Network([2, 2, 1], activation="sigmoid", loss="sse"),
                                     Network([2, 3, 2], activation=["atan(x)", "softmax"], loss="cross_entropy",
                                             weight_decay=0.05, reduction="mean")], ids=["sigmoid-sse", "atan-softmax"])
def test_no_dummy_is_left_in_the_second_order_passes_or_the_hessian_blocks(network):
    d = derive(network)
    expressions = [step.equation for step in d.hvp_steps]
    expressions += [d.hessian_block(first, second) for first in d.parameters for second in d.parameters]
    assert not any(expr.atoms(Dummy) for expr in expressions)
