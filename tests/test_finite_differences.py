"""Finite differences against derivatives computed by hand, and their documented accuracy and cost."""

import numpy as np
import pytest

from derive import InputError
from verify.check import finite_differences as fd


def smooth_loss(p):
    """sum sin(W)^3 + sum b exp(b/10): smooth, analytic, with hand-computed derivatives below."""
    return np.sum(np.sin(p["W"]) ** 3) + np.sum(p["b"] * np.exp(p["b"] / 10))


def smooth_gradient(p):
    return {"W": 3 * np.sin(p["W"]) ** 2 * np.cos(p["W"]), "b": np.exp(p["b"] / 10) * (1 + p["b"] / 10)}


@pytest.fixture
def point():
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=3) * 10}


def relative_errors(estimates, p):
    exact = smooth_gradient(p)
    got = estimates.to_params({k: v.shape for k, v in p.items()})
    return np.concatenate([(np.abs(got[k] - exact[k]) / np.abs(exact[k])).ravel() for k in exact])


@pytest.mark.parametrize("method, worst_relative_error, evaluations_per_entry", [
    ("central", 1e-8, 2),
    ("richardson", 1e-10, 6),
    ("complex", 1e-14, 1),
])
def test_each_method_meets_its_documented_accuracy_and_cost(point, method, worst_relative_error,
                                                            evaluations_per_entry):
    estimates = fd.estimate(method, smooth_loss, point)
    assert relative_errors(estimates, point).max() < worst_relative_error
    assert estimates.evaluations == evaluations_per_entry * 15
    assert len(estimates.entries) == 15


@pytest.mark.parametrize("method", fd.METHODS)
def test_error_estimates_bound_the_actual_error(point, method):
    estimates = fd.estimate(method, smooth_loss, point)
    exact = smooth_gradient(point)
    actual = np.array([abs(v - exact[name][index]) for (name, index), v in zip(estimates.entries, estimates.values)])
    assert np.all(actual <= estimates.errors)


def test_complex_step_is_exact_where_central_differences_cancel():
    # f(w) = exp(w) at w = 0: the exact derivative is 1.
    loss = lambda p: np.exp(p["w"][0])  # noqa: E731
    point = {"w": np.zeros(1)}
    assert fd.complex_step(loss, point).values[0] == 1.0
    assert fd.central_differences(loss, point).values[0] != 1.0


def test_central_step_is_cube_root_of_eps_scaled_by_the_weight_and_exactly_representable():
    point = {"w": np.array([0.5, 1000.0 / 3], dtype=np.float64)}
    steps = fd.central_differences(lambda p: np.sum(p["w"] ** 2), point).steps
    eps = np.finfo(np.float64).eps
    assert steps[0] == pytest.approx(eps ** (1 / 3), rel=1e-3)
    assert steps[1] == pytest.approx(eps ** (1 / 3) * 1000 / 3, rel=1e-3)
    w = point["w"][1]
    assert (w + steps[1]) - w == steps[1]


def test_float32_parameters_take_the_float32_step():
    point = {"w": np.array([2.0], dtype=np.float32)}
    estimate = fd.central_differences(lambda p: np.sum(p["w"].astype(np.float64) ** 2), point)
    assert estimate.steps[0] == pytest.approx(np.finfo(np.float32).eps ** (1 / 3) * 2, rel=1e-3)
    assert estimate.values[0] == pytest.approx(4.0, rel=1e-5)


def test_a_subset_of_entries_is_differentiated_in_the_given_order(point):
    entries = [("b", (2,)), ("W", (1, 3))]
    estimates = fd.complex_step(smooth_loss, point, entries)
    exact = smooth_gradient(point)
    assert estimates.entries == (("b", (2,)), ("W", (1, 3)))
    np.testing.assert_allclose(estimates.values, [exact["b"][2], exact["W"][1, 3]], rtol=1e-14)
    filled = estimates.to_params({"W": (3, 4), "b": (3,)})
    assert np.isnan(filled["W"][0, 0]) and filled["b"][2] == estimates.values[0]


def test_parameters_are_left_unchanged(point):
    before = {k: v.copy() for k, v in point.items()}
    fd.richardson(smooth_loss, point)
    fd.complex_step(smooth_loss, point)
    for name in before:
        np.testing.assert_array_equal(point[name], before[name])


@pytest.mark.parametrize("method", fd.METHODS)
def test_directional_derivative_equals_gradient_dot_direction(point, method):
    direction = fd.random_directions(point, 1, seed=3)[0]
    result = fd.directional_derivative(smooth_loss, point, direction, method)
    gradient = smooth_gradient(point)
    exact = result.project(gradient)
    rounding_of_exact = 4 * np.finfo(float).eps * sum(np.sum(np.abs(gradient[k] * direction[k])) for k in gradient)
    assert abs(result.value - exact) <= result.error + rounding_of_exact
    assert result.evaluations == {"central": 2, "richardson": 6, "complex": 1}[method]


def test_random_directions_are_seeded_unit_vectors(point):
    first = fd.random_directions(point, 2, seed=7)
    again = fd.random_directions(point, 2, seed=7)
    other = fd.random_directions(point, 1, seed=8)[0]
    for a, b in zip(first, again):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    norm = np.sqrt(sum(np.sum(v ** 2) for v in first[0].values()))
    assert norm == pytest.approx(1.0)
    assert not np.allclose(first[0]["W"], other["W"])


def test_format_entry_reads_like_an_index():
    assert fd.format_entry(("W2", (3, 7))) == "W2[3, 7]"
    assert fd.format_entry(("b1", (0,))) == "b1[0]"


@pytest.mark.parametrize("entries, message", [
    ([("W9", (0, 0))], "no parameter 'W9'"),
    ([("W", (3, 0))], r"W\[3, 0\] is outside W, which has shape \(3, 4\)"),
    ([("b", (0, 0))], r"b\[0, 0\] is outside b"),
], ids=["unknown-parameter", "index-out-of-range", "wrong-rank"])
def test_bad_entries_are_named(point, entries, message):
    with pytest.raises(InputError, match=message):
        fd.central_differences(smooth_loss, point, entries)


def test_a_loss_that_returns_an_array_is_rejected(point):
    with pytest.raises(InputError, match="expected a scalar"):
        fd.central_differences(lambda p: p["b"], point)


def test_an_unknown_method_lists_the_methods(point):
    with pytest.raises(InputError, match="choose one of: central, richardson, complex"):
        fd.estimate("forward", smooth_loss, point)
