"""Exercise sheets, their answer sheets and marked sheets, as documents every report writer prints.

A sheet is the worked example turned into blanks (:func:`derive.report.exercises.step_blanks`): a
small network with its numbers, the lecture's notation beside ours, the sign convention, the
precision expected, and one :class:`~derive.report.document.Blanks` block per part of each step
(forward pass, loss, error terms from the output back, gradients or the lecture's changes Δw, the
parameters after the step), in the order a student computes them.  The answer sheet fills the same
blanks in and adds the report's worked example for the same numbers
(:func:`derive.report.example_sections.example_sections`), every line of which adds up by hand.  A
marked sheet (:func:`marked_document`) shows a student's numbers beside the key's with a tick and a
one-line reason per mistake; the marks arrive as plain data (:mod:`verify.exercises` marks).

>>> from derive import derive
>>> from derive.report import lecture_example, worked_example
>>> from derive.report.exercises import step_blanks
>>> network, start = lecture_example()
>>> derivation = derive(network)
>>> example = worked_example(derivation, start, steps=1)
>>> sheet = SheetContent(derivation, example, (tuple(step_blanks(derivation, example, 1)),), "ours", 4, "lecture")
>>> document = sheet_document(sheet)                  # render(document, "html", "sheet.html")
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .document import (BlankRow, Blanks, Code, Document, EquationRow, Equations, MarkRow, Marks, Section, Table,
                       paragraph)
from .example import WorkedExample
from .example_sections import example_sections
from .exercises import Blank
from .lecture import loss_name, output_delta
from .notation import Notation
from .plots import network_diagram
from .quantities import ALPHA, ETA, at_step, change, lecture_notation, number
from .sections import notation_rows, shown_loss

#: Numbers of steps in words.
COUNTS = {2: "Two steps", 3: "Three steps", 4: "Four steps", 5: "Five steps"}
#: The parts of a step, by the array a blank belongs to: (test on the array's name, heading).
PARTS = (("Z", "Forward pass"), ("A", "Forward pass"), ("E", "Loss"), ("delta", "Error terms, from the output back"),
         ("d", "Gradients, from the output layer back"), ("Delta", "Changes Δw, from the output layer back"),
         ("'", "Parameters after the step"))


@dataclass(frozen=True)
class SheetContent:
    """What a sheet shows: the derivation, the worked example, the blanks of each step, the convention.

    Attributes:
        derivation: The network's derivation.
        example: The worked example at the sheet's numbers (as many steps as the sheet has).
        blanks: The blanks of each step, in order (labels as printed).
        sign: ``"ours"`` (δ = ∂E/∂Z) or ``"lecture"`` (δ = −∂E/∂net).
        digits: The significant digits an answer is written with.
        name: The sheet's name (``"7"``, ``"7-03"``), which the answers quote.
    """

    derivation: SymbolicDerivation
    example: WorkedExample
    blanks: tuple[tuple[Blank, ...], ...]
    sign: str
    digits: int
    name: str


def sheet_document(sheet: SheetContent, answers: bool = False) -> Document:
    """The exercise sheet (with ``answers``, the answer sheet: the blanks filled in and the worked example)."""
    notation = Notation(sheet.derivation)
    network = sheet.derivation.network
    sections = [_task_section(sheet, answers), _network_section(sheet, notation), _given_section(sheet, notation)]
    for step, blanks in enumerate(sheet.blanks, start=1):
        sections.append(_step_section(sheet, step, blanks, answers))
    if answers:
        sections += _worked_example(sheet)
    else:
        sections.append(_hand_in_section(sheet))
    title = ("Answers to sheet %s" if answers else "Backpropagation by hand (sheet %s)") % sheet.name
    subtitle = (network.describe(), "Sign convention: %s. Answers to %d significant digits." % (
        "δ = ∂E/∂Z, as in backprop's reports" if sheet.sign == "ours" else "the lecture's, δ = −∂E/∂net",
        sheet.digits))
    return Document(title, subtitle, sections)


def marked_document(sheet: SheetContent, marks: list[dict], student: str = "") -> Document:
    """A student's answers marked: score, then each step's blanks with the student's number, the key's, a tick, why.

    Args:
        sheet: The sheet that was answered.
        marks: One dict per blank, in the sheet's order: ``label``, ``status`` (``correct``, ``carried forward``,
            ``wrong``, ``unanswered``), ``expected``, ``given`` (None if unanswered), ``mistake`` (text or None).
        student: The student's name, if the answers gave one.
    """
    by_label = {mark["label"]: mark for mark in marks}
    score = sum(mark["status"] in ("correct", "carried forward") for mark in marks)
    counts = {status: sum(mark["status"] == status for mark in marks)
              for status in ("correct", "carried forward", "wrong", "unanswered")}
    summary = ", ".join("%d %s" % (count, status) for status, count in counts.items() if count)
    sections = [Section("score", "Score", [
        paragraph("%s%d of %d blanks (%s). A blank is right when it is within 2 units of its %dth significant digit "
                  "of the key, or of the value your own earlier answers give (carried forward: one slip costs one "
                  "blank)." % ("%s: " % student if student else "", score, len(marks), summary, sheet.digits)),
        *_mistake_list(marks)])]
    for step, blanks in enumerate(sheet.blanks, start=1):
        rows = tuple(MarkRow(blank.label, blank.entry, by_label[blank.label]["given"], blank.value,
                             by_label[blank.label]["status"], by_label[blank.label]["mistake"] or "")
                     for blank in blanks)
        title = "Step %d" % step if len(sheet.blanks) > 1 else "Your answers"
        sections.append(Section("step-%d" % step, title, [Marks(rows, "", sheet.digits)]))
    title = "Marked: sheet %s%s" % (sheet.name, " (%s)" % student if student else "")
    return Document(title, (sheet.derivation.network.describe(), "Score: %d of %d" % (score, len(marks))), sections)


def _mistake_list(marks: list[dict]) -> list:
    wrong = [mark for mark in marks if mark["status"] == "wrong"]
    if not wrong:
        return []
    return [paragraph("What went wrong:")] + [paragraph(mark["mistake"] or "no common mistake fits this number",
                                                        lead=mark["label"]) for mark in wrong]


def _task_section(sheet: SheetContent, answers: bool) -> Section:
    network, steps = sheet.derivation.network, len(sheet.blanks)
    examples = len(sheet.example.start.X)
    change_word = "gradient" if sheet.sign == "ours" else "change Δw"
    blocks = [paragraph("%s of gradient descent on the loss E for the network below, by hand, %s: the forward pass, "
                        "the loss, every error term, every %s and every parameter after %s. The blanks are listed in "
                        "the order you compute them: each uses only numbers given or found above it."
                        % (COUNTS.get(steps, "%d steps" % steps) if steps > 1 else "One step",
                           "for its one example" if examples == 1 else "over its %d examples (E sums them)" % examples,
                           change_word, "the step" if steps == 1 else "each step")),
              paragraph("Write every answer with %d significant digits (0.5498, −0.002128, 12.35) and carry on with "
                        "your numbers as you wrote them. An answer counts as right within 2 units of its %dth "
                        "significant digit. If an earlier answer of yours is wrong, keep going with it: a later "
                        "answer that follows correctly from your own numbers counts as right (carried forward), so "
                        "one slip costs one blank." % (sheet.digits, sheet.digits)),
              _sign_paragraph(sheet)]
    if not answers:
        blocks.insert(0, paragraph("Name: ____________________________"))
    return Section("task", "The task", blocks)


def _sign_paragraph(sheet: SheetContent):
    network = sheet.derivation.network
    notation = Notation(sheet.derivation)
    lecture = lecture_notation()
    delta, x, w = lecture["delta"], lecture["x"], lecture["w"]
    found = output_delta(network.activations[-1], network.loss)
    output = sympy.Eq(delta.base[found.unit], found.lecture, evaluate=False)
    momentum = sheet.example.start.momentum or len(sheet.blanks) > 1
    carried = (" + ", ALPHA, change(w), "(t − 1), with ", change(w), "(0) = 0") if momentum else ()
    if sheet.sign == "lecture":
        return paragraph("Sign convention: the lecture's. The error term is ", sympy.Eq(delta, -sympy.Derivative(
            notation.E, lecture["net"]), evaluate=False), " (for this network's output, %s with %s: " % (
            network.activations[-1].name, loss_name(network.loss)), output, "), and the update adds: ",
            sympy.Eq(change(w), ETA * delta * x, evaluate=False), *carried, ", then ", w, " ← ", w, " + ",
            change(w), ". (backprop's reports use ", notation.delta(1), " = ∂E/∂Z, the opposite sign: the same step.)")
    return paragraph("Sign convention: ", sympy.Eq(notation.delta(1), sympy.Derivative(notation.E, notation.Z(1)),
                                                   evaluate=False),
                     ", the derivative of E with respect to the net input, so the update subtracts: ",
                     w, " ← ", w, " − ", ETA * sympy.Derivative(notation.E, w), *carried,
                     ". The lecture's error term has the opposite sign, ", sympy.Eq(delta, -sympy.Derivative(
                         notation.E, lecture["net"]), evaluate=False), " (here ", output, "), so its update adds ",
                     ETA * delta * x, ": the same step.")


def _network_section(sheet: SheetContent, notation: Notation) -> Section:
    derivation = sheet.derivation
    network = derivation.network
    names = ["input (%d)" % network.sizes[0]] + ["layer %d: %s (%d)" % (layer, activation.name[:16], width)
                                                 for layer, (activation, width) in enumerate(
                                                     zip(network.activations, network.sizes[1:]), start=1)]
    rows = [EquationRow(eq.lhs, (eq.rhs,)) for eq in derivation.forward_equations]
    rows.append(EquationRow(notation.E, (shown_loss(derivation),), "the loss (%s)" % loss_name(network.loss)))
    return Section("network", "The network", [
        network_diagram(network.sizes, names, network.bias),
        paragraph("Layer by layer, for example n and unit j (", notation.base("W1")[notation.j, notation.i],
                  " is the weight from unit i of the layer below to unit j):"),
        Equations(tuple(rows)),
        Table(("lecture", "here", "meaning"), tuple((lecture, here, meaning.replace(" (below)", ""))
                                                    for lecture, here, meaning in notation_rows(derivation, notation)),
              "The lecture's symbols and this sheet's")])


def _given_section(sheet: SheetContent, notation: Notation) -> Section:
    start = sheet.example.start
    rows = [EquationRow(sympy.Symbol("X"), (_matrix(start.X),), "the inputs, one row per example"),
            EquationRow(sympy.Symbol("T"), (_matrix(start.T),), "the targets")]
    for name in sheet.derivation.parameters:
        value = start.params[name]
        rows.append(EquationRow(notation.base(name), (_matrix(value if value.ndim == 2 else value[None, :]),),
                                "row j holds the weights into unit j" if name.startswith("W") else ""))
    settings = [sympy.Eq(ETA, number(start.lr), evaluate=False)]
    if start.momentum or len(sheet.blanks) > 1:
        settings.append(sympy.Eq(ALPHA, number(start.momentum), evaluate=False))
    return Section("given", "Given", [Equations(tuple(rows)), paragraph("Learning rate and momentum: ",
                                                                        *_joined(settings), ".")])


def _matrix(values) -> sympy.Matrix:
    return sympy.Matrix([[number(value) for value in row] for row in values])


def _joined(items: list) -> list:
    parts = []
    for position, item in enumerate(items):
        parts += ([", "] if position else []) + [item]
    return parts


def _step_section(sheet: SheetContent, step: int, blanks: tuple[Blank, ...], answers: bool) -> Section:
    lecture = _lecture_symbols(sheet)
    groups: dict[str, list] = {}
    for blank in blanks:
        groups.setdefault(_part(blank.array), []).append(
            BlankRow(blank.label, blank.entry, lecture(blank, step), blank.value if answers else None))
    blocks = []
    if step > 1:
        blocks.append(paragraph("Start from your parameters after step %d; the momentum term uses your changes of "
                                "step %d." % (step - 1, step - 1)))
    blocks += [Blanks(tuple(rows), title, sheet.digits) for title, rows in groups.items()]
    title = "Step %d" % step if len(sheet.blanks) > 1 else ("The answers" if answers else "The blanks")
    return Section("step-%d" % step, title, blocks)


def _part(array: str) -> str:
    if array.endswith("'"):
        return PARTS[-1][1]
    return next(title for prefix, title in PARTS if array.startswith(prefix))  # "delta" is tried before "d"


def _lecture_symbols(sheet: SheetContent):
    """``symbol(blank, step)``: the lecture's name of a blank (None where the lecture has none: deeper networks,
    several examples)."""
    depth = sheet.derivation.depth
    if depth > 2 or len(sheet.example.start.X) > 1:
        return lambda blank, step: None
    symbols = lecture_notation()
    letters = {layer: symbols["k"] if layer == depth else symbols["j"] for layer in range(1, depth + 1)}
    letters[0] = symbols["i"]

    def unit(layer, position):
        return sympy.Eq(letters[layer], position, evaluate=False)

    def symbol(blank: Blank, step: int):
        name = blank.array.rstrip("'")
        if name == "E":
            return sympy.Symbol("E")
        if name[0] in "ZA" or name.startswith("delta"):
            layer = int(name.lstrip("ZAdelta"))  # Z1, A1, delta1 -> 1
            base = {"Z": "net", "A": "o" if layer == depth else "h", "d": "delta"}[name[0]]
            entry = sympy.IndexedBase(base)[unit(layer, blank.index[-1] + 1)]
            return -entry if base == "delta" and sheet.sign == "ours" else entry
        parameter = name.replace("Delta", "").lstrip("d")
        layer = int(parameter[1:])
        into = unit(layer, blank.index[0] + 1)
        source = unit(layer - 1, blank.index[1] + 1 if parameter[0] == "W" else 0)
        weight = symbols["w"].base[into, source]
        if blank.array.endswith("'"):
            return at_step(weight, step)
        return change(weight) if name.startswith("Delta") else sympy.Derivative(sympy.Symbol("E"), weight)

    return symbol


def _hand_in_section(sheet: SheetContent) -> Section:
    labels = [blank.label for blanks in sheet.blanks for blank in blanks]
    example = "\n".join(["sheet,%s" % sheet.name, "name,Ada Lovelace"] + ["%s," % label for label in labels[:3]]
                        + ["..."])
    code = "\n".join(["from verify.exercises import write_answers", "", "answers = {"]
                     + ["    %r: None," % label for label in labels]
                     + ["}", "write_answers(answers, %r, sheet=%r, name='your name')" % (
                         "answers-%s.csv" % sheet.name, sheet.name)])
    return Section("hand-in", "Handing in", [
        paragraph("Write your answers into a text file, one blank per line: its label, a comma, your number (a "
                  "blank you leave empty counts as unanswered). The first lines say which sheet it is and who you "
                  "are:"),
        Code(example, "text"),
        paragraph("Your teacher marks it with backprop mark, which names the mistake behind each wrong number. (The "
                  "notebook of this sheet has a cell that writes the file from your answers.)", note=True)], code=code)


def _worked_example(sheet: SheetContent) -> list[Section]:
    sections = example_sections(sheet.derivation, sheet.example)
    if sheet.sign == "lecture":
        sections[0].blocks.append(paragraph(
            "The worked example writes the error terms as δ = ∂E/∂Z and the gradients ∂E/∂w; the lecture's δ on this "
            "sheet is their negative, and its Δw is the change each step adds.", note=True))
    return sections
