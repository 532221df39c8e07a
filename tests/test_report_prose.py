"""Every sentence of a report is true for the network it describes: one report per (output activation, loss) pair.

For each pair the registry allows (every registered activation as the output
with sse; sigmoid with binary cross-entropy; softmax with cross-entropy and
with sse), a 2-3-2 network is reported and its content read:

* the lecture's output error term δ_k that the report derives is checked at
  random points against the hand-written derivatives of the records (the
  engine's ``backward`` of the loss and of the activation: no SymPy), so it is
  right for this pair, not the sigmoid/sse formula;
* text about the sigmoid, and σ in a formula, appear only in a network with a
  sigmoid (or attributed to the lecture);
* the matched-link remark appears exactly for the pairs whose δ is o − t by
  the hand-written derivatives;
* every kink of every activation is stated with the value the engine uses there.

The exercises are left out of the sigmoid check: "suppose it used another
activation" is about another activation by design.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from derive import ACTIVATIONS, LOSSES, Network, derive
from derive.model.functions import sigmoid
from derive.report import build_report
from derive.report.document import Box, Equations, Paragraph, Table

HYPOTHETICAL = {"exercises", "answers"}


def pairs() -> list[tuple[str, str]]:
    found = []
    for loss in LOSSES.values():
        for output in loss.requires_output or [name for name, a in ACTIVATIONS.items()]:
            found.append((output, loss.name))
    return found


PAIRS = pairs()


def network_for(output: str, loss: str) -> Network:
    hidden = "relu" if output != "relu" else "tanh"
    return Network((2, 3, 2), activation=[hidden, output], loss=loss)


@pytest.fixture(scope="module")
def reports():
    return {pair: build_report(derive(network_for(*pair))) for pair in PAIRS}


def leaf_blocks(blocks):
    for block in blocks:
        if isinstance(block, Box):
            yield from leaf_blocks(block.blocks)
        else:
            yield block


def prose_and_math(document, skip_sections=()):
    """(sentences, SymPy objects) of a document; the lecture column of the notation table is left out."""
    texts, maths = [], []
    for section in document.sections:
        if section.key in skip_sections:
            continue
        for block in leaf_blocks(section.blocks):
            if isinstance(block, Paragraph):
                texts.append("".join(part if isinstance(part, str) else " @ " for part in block.parts))
                maths += [part for part in block.parts if not isinstance(part, str)]
            elif isinstance(block, Equations):
                for row in block.rows:
                    caption = row.caption if isinstance(row.caption, str) else "".join(
                        part if isinstance(part, str) else " @ " for part in row.caption)
                    texts.append(caption)
                    maths += [row.lhs, *row.rhs]
            elif isinstance(block, Table):
                lecture_column = block.header[:1] == ("lecture",)
                for row in block.rows:
                    for position, cell in enumerate(row):
                        if isinstance(cell, sympy.Basic) and not (lecture_column and position == 0):
                            maths.append(cell)
                        elif isinstance(cell, str):
                            texts.append(cell)
    sentences = [" ".join(sentence.split()) for text in texts for sentence in text.replace("; ", ". ").split(". ")]
    return sentences, maths


def has_sigmoid(network: Network) -> bool:
    """Whether a sigmoid is part of the network: an activation, inside one (silu), or a derivative (softplus's)."""
    return any(a.elementwise and (a.expression.has(sigmoid) or a.derivative_expr.has(sigmoid))
               for a in network.activations)


@pytest.mark.parametrize("output, loss", PAIRS, ids=["%s-%s" % pair for pair in PAIRS])
def test_sigmoid_text_appears_only_with_a_sigmoid_or_as_the_lectures(reports, output, loss):
    network = network_for(output, loss)
    sentences, maths = prose_and_math(reports[(output, loss)], HYPOTHETICAL)
    if has_sigmoid(network):
        assert any("sigmoid" in sentence for sentence in sentences)
        return
    about = [sentence for sentence in sentences if "sigmoid" in sentence.lower() or "σ" in sentence]
    assert all("lecture" in sentence for sentence in about), about
    assert not [m for m in maths if isinstance(m, sympy.Basic) and m.has(sigmoid)]


def report_lecture_delta(document) -> sympy.Expr:
    """The last form of the lecture's output error term δ_k in the section on the lecture's chain rule."""
    section = next(s for s in document.sections if s.key == "lecture-chain-rule")
    rows = [row for block in section.blocks if isinstance(block, Equations) for row in block.rows]
    return next(row.rhs[-1] for row in rows if sympy.sstr(row.lhs) == "delta[k]")


def evaluate(expr: sympy.Expr, z: np.ndarray, o: np.ndarray, t: np.ndarray, unit: int) -> float:
    """The lecture-notation formula at output ``unit`` (1-based, as the lecture counts), for these numbers."""
    for symbol in expr.free_symbols:
        if symbol.name == "K":
            expr = expr.subs(symbol, len(o))
    expr = expr.doit()
    free = {symbol for symbol in expr.free_symbols if symbol.name == "k"}
    expr = expr.xreplace({symbol: unit for symbol in free})
    values = {"o": o, "t": t, "net": z}
    numbers = {e: sympy.Float(values[e.base.label.name][int(e.indices[0]) - 1])
               for e in expr.atoms(sympy.Indexed)}
    return float(expr.xreplace(numbers).evalf())


@pytest.mark.parametrize("output, loss", PAIRS, ids=["%s-%s" % pair for pair in PAIRS])
def test_the_lectures_output_error_term_is_the_hand_written_derivative_for_this_output_and_loss(
        reports, output, loss):
    network = network_for(output, loss)
    activation, record = network.activations[-1], network.loss
    formula = report_lecture_delta(reports[(output, loss)])
    rng = np.random.default_rng(7)
    for _ in range(3):
        z = rng.normal(0, 1.5, size=(1, 2)) + 0.1  # away from relu's kink
        o = activation.numpy(z)
        t = np.eye(2)[[int(rng.integers(2))]] if not activation.elementwise else rng.uniform(0.1, 0.9, (1, 2))
        expected = -activation.backward(z, o, record.backward(o, t))  # the lecture's δ = −∂E/∂net, hand-written
        for unit in (1, 2):
            got = evaluate(formula, z[0], o[0], t[0], unit)
            assert got == pytest.approx(float(expected[0, unit - 1]), rel=1e-9, abs=1e-12), (formula, unit)


@pytest.mark.parametrize("output, loss", PAIRS, ids=["%s-%s" % pair for pair in PAIRS])
def test_the_matched_link_is_named_exactly_where_the_error_term_is_output_minus_target(reports, output, loss):
    network = network_for(output, loss)
    activation, record = network.activations[-1], network.loss
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1, size=(4, 2)) + 0.1
    o = activation.numpy(z)
    t = np.eye(2)[rng.integers(2, size=4)] if not activation.elementwise else rng.uniform(0.1, 0.9, (4, 2))
    matched = np.allclose(activation.backward(z, o, record.backward(o, t)), o - t, rtol=1e-9, atol=1e-12)
    sentences, _ = prose_and_math(reports[(output, loss)], HYPOTHETICAL)
    text = " ".join(sentences)
    assert ("matched (canonical) link" in text) == matched
    assert ("Nothing cancels" in text) == (not matched)
    assert "SymPy confirms it against the index-level derivation" in text


def test_the_matched_pairs_are_the_three_textbook_ones(reports):
    """The three textbook pairs, and the binary cross-entropy averaged over the outputs (nn.BCELoss()'s mean),
    whose per-unit term is the same: its 1/n_L stands in front of the sum, not inside the delta."""
    named = {pair for pair, document in reports.items()
             if "matched (canonical) link" in " ".join(prose_and_math(document, HYPOTHETICAL)[0])}
    assert named == {("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy"), ("linear", "sse"),
                     ("sigmoid", "mean_binary_cross_entropy")}


@pytest.mark.parametrize("name", sorted(n for n, a in ACTIVATIONS.items() if a.kinks))
def test_every_kink_is_stated_with_the_value_the_engine_uses_there(name):
    activation = ACTIVATIONS[name]
    document = build_report(derive(Network((2, 3, 1), activation=[name, "linear"])))
    sentences, _ = prose_and_math(document, HYPOTHETICAL)
    text = " ".join(sentences)
    z = np.array([0.0])
    left, at_kink, right = (float(activation.backward(z + h, activation.numpy(z + h), np.ones(1))[0])
                            for h in (-1e-9, 0.0, 1e-9))
    if abs(left - right) > 1e-6:
        assert "%s has a kink at @ : its slope jumps" % name in text
        assert "the value used at the kink is %.4g" % at_kink in text
        assert "as does the hand-written engine" in text
    else:
        assert "%s switches form at @ , but its slope is continuous there" % name in text
    forward = next(s for s in document.sections if s.key == "forward-pass")
    lecture = next(s for s in document.sections if s.key == "lecture-chain-rule")
    for section in (forward, lecture):  # stated where its derivative appears
        assert any(isinstance(b, Paragraph) and b.note and name in str(b.parts[0]) for b in section.blocks)
