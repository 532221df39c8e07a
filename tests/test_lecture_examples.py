"""The lecture's worked examples, to the digits the slides print.

Expected values are the lecture's (mlp-backprop-lecture.txt: "Simple Example",
the "Backprop Example" with training example "1 0 Label: 0.9", and the
sigmoid table).  Where the lecture stops ("This is time step 2, so momentum
term will be nonzero..."), the second step is computed here by hand, with the
lecture's scalar formulas, independently of the engine.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, Network
from derive.codegen.printing import activation_derivative
from derive.model.expression import VARIABLE as x
from derive.model.functions import sigmoid
from verify import Engine, GradientDescent


def lecture_sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# --- "Simple Example": forward propagation -------------------------------------------


def simple_example():
    """x = (.4, .1); hidden weights (bias, x1, x2) = (.1, .2, .1), (-.2, .3, -.4); output weights
    from (h1, h2) = (-.2, -.1), (.1, -.5) and no output bias (b2 = 0: biases are on or off per network)."""
    network = Network((2, 2, 2), activation="sigmoid")
    params = {"W1": np.array([[0.2, 0.1], [0.3, -0.4]]), "b1": np.array([0.1, -0.2]),
              "W2": np.array([[-0.2, -0.1], [0.1, -0.5]]), "b2": np.zeros(2)}
    return network, params, np.array([[0.4, 0.1]])


def test_simple_example_hidden_net_inputs_and_activations_match_lecture():
    network, params, X = simple_example()
    Z, A = Engine(network).forward_layers(params, X)
    assert np.round(Z[1][0], 2).tolist() == [0.19, -0.12]
    assert np.round(A[1][0], 3).tolist() == [0.547, 0.470]


def test_simple_example_outputs_match_lecture():
    network, params, X = simple_example()
    Z, A = Engine(network).forward_layers(params, X)
    # The lecture prints -.1564 and -.180, computed from h rounded to .547 and .470;
    # from the unrounded h the first is -.15647, so both agree to the three digits of -.180.
    assert np.round(Z[2][0], 3).tolist() == [-0.156, -0.180]
    assert np.round(A[2][0], 3).tolist() == [0.461, 0.455]
    assert np.round(Engine(network).forward(params, X)[0], 3).tolist() == [0.461, 0.455]


# --- "Backprop Example": one step of backprop with momentum ----------------------------

ETA, ALPHA = 0.2, 0.9


def backprop_example():
    """2-2-1 sigmoid, every weight .1 (biases too), training example (1, 0) with target .9."""
    network = Network((2, 2, 1), activation="sigmoid", loss="sse")
    params = {"W1": np.full((2, 2), 0.1), "b1": np.full(2, 0.1), "W2": np.full((1, 2), 0.1), "b2": np.full(1, 0.1)}
    return network, params, np.array([[1.0, 0.0]]), np.array([[0.9]])


def test_backprop_example_forward_phase_matches_lecture():
    network, params, X, _ = backprop_example()
    _, A = Engine(network).forward_layers(params, X)
    assert np.round(A[1][0], 2).tolist() == [0.55, 0.55]
    assert round(float(A[2][0, 0]), 3) == 0.552


def test_sigmoid_output_and_hidden_deltas_match_lecture():
    # The lecture's delta is -dE/dnet; with one example dE/db_l is exactly dE/dnet_l.
    network, params, X, T = backprop_example()
    gradients = Engine(network).gradients(params, X, T)
    assert round(-float(gradients["b2"][0]), 3) == 0.086  # .552(.448)(.9 - .552)
    assert np.round(-gradients["b1"], 3).tolist() == [0.002, 0.002]  # (.55)(.45)(.1)(.086)


def test_first_update_with_momentum_matches_lecture():
    network, params, X, T = backprop_example()
    optimizer = GradientDescent(lr=ETA, momentum=ALPHA)
    updated = optimizer.step(params, Engine(network).gradients(params, X, T))
    assert round(float(updated["b2"][0]), 4) == 0.1172  # .1 + (.2)(.086)(1) + (.9)(0)
    assert np.round(updated["W2"][0], 4).tolist() == [0.1095, 0.1095]  # .1 + (.2)(.086)(.55)
    assert np.round(updated["b1"], 4).tolist() == [0.1004, 0.1004]  # .1 + (.2)(.002)(1)
    assert np.round(updated["W1"], 4).tolist() == [[0.1004, 0.1], [0.1004, 0.1]]  # x2 = 0: unchanged


def lecture_step(w_hidden, w_output, x, t, previous):
    """One step of the lecture's algorithm in scalars.

    ``w_hidden[j] = [w_j0, w_j1, w_j2]``, ``w_output = [w_k0, w_k1, w_k2]``;
    ``previous`` holds the last Delta w of each (same layout).  Returns the new
    weights and this step's Delta w.
    """
    inputs = [1.0, *x]
    h = [lecture_sigmoid(sum(w * v for w, v in zip(w_j, inputs))) for w_j in w_hidden]
    hidden = [1.0, *h]
    o = lecture_sigmoid(sum(w * v for w, v in zip(w_output, hidden)))
    delta_k = o * (1 - o) * (t - o)
    delta_j = [h[j] * (1 - h[j]) * w_output[j + 1] * delta_k for j in range(2)]
    change_output = [ETA * delta_k * hidden[i] + ALPHA * previous[1][i] for i in range(3)]
    change_hidden = [[ETA * delta_j[j] * inputs[i] + ALPHA * previous[0][j][i] for i in range(3)] for j in range(2)]
    new_hidden = [[w_hidden[j][i] + change_hidden[j][i] for i in range(3)] for j in range(2)]
    new_output = [w_output[i] + change_output[i] for i in range(3)]
    return new_hidden, new_output, (change_hidden, change_output)


def test_second_step_adds_momentum_times_the_first_change():
    network, params, X, T = backprop_example()
    engine, optimizer = Engine(network), GradientDescent(lr=ETA, momentum=ALPHA)
    first = optimizer.step(params, engine.gradients(params, X, T))
    second = optimizer.step(first, engine.gradients(first, X, T))

    zero = ([[0.0] * 3, [0.0] * 3], [0.0] * 3)
    hidden, output, changes = lecture_step([[0.1] * 3, [0.1] * 3], [0.1] * 3, (1.0, 0.0), 0.9, zero)
    hidden, output, _ = lecture_step(hidden, output, (1.0, 0.0), 0.9, changes)
    np.testing.assert_allclose(second["b2"], [output[0]], rtol=1e-13)
    np.testing.assert_allclose(second["W2"], [output[1:]], rtol=1e-13)
    np.testing.assert_allclose(second["b1"], [hidden[0][0], hidden[1][0]], rtol=1e-13)
    np.testing.assert_allclose(second["W1"], [hidden[0][1:], hidden[1][1:]], rtol=1e-13)
    # The momentum term is really there: without it the second step would differ.
    assert second["b2"][0] - first["b2"][0] == pytest.approx(
        ALPHA * (first["b2"][0] - 0.1) - ETA * engine.gradients(first, X, T)["b2"][0], rel=1e-12)
    assert abs(ALPHA * (first["b2"][0] - 0.1)) > 0.015


# --- the sigmoid table and S' = S(1 - S) ----------------------------------------------

SIGMOID_TABLE = [(-2, 0.12), (-1.5, 0.18), (-1, 0.27), (-0.5, 0.38), (0, 0.50),
                 (0.5, 0.62), (1, 0.73), (1.5, 0.82), (2, 0.88)]


@pytest.mark.parametrize("z, printed", SIGMOID_TABLE)
def test_sigmoid_table_matches_lecture(z, printed):
    assert round(float(ACTIVATIONS["sigmoid"].numpy(np.array(z, float))), 2) == printed


def test_sigmoid_derivative_is_s_times_one_minus_s():
    derivative = ACTIVATIONS["sigmoid"].derivative_expr
    assert sympy.simplify(derivative - sigmoid(x) * (1 - sigmoid(x))) == 0
    z = np.linspace(-6, 6, 25)
    s = np.array([lecture_sigmoid(v) for v in z])
    np.testing.assert_allclose(activation_derivative(ACTIVATIONS["sigmoid"])(z), s * (1 - s), rtol=1e-13)


# --- docs/engine.md shows these examples with their output: keep it true --------------------


def guide_examples():
    """(code, printed output) for each python block of docs/engine.md followed by a text block."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "engine.md").read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    return [(code, blocks[i + 1][1]) for i, (kind, code) in enumerate(blocks[:-1])
            if kind == "python" and blocks[i + 1][0] == "text"]


def test_engine_guide_examples_print_what_the_guide_shows(capsys):
    examples = guide_examples()
    assert len(examples) == 2
    for code, shown in examples:
        exec(compile(code, "docs/engine.md", "exec"), {})
        assert capsys.readouterr().out == shown
