"""Exercises at the end of a report: generated from the network at hand, each with an answer that is right.

The answers are checked against oracles that are not the report's: the
hand-written engine and its optimizer for the numbers of step 2, numpy's own
shapes for the box, the activation records' hand-written derivatives for a
derived δ, and SymPy's δ = o − t for softmax with cross-entropy.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, Network, derive
from derive.report import build_report, lecture_example, random_example, render, worked_example
from derive.report.document import Equations
from derive.report.exercises import exercises_for, step_blanks
from verify import Engine, GradientDescent


@pytest.fixture(scope="module")
def lecture():
    network, start = lecture_example()
    derivation = derive(network)
    return derivation, worked_example(derivation, start)


def test_a_report_ends_with_its_exercises_and_their_answers(lecture):
    derivation, example = lecture
    document = build_report(derivation, example)
    keys = [section.key for section in document.sections]
    assert keys.index("exercises") > keys.index("four-equations-again") and keys[-1] == "answers"
    page = render(document, "markdown", "r.md")["r.md"].decode()
    exercises = page[page.index("## Exercises"):page.index("## Appendix: how SymPy proves it")]
    assert exercises.count("**Exercise ") == 4
    assert "Suppose it used tanh instead" in exercises  # another activation than the network's sigmoid
    assert [e.key for e in exercises_for(derivation, example)] == ["derive-delta", "redo-step-2", "output-delta",
                                                                   "shapes"]
    assert [e.key for e in exercises_for(derivation)] == ["derive-delta", "output-delta", "shapes"]


def test_the_blanks_of_step_2_are_the_engines_numbers_in_the_order_a_student_computes_them(lecture):
    derivation, example = lecture
    blanks = {blank.label: blank.value for blank in step_blanks(derivation, example, 2)}
    labels = list(blanks)
    assert labels[:5] == ["Z1[0]", "Z1[1]", "A1[0]", "A1[1]", "Z2[0]"]
    assert labels.index("E") < labels.index("delta2[0]") < labels.index("delta1[0]") < labels.index("dE/dW2[0,0]")
    assert labels.index("dE/db2[0]") < labels.index("dE/dW1[0,0]") < labels.index("W2[0,0]'")
    network, start = lecture_example()
    engine, optimizer = Engine(network), GradientDescent(start.lr, start.momentum)
    params = optimizer.step(start.params, engine.gradients(start.params, start.X, start.T))  # after step 1
    Z, A = engine.forward_layers(params, start.X)
    loss, gradients = engine.loss_and_gradients(params, start.X, start.T)
    after = optimizer.step(params, gradients)
    assert blanks["Z1[1]"] == pytest.approx(Z[1][0, 1], rel=1e-12)
    assert blanks["A2[0]"] == pytest.approx(A[2][0, 0], rel=1e-12)
    assert blanks["E"] == pytest.approx(loss, rel=1e-12)
    assert blanks["dE/dW1[1,0]"] == pytest.approx(gradients["W1"][1, 0], rel=1e-10)
    assert blanks["dE/db2[0]"] == pytest.approx(gradients["b2"][0], rel=1e-10)
    assert blanks["W2[0,1]'"] == pytest.approx(after["W2"][0, 1], rel=1e-12)
    assert blanks["W2[0,1]'"] == pytest.approx(0.1272, abs=5e-5)  # the report's step 2, computed by hand earlier


def test_with_several_examples_a_blank_names_the_example_first():
    network = Network((2, 2, 1))
    start = random_example(network, seed=1)
    start = type(start)(start.params, np.vstack([start.X, start.X[::-1] * 0.5]), np.vstack([start.T, start.T]),
                        start.lr, start.momentum)
    labels = [blank.label for blank in step_blanks(derive(network), worked_example(derive(network), start), 1)]
    assert labels[:4] == ["Z1[0,0]", "Z1[0,1]", "Z1[1,0]", "Z1[1,1]"] and "dE/dW1[1,0]" in labels


def test_the_shapes_are_the_shapes_numpy_gives(lecture):
    network = Network((3, 4, 2), activation=["tanh", "softmax"], loss="cross_entropy")
    derivation = derive(network)
    start = random_example(network, seed=2)
    shapes = next(e for e in exercises_for(derivation, worked_example(derivation, start)) if e.key == "shapes")
    given = {blank.label: blank.value for blank in shapes.blanks}
    _, gradients = Engine(network).loss_and_gradients(start.params, start.X, start.T)
    Z, _ = Engine(network).forward_layers(start.params, start.X)
    for layer in (1, 2):
        assert given["shape of delta%d" % layer] == "%d×%d" % Z[layer].shape
        assert given["shape of dE/dW%d" % layer] == "%d×%d" % gradients["W%d" % layer].shape
        assert given["shape of dE/db%d" % layer] == "1×%d" % gradients["b%d" % layer].shape


def test_the_derived_delta_of_another_activation_is_its_hand_written_derivative():
    derivation = derive(Network((2, 2, 1)))
    exercise = exercises_for(derivation)[0]
    rows = [row for block in exercise.answer if isinstance(block, Equations) for row in block.rows]
    derivative = rows[0].rhs[0]  # ∂h_j/∂net_j written with the output h_j, for tanh
    h = next(a for a in derivative.atoms(sympy.Indexed) if a.base.label.name == "h")
    z = np.linspace(-2, 2, 9)
    hand = ACTIVATIONS["tanh"].backward(z, np.tanh(z), np.ones_like(z))
    got = [float(derivative.subs(h, np.tanh(value))) for value in z]
    np.testing.assert_allclose(got, hand, rtol=1e-12)


def test_showing_delta_is_output_minus_target_needs_targets_that_sum_to_one():
    derivation = derive(Network((3, 4, 3), activation=["relu", "softmax"], loss="cross_entropy"))
    exercise = next(e for e in exercises_for(derivation) if e.key == "output-delta")
    statement = next(part for part in exercise.prompt if isinstance(part, sympy.Eq))
    terms = {sympy.sstr(term): coefficient for term, coefficient in statement.rhs.as_coefficients_dict().items()}
    assert terms == {"o[j]": 1, "t[j]": -1}  # ∂E/∂net_j = o_j − t_j
    assert "given that the targets of an example sum to one" in "".join(p for p in exercise.prompt
                                                                        if isinstance(p, str))


def test_the_exercises_example_of_the_docs_prints_what_the_docs_show(capsys):
    text = (Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    code, shown = next((code, blocks[i + 1][1]) for i, (kind, code) in enumerate(blocks[:-1])
                       if kind == "python" and "exercises_for" in code and blocks[i + 1][0] == "text")
    exec(compile(code, "docs/reports.md", "exec"), {})
    assert capsys.readouterr().out == shown
