"""The array printer (derive/codegen/array_printer.py): index-level expressions become whole-array numpy code.

The printed code is checked two ways: its text where the form matters (a
contraction must print as ``@``, a bias gradient as a product with ones), and its
value, evaluated on random arrays against ``np.einsum`` references written
here by hand from the index expressions.  Expressions go through
``stabilize`` first, as the planner sends them to the printer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from sympy import Abs, Heaviside, IndexedBase, KroneckerDelta, Max, Product, Rational, Sum, exp, log, sign, tanh

from derive.model import numeric
from derive.model.functions import leaky_relu, relu, sigmoid, softplus
from derive.symbolic.symbols import N, T, X, activations, biases, deltas, i, j, k, m, n, preactivations, size, weights
from derive.codegen import nodes
from derive.codegen.module_printer import ModulePrinter
from derive.codegen.array_printer import ArrayPrinter
from derive.codegen.contractions import contraction
from derive.codegen.inplace import Lowering
from derive.codegen.stable_forms import log_softmax, softmax, stabilize
from derive.symbolic.indices import free_indices

W1, W2, b1 = weights(1), weights(2), biases(1)
Z1, Z2, A1, A2 = preactivations(1), preactivations(2), activations(1), activations(2)
delta1, delta2 = deltas(1), deltas(2)
N_, I_, J_, K_ = 5, 4, 3, 2  # example, input, hidden and output sizes of the random arrays

RNG = np.random.default_rng(7)
ARRAYS = {
    "X": RNG.standard_normal((N_, I_)), "T": RNG.uniform(0, 1, (N_, K_)),
    "W1": RNG.standard_normal((J_, I_)), "b1": RNG.standard_normal(J_), "W2": RNG.standard_normal((K_, J_)),
    "Z1": RNG.standard_normal((N_, J_)), "A1": RNG.uniform(0.1, 0.9, (N_, J_)),
    "Z2": RNG.standard_normal((N_, K_)) * 3, "A2": RNG.uniform(0.1, 0.9, (N_, K_)),
    "delta1": RNG.standard_normal((N_, J_)), "delta2": RNG.standard_normal((N_, K_)),
}


def printed(expr, layout=(n, j)):
    printer = ArrayPrinter()
    return printer.array(stabilize(expr), layout), printer


def evaluate(expr, layout=(n, j), arrays=ARRAYS):
    code, printer = printed(expr, layout)
    namespace = {"np": np, **{name: getattr(numeric, name) for name in printer.helpers_used}, **arrays, "N": N_}
    return eval(code, namespace)  # code printed by the printer under test, evaluated in a test


def test_weighted_sum_prints_as_matmul_with_transpose_plus_broadcast_bias():
    expr = Sum(W1[j, i] * X[n, i], (i, 0, size(0) - 1)) + b1[j]
    assert printed(expr)[0] == "b1 + (X @ W1.T)"
    np.testing.assert_allclose(evaluate(expr), np.einsum("ji,ni->nj", ARRAYS["W1"], ARRAYS["X"]) + ARRAYS["b1"])


def test_hidden_delta_backpropagates_through_next_weights():
    expr = A1[n, j] * (1 - A1[n, j]) * Sum(W2[k, j] * delta2[n, k], (k, 0, size(2) - 1))
    code = printed(expr)[0]
    assert "delta2 @ W2" in code
    A = ARRAYS["A1"]
    np.testing.assert_allclose(evaluate(expr), A * (1 - A) * np.einsum("kj,nk->nj", ARRAYS["W2"], ARRAYS["delta2"]))


def test_weight_gradient_sums_over_examples_as_delta_transpose_times_activations():
    expr = Sum(delta1[n, j] * X[n, i], (n, 0, N - 1)) + Rational(1, 100) * W1[j, i] + Rational(1, 10) * sign(W1[j, i])
    code = printed(expr, (j, i))[0]
    assert "delta1.T @ X" in code and "np.sign(W1.real)" in code
    reference = ARRAYS["delta1"].T @ ARRAYS["X"] + ARRAYS["W1"] / 100 + np.sign(ARRAYS["W1"]) / 10
    np.testing.assert_allclose(evaluate(expr, (j, i)), reference)


def test_transposed_target_layout_swaps_the_matmul():
    expr = Sum(delta1[n, j] * X[n, i], (n, 0, N - 1))
    assert printed(expr, (i, j))[0] == "X.T @ delta1"


def test_bias_gradient_is_a_sum_over_the_example_axis_by_a_product_with_ones():
    expr = Sum(delta1[n, j], (n, 0, N - 1))
    assert printed(expr, (j,))[0] == "np.ones(delta1.shape[-2], delta1.dtype) @ delta1"
    np.testing.assert_allclose(evaluate(expr, (j,)), np.einsum("nj->j", ARRAYS["delta1"]))


def test_a_few_entries_are_summed_by_add_reduce():
    printer = ArrayPrinter()
    printer.small_arrays = True  # as in a module's branch for arrays of a few entries
    assert printer.array(Sum(delta1[n, j], (n, 0, N - 1)), (j,)) == "np.add.reduce(delta1, axis=0)"


def test_row_sum_inside_an_elementwise_product_keeps_its_axis():
    expr = -T[n, j] + A2[n, j] * Sum(T[n, m], (m, 0, size(2) - 1))
    assert "(T @ np.ones(T.shape[-1], T.dtype))[:, None]" in printed(expr)[0]
    np.testing.assert_allclose(evaluate(expr), -ARRAYS["T"] + ARRAYS["A2"] * ARRAYS["T"].sum(axis=1, keepdims=True))


def test_column_sum_of_a_transposed_matrix_lines_up_with_the_frame():
    expr = Sum(W2[k, j], (j, 0, size(1) - 1)) * delta2[n, k]  # row sums of W2, one per output unit k
    np.testing.assert_allclose(evaluate(expr, (n, k)), ARRAYS["delta2"] * np.einsum("kj->k", ARRAYS["W2"]))
    expr = Sum(W2[k, j], (k, 0, size(2) - 1)) * A1[n, j]  # column sums of W2, one per hidden unit j
    np.testing.assert_allclose(evaluate(expr, (n, j)), ARRAYS["A1"] * np.einsum("kj->j", ARRAYS["W2"]))


def test_three_factor_contraction_prints_as_einsum():
    expr = Sum(W2[k, j] * delta2[n, k] * A2[n, k], (k, 0, size(2) - 1))
    assert "np.einsum" in printed(expr)[0]
    reference = np.einsum("kj,nk,nk->nj", ARRAYS["W2"], ARRAYS["delta2"], ARRAYS["A2"])
    np.testing.assert_allclose(evaluate(expr), reference)


def test_full_reduction_of_a_loss_is_one_sum():
    expr = Sum((A2[n, k] - T[n, k]) ** 2 / 2, (k, 0, size(2) - 1), (n, 0, N - 1))
    value = evaluate(expr, ())
    np.testing.assert_allclose(value, ((ARRAYS["A2"] - ARRAYS["T"]) ** 2).sum() / 2)


def test_vector_entry_missing_a_leading_axis_gets_a_new_axis():
    expr = Sum(delta1[n, j], (j, 0, size(1) - 1)) * A1[n, j]
    code = printed(expr)[0]
    np.testing.assert_allclose(evaluate(expr), ARRAYS["delta1"].sum(axis=1, keepdims=True) * ARRAYS["A1"])
    assert code.endswith("[:, None]")


def test_softmax_pattern_prints_as_the_stable_helper():
    expr = exp(Z2[n, j]) / Sum(exp(Z2[n, m]), (m, 0, size(2) - 1))
    code, printer = printed(expr)
    assert code == "softmax(Z2)" and printer.helpers_used == {"softmax"}
    big = {**ARRAYS, "Z2": ARRAYS["Z2"] * 1000}
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value = evaluate(expr, arrays=big)
    np.testing.assert_allclose(value.sum(axis=1), 1.0)


def test_log_of_softmax_becomes_log_softmax_so_cross_entropy_never_takes_log_zero():
    output = exp(Z2[n, k]) / Sum(exp(Z2[n, m]), (m, 0, size(2) - 1))
    expr = Sum(-T[n, k] * log(output), (k, 0, size(2) - 1), (n, 0, N - 1))
    assert stabilize(expr).has(log_softmax)
    big = {**ARRAYS, "Z2": ARRAYS["Z2"] * 1000}
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value = evaluate(expr, (), arrays=big)
    z = big["Z2"]
    reference = -(big["T"] * (z - z.max(axis=1, keepdims=True))).sum() + (
        big["T"].sum(axis=1) * np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1))).sum()
    np.testing.assert_allclose(value, reference)


def test_log_sigmoid_and_log_one_minus_sigmoid_go_through_softplus():
    expr = log(sigmoid(Z2[n, j])) + log(1 - sigmoid(Z2[n, j]))
    assert stabilize(expr) == -softplus(-Z2[n, j]) - softplus(Z2[n, j])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value = evaluate(expr, arrays={**ARRAYS, "Z2": np.array([[-1000.0, 1000.0]])})
    np.testing.assert_allclose(value, [[-1000.0, -1000.0]])


def test_sigmoid_prints_as_the_stable_helper_exact_in_both_tails():
    expr = sigmoid(Z1[n, j])
    assert "sigmoid(" in printed(expr)[0]
    points = [-1000.0, -40.0, -30.0, -4.5, -1.0, 0.0, 2.0, 40.0, 1000.0]
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value = evaluate(expr, arrays={"Z1": np.array([points])})
    # Independent scalar oracle: the logistic function on whichever side exp cannot overflow.
    exact = [1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z)) for z in points]
    np.testing.assert_allclose(value[0], exact, rtol=4e-16, atol=0)


def test_kinks_compare_real_parts_so_complex_step_sees_the_slope():
    z = np.array([[-2.0 + 1e-20j, 3.0 + 1e-20j]])
    for expr, slope in [(Abs(Z1[n, j]), [-1, 1]), (relu(Z1[n, j]), [0, 1]), (Max(Z1[n, j], 0), [0, 1]),
                        (leaky_relu(Z1[n, j], Rational(1, 5)), [0.2, 1])]:
        value = evaluate(expr, arrays={"Z1": z})
        np.testing.assert_allclose(value.imag / 1e-20, [slope], err_msg=str(expr))


def test_piecewise_derivative_of_leaky_relu_selects_by_real_part():
    expr = sympy.diff(leaky_relu(Z1[n, j], Rational(1, 5)), Z1[n, j])
    value = evaluate(expr, arrays={"Z1": np.array([[-1.0 + 1j, 2.0 - 1j]])})
    np.testing.assert_allclose(value, [[0.2, 1.0]])


def test_free_indices_are_the_axis_labels_of_an_expression():
    assert free_indices(Sum(W2[k, j] * delta2[n, k], (k, 0, size(2) - 1))) == {n, j}
    assert free_indices(softmax(Z2[n, j], j)) == {n, j}


@pytest.mark.parametrize("expr, node", [
    (KroneckerDelta(j, k) * W2[k, j], "KroneckerDelta"),
    (sympy.erf(Z1[n, j]), "erf"),
    (Product(A1[n, j], (n, 0, N - 1)), "Product"),
    (W1[0, j] * X[n, j], "W1[0, j]"),
    (Sum(X[n, i], (i, 1, size(0) - 1)) * A1[n, j], "Sum"),
    (A1[n, j] * j, "index j"),
    (sympy.Function("g")(Z1[n, j]), "g"),
], ids=["kronecker", "erf-needs-math", "product", "number-index", "partial-range", "index-as-number", "unknown-function"])
def test_unsupported_node_raises_not_implemented_naming_it(expr, node):
    with pytest.raises(NotImplementedError, match=node.replace("[", r"\[").replace("]", r"\]")):
        printed(expr)


def test_expression_missing_a_target_axis_is_refused():
    with pytest.raises(NotImplementedError, match="free indices"):
        printed(b1[j], (n, j))


# --- the printer only prints: precedence, and memory chosen by the statement ----------------

def test_the_printer_prints_what_it_is_given_and_leaves_stable_forms_to_the_planner():
    printer = ArrayPrinter()
    quotient = exp(Z2[n, j]) / Sum(exp(Z2[n, m]), (m, 0, size(2) - 1))
    assert printer.array(quotient, (n, j)) == "np.exp(Z2)/np.add.reduce(np.exp(Z2), axis=1, keepdims=True)"
    assert printer.helpers_used == set()


HIDDEN_SUM = Sum(W2[k, j] * delta2[n, k], (k, 0, size(2) - 1))
BACKPROPAGATED = ARRAYS["delta2"] @ ARRAYS["W2"]


@pytest.mark.parametrize("expr, code, reference", [
    (Sum(2 * W2[k, j] * delta2[n, k], (k, 0, size(2) - 1)) ** 2, "(2*(delta2 @ W2))**2", (2 * BACKPROPAGATED) ** 2),
    (HIDDEN_SUM * Heaviside(Z1[n, j], 0), "(Z1.real > 0)*(delta2 @ W2)", (ARRAYS["Z1"] > 0) * BACKPROPAGATED),
    (sign(A1[n, j] + HIDDEN_SUM), "np.sign((A1 + (delta2 @ W2)).real)", np.sign(ARRAYS["A1"] + BACKPROPAGATED)),
    (Sum(-T[n, m] * A2[n, m] / 2, (m, 0, size(2) - 1)) / N * A1[n, j], "-1/2*A1*np.add.reduce(A2*T, axis=1, keepdims=True)/N",
     -(ARRAYS["T"] * ARRAYS["A2"]).sum(axis=1, keepdims=True) / 2 / N_ * ARRAYS["A1"]),
], ids=["power-of-a-scaled-matmul", "mask-times-matmul", "real-part-of-a-sum", "scaled-row-sum"])
def test_parentheses_follow_sympy_precedence_for_what_each_node_prints_as(expr, code, reference):
    assert printed(expr)[0] == code
    np.testing.assert_allclose(evaluate(expr), reference)


@pytest.mark.parametrize("expr, layout, form", [
    (HIDDEN_SUM, (n, j), "matmul"),
    (Sum(W2[k, j] * delta2[n, k] * A2[n, k], (k, 0, size(2) - 1)), (n, j), "einsum"),
    (Sum(delta1[n, j], (n, 0, N - 1)), (j,), None),
    (Sum(2 * W2[k, j] * delta2[n, k], (k, 0, size(2) - 1)), (n, j), None),  # prints as 2*(delta2 @ W2)
    (A1[n, j] * HIDDEN_SUM, (n, j), None),
], ids=["matmul", "einsum", "reduction", "index-free-factor", "product"])
def test_contraction_tells_before_printing_which_values_write_into_given_memory(expr, layout, form):
    assert contraction(expr) == form
    if form is None:
        with pytest.raises(ValueError, match="out="):
            ArrayPrinter().array(expr, layout, out="t0")
    else:
        assert ArrayPrinter().array(expr, layout, out="t0").endswith("out=t0)")


def test_lowering_gives_dead_memory_only_to_a_matrix_product_and_the_printer_follows_the_statement():
    Q, P, S, R, Y = (IndexedBase(name, real=True) for name in "QPSRY")
    statements = [(Z1[n, j], Sum(W1[j, i] * X[n, i], (i, 0, size(0) - 1))), (A1[n, j], tanh(Z1[n, j])),
                  (P[n, j], Sum(A1[n, i] * W2[j, i], (i, 0, size(1) - 1))),
                  (S[n, j], Sum(Q[n, j, k], (k, 0, size(2) - 1))),  # A1 is dead, but a reduction cannot use it
                  (R[n, j], Sum(P[n, i] * W2[j, i], (i, 0, size(1) - 1))),  # a matrix product can
                  (Y[n, j], R[n, j] + S[n, j])]
    body = Lowering(statements, {"Y"}, {"X": (N, 4), "W1": (3, 4), "W2": (3, 3), "Q": (N, 3, 2)}).statements()
    assigned = {step.target.base: step for step in body if isinstance(step, nodes.Assign) and step.target.base != Y}
    assert assigned[S].out is None and assigned[S].kept is None
    assert assigned[R].out == A1[n, j]
    function = nodes.FunctionDef("f", ("X", "W1", "W2", "Q"), "Y.", tuple(body) + (nodes.Return(Y[n, j]),))
    source = ModulePrinter().print_module(nodes.Module("Lowered.", (function,)))
    assert "S = np.add.reduce(Q, axis=2)\n" in source and "R = np.matmul(P, W2.T, out=A1)\n" in source
    rng = np.random.default_rng(1)
    inputs = {"X": rng.standard_normal((5, 4)), "W1": rng.standard_normal((3, 4)), "W2": rng.standard_normal((3, 3)),
              "Q": rng.standard_normal((5, 3, 2))}
    namespace = {"N": 5, "dtype": np.float64, "workspace": None}
    exec(source, namespace)  # code printed by the printer under test, run in a test
    hidden = np.tanh(inputs["X"] @ inputs["W1"].T) @ inputs["W2"].T
    np.testing.assert_allclose(namespace["f"](**inputs), hidden @ inputs["W2"].T + inputs["Q"].sum(axis=2))
