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
