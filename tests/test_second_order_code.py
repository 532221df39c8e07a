"""The generated ``hvp``, ``gnvp`` and ``hessian`` against oracles that share nothing with them.

* H V against central differences of the *engine's* gradients along V (the
  hand-written backprop, no SymPy derivative in it);
* the dense Hessian against the same differences, column by column, and its symmetry;
* G V: symmetric and positive semidefinite (every registered loss is convex in
  what it is split at), equal to H V where the output is linear in the
  parameters (one linear layer), and different from it otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import flat, problem
from derive import derive
from verify import Engine

NETWORKS = [
    dict(sizes=(2, 2, 1), activation="sigmoid", loss="sse"),
    dict(sizes=(3, 4, 3), activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.1),
    dict(sizes=(2, 3, 2, 1), activation=["gelu", "elu(0.5)", "sigmoid"], loss="binary_cross_entropy",
         reduction="mean"),
    dict(sizes=(2, 3, 2), activation=["relu", "linear"], loss="sse", weight_decay=0.1, l1=0.05),
    dict(sizes=(2, 3, 2), activation=["x/(1+abs(x))", "softmax"], loss="cross_entropy", bias=False),
    dict(sizes=(2, 3, 3, 2), activation=["silu", "leaky_relu(0.2)", "softmax"], loss="sse"),
    dict(sizes=(3, 2, 2), activation=["softplus", "tanh"], loss="sse", reduction="mean"),
]


def engine_difference(network, params, X, T, V, step=1e-5):
    """(g(p + hV) - g(p - hV)) / 2h with the engine's gradients g."""
    engine = Engine(network)
    up = engine.gradients({k: params[k] + step * V[k] for k in params}, X, T)
    down = engine.gradients({k: params[k] - step * V[k] for k in params}, X, T)
    return {k: (up[k] - down[k]) / (2 * step) for k in params}


def units(params):
    """Every unit direction, in the documented order (keys in order, each flattened row-major)."""
    sizes = [value.size for value in params.values()]
    for e in range(sum(sizes)):
        parts = np.split(np.eye(sum(sizes))[e], np.cumsum(sizes)[:-1])
        yield {key: part.reshape(params[key].shape) for key, part in zip(params, parts)}


@pytest.mark.parametrize("options", NETWORKS, ids=lambda o: "%s-%s" % (o["activation"], o["loss"]))
def test_hvp_and_the_dense_hessian_match_differences_of_the_engines_gradients(options):
    network, params, X, T, V = problem(options)
    module = derive(network).numpy_module(order=2)
    product = module.hvp(params, X, T, V)
    expected = engine_difference(network, params, X, T, V)
    for name in params:
        np.testing.assert_allclose(product[name], expected[name], rtol=1e-6, atol=1e-8 * max(1, np.abs(expected[name]).max()))
    H = module.hessian(params, X, T)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H @ flat(V), flat(product), rtol=1e-10, atol=1e-12)
    columns = np.column_stack([flat(engine_difference(network, params, X, T, unit)) for unit in units(params)])
    np.testing.assert_allclose(H, columns, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("options", NETWORKS, ids=lambda o: "%s-%s" % (o["activation"], o["loss"]))
def test_the_gauss_newton_matrix_is_symmetric_and_positive_semidefinite(options):
    network, params, X, T, _ = problem(options)
    module = derive(network).numpy_module(order=2)
    G = np.column_stack([flat(module.gnvp(params, X, T, unit)) for unit in units(params)])
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    assert np.linalg.eigvalsh((G + G.T) / 2).min() > -1e-10


def test_gauss_newton_equals_the_hessian_when_the_output_is_linear_in_the_parameters_and_differs_otherwise():
    network, params, X, T, V = problem(dict(sizes=(3, 2), activation="linear", loss="sse", weight_decay=0.2))
    module = derive(network).numpy_module(order=2)
    hessian, gauss_newton = module.hvp(params, X, T, V), module.gnvp(params, X, T, V)
    for name in params:
        np.testing.assert_allclose(gauss_newton[name], hessian[name], rtol=1e-12, atol=1e-14)
    network, params, X, T, V = problem(dict(sizes=(3, 4, 2), activation="linear", loss="sse"))  # bilinear in W1, W2
    module = derive(network).numpy_module(order=2)
    assert not np.allclose(flat(module.gnvp(params, X, T, V)), flat(module.hvp(params, X, T, V)))


def test_float32_stays_float32_and_a_complex_direction_gives_the_complex_product():
    network, params, X, T, V = problem(NETWORKS[0])
    module = derive(network).numpy_module(order=2)
    single = module.hvp({k: v.astype(np.float32) for k, v in params.items()}, X.astype(np.float32),
                        T.astype(np.float32), {k: v.astype(np.float32) for k, v in V.items()})
    assert {value.dtype for value in single.values()} == {np.dtype(np.float32)}
    imaginary = module.hvp(params, X, T, {k: 1j * v for k, v in V.items()})
    real = module.hvp(params, X, T, V)
    for name in params:
        np.testing.assert_allclose(imaginary[name], 1j * real[name], rtol=1e-12)
