"""Derivation reports: the worked example's numbers, the content, the printers, determinism.

Expected numbers come from the lecture ("Backprop Example": o = .552,
δ_k = .086, δ_j = .002, updated weights .1172, .1095, .1004, .1), from the
lecture's scalar formulas computed here by hand for step 2, and from the
hand-written engine (an oracle independent of the derivation).  The renderers
(Chromium, pdflatex, Jupyter) are in test_report_renderers.py.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, Network, derive
from derive.report import build_report, lecture_example, random_example, render, worked_example
from derive.report.example_sections import is_detailed
from derive.report.math import latex, mathml, number
from verify import Engine, GradientDescent, check_gradients
from verify.check.evidence import engine_agreement, step_size_study, verification_data
from verify.report_writers import report_document


@pytest.fixture(scope="module")
def lecture():
    network, start = lecture_example()
    derivation = derive(network)
    example = worked_example(derivation, start)
    return derivation, example, build_report(derivation, example, verification_data(example))


# --- the worked example --------------------------------------------------------------------


def test_lecture_example_reproduces_the_numbers_the_lecture_prints(lecture):
    _, example, _ = lecture
    step = example.steps[0]
    assert np.round(step.values["A1"][0], 2).tolist() == [0.55, 0.55]
    assert round(float(step.values["A2"][0, 0]), 3) == 0.552
    assert round(-float(step.values["delta2"][0, 0]), 3) == 0.086       # the lecture's delta_k = -dE/dnet
    assert np.round(-step.values["delta1"][0], 3).tolist() == [0.002, 0.002]
    updated = step.updated
    assert round(float(updated["b2"][0]), 4) == 0.1172
    assert np.round(updated["W2"][0], 4).tolist() == [0.1095, 0.1095]
    assert np.round(updated["b1"], 4).tolist() == [0.1004, 0.1004]
    assert np.round(updated["W1"], 4).tolist() == [[0.1004, 0.1], [0.1004, 0.1]]


def test_second_step_carries_the_momentum_term_as_computed_by_hand(lecture):
    _, example, _ = lecture
    s = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    eta, alpha = 0.2, 0.9
    w = {"b1": 0.1, "w1": 0.1, "w2": 0.1, "b2": 0.1, "v": 0.1}  # symmetric: both hidden units alike
    change = dict.fromkeys(w, 0.0)
    for _ in range(2):
        h = s(w["w1"] * 1 + w["w2"] * 0 + w["b1"])
        o = s(2 * w["v"] * h + w["b2"])
        delta_k = o * (1 - o) * (0.9 - o)                   # the lecture's, sign included
        delta_j = h * (1 - h) * w["v"] * delta_k
        steps = {"b2": delta_k, "v": delta_k * h, "b1": delta_j, "w1": delta_j * 1, "w2": delta_j * 0}
        change = {name: eta * steps[name] + alpha * change[name] for name in w}
        w = {name: w[name] + change[name] for name in w}
    final = example.steps[1].updated
    assert final["b2"][0] == pytest.approx(w["b2"], rel=1e-12)
    assert final["W2"][0, 1] == pytest.approx(w["v"], rel=1e-12)
    assert final["W1"][1, 0] == pytest.approx(w["w1"], rel=1e-12) and final["W1"][1, 1] == 0.1
    assert example.steps[1].changes["b2"][0] == pytest.approx(change["b2"], rel=1e-12)
    assert abs(example.steps[1].changes["b2"][0] - (-eta * example.steps[1].gradients["b2"][0])) > 1e-3


NETWORKS = {
    "sigmoid-sse": Network((2, 3, 1)),
    "tanh-softmax-decay": Network((3, 4, 3), activation=["tanh", "softmax"], loss="cross_entropy",
                                  weight_decay=0.01, l1=0.001),
    "relu-bce-mean-nobias": Network((2, 3, 1), activation=["relu", "sigmoid"], loss="binary_cross_entropy",
                                    reduction="mean", bias=False),
    "custom-expressions": Network((2, 2, 1), activation=["x/(1+abs(x))", "x*sigmoid(x)"]),
    **{"%s-hidden" % name: Network((2, 3, 2), activation=[name if name != "leaky_relu" else "leaky_relu(0.2)",
                                                          "linear"])
       for name, record in ACTIVATIONS.items() if record.elementwise},
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_worked_example_agrees_with_the_engine_and_its_optimizer(name):
    network = NETWORKS[name]
    example = worked_example(derive(network), random_example(network, seed=3, lr=0.3, momentum=0.5))
    engine, optimizer = Engine(network), GradientDescent(0.3, 0.5)
    params = example.start.params
    for step in example.steps:
        _, A = engine.forward_layers(params, example.start.X)
        loss, grads = engine.loss_and_gradients(params, example.start.X, example.start.T)
        assert step.loss == pytest.approx(loss, rel=1e-12)
        for layer in range(1, network.depth + 1):
            np.testing.assert_allclose(step.values["A%d" % layer], A[layer], rtol=1e-12, atol=1e-15)
        params = optimizer.step(params, grads)
        for key in params:
            np.testing.assert_allclose(step.gradients[key], grads[key], rtol=1e-10, atol=1e-15)
            np.testing.assert_allclose(step.updated[key], params[key], rtol=1e-12, atol=1e-15)


def test_engine_agreement_flags_a_wrong_worked_example(lecture):
    _, example, _ = lecture
    assert all(row["agree"] for row in engine_agreement(example))
    example.steps[1].gradients["W2"][0, 1] *= 1.001
    try:
        rows = {row["quantity"]: row["agree"] for row in engine_agreement(example)}
    finally:
        example.steps[1].gradients["W2"][0, 1] /= 1.001
    assert rows["dE/dW2, step 2"] is False and rows["dE/dW2, step 1"] is True


def test_step_size_study_shows_truncation_and_rounding_around_the_chosen_step():
    network, start = lecture_example()
    study = step_size_study(network, start.params, start.X, start.T)
    errors = dict(zip(study["steps"], study["errors"]))
    largest, smallest = max(errors), min(errors)
    assert study["entry"] == "b2[0]" and study["chosen_error"] < 1e-9
    assert errors[largest] > 1e3 * study["chosen_error"] and errors[smallest] > 1e3 * study["chosen_error"]
    assert study["complex_step_error"] < 1e-14


# --- content ---------------------------------------------------------------------------------


def test_the_appendix_writes_out_every_layer_with_a_new_activation_and_the_results_of_a_repeated_one():
    derivation = derive(Network((3, 4, 4, 4, 4, 2), activation=["tanh", "relu", "softplus", "relu", "sigmoid"]))
    page = render(build_report(derivation), "html", "r.html")["r.html"].decode()
    for layer in range(1, 6):
        section = re.search(r'<section id="appendix-layer-%d">(.*?)</section>' % layer, page, re.S).group(1)
        assert mathml(derivation.delta(layer))[len("<math>"):-len("</math>")] in section
        steps = re.findall(r'<tr class="caption"><td colspan="3">([^<]*)</td>', section)
        if layer == 2:  # the same activation as layer 4 above it: its results only, without the chain-rule steps
            assert steps == ["delta2", "dE/dW2", "dE/db2"]
        else:
            assert len(steps) >= 10 and "dA%d/dZ%d: derivative of the activation" % (layer, layer) in " ".join(steps)
    assert "Layer 2 takes the same steps as the layer above with the same activation (relu)" in page


def test_primed_indices_and_index_brackets_stay_in_the_appendix(lecture):
    _, _, document = lecture
    page = render(document, "html", "r.html")["r.html"].decode()
    main, appendix = page.split('<section id="appendix-derivation">')
    primed = re.compile(r"<msup><mi>[nkji]</mi><mo>&#8242;</mo></msup>")
    bracket = re.compile(r"<mo>\[</mo><mi>[nkji]</mi><mo>=</mo>")
    assert not primed.search(main) and not bracket.search(main)
    assert primed.search(appendix) and bracket.search(appendix)


def test_html_math_is_mathml_printed_from_the_derivation_and_holds_no_tex(lecture):
    derivation, _, document = lecture
    page = render(document, "html", "r.html")["r.html"].decode()
    for equation in derivation.equations():
        assert mathml(equation.rhs)[len("<math>"):-len("</math>")] in page
    text = re.sub(r"<pre>.*?</pre>|<svg.*?</svg>|<style>.*?</style>", "", page, flags=re.S)
    assert not re.search(r"\\[a-zA-Z]+|\$", text)
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert links and all(link.startswith(("#", "data:")) for link in links)


def test_markdown_has_github_math_and_writes_its_figures_beside_it(lecture):
    derivation, _, document = lecture
    files = render(document, "markdown", "out/lecture.md")
    page = files["lecture.md"].decode()
    assert "$$\n\\begin{aligned}" in page and "= %s\n$$" % latex(derivation.delta(2)) in page
    assert r"\delta^{(2)}_{n,j}= A^{(2)}_{n,j} \left(1 - A^{(2)}_{n,j}\right) \left(A^{(2)}_{n,j} - T_{n,j}\right)" in page
    assert set(files) == {"lecture.md", "lecture-figures/network.svg", "lecture-figures/step-size.svg"}
    assert "](lecture-figures/network.svg)" in page and files["lecture-figures/network.svg"].startswith(b"<?xml")


def test_the_lecture_table_agrees_with_every_number_the_slides_print_and_points_out_their_slip(lecture):
    _, _, document = lecture
    page = render(document, "markdown", "r.md")["r.md"].decode()
    table = page[page.index("*The lecture's Backprop Example against this report*"):].split("\n\n")[1]
    rows = [row for row in table.splitlines()[2:]]
    assert len(rows) == 24 and sum(row.endswith("| same |") for row in rows) == 23
    slip = next(row for row in rows if not row.endswith("| same |"))
    # w_{j=2,i=2}: its change is 0 (x_2 = 0), so it stays .1; the slide prints .1 + .0004 = .1004
    assert slip.startswith("| $w_{j=2,i=2}$ | $W^{(1)}_{1,1}$ | .1004 | .1000 | the slide's slip: with Δw = 0")
    assert "| $\\Delta w_{j=2,i=2}$ | $\\Delta W^{(1)}_{1,1}$ | 0 | 0 | same |" in table
    assert "SymPy confirms it against the index-level derivation" in page
    tanh = render(build_report(derive(Network((2, 2, 1), activation="tanh"))), "markdown", "t.md")["t.md"].decode()
    assert "The lecture's Backprop Example" not in tanh


def test_large_network_worked_example_is_summarised():
    network = Network((784, 100, 10), activation=["relu", "softmax"], loss="cross_entropy")
    assert not is_detailed(network, 1) and is_detailed(Network((2, 2, 1)), 1)
    document = report_document(network, random_example(network, seed=0))
    page = render(document, "markdown", "big.md")["big.md"].decode()
    assert "largest entries by magnitude" in page and "| ∂E/∂W1 | 100×784 |" in page
    values = page[page.index("*Forward pass and error terms*"):].split("\n\n")[1]
    delta1 = next(row for row in values.splitlines() if row.startswith("| delta1 |"))
    assert delta1.count(",") == 99  # all 100 error terms of the hidden layer
    assert len(page) < 200_000 and len(re.findall(r"-?\d\.\d+", page)) < 2_000


@pytest.mark.parametrize("fmt", ["html", "markdown", "latex", "notebook"])
def test_same_inputs_give_byte_identical_files(fmt):
    network = Network((2, 3, 2), activation=["tanh", "softmax"], loss="cross_entropy")
    first = render(report_document(network, random_example(network, 1)), fmt, "r.x")
    second = render(report_document(network, random_example(network, 1)), fmt, "r.x")
    assert first == second and len(first) == (1 if fmt in ("html", "notebook") else 3)


def test_mathml_printer_writes_the_derivations_conventions():
    W, Z = sympy.IndexedBase("W1"), sympy.IndexedBase("Z1")
    j, k, n, m = sympy.symbols("j k n m", integer=True)
    bracket = "<math><mrow><mo>[</mo><mi>j</mi><mo>=</mo><mi>k</mi><mo>]</mo></mrow></math>"
    assert mathml(sympy.KroneckerDelta(j, k)) == bracket
    derivative = mathml(sympy.Derivative(sympy.Symbol("E"), W[j, k]))
    assert derivative.startswith("<math><mfrac><mrow><mo>&#8706;</mo><mi>E</mi></mrow><mrow><mo>&#8706;</mo><msubsup>")
    assert "<mo>(</mo><mn>1</mn><mo>)</mo>" in derivative  # the layer as a superscript: W^(1)_{j,k}
    double = mathml(sympy.Sum(Z[n, m], (m, 0, 3), (n, 0, sympy.Symbol("N") - 1)))
    assert double.count("&#8721;") == 2 and double.index("<mi>n</mi><mo>=</mo>") < double.index("<mi>m</mi><mo>=</mo>")
    assert "&#963;" in mathml(derive("2-2-1").forward_equations[1].rhs)
    with sympy.evaluate(False):
        lecture_line = (1 - number(0.5523)) * (number(0.5523) - number(0.9)) * number(0.5523)
    assert latex(lecture_line) == r"\left(1 - 0.5523\right)\left(0.5523 - 0.9\right)\left(0.5523\right)"


def test_formulas_read_as_the_lecture_writes_them():
    o, t, h = (sympy.IndexedBase(name)[sympy.Symbol("k")] for name in "oth")
    assert latex(-(o - t) * o * (1 - o)) == r"o_{k} \left(1 - o_{k}\right) \left(t_{k} - o_{k}\right)"
    assert latex(t - o) == "t_{k} - o_{k}"
    assert latex(sympy.IndexedBase("net")[sympy.Symbol("j")]) == r"\mathrm{net}_{j}"
    assert latex(sympy.IndexedBase("Rdelta2")[sympy.Symbol("n"), sympy.Symbol("j")]) == (
        r"\mathcal{R}\lbrace \delta^{(2)}_{n,j}\rbrace")
    r, x = sympy.symbols("r x")
    assert latex(sympy.Derivative(r * x + x**2, r)) == r"\frac{\partial}{\partial r}\left(r x + x^{2}\right)"
    assert latex(sympy.Heaviside(x, 0)) == r"\left[x > 0\right]"


def test_derivation_and_check_report_display_themselves_in_jupyter(lecture):
    derivation, example, _ = lecture
    assert derivation._repr_html_().count("<math") > 10
    assert derivation._repr_latex_().startswith("$$\\begin{aligned}") and "\\sigma" in derivation._repr_latex_()
    assert "$$" in derivation._repr_markdown_()
    report = check_gradients(example.network, example.start.params, example.start.X, example.start.T)
    assert "candidate vs symbolic reference" in report._repr_html_()
    assert "| candidate vs finite differences |" in report._repr_markdown_()
    assert report._repr_latex_().startswith("$$\\text{Gradient check: OK}")
