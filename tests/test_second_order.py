"""Second derivatives, symbolic part: the R-operator's results against independent oracles.

The Hessian blocks ``d^2E / dW_l[j, i] dW_m[p, q]`` that SymPy derives are
evaluated at concrete sizes with the hand-written engine's forward values and
deltas, and compared with central differences of the engine's *gradients*
(a finite-difference Hessian, column by column): neither oracle uses SymPy's
derivative rules.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy

from derive import InputError, Network, derive, init_params
from derive.codegen.printing import helpers
from derive.symbolic.second_order import p, q
from derive.symbolic.symbols import N, T, X, activations, biases, deltas, i, j, preactivations, size, weights
from verify import Engine

NETWORKS = [
    dict(sizes=(2, 2, 1), activation="sigmoid", loss="sse"),
    dict(sizes=(3, 2, 2), activation=["tanh", "softmax"], loss="cross_entropy", reduction="mean"),
    dict(sizes=(2, 3, 1), activation=["softplus", "sigmoid"], loss="binary_cross_entropy", weight_decay=0.3),
    dict(sizes=(2, 2, 2, 1), activation=["gelu", "elu(0.5)", "linear"], loss="sse", bias=False),
    dict(sizes=(2, 3, 2), activation=["relu", "linear"], loss="sse", weight_decay=0.1, l1=0.05),
]


def case(options, seed=0):
    network = Network(**options)
    params = init_params(network, seed=seed, scale=0.8)
    rng = np.random.default_rng(seed)
    X_, T_ = rng.normal(size=(3, network.sizes[0])), rng.uniform(0.1, 0.9, size=(3, network.sizes[-1]))
    if not network.activations[-1].elementwise:
        T_ = T_ / T_.sum(axis=1, keepdims=True)
    return network, params, X_, T_


def evaluate(expr, network, params, X_, T_, index):
    """An index expression at concrete sizes, its entries taken from the engine, at free-index values ``index``."""
    return evaluator(expr, network, len(X_))(arrays_of(network, params, X_, T_), index)


def arrays_of(network, params, X_, T_) -> dict:
    """The values of every array an expression may name: data, parameters, and the engine's Z, A and deltas."""
    engine = Engine(network)
    Z, A = engine.forward_layers(params, X_)
    errors = engine.deltas(params, X_, T_)
    arrays = {X: X_, T: T_}
    for layer in range(1, network.depth + 1):
        arrays.update({weights(layer): params["W%d" % layer], preactivations(layer): Z[layer],
                       activations(layer): A[layer], deltas(layer): errors[layer]})
        if network.bias:
            arrays[biases(layer)] = params["b%d" % layer]
    return arrays


def evaluator(expr, network, batch):
    """``f(arrays, index)``: ``expr`` at concrete sizes, sums written out, compiled once by ``lambdify``."""
    sizes = {size(layer): width for layer, width in enumerate(network.sizes)}
    concrete = expr.xreplace({**sizes, N: batch}).doit()
    bases = sorted({entry.base for entry in concrete.atoms(sympy.Indexed)}, key=str)
    free = sorted({s for s in concrete.free_symbols if isinstance(s, sympy.Symbol)} - {b.label for b in bases}, key=str)
    values = {"KroneckerDelta": lambda a, b: float(a == b), "Heaviside": lambda z, h=0.5: np.heaviside(z, h),
              **helpers()}  # the forward values of sigmoid, softplus, ... (no derivative among them)
    function = sympy.lambdify(bases + free, concrete, modules=[values, "numpy"])
    return lambda arrays, index: float(function(*[arrays[b] for b in bases], *[index[s] for s in free]))


def fd_hessian_column(network, params, X_, T_, name, entry, step=1e-5):
    engine = Engine(network)
    up = {k: v.copy() for k, v in params.items()}
    down = {k: v.copy() for k, v in params.items()}
    up[name][entry] += step
    down[name][entry] -= step
    above, below = engine.gradients(up, X_, T_), engine.gradients(down, X_, T_)
    return {k: (above[k] - below[k]) / (2 * step) for k in above}


@pytest.mark.parametrize("options", NETWORKS, ids=lambda o: "%s-%s" % ("-".join(map(str, o["sizes"])), o["loss"]))
def test_hessian_blocks_match_differences_of_the_engines_gradients(options):
    network, params, X_, T_ = case(options)
    derivation = derive(network)
    arrays = arrays_of(network, params, X_, T_)
    blocks = {(a, b): evaluator(derivation.hessian_block(a, b), network, len(X_))
              for a in derivation.parameters for b in derivation.parameters}
    for second in derivation.parameters:
        for entry in itertools.product(*map(range, params[second].shape)):
            column = fd_hessian_column(network, params, X_, T_, second, entry)
            for first in derivation.parameters:
                for row in itertools.product(*map(range, params[first].shape)):
                    index = dict(zip((j, i), row)) | dict(zip((p, q), entry))
                    value = blocks[first, second](arrays, index)
                    assert value == pytest.approx(column[first][row], rel=1e-5, abs=1e-7), (first, row, second, entry)


def test_the_blocks_are_symmetric_and_the_diagonal_is_the_block_at_equal_entries():
    network, params, X_, T_ = case(NETWORKS[1])
    derivation = derive(network)
    forward = derivation.hessian_block("W1", "W2")
    backward = derivation.hessian_block("W2", "W1")
    for j_, i_, p_, q_ in itertools.product(range(2), range(3), range(2), range(2)):
        assert evaluate(forward, network, params, X_, T_, {j: j_, i: i_, p: p_, q: q_}) == pytest.approx(
            evaluate(backward, network, params, X_, T_, {j: p_, i: q_, p: j_, q: i_}), rel=1e-12, abs=1e-14)
    diagonal = derivation.hessian_diagonal("W1")
    block = derivation.hessian_block("W1", "W1")
    for j_, i_ in itertools.product(range(2), range(3)):
        assert evaluate(diagonal, network, params, X_, T_, {j: j_, i: i_}) == pytest.approx(
            evaluate(block, network, params, X_, T_, {j: j_, i: i_, p: j_, q: i_}), rel=1e-12)


def test_softmax_cross_entropy_output_block_is_the_textbook_one():
    derivation = derive(Network((2, 3, 2), activation=["tanh", "softmax"], loss="cross_entropy"))
    n = sympy.Symbol("n", integer=True, nonnegative=True)
    A1, A2 = activations(1), activations(2)
    k = sympy.Symbol("k", integer=True, nonnegative=True)
    expected = sympy.Sum((sympy.KroneckerDelta(j, p) * A2[n, j] - A2[n, j] * A2[n, p]) * A1[n, i] * A1[n, q]
                         * sympy.Sum(T[n, k], (k, 0, size(2) - 1)), (n, 0, N - 1))
    assert sympy.simplify(derivation.hessian_block("W2", "W2") - expected) == 0


def test_kinks_and_the_l1_penalty_are_stated_where_second_derivatives_do_not_exist():
    notes = derive(Network((2, 3, 1), activation=["relu", "linear"], l1=0.1)).second_order.notes
    assert any("layer 1 (relu): no second derivative at z = 0" in note for note in notes)
    assert any("L1 penalty" in note and "w = 0" in note for note in notes)
    assert derive(Network((2, 2, 1), activation="tanh")).second_order.notes == []


def test_the_notes_say_whether_the_first_or_only_the_second_derivative_jumps_at_a_kink():
    # ReLU's slope jumps from 0 to 1 at 0; x/(1 + |x|) has slope 1/(1 + |x|)**2, continuous, while its
    # second derivative -2 sign(x)/(1 + |x|)**3 jumps from 2 to -2 (by hand); abs(x - 1) kinks at 1.
    def notes(activation):
        return derive(Network((2, 2, 1), activation=[activation, "sigmoid"])).second_order.notes
    assert notes("relu") == ["layer 1 (relu): no second derivative at z = 0, where the first derivative jumps; "
                             "the products take it as 0 there (elsewhere it is exact)"]
    assert "at z = 0, where the second derivative jumps" in notes("x/(1+abs(x))")[0]
    assert "at z = 1, where the first derivative jumps" in notes("abs(x-1)")[0]


def test_the_gauss_newton_pass_leaves_out_the_activation_curvature_and_the_weight_direction_terms():
    derivation = derive(Network((2, 2, 1), activation="tanh"))
    hessian = derivation.second_order.hessian.deltas[1]
    gauss_newton = derivation.second_order.gauss_newton.deltas[1]
    assert hessian.has(sympy.IndexedBase("V_W2", real=True)) and hessian.has(sympy.IndexedBase("RA1", real=True))
    assert not gauss_newton.has(sympy.IndexedBase("V_W2", real=True))
    assert not gauss_newton.has(sympy.IndexedBase("RA1", real=True))


def test_unknown_parameter_names_are_refused_in_one_line():
    with pytest.raises(InputError, match="unknown parameter 'b3'; this network has: W1, b1, W2, b2"):
        derive(Network((2, 2, 1))).hessian_block("W1", "b3")
