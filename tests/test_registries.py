"""Every activation and loss: derivative = sympy.diff, numpy code = the SymPy definition, no overflow.

The oracle is a textbook rewrite typed here: backprop's SymPy functions
(sigmoid, relu, leaky_relu, elu, softplus, normal_cdf) are replaced by their formulas in
exp, log, erf and Piecewise, differentiated by SymPy and evaluated by plain
``lambdify``.  It checks both derivatives a record leads to: the one SymPy
derives from its definition (printed by the code printer) and the one written
by hand in the record for the engine (``backward``).  Tests parametrize over
the registries, so a new entry is covered for free.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from helpers import strict_numpy
from derive import ACTIVATIONS, LOSSES, get_activation
from derive.codegen.printing import activation_derivative, activation_forward, compile_elementwise
from derive.model.expression import VARIABLE as x
from derive.model.functions import elu, leaky_relu, normal_cdf, relu, sigmoid, softplus
from derive.model.losses import OUTPUT, TARGET

REGISTERED = sorted(name for name, a in ACTIVATIONS.items() if a.elementwise) + ["leaky_relu(0.2)", "elu(0.5)"]
ELEMENTWISE = REGISTERED + ["x/(1+abs(x))", "x*sigmoid(x)", "tanh(x) + 0.1*softplus(x)", "gelu_erf(2*x) - x"]
POINTS = np.array([-20.0, -3.7, -1.0, -0.3, 0.2, 0.9, 2.5, 7.0, 20.0])
EXTREMES = np.array([-1000.0, -700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0, 1000.0])


def textbook(expr: sympy.Expr) -> sympy.Expr:
    """The expression with backprop's own functions written out as formulas."""
    return expr.replace(sigmoid, lambda z: 1 / (1 + sympy.exp(-z))) \
               .replace(softplus, lambda z: sympy.log(1 + sympy.exp(z))) \
               .replace(relu, lambda z: sympy.Piecewise((z, z > 0), (0, True))) \
               .replace(leaky_relu, lambda z, a: sympy.Piecewise((z, z > 0), (a * z, True))) \
               .replace(elu, lambda z, a: sympy.Piecewise((z, z > 0), (a * (sympy.exp(z) - 1), True))) \
               .replace(normal_cdf, lambda z: (1 + sympy.erf(z / sympy.sqrt(2))) / 2)


def plain_numpy(expr: sympy.Expr, *symbols):
    """Plain ``lambdify``; erf, which numpy lacks, from the standard library entry by entry."""
    return sympy.lambdify(symbols, textbook(expr), modules=[{"erf": np.vectorize(math.erf)}, "numpy"])


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_derivative_is_sympy_diff_of_its_definition(spec):
    activation = get_activation(spec)
    assert activation.derivative_expr == sympy.diff(activation.sympy(x), x)
    expected = plain_numpy(sympy.diff(textbook(activation.expression), x), x)(POINTS)
    np.testing.assert_allclose(activation_derivative(activation)(POINTS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", REGISTERED)
def test_hand_written_derivative_of_every_registered_activation_matches_the_textbook(spec):
    activation = get_activation(spec)
    assert activation.backward is not None and not activation.custom
    expected = plain_numpy(sympy.diff(textbook(activation.expression), x), x)(POINTS)
    upstream = np.linspace(0.5, 2.0, POINTS.size)
    slope = activation.backward(POINTS, activation.numpy(POINTS), upstream)
    np.testing.assert_allclose(slope, upstream * expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_numpy_forward_matches_its_sympy_definition(spec):
    activation = get_activation(spec)
    expected = plain_numpy(activation.expression, x)(POINTS)
    np.testing.assert_allclose(activation_forward(activation)(POINTS), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("spec", ELEMENTWISE)
def test_activation_and_derivative_are_finite_without_warnings_at_1e3(spec):
    activation = get_activation(spec)
    with strict_numpy():
        values, slopes = activation_forward(activation)(EXTREMES), activation_derivative(activation)(EXTREMES)
        if not activation.custom:
            hand_written = activation.backward(EXTREMES, values, np.ones_like(EXTREMES))
            assert np.isfinite(hand_written).all() and hand_written.shape == EXTREMES.shape
    assert np.isfinite(values).all() and np.isfinite(slopes).all()
    assert values.shape == slopes.shape == EXTREMES.shape


@pytest.mark.parametrize("spec, slope_at_kink", [("relu", 0.0), ("leaky_relu", 0.01), ("leaky_relu(0.2)", 0.2),
                                                  ("elu", 1.0), ("elu(0.5)", 0.5)])
def test_relu_type_derivative_at_the_kink_is_the_left_slope(spec, slope_at_kink):
    activation = get_activation(spec)
    assert activation.kinks == (0.0,)
    zero = np.array([0.0])
    assert activation_derivative(activation)(zero)[0] == pytest.approx(slope_at_kink)
    assert activation.backward(zero, activation.numpy(zero), np.ones(1))[0] == pytest.approx(slope_at_kink)


@pytest.mark.parametrize("spec, kinks", [("abs(x - 1)", (1.0,)), ("min(x, 1)", (1.0,)), ("relu(x + 2)", (-2.0,)),
                                         ("x/(1+abs(x))", (0.0,)), ("max(x, -x/2) + abs(x + 3)", (-3.0, 0.0)),
                                         ("x*sigmoid(x)", ()), ("elu(x - 0.5)", (0.5,))])
def test_kinks_of_a_custom_activation_are_derived_from_its_expression(spec, kinks):
    activation = get_activation(spec)
    assert activation.kinks == kinks
    assert activation.analytic == (not kinks)


def test_target_levels_follow_the_output_range():
    from derive.model.activations import target_levels
    levels = {name: target_levels(ACTIVATIONS[name]) for name in ("sigmoid", "tanh", "relu", "softmax", "linear")}
    assert levels["sigmoid"] == pytest.approx((0.9, 0.1)) and levels["tanh"] == pytest.approx((0.9, -0.9))
    assert levels["relu"] == levels["softmax"] == levels["linear"] == (1.0, 0.0)


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


@pytest.mark.parametrize("low", [-3.0, -750.0], ids=["ordinary", "left-of-overflow"])
def test_sigmoid_of_a_shifted_net_input_is_the_sigmoid_of_the_sum_bit_for_bit(low):
    # Generated code adds the bias inside the sigmoid's first pass (sigmoid(Z1, shift=b1, out=Z1)).
    sigmoid_numpy = ACTIVATIONS["sigmoid"].numpy
    rng = np.random.default_rng(5)
    Z, b = rng.uniform(low, 3.0, (40, 30)), rng.uniform(-2.0, 2.0, 30)
    expected = sigmoid_numpy(Z + b)
    with strict_numpy():
        in_place = Z.copy()
        sigmoid_numpy(in_place, out=in_place, shift=b)
        fresh = sigmoid_numpy(Z, shift=b)
    np.testing.assert_array_equal(in_place, expected)
    np.testing.assert_array_equal(fresh, expected)
    tiny = expected[Z + b < -700.0]
    assert low > -700 or (tiny.size and (tiny > 0).any())  # the left tail is exp(z), not rounded to 0


def row_by_row_softmax(rows) -> np.ndarray:
    """Each row's softmax in Python floats: shifted by its own maximum, summed exactly (math.fsum)."""
    result = []
    for row in np.asarray(rows, dtype=float).tolist():
        powers = [math.exp(value - max(row)) for value in row]
        total = math.fsum(powers)
        result.append([power / total for power in powers])
    return np.array(result)


@pytest.mark.parametrize("rows", [
    [[0.5, -1.0, 2.0], [3.0, 3.0, -4.0], [-15.0, -14.0, -16.5]],  # rows within reach of one common shift
    [[0.0, 1.0, 2.0], [-1000.0, -999.0, -998.0]],  # the second row underflows under the first row's shift
    [[700.0, 0.0, -700.0], [-700.0, 0.0, 700.0], [5.0, 5.0, 5.0]],
    [[1e-300, -1e-300, 0.0], [30.0, -30.0, 0.0]],
], ids=["close", "far-apart", "huge-logits", "tiny-and-wide"])
def test_softmax_rows_match_a_row_by_row_softmax_to_the_last_bits(rows):
    with strict_numpy():
        computed = ACTIVATIONS["softmax"].numpy(np.array(rows))
    np.testing.assert_allclose(computed, row_by_row_softmax(rows), rtol=4e-16, atol=0)


def test_softmax_keeps_a_nan_or_infinite_row_to_itself():
    rows = np.array([[1.0, 2.0, 3.0], [np.nan, 0.0, 1.0], [0.0, np.inf, 1.0], [-np.inf, 0.0, 0.0]])
    with np.errstate(invalid="ignore"):
        computed = ACTIVATIONS["softmax"].numpy(rows)
    np.testing.assert_allclose(computed[0], row_by_row_softmax(rows[:1])[0], rtol=4e-16)
    assert np.isnan(computed[1]).all() and np.isnan(computed[2, 1])
    np.testing.assert_allclose(computed[3], [0.0, 0.5, 0.5], rtol=4e-16)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_derivative_is_sympy_diff_and_numpy_values_match_the_definition(name):
    loss = LOSSES[name]
    assert loss.derivative_expr == sympy.diff(loss.sympy(OUTPUT, TARGET), OUTPUT)
    outputs, targets = np.meshgrid(np.linspace(0.05, 0.95, 7), np.linspace(0.0, 1.0, 5))
    np.testing.assert_allclose(loss.numpy(outputs, targets),
                               plain_numpy(loss.expression, OUTPUT, TARGET)(outputs, targets), rtol=1e-12, atol=1e-15)
    expected = plain_numpy(sympy.diff(loss.expression, OUTPUT), OUTPUT, TARGET)(outputs, targets)
    np.testing.assert_allclose(compile_elementwise(loss.derivative_expr, OUTPUT, TARGET)(outputs, targets), expected,
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(loss.backward(outputs, targets), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(name for name, loss in LOSSES.items() if loss.output_backward))
def test_hand_written_output_delta_is_the_chain_rule_through_the_required_activation(name):
    loss = LOSSES[name]
    output = ACTIVATIONS[loss.requires_output[0]]
    rng = np.random.default_rng(0)
    Z, targets = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    targets /= targets.sum(axis=1, keepdims=True)
    O_ = output.numpy(Z)
    through_activation = output.backward(Z, O_, loss.backward(O_, targets))
    np.testing.assert_allclose(loss.output_backward(O_, targets), through_activation, rtol=1e-12, atol=1e-15)


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
    two = compile_elementwise(OUTPUT - TARGET, OUTPUT, TARGET)
    assert two(np.zeros((4, 1)), np.ones((1, 3))).shape == (4, 3)


@pytest.mark.parametrize("spec", REGISTERED)
def test_every_forward_and_derivative_takes_one_number_as_the_worked_example_gives_them(spec):
    activation = get_activation(spec)
    def oracle(expr, z):  # a constant (the identity's slope) lambdifies to a number: broadcast it
        return float(np.broadcast_to(plain_numpy(expr, x)(np.array([float(z)])), (1,))[0])

    for z in (0.3, np.float64(-1.7), np.array(2.5)):
        expected = oracle(textbook(activation.expression), z)
        assert float(activation_forward(activation)(z)) == pytest.approx(expected, rel=1e-12)
        slope = oracle(sympy.diff(textbook(activation.expression), x), z)
        assert float(activation_derivative(activation)(z)) == pytest.approx(slope, rel=1e-12, abs=1e-15)
