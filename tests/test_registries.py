"""Every activation and loss: derivative = sympy.diff, numpy code = the SymPy definition, no overflow.

The oracle is a textbook rewrite typed here: backprop's SymPy functions
(sigmoid, relu, leaky_relu, softplus) are replaced by their formulas in exp,
log and Piecewise, differentiated by SymPy and evaluated by plain ``lambdify``.
Tests parametrize over the registries, so a new entry is covered for free.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, LOSSES, get_activation
from derive.expression import X as x
from derive.functions import leaky_relu, relu, sigmoid, softplus
from derive.losses import O, T
from derive.printing import compile_elementwise

ELEMENTWISE = sorted(name for name, a in ACTIVATIONS.items() if a.elementwise) + [
    "leaky_relu(0.2)", "x/(1+abs(x))", "x*sigmoid(x)", "tanh(x) + 0.1*softplus(x)"]
POINTS = np.array([-20.0, -3.7, -1.0, -0.3, 0.2, 0.9, 2.5, 7.0, 20.0])
EXTREMES = np.array([-1000.0, -700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0, 1000.0])


def textbook(expr: sympy.Expr) -> sympy.Expr:
    """The expression with backprop's own functions written out as formulas."""
    return expr.replace(sigmoid, lambda z: 1 / (1 + sympy.exp(-z))) \
               .replace(softplus, lambda z: sympy.log(1 + sympy.exp(z))) \
               .replace(relu, lambda z: sympy.Piecewise((z, z > 0), (0, True))) \
               .replace(leaky_relu, lambda z, a: sympy.Piecewise((z, z > 0), (a * z, True)))


def plain_numpy(expr: sympy.Expr, *symbols):
    return sympy.lambdify(symbols, textbook(expr), modules="numpy")


def strict_numpy():
    return np.errstate(over="raise", divide="raise", invalid="raise")


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_derivative_is_sympy_diff_of_its_definition(spec):
    activation = get_activation(spec)
    assert activation.derivative_expr == sympy.diff(activation.sympy(x), x)
    expected = plain_numpy(sympy.diff(textbook(activation.expression), x), x)(POINTS)
    np.testing.assert_allclose(activation.derivative(POINTS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_numpy_forward_matches_its_sympy_definition(spec):
    activation = get_activation(spec)
    expected = plain_numpy(activation.expression, x)(POINTS)
    np.testing.assert_allclose(activation.numpy(POINTS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_and_derivative_are_finite_without_warnings_at_1e3(spec):
    activation = get_activation(spec)
    with strict_numpy():
        values, slopes = activation.numpy(EXTREMES), activation.derivative(EXTREMES)
    assert np.isfinite(values).all() and np.isfinite(slopes).all()
    assert values.shape == slopes.shape == EXTREMES.shape


@pytest.mark.parametrize("spec, slope_at_kink", [("relu", 0.0), ("leaky_relu", 0.01), ("leaky_relu(0.2)", 0.2)])
def test_relu_type_derivative_at_the_kink_is_the_left_slope(spec, slope_at_kink):
    activation = get_activation(spec)
    assert activation.kinks == (0.0,)
    assert activation.derivative(np.array([0.0]))[0] == pytest.approx(slope_at_kink)


def test_registered_sigmoid_and_softplus_match_at_extremes():
    with strict_numpy():
        assert ACTIVATIONS["sigmoid"].numpy(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]
        assert ACTIVATIONS["softplus"].numpy(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1000.0]


def test_softmax_matches_its_vector_definition_and_is_overflow_free():
    softmax = ACTIVATIONS["softmax"]
    assert not softmax.elementwise and softmax.output_only
    Z = sympy.IndexedBase("Z")
    n, k = sympy.symbols("n k", integer=True)
    definition = softmax.vector_definition(Z, n, k, 3)
    rows = np.array([[0.5, -1.0, 2.0], [3.0, 3.0, -4.0]])
    expected = [[float(definition.subs({n: 0, k: j}).doit().subs({Z[0, m]: row[m] for m in range(3)}))
                 for j in range(3)] for row in rows]
    np.testing.assert_allclose(softmax.numpy(rows), expected, rtol=1e-13)
    with strict_numpy():
        extreme = softmax.numpy(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_array_equal(extreme, [[1.0, 0.0, 0.0]])


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_derivative_is_sympy_diff_and_numpy_values_match_the_definition(name):
    loss = LOSSES[name]
    assert loss.derivative_expr == sympy.diff(loss.sympy(O, T), O)
    outputs, targets = np.meshgrid(np.linspace(0.05, 0.95, 7), np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(loss.numpy(outputs, targets), plain_numpy(loss.expression, O, T)(outputs, targets),
                               rtol=1e-12, atol=1e-15)
    expected = plain_numpy(sympy.diff(loss.expression, O), O, T)(outputs, targets)
    np.testing.assert_allclose(loss.derivative(outputs, targets), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_values_follow_zero_log_zero_convention_at_the_ends(name):
    loss = LOSSES[name]
    with strict_numpy():
        values = loss.numpy(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(values, [0.0, 0.0])


def test_sse_is_the_lectures_half_squared_error():
    assert LOSSES["sse"].numpy(np.array([0.552]), np.array([0.9]))[0] == pytest.approx(0.5 * 0.348 ** 2)


def test_compiled_functions_return_fresh_arrays_of_the_broadcast_shape_and_dtype():
    constant = compile_elementwise(sympy.Integer(1), x)
    identity = compile_elementwise(x, x)
    z = np.arange(6.0).reshape(2, 3)
    ones = constant(z)
    assert ones.shape == (2, 3) and ones.dtype == np.float64 and (ones == 1).all()
    same = identity(z)
    assert not np.shares_memory(same, z)
    same[0, 0] = 99.0
    assert z[0, 0] == 0.0
    assert constant(np.zeros(3, np.float32)).dtype == np.float32
    two = compile_elementwise(O - T, O, T)
    assert two(np.zeros((4, 1)), np.ones((1, 3))).shape == (4, 3)
