"""The worked example written out: line by line as the lecture does for small networks, summarised for large ones.

**Small networks** (at most :data:`DETAIL_ENTRIES` parameters and at most
:data:`DETAIL_ENTRIES` unit values per step): every entry, as the lecture
writes "h_1 = σ((1)(.1) + (0)(.1) + .1) = σ(.2) = .55".  Each line is the
entry's definition at concrete sizes (:meth:`derive.Derivation.partials`:
the forward pass, the error terms, each scalar partial) with the numbers
substituted, then its value; then each parameter's change and new value.

Every line adds up by hand from the numbers printed in it: each result is
printed with four significant digits, and the numbers a line uses with four
too unless the line would not then give its printed result, in which case
they get more, as many as that line needs (:meth:`_Lines.solve`).  So a
number computed as 0.1004 may be used as 0.10043 further down: rounded
operands would not add up (0.1004 + 0.0008383 is 0.1012, not the 0.1013 the
full numbers give).

**Large networks**: the forward values and error terms in full while there
are at most :data:`FULL_VECTORS` of them; beyond that, and for the
gradients and weights, each array's shape, norm, first
:data:`FIRST_ENTRIES` entries and :data:`LARGEST_ENTRIES` largest entries.

For the lecture's example, the numbers the slides print are compared with
this report's, the slide's slip at w_{j=2,i=2} included.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import sympy

from derive.codegen.printing import helpers

from .document import EquationRow, Equations, Section, Table, paragraph
from .example import WorkedExample
from .math import ALPHA, ETA, change, number, shown, text_number
from .notation import Notation
from .quantities import DIGITS, Shown

DETAIL_ENTRIES = 40
#: Formulas with more operations than this are shown with their value only.
SUBSTITUTED_OPERATIONS = 40
#: Most forward values and error terms per step written in full in a summarised example.
FULL_VECTORS = 400
FIRST_ENTRIES = 4
LARGEST_ENTRIES = 3
#: The most significant digits a line's numbers are given to make it add up.
MOST_DIGITS = 12


def example_sections(derivation, example: WorkedExample) -> list[Section]:
    """The worked example: its numbers, then one subsection per step."""
    notation = Notation(derivation)
    start, network = example.start, example.network
    detailed = is_detailed(network, len(start.X))
    lines = _Lines(notation, derivation, example) if detailed else None
    if lines:
        lines.solve()
    intro = Section("worked-example", "Worked example", [
        paragraph("The derivation at numbers: %s. Each step is one step of gradient descent on E over %s, with "
                  % (start.description, "the example" if len(start.X) == 1 else "all %d examples" % len(start.X)),
                  sympy.Eq(ETA, shown(start.lr), evaluate=False), " and ", sympy.Eq(ALPHA, shown(start.momentum),
                                                                                    evaluate=False),
                  "; two steps, so that the momentum term shows in the second. Every number is computed by "
                  "evaluating the equations above%s." % (
                      " and shown to four significant digits; where a line uses a number computed earlier, it shows "
                      "as many digits of it as the line needs to add up by hand" if detailed else "")),
        _array_table("Parameters at the start", start.params, detailed),
        _array_table("Data", {"X": start.X, "T": start.T}, detailed)],
        code="%s\nexample = worked_example(derivation, start)\nprint(example)" % start.code)
    if not detailed:
        intro.blocks.append(paragraph(
            "This network is too large to write out entry by entry (more than %d parameters or unit values), so "
            "the forward values and error terms are listed in full%s and the gradients and weights summarised: "
            "each array's shape, norm, first %d entries and %d largest entries by magnitude."
            % (DETAIL_ENTRIES, "" if _full_vectors(network, len(start.X)) else " only up to %d of them" % FULL_VECTORS,
               FIRST_ENTRIES, LARGEST_ENTRIES), note=True))
    sections = [intro]
    for step_number, step in enumerate(example.steps, start=1):
        blocks = lines.blocks(step_number) if detailed else _summarised_step(step, network, len(start.X))
        sections.append(Section("step-%d" % step_number, "Step %d" % step_number, blocks, level=3))
    if start.lecture:
        sections[-1].blocks += lecture_check(example)
    return sections


def is_detailed(network, examples: int) -> bool:
    """Whether the worked example is written entry by entry (see the module docstring)."""
    return network.n_params <= DETAIL_ENTRIES and examples * sum(network.sizes[1:]) <= DETAIL_ENTRIES


def _full_vectors(network, examples: int) -> bool:
    return 2 * examples * sum(network.sizes[1:]) <= FULL_VECTORS


def _array_table(caption: str, arrays: dict, detailed: bool) -> Table:
    if not detailed:
        return _summary_table(caption, arrays)
    rows = tuple((name, "×".join(map(str, np.shape(value))) or "scalar",
                  ", ".join(text_number(v) for v in np.ravel(value))) for name, value in arrays.items())
    return Table(("array", "shape", "entries (row by row)"), rows, caption)


def _summary_table(caption: str, arrays: dict, label: str = "%s") -> Table:
    rows = []
    for name, value in arrays.items():
        flat = np.ravel(value)
        order = _largest(np.abs(flat), LARGEST_ENTRIES)
        largest = "; ".join("[%s] %s" % (", ".join(map(str, np.unravel_index(i, np.shape(value)))),
                                         text_number(flat[i])) for i in order)
        rows.append((label % name, "×".join(map(str, np.shape(value))), float(np.linalg.norm(flat)),
                     ", ".join(text_number(v) for v in flat[:FIRST_ENTRIES]) + (", …" if flat.size > FIRST_ENTRIES
                                                                                 else ""), largest))
    return Table(("array", "shape", "norm", "first entries", "largest entries by magnitude"), tuple(rows), caption)


def _largest(magnitudes: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` largest entries, largest first, ties in index order (as a stable sort gives them),
    without sorting every entry of a large array."""
    if magnitudes.size <= count:
        return np.argsort(-magnitudes, kind="stable")
    threshold = np.partition(magnitudes, magnitudes.size - count)[magnitudes.size - count]
    candidates = np.flatnonzero(magnitudes >= threshold)
    return candidates[np.argsort(-magnitudes[candidates], kind="stable")][:count]


def _full_table(caption: str, arrays: dict) -> Table:
    rows = tuple((name, "×".join(map(str, np.shape(value))), ", ".join(text_number(v) for v in np.ravel(value)))
                 for name, value in arrays.items())
    return Table(("array", "shape", "entries (row by row)"), rows, caption)


def _summarised_step(step, network, examples: int) -> list:
    values = (_full_table if _full_vectors(network, examples) else _summary_table)(
        "Forward pass and error terms", step.values)
    return [values,
            paragraph("Loss: ", sympy.Eq(sympy.Symbol("E"), shown(step.loss), evaluate=False), "."),
            _summary_table("Gradients", step.gradients, "∂E/∂%s"),
            _summary_table("Changes, with momentum", step.changes, "Δ%s"),
            _summary_table("Parameters after the step", step.updated, "%s after")]


class _Line(NamedTuple):
    """One printed line: ``lhs relation formula = value``; ``operands`` maps each entry of ``formula`` to its key."""

    part: str
    lhs: sympy.Basic
    relation: str
    formula: sympy.Expr | None
    operands: dict
    result: tuple


class _Lines:
    """Every line of the detailed worked example, and the digits that make each add up (see the module docstring)."""

    def __init__(self, notation: Notation, derivation, example: WorkedExample):
        self.notation, self.example = notation, example
        self.values: dict[tuple, float] = {}
        self.lines: dict[int, list[_Line]] = {}
        partials = derivation.partials(batch=len(example.start.X), build=False)
        parameters = set(derivation.parameters)
        data = {sympy.sstr(notation.X.base): example.start.X, sympy.sstr(notation.T.base): example.start.T}
        for name, value in data.items():
            self._store(("data", name), value)
        errors = {sympy.sstr(notation.delta(layer).base) for layer in range(1, notation.depth + 1)}
        for number_, step in enumerate(example.steps, start=1):
            for name, value in step.params.items():
                self._store(("param", number_, name), value)
            for name, value in step.values.items():
                self._store(("value", number_, name), value)

            def key(entry, number_=number_):
                name = sympy.sstr(entry.base.label)
                kind = ("data",) if name in data else ("param", number_) if name in parameters else ("value", number_)
                return kind + (name,) + tuple(int(i) for i in entry.indices)

            lines = []
            for entry, definition in partials.definitions():
                part = "backward" if sympy.sstr(entry.base.label) in errors else "forward"
                lines.append(self._line(part, entry, "=", definition, key(entry), key))
            for name in sorted(step.gradients, key=lambda name: (-int(name[1:]), name[0] != "W")):
                gradient = step.gradients[name]
                self._store(("gradient", number_, name), gradient)
                self._store(("change", number_, name), step.changes[name])
                self._store(("param", number_ + 1, name), step.updated[name])
                base = notation.base(name)
                for index in np.ndindex(gradient.shape):
                    lines.append(self._line("gradient", sympy.Derivative(notation.E, base[index]), "=",
                                            partials[(name, *index)], ("gradient", number_, name) + index, key))
                    lines += self._updates(number_, name, base[index], index)
            self.lines[number_] = lines

    def _store(self, prefix: tuple, value) -> None:
        for index, entry in np.ndenumerate(np.asarray(value, dtype=float)):
            self.values[prefix + tuple(index)] = float(entry)

    def _line(self, part, lhs, relation, formula, result, key) -> _Line:
        if formula is None or sympy.count_ops(formula) > SUBSTITUTED_OPERATIONS:
            return _Line(part, lhs, relation, None, {}, result)
        return _Line(part, lhs, relation, formula, {entry: key(entry) for entry in formula.atoms(sympy.Indexed)},
                     result)

    def _updates(self, step: int, name: str, entry: sympy.Indexed, index: tuple) -> list[_Line]:
        """Δw = (−η)(∂E/∂w) + (α)(Δw before), and w ← w + Δw, with the numbers as operands."""
        start = self.example.start
        gradient, before, old, moved = _UPDATE_OPERANDS
        operands = {gradient: ("gradient", step, name) + index}
        if step > 1:
            operands[before] = ("change", step - 1, name) + index
        with sympy.evaluate(False):
            change_formula = (Shown(repr(-start.lr)) * gradient
                              + Shown(repr(float(start.momentum))) * (before if step > 1 else Shown("0")))
        with sympy.evaluate(False):
            update_formula = old + moved
        return [_Line("update", change(entry), "=", change_formula, operands, ("change", step, name) + index),
                _Line("update", entry, "←", update_formula, {old: ("param", step, name) + index,
                                                              moved: ("change", step, name) + index},
                      ("param", step + 1, name) + index)]

    def _substituted(self, line: _Line, digits: int) -> sympy.Expr:
        numbers = {entry: number(self.values[key], digits) for entry, key in line.operands.items()}
        with sympy.evaluate(False):
            return _decimal_constants(line.formula).xreplace(numbers)

    def _adds_up(self, line: _Line, compute, digits: int, result: int) -> bool:
        """Whether ``line`` with its numbers rounded to ``digits`` gives its result at ``result`` digits, by hand,
        clear of a rounding tie (0.28365 could be read as 0.2836 or 0.2837)."""
        numbers = [float(text_number(self.values[key], digits)) for key in line.operands.values()]
        with np.errstate(all="ignore"):
            value = float(np.real(compute(*numbers)))
        expected = text_number(self.values[line.result], result)
        return all(text_number(value * (1 + side * 1e-9), result) == expected for side in (-1, 0, 1))

    def solve(self) -> None:
        """The digits of each line: its numbers at four, or at as many as make it add up; its result at four
        (more only where the result sits on a rounding boundary that its numbers cannot settle)."""
        self.digits: dict[int, tuple[int, int]] = {}
        for line in (line for lines in self.lines.values() for line in lines):
            if line.formula is None or len(line.operands) == 1 and line.formula in line.operands:
                continue
            compute = _compiled(line.formula, tuple(line.operands))
            self.digits[id(line)] = next(((digits, result) for result in range(DIGITS, MOST_DIGITS + 1)
                                          for digits in range(result, MOST_DIGITS + 1)
                                          if self._adds_up(line, compute, digits, result)), (MOST_DIGITS, MOST_DIGITS))

    def blocks(self, step_number: int) -> list:
        """The step's lines, grouped as the lecture does: forward, loss, backward, gradients, updates."""
        groups: dict[str, list] = {"forward": [], "backward": [], "gradient": [], "update": []}
        for line in self.lines[step_number]:
            digits, result = self.digits.get(id(line), (DIGITS, DIGITS))
            value = shown(self.values[line.result], result)
            if line.formula is None:
                rhs = (value,)
            elif len(line.operands) == 1 and line.formula in line.operands:
                rhs = (line.formula, value)  # ∂E/∂b = δ: the entry it is, then its value
            else:
                rhs = (self._substituted(line, digits), value)
            groups[line.part].append(EquationRow(line.lhs, rhs, relation=line.relation))
        step = self.example.steps[step_number - 1]
        momentum = ("there is no previous change, so the momentum term is 0" if step_number == 1 else
                    "the momentum term carries α times the change of step %d" % (step_number - 1))
        return [paragraph("Forward phase: the net inputs and activations, layer by layer."),
                Equations(tuple(groups["forward"])),
                paragraph("Loss: ", sympy.Eq(self.notation.E, shown(step.loss), evaluate=False), ". Backward phase: "
                          "the error terms from the output back (the lecture's δ are these with the opposite sign)."),
                Equations(tuple(groups["backward"])),
                paragraph("Gradients: each scalar partial at these numbers."),
                Equations(tuple(groups["gradient"])),
                paragraph("Updates (%s); ← gives each parameter its value for the next step:" % momentum),
                Equations(tuple(groups["update"]))]


#: The operands of an update's two lines: the gradient, the change before, the weight, its change.
_UPDATE_OPERANDS = sympy.symbols("g d w c", cls=sympy.Dummy)


@lru_cache(maxsize=4096)
def _compiled(formula: sympy.Expr, entries: tuple):
    """``formula`` as a numpy function of ``entries`` (the same formula recurs in every step and report)."""
    numbers = {shown_number: sympy.Float(shown_number.name) for shown_number in formula.atoms(Shown)}
    return sympy.lambdify(entries, _decimal_constants(formula).xreplace(numbers), modules=[helpers(), "numpy"])


def _decimal_constants(expr: sympy.Expr) -> sympy.Expr:
    """Non-integer rational constants (a weight decay's 1/100) as the decimals a student multiplies by."""
    return expr.xreplace({q: Shown(repr(float(q))) for q in expr.atoms(sympy.Rational) if not q.is_Integer})


def lecture_check(example: WorkedExample) -> list:
    """The numbers the lecture's slides print for its first step, next to this report's, slip included."""
    step = example.steps[0]
    w, delta, h, o = (sympy.IndexedBase(name) for name in ("w", "delta", "h", "o"))

    def unit(*pairs):
        return tuple(sympy.Symbol("%s=%d" % pair) for pair in pairs)

    rows = []
    for symbol, array, index, printed, sign in (
            (h[unit(("j", 1))], "A1", (0, 0), ".55", 1), (h[unit(("j", 2))], "A1", (0, 1), ".55", 1),
            (o[unit(("k", 1))], "A2", (0, 0), ".552", 1), (delta[unit(("k", 1))], "delta2", (0, 0), ".086", -1),
            (delta[unit(("j", 1))], "delta1", (0, 0), ".002", -1), (delta[unit(("j", 2))], "delta1", (0, 1), ".002", -1)):
        entry = sympy.IndexedBase(array)[index]
        rows.append(_compared(symbol, sign * entry, sign * float(step.values[array][index]), printed))
    weights = [((("k", 1), ("j", 0)), "b2", (0,), ".0172", ".1172"),
               ((("k", 1), ("j", 1)), "W2", (0, 0), ".0095", ".1095"),
               ((("k", 1), ("j", 2)), "W2", (0, 1), ".0095", ".1095")]
    for j in (1, 2):
        weights += [((("j", j), ("i", 0)), "b1", (j - 1,), ".0004", ".1004"),
                    ((("j", j), ("i", 1)), "W1", (j - 1, 0), ".0004", ".1004"),
                    ((("j", j), ("i", 2)), "W1", (j - 1, 1), "0", ".1004" if j == 2 else ".1")]
    for pair, array, index, printed_change, printed_weight in weights:
        entry = sympy.IndexedBase(array)[index]
        moved = float(step.changes[array][index])
        rows.append(_compared(change(w[unit(*pair)]), change(entry), moved, printed_change))
        after = float(step.updated[array][index])
        row = _compared(w[unit(*pair)], entry, after, printed_weight)
        if row[-1] != "same" and moved == 0:
            row = row[:-1] + ("the slide's slip: with Δw = 0 the weight stays %s; the slide prints .1 + .0004 = %s"
                              % (_lecture_style("%g" % after), printed_weight),)
        rows.append(row)
    return [paragraph("The lecture's numbers (its Backprop Example, first step), each next to this report's value "
                      "rounded to the digits the slide prints. The lecture's δ is −∂E/∂net, so its δ rows negate ours; "
                      "the lecture numbers units from 1, and its weight from unit 0 is the bias."),
            Table(("lecture", "here", "the slide prints", "this report", ""), tuple(rows),
                  "The lecture's Backprop Example against this report")]


def _lecture_digits(value: float, printed: str) -> str:
    """``value`` rounded to as many decimals as ``printed``, written as the lecture writes numbers (``.1172``)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return _lecture_style("%.*f" % (decimals, value + 0.0))


def _lecture_style(text: str) -> str:
    """A number written as the lecture writes it, without the leading zero (``.1172``)."""
    return text[1:] if text.startswith("0.") else text.replace("-0.", "-.")


def _compared(lecture, ours, value: float, printed: str) -> tuple:
    rounded = _lecture_digits(value, printed)
    return (lecture, ours, printed, rounded, "same" if float(rounded) == float(printed) else "differs")
