"""Exercises generated from the network at hand, each with its worked answer: one source of questions.

A report ends with three or four exercises for the network it derives, and
an appendix with their answers; an exercise sheet (``backprop exercise``)
and its marking are meant to draw on the same questions.  Every question is
built from the network's own records and derivation, never typed for a
known network, and every answer is computed:

========================  ==========================================================================
key                       question (answer)
========================  ==========================================================================
``derive-delta``          derive a hidden layer's error term for another registered activation
                          (``sympy.diff`` of that activation, in the lecture's notation)
``redo-step-2``           redo step 2 of the worked example by hand (its numbers; only for a worked
                          example small enough to write out)
``output-delta``          show the output error term of this network's output and loss (the steps of
                          :func:`derive.report.lecture.output_delta`, e.g. δ = A − T for softmax with
                          cross-entropy when the targets sum to one)
``shapes``                check the shapes in the box of four equations (each shape at this network's
                          sizes, and why every product is defined)
========================  ==========================================================================

The API, for a report and for an exercise sheet alike:

* :func:`exercises_for` ``(derivation, example=None) -> list[Exercise]``: the questions for a network
  (and its worked example, if any), in order;
* :class:`Exercise`: ``key`` (stable, as above), ``title``, ``prompt`` (prose and SymPy objects: a
  :class:`~derive.report.document.Paragraph`'s parts), ``answer`` (report blocks: the worked answer)
  and ``blanks``;
* :class:`Blank`: one answer a student writes and a marker compares: ``label`` in the generated
  code's notation with unit indices (``Z1[0]``, ``A2[0]``, ``E``, ``delta2[0]``, ``dE/dW2[0,1]``,
  ``dE/db1[1]``, and ``W2[0,1]'`` for a parameter after the step; with several examples the example
  index comes first, ``Z1[2,0]``), ``value`` (a float, or a shape such as ``"1×2"``), ``entry``
  (the same quantity as the report prints it), and ``array``/``index`` (where the value sits in the arrays
  of the step: ``"dW2"``, ``(0, 1)``);
* :func:`step_blanks` ``(derivation, example, step, sign="ours")``: the numeric blanks of one step of a worked
  example in the order a student computes them (forward values, E, error terms from the output back,
  gradients from the output layer back, parameters after the step); ``sign="lecture"`` gives the lecture's
  δ = −∂E/∂net and its changes Δw (``DeltaW2[0,1]``) in place of the gradients.  The exercise sheets of
  :mod:`verify.exercises` are made of these blanks.
* :func:`exercises_section` and :func:`answers_section`: the report's sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy

from derive.model.activations import ACTIVATIONS, Activation

from .document import Block, EquationRow, Equations, Section, Table, paragraph
from .example import WorkedExample
from .example_sections import is_detailed
from .lecture import D, SYMBOLS, in_output, kink_note, loss_name, output_delta
from .notation import Notation
from .quantities import Shape, change, layer_matrix, text_number


#: The sign conventions of δ: ours, δ = ∂E/∂Z; the lecture's, δ = −∂E/∂net.
SIGNS = ("ours", "lecture")


@dataclass(frozen=True)
class Blank:
    """One answer to fill in: ``label`` (``dE/dW2[0,1]``), its ``value``, and the ``entry`` it is, as printed.

    ``array`` and ``index`` say where the value sits among the arrays a step computes (``"dW2"``, ``(0, 1)``;
    ``"W2'"`` for a parameter after the step; the example index comes first for Z, A and δ, as in the arrays).
    """

    label: str
    value: float | str
    entry: sympy.Basic
    array: str = ""
    index: tuple = ()


@dataclass(frozen=True)
class Exercise:
    """One question about the network at hand, with its worked answer (see the module docstring)."""

    key: str
    title: str
    prompt: tuple
    answer: tuple[Block, ...]
    blanks: tuple[Blank, ...] = field(default=())


def exercises_for(derivation, example: WorkedExample | None = None) -> list[Exercise]:
    """The exercises for ``derivation``'s network (and its worked example, if given), in order."""
    exercises = [_derive_delta(derivation)]
    if example is not None and len(example.steps) >= 2 and is_detailed(example.network, len(example.start.X)):
        exercises.append(_redo_step(derivation, example, 2))
    exercises += [_output_delta(derivation), _shapes(derivation, example)]
    return exercises


def _other_activation(network) -> Activation:
    """A registered elementwise activation the network does not use, preferring one written with its output."""
    used = set(network.activations)
    candidates = [a for a in ACTIVATIONS.values() if a.elementwise and a not in used and a.parameter is None]
    h, net = SYMBOLS["h"], SYMBOLS["net"]
    return next((a for a in candidates if in_output(a, net, h).has(h)), candidates[0])


def _derive_delta(derivation) -> Exercise:
    network = derivation.network
    other = _other_activation(network)
    h, net, delta_j, w_kj, delta_k, k, K = (SYMBOLS[name] for name in ("h", "net", "delta", "w_kj", "delta_k", "k",
                                                                       "K"))
    derivative = in_output(other, net, h)
    rows = [EquationRow(D(h, net), (derivative,), "the derivative of %s, by sympy.diff%s"
                        % (other.name, ", written with its output" if derivative.has(h) else "")),
            EquationRow(delta_j, (sympy.factor_terms(derivative * sympy.Sum(w_kj * delta_k, (k, 1, K))),),
                        "the lecture's hidden error term with it")]
    note = kink_note(other, net)
    if network.depth > 1:
        layer = network.depth - 1
        prompt = ("Layer %d of this network uses %s. Suppose it used %s instead: derive its error term " % (
            layer, network.activations[layer - 1].name, other.name), delta_j, " in the lecture's notation, as the "
            "section on the chain rule does, and say where (if anywhere) it has no derivative.")
    else:
        prompt = ("This network has no hidden layer. Suppose a hidden layer of %s units were added below the output: "
                  "derive its error term " % other.name, delta_j, " in the lecture's notation, and say where (if "
                  "anywhere) it has no derivative.")
    answer = (Equations(tuple(rows)),) + ((note,) if note else (
        paragraph("%s is differentiable everywhere." % other.name),))
    return Exercise("derive-delta", "Derive δ for another activation", prompt, answer)


def blank_label(name: str, index: tuple, examples: int) -> str:
    """A blank's label: ``Z1[0]`` for one example (the example index dropped), ``Z1[2,0]`` for several."""
    if name[:1] in "ZA" or name.startswith("delta"):
        index = index[1:] if examples == 1 else index
    return "%s[%s]" % (name, ",".join(map(str, index))) if index else name


def step_blanks(derivation, example: WorkedExample, step: int, sign: str = "ours") -> list[Blank]:
    """The numeric blanks of ``step`` (1-based) in the order a student computes them (see the module docstring).

    With ``sign="lecture"`` the error terms are the lecture's, δ = −∂E/∂Z, and the gradients give way to the
    lecture's changes Δw = −η ∂E/∂w + α Δw(t−1) (labelled ``DeltaW2[0,1]``), which its update adds.
    """
    if sign not in SIGNS:
        raise ValueError("sign must be one of %s, got %r" % (", ".join(SIGNS), sign))
    notation = Notation(derivation)
    done = example.steps[step - 1]
    examples, depth, lecture = len(example.start.X), derivation.depth, sign == "lecture"
    blanks = []

    def add(name, values, entry_of, array=None, suffix=""):
        for index, value in np.ndenumerate(np.asarray(values)):
            blanks.append(Blank(blank_label(name, index, examples) + suffix, float(value), entry_of(index),
                                array or name, index))

    for layer in range(1, depth + 1):
        for name, entry in (("Z%d" % layer, notation.Z(layer)), ("A%d" % layer, notation.A(layer))):
            add(name, done.values[name], lambda index, base=entry.base: base[index])
    blanks.append(Blank("E", float(done.loss), notation.E, "E", ()))
    for layer in range(depth, 0, -1):
        name, base = "delta%d" % layer, notation.delta(layer).base
        add(name, -done.values[name] if lecture else done.values[name],
            lambda index, base=base: -base[index] if lecture else base[index])
    order = sorted(derivation.parameters, key=lambda name: (-int(name[1:]), name[0] != "W"))
    for name in order:
        base = notation.base(name)
        if lecture:
            add("Delta" + name, done.changes[name], lambda index, base=base: change(base[index]))
        else:
            add("dE/d" + name, done.gradients[name], lambda index, base=base: D(notation.E, base[index]), "d" + name)
    for name in order:
        base = notation.base(name)
        add(name, done.updated[name], lambda index, base=base: base[index], name + "'", "'")
    return blanks


def _redo_step(derivation, example: WorkedExample, step: int) -> Exercise:
    blanks = tuple(step_blanks(derivation, example, step))
    prompt = ("Redo step %d of the worked example by hand, starting from the parameters after step 1 and the "
              "changes of step 1 (for the momentum term): the forward pass, the loss, every error term, every "
              "gradient, and the parameters after the step. Four significant digits are enough." % step,)
    table = Table(("blank", "quantity", "value"), tuple((blank.label, blank.entry, text_number(blank.value))
                                                       for blank in blanks), "The answers, in the order computed")
    return Exercise("redo-step-%d" % step, "Redo step %d by hand" % step, prompt,
                    (paragraph("Every line of step %d of the worked example, in order:" % step), table), blanks)


def _output_delta(derivation) -> Exercise:
    network = derivation.network
    found = output_delta(network.activations[-1], network.loss)
    unit = found.unit
    o, t = SYMBOLS["o"].base[unit], SYMBOLS["t"].base[unit]
    target = sympy.Eq(D(sympy.Symbol("E"), sympy.IndexedBase("net")[unit]), found.result, evaluate=False)
    prompt = ("For this network's output (%s) and loss (%s), show that " % (network.activations[-1].name,
                                                                            loss_name(network.loss)), target)
    prompt += ((", given that the targets of an example sum to one. Why does the assumption matter?",)
               if found.assumption is not None else (". What is left of the activation's derivative, and why?",))
    if found.matched:
        closing = paragraph("All that is left is the output minus the target, ", o - t, ": %s is the matched "
                            "(canonical) link of %s.%s" % (network.activations[-1].name, loss_name(network.loss), (
                                " Without targets that sum to one the sum of the targets would stay."
                                if found.assumption is not None else "")))
    else:
        closing = paragraph("The activation's derivative stays: nothing cancels. The lecture's error term is the "
                            "negative, ", found.lecture, ".")
    answer = (Equations(found.rows), closing)
    return Exercise("output-delta", "The output error term", prompt, answer)


def _shapes(derivation, example: WorkedExample | None) -> Exercise:
    network = derivation.network
    N = sympy.Symbol("N", integer=True, positive=True)
    examples = len(example.start.X) if example is not None else 4
    prompt = ("Check the shapes in the box of four equations for this network with N = %d example%s: the shape of "
              "every error term and gradient, and that every matrix product in BP2 and BP3 is defined."
              % (examples, "s" * (examples != 1)),)
    rows, blanks = [], []
    for layer in range(network.depth, 0, -1):
        width, below = network.sizes[layer], network.sizes[layer - 1]
        quantities = [(layer_matrix("delta", layer, N, sympy.Symbol("n_%d" % layer)), (examples, width), "delta"),
                      (D(sympy.Symbol("E"), layer_matrix("W", layer, width, below)), (width, below), "W")]
        if network.bias:
            quantities.append((D(sympy.Symbol("E"), layer_matrix("b", layer, 1, width)), (1, width), "b"))
        for quantity, shape, kind in quantities:
            rows.append((quantity, Shape(*shape), _why(kind, layer, examples, network.sizes)))
            blanks.append(Blank("shape of %s" % ("delta%d" % layer if kind == "delta" else "dE/d%s%d" % (kind, layer)),
                                "%d×%d" % shape, quantity))
    answer = (paragraph("With N = %d and the sizes " % examples, *_sizes(network), ":"),
              Table(("quantity", "shape", "why"), tuple(rows), "Every shape in the box"))
    return Exercise("shapes", "Check the shapes", prompt, answer, tuple(blanks))


def _sizes(network) -> list:
    parts = []
    for layer, width in enumerate(network.sizes):
        parts += [", " if layer else "", sympy.Eq(sympy.Symbol("n_%d" % layer), width, evaluate=False)]
    return parts


def _why(kind: str, layer: int, examples: int, sizes: tuple) -> str:
    """Why a quantity of the box has its shape, with this network's numbers."""
    width, below = sizes[layer], sizes[layer - 1]
    if kind == "delta":
        if layer == len(sizes) - 1:
            return "BP1: one row per example, one column per output unit"
        above = sizes[layer + 1]
        return ("BP2: δ^(%d) W^(%d) is (%d×%d)(%d×%d), then ⊙ with g′ of the same %d×%d"
                % (layer + 1, layer + 1, examples, above, above, width, examples, width))
    if kind == "W":
        return "BP3: δ^(%d)ᵀ A^(%d) is (%d×%d)(%d×%d), the N examples summed" % (
            layer, layer - 1, width, examples, examples, below)
    return "BP4: 1ᵀ δ^(%d) is (1×%d)(%d×%d), the column sums" % (layer, examples, examples, width)


def exercises_section(exercises: list[Exercise]) -> Section:
    """The exercises, each with its key, for the end of a report."""
    blocks = [paragraph("For practice, about this network; the answers are in the last appendix.")]
    blocks += [paragraph(*exercise.prompt, lead="Exercise %d (%s)." % (number, exercise.title.lower()))
               for number, exercise in enumerate(exercises, start=1)]
    return Section("exercises", "Exercises", blocks)


def answers_section(exercises: list[Exercise]) -> Section:
    """The worked answers, in the order of the exercises."""
    blocks = []
    for number, exercise in enumerate(exercises, start=1):
        blocks.append(paragraph(exercise.title + ".", lead="Exercise %d." % number))
        blocks += list(exercise.answer)
    return Section("answers", "Appendix: answers to the exercises", blocks)
