"""derive/sympy_internals.py: the private SymPy fast path and its public fallback build the same expressions.

The oracle is SymPy's public API (``Mul(*args, evaluate=False)``,
``f(x, evaluate=False)``, and SymPy's own constructors behind the
instantiator's slow path), never the fast path itself.
"""

from __future__ import annotations

import itertools
import random

import pytest
import sympy
from sympy import Add, Mul, Rational

from derive import Network, derive, sympy_internals
from derive.concrete.instantiate import Instantiator
from derive.model.functions import sigmoid
from derive.sympy_internals import FAST, PUBLIC, args_sortkey
from derive.symbolic.symbols import N, X, biases, deltas, i, j, n, size, weights

W1, W2, b1, delta1 = weights(1), weights(2), biases(1), deltas(1)
FUNCTIONS = [sympy.sign, sympy.Abs, sympy.tanh, sigmoid]


def same(a: sympy.Basic, b: sympy.Basic) -> bool:
    """Equal, of the same class, with the same arguments in the same order."""
    return a == b and type(a) is type(b) and a.args == b.args and sympy.srepr(a) == sympy.srepr(b)


def test_fast_takes_each_private_name_this_sympy_has():
    assert (FAST.mul_in_order == Mul._from_args) == hasattr(Mul, "_from_args")
    assert (FAST.add_in_order == Add._from_args) == hasattr(Add, "_from_args")
    assert FAST.compares_by_args(sigmoid) and not PUBLIC.compares_by_args(sigmoid)
    assert FAST.unevaluated_like is not PUBLIC.unevaluated_like


def test_a_sympy_without_the_private_names_gets_the_public_fallback(monkeypatch):
    monkeypatch.setattr(sympy_internals, "Mul", object)
    monkeypatch.setattr(sympy_internals, "_ARGS_ONLY", (None, None))
    fallback = sympy_internals._fast()
    assert fallback.mul_in_order is PUBLIC.mul_in_order and fallback.add_in_order is PUBLIC.add_in_order
    assert fallback.compares_by_args is PUBLIC.compares_by_args


@pytest.mark.parametrize("seed", range(5))
def test_products_and_sums_in_canonical_order_equal_the_public_constructors(seed):
    rng = random.Random(seed)
    for _ in range(100):
        entries = [W1[rng.randrange(3), rng.randrange(3)], X[0, rng.randrange(3)], b1[rng.randrange(3)],
                   rng.choice(FUNCTIONS)(delta1[0, rng.randrange(3)])]
        factors = sorted(rng.sample(entries, rng.randint(2, 4)), key=args_sortkey)
        factors = [Rational(rng.randint(2, 9), rng.choice([1, 11, 13]))] + factors  # a coefficient other than 1
        assert same(FAST.mul_in_order(factors, True), PUBLIC.mul_in_order(factors, True))
        assert same(FAST.mul_in_order(factors, True), Mul(*factors))  # already canonical: SymPy builds the same
        terms = sorted(rng.sample(entries, rng.randint(2, 4)), key=args_sortkey)
        assert same(FAST.add_in_order(terms, True), PUBLIC.add_in_order(terms, True))
        assert same(FAST.add_in_order(terms, True), Add(*terms))


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__name__)
def test_unevaluated_applications_equal_evaluate_false(function):
    sample = function(W1[0, 0], evaluate=False)
    for entry in (W1[1, 2], X[0, 1], delta1[0, 0]):
        fast, public = FAST.unevaluated_like(sample, [entry]), PUBLIC.unevaluated_like(sample, [entry])
        assert same(fast, public) and fast.nargs == public.nargs
        assert hash(fast) == hash(function(entry))


NETWORKS = [
    Network([3, 2, 2], activation=["sigmoid", "softmax"], loss="cross_entropy"),
    Network([2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy", weight_decay=0.1, l1=0.01),
    Network([2, 2, 2], activation=["x/(1+abs(x))", "tanh"], loss="sse", bias=False, reduction="mean"),
]


@pytest.mark.parametrize("network", NETWORKS, ids=lambda net: net.describe())
@pytest.mark.parametrize("batch", [1, 2])
def test_instantiator_builds_the_same_partials_and_definitions_with_the_fast_path_and_the_fallback(network, batch):
    d = derive(network)
    values = {size(layer): width for layer, width in enumerate(network.sizes)} | {N: batch}
    fast, public = Instantiator(values, FAST), Instantiator(values, PUBLIC)
    templates = [(d.gradient(name), (j, i)[: len(shape)], shape) for name, shape in network.param_shapes().items()]
    templates += [(equation.rhs, (n, j), (batch, network.sizes[int(str(equation.lhs.base)[1:])]))
                  for equation in d.forward_equations]
    templates += [(d.delta(layer), (n, j), (batch, network.sizes[layer])) for layer in range(1, d.depth + 1)]
    for expr, indices, shape in templates:
        build_fast, build_public = fast.compile(expr, indices), public.compile(expr, indices)
        for index in itertools.product(*map(range, shape)):
            env = dict(zip(indices, index))
            assert same(build_fast(dict(env)), build_public(dict(env))), (expr, index)
