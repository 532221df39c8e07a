"""How the generated second-order code is planned: what it allocates, measured, not timed.

A summand shared on its own by the planner's common-subexpression pass
(``W2[k, j]*delta2[n, k]``, needed inside delta1 and twice inside Rdelta1)
becomes an array with the summed axis too, (n_2, n_1, N): 67 million entries
at 784-512-512-10 and batch 256, where the whole sum is an (N, n_1) matrix
product.  The peak memory of ``hvp`` is compared with that of ``gradients``
(tracemalloc counts numpy's allocations).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from derive import Network, derive, init_params


def peak_bytes(function) -> int:
    function()  # warm: imports and caches are not the function's memory
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("activation,loss", [(["sigmoid", "sigmoid", "softmax"], "cross_entropy"),
                                             ("tanh", "sse")])
def test_hvp_needs_no_array_with_a_summed_axis(activation, loss):
    network = Network((30, 120, 120, 4), activation=activation, loss=loss)
    module = derive(network).numpy_module(order=2)
    rng = np.random.default_rng(0)
    params = init_params(network, seed=0, scale=0.1)
    X, T = rng.uniform(size=(64, 30)), np.eye(4)[rng.integers(0, 4, 64)]
    V = {name: rng.standard_normal(value.shape) for name, value in params.items()}
    gradients = peak_bytes(lambda: module.gradients(params, X, T))
    hvp = peak_bytes(lambda: module.hvp(params, X, T, V))
    summand = 120 * 120 * 64 * 8  # one (n_2, n_1, N) float64 array: 7.4 MB
    assert hvp < 4 * gradients < summand, (hvp, gradients)


def main_path(source: str, function: str) -> list[str]:
    """The statements of ``function``'s in-place path (after its branch for a few entries), comments left out."""
    body = source.split("def %s(" % function)[1].split("\ndef ")[0]
    lines = body.splitlines()
    start = max(place for place, line in enumerate(lines) if line.startswith("    if workspace is None and"))
    return [line.strip() for line in lines[start + 1:] if line.startswith("    ") and not line.startswith("        ")
            and not line.strip().startswith("#")]


@pytest.mark.parametrize("function", ["hvp", "gnvp"])
def test_products_that_read_the_same_large_array_run_one_after_the_other(function):
    # X is read by the forward and the R-forward product of layer 1, A1 and W2 by the three of layer 2: they run
    # back to back, with no elementwise step between them (after a product has streamed megabytes through the
    # cache, each numpy call is slow until its own memory is back; products in a row pay that once).
    network = Network((30, 20, 20, 4), activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy")
    statements = main_path(derive(network).numpy_source(order=2), function)

    def place(text):
        return next(number for number, line in enumerate(statements) if text in line)

    layer_1 = sorted(place(text) for text in ("np.matmul(X, W1.T", "np.matmul(X, V_W1.swapaxes(-1, -2)"))
    layer_2 = sorted(place(text) for text in ("np.matmul(A1, W2.T", "np.matmul(A1, V_W2.swapaxes(-1, -2)",
                                              "RA1 @ W2.T"))
    assert layer_1 == list(range(layer_1[0], layer_1[0] + 2)), statements
    assert layer_2 == list(range(layer_2[0], layer_2[0] + 3)), statements


def test_the_curvature_terms_coefficient_is_computed_once_for_all_directions():
    # Rdelta1 = M*A1(1 - A1) + RA1*S*(1 - A1) - RA1*S*A1: the two RA1 terms are one, RA1*c, and c = S*(1 - 2*A1)
    # has no direction axis (one (N, n_1) array however many directions V holds).
    network = Network((6, 5, 3), activation=["sigmoid", "softmax"], loss="cross_entropy")
    source = derive(network).numpy_source(order=2)
    hvp = source.split("def hvp(")[1].split("\ndef ")[0]
    assert "# c1_Rdelta1[n, j] = (1 - 2*A1[n, j])*Sum(W2[k, j]*delta2[n, k], (k, 0, n_2 - 1))" in hvp
    assert "# Rdelta1[v, n, j] = " in hvp and "RA1[v, n, j]*c1_Rdelta1[n, j]" in hvp
    module = derive(network).numpy_module(order=2)
    rng = np.random.default_rng(3)
    params = init_params(network, seed=1)
    X, T = rng.standard_normal((7, 6)), np.eye(3)[rng.integers(0, 3, 7)]
    V = {name: rng.standard_normal((4,) + value.shape) for name, value in params.items()}
    workspace: dict = {}
    module.hvp(params, X, T, V, workspace=workspace)
    assert workspace["c1_Rdelta1"].shape == (7, 5)
