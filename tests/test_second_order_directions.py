"""Products along many directions at once, and the dense Hessian built from them.

* ``hvp`` and ``gnvp`` with ``V`` holding D directions along a leading axis
  against D calls with one direction each, entry by entry (width-specific and
  width-generic modules, with and without a workspace, few and many examples,
  float32 and complex directions, two leading axes);
* the dense ``hessian`` (computed in blocks of unit directions) against
  ``torch.func.hessian`` of the loss written in torch, including networks
  whose Hessian takes several blocks and one above the old 2,000-parameter limit;
* bad directions: leading axes that differ between keys are one ValueError
  naming the array.
"""

from __future__ import annotations

import numpy as np
import pytest

from derive import Network, derive, init_params
from helpers import flat
from helpers import problem as one_direction_problem
from test_hvp_check import NETWORKS as TORCH_NETWORKS, torch_loss
from test_second_order_code import NETWORKS
from verify.check.hvp_check import dense_hessian

torch = pytest.importorskip("torch")

IDS = ["%s-%s" % ("/".join(o["activation"]) if isinstance(o["activation"], list) else o["activation"], o["loss"])
       for o in NETWORKS]


def problem(options, batch, directions, seed=0):
    """Network, parameters, data and V with the leading axes ``directions``."""
    network, params, X, T, _ = one_direction_problem(options, seed=seed, batch=batch)
    rng = np.random.default_rng(seed + 1)
    V = {name: rng.normal(size=tuple(directions) + value.shape) for name, value in params.items()}
    return network, params, X, T, V


def one_at_a_time(product, params, X, T, V, index, workspace=None):
    """``product`` of the direction ``V[...][index]`` alone (a dict shaped like params)."""
    return product(params, X, T, {key: value[index] for key, value in V.items()}, workspace=workspace)


def assert_same_entries(batched: dict, single: dict, index) -> None:
    for key, value in single.items():
        np.testing.assert_allclose(batched[key][index], value, rtol=1e-13, atol=1e-14 * max(1.0, np.abs(value).max()),
                                   err_msg="%s, direction %s" % (key, index))


@pytest.mark.parametrize("batch", [3, 70], ids=["few-examples", "many-examples"])
@pytest.mark.parametrize("options", NETWORKS, ids=IDS)
def test_many_directions_in_one_call_equal_one_call_per_direction(options, batch):
    network, params, X, T, V = problem(options, batch, directions=(4,))
    for any_width in (False, True):
        module = derive(network).numpy_module(order=2, any_width=any_width)
        for name in ("hvp", "gnvp"):
            product = getattr(module, name)
            for workspace in (None, {}):
                batched = product(params, X, T, V, workspace=workspace)
                assert {key: value.shape for key, value in batched.items()} == {
                    key: (4,) + value.shape for key, value in params.items()}
                for index in range(4):
                    assert_same_entries(batched, one_at_a_time(product, params, X, T, V, index, workspace), index)


def test_two_leading_axes_and_a_single_direction_along_an_axis_work_like_one():
    network, params, X, T, V = problem(NETWORKS[1], 6, directions=(2, 3))
    module = derive(network).numpy_module(order=2)
    batched = module.hvp(params, X, T, V)
    for index in np.ndindex(2, 3):
        assert_same_entries(batched, one_at_a_time(module.hvp, params, X, T, V, index), index)
    alone = module.gnvp(params, X, T, {key: value[:1, 0] for key, value in V.items()})
    assert_same_entries(alone, one_at_a_time(module.gnvp, params, X, T, V, (0, 0)), 0)


def test_float32_directions_stay_float32_and_complex_directions_give_complex_products():
    network, params, X, T, V = problem(NETWORKS[0], 5, directions=(3,))
    module = derive(network).numpy_module(order=2)
    single = module.hvp({k: v.astype(np.float32) for k, v in params.items()}, X.astype(np.float32),
                        T.astype(np.float32), {k: v.astype(np.float32) for k, v in V.items()})
    assert {value.dtype for value in single.values()} == {np.dtype(np.float32)}
    real, imaginary = module.hvp(params, X, T, V), module.hvp(params, X, T, {k: 1j * v for k, v in V.items()})
    for name in params:
        np.testing.assert_allclose(imaginary[name], 1j * real[name], rtol=1e-13)


def test_directions_whose_leading_axes_differ_between_keys_are_one_value_error_naming_the_array():
    network, params, X, T, V = problem(NETWORKS[1], 5, directions=(3,))
    module = derive(network).numpy_module(order=2, any_width=True)
    with pytest.raises(ValueError, match=r"^V\['b1'\] has shape \(2, 4\), expected \(3, n_1\); the arrays must have "
                                         r"the shapes X \(N, n_0\), .* V\['W1'\] \(3, n_1, n_0\), V\['b1'\] \(3, n_1\)"):
        module.hvp(params, X, T, {**V, "b1": V["b1"][:2]})
    with pytest.raises(ValueError, match=r"^V\['W2'\] has shape \(3, 4\) \(2 axes\), expected \(3, n_2, n_1\)"):
        module.gnvp(params, X, T, {**V, "W2": V["W2"][0]})


@pytest.mark.parametrize("options, batch", [
    (TORCH_NETWORKS[1], 5),
    (TORCH_NETWORKS[2], 7),
    (dict(sizes=(10, 10, 10, 2), activation=["sigmoid", "sigmoid", "softmax"], loss="cross_entropy"), 64),
    (dict(sizes=(30, 30, 5), activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.01), 32),
], ids=["3-4-3", "2-3-2-1-mean", "10-10-10-2", "30-30-5"])
def test_the_dense_hessian_is_torchs_hessian(options, batch):
    network, params, X, T, _ = problem(options, batch, directions=())
    module = derive(network).numpy_module(order=2)
    expected = torch.func.hessian(torch_loss(network, X, T))(torch.as_tensor(flat(params))).numpy()
    for workspace in (None, {}):
        H = module.hessian(params, X, T, workspace)
        np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    assert H.flags.f_contiguous  # stored column by column, as the products come


def test_a_hessian_above_two_thousand_parameters_is_computed_and_its_columns_are_products():
    network = Network((50, 40, 2), activation=["tanh", "softmax"], loss="cross_entropy")
    params = init_params(network, seed=0, scale=0.3)
    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(2, 50)), np.eye(2)[[0, 1]]
    H = dense_hessian(network, params, X, T)
    assert H.shape == (2122, 2122)
    module = derive(network).numpy_module(order=2)
    for column in (0, 1999, 2121):
        unit = np.zeros(2122)
        unit[column] = 1
        pieces = np.split(unit, np.cumsum([value.size for value in params.values()])[:-1])
        direction = {key: piece.reshape(params[key].shape) for key, piece in zip(params, pieces)}
        np.testing.assert_array_equal(H[:, column], flat(module.hvp(params, X, T, direction)))
