"""The fast constructors of derive.instantiate build exactly what SymPy's Mul, Add and functions build."""

from __future__ import annotations

import random

import pytest
import sympy
from sympy import Add, Mul, Rational

from derive.concrete.instantiate import Instantiator
from derive.symbolic.symbols import X, activations, biases, deltas, size, weights

BASES = [X, weights(1), weights(2), biases(1), deltas(1), activations(1)]
FUNCTIONS = [sympy.sign, sympy.exp, sympy.Abs, sympy.tanh]


def random_factor(rng: random.Random, instantiator: Instantiator) -> sympy.Expr:
    base = rng.choice(BASES)
    entry = instantiator.entry(base, tuple(rng.randrange(3) for _ in range(1 if base == biases(1) else 2)))
    roll = rng.random()
    if roll < 0.2:
        return rng.choice([Rational(rng.randint(-3, 3), rng.randint(1, 3)), sympy.S.One, sympy.S.Zero])
    if roll < 0.4:
        return rng.choice(FUNCTIONS)(entry)
    return entry


@pytest.mark.parametrize("seed", range(20))
def test_mul_add_and_apply_equal_sympys_own_constructors(seed):
    rng, instantiator = random.Random(seed), Instantiator({})
    for _ in range(200):
        factors = [random_factor(rng, instantiator) for _ in range(rng.randint(1, 4))]
        product = instantiator.mul(factors)
        assert product == Mul(*factors) and product.args == Mul(*factors).args, factors
        terms = [instantiator.mul([random_factor(rng, instantiator) for _ in range(rng.randint(1, 3))])
                 for _ in range(rng.randint(1, 4))]
        total = instantiator.add(terms)
        assert total == Add(*terms) and total.args == Add(*terms).args, terms
        func = rng.choice(FUNCTIONS)
        argument = random_factor(rng, instantiator)
        assert instantiator.apply(func, [argument]) == func(argument)


def test_compiled_sum_is_written_out_term_by_term():
    n, j, i = sympy.symbols("n j i", integer=True, nonnegative=True)
    N = sympy.Symbol("N", integer=True, positive=True)
    body = deltas(1)[n, j] * X[n, i] + weights(1)[j, i] * X[n, i] ** 2
    rest = Rational(1, 7) * sympy.sign(weights(1)[j, i])
    for batch in (1, 3):
        build = Instantiator({N: batch, size(0): 2}).compile(sympy.Sum(body, (n, 0, N - 1)) + rest, (j, i))
        for a in range(2):
            for b in range(2):
                values = {j: a, i: b}
                expected = Add(*[body.subs({**values, n: example}) for example in range(batch)]) + rest.subs(values)
                assert build(values) == expected and build(values).args == expected.args
