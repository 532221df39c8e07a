"""The worked example written out: laid out as the lecture does for small networks, summarised for large ones.

**Small networks** (at most :data:`DETAIL_ENTRIES` parameters and at most
:data:`DETAIL_ENTRIES` unit values per step): every entry, as the lecture
writes "h_1 = σ((1)(.1) + (0)(.1) + .1) = σ(.2) = .55".  Each line is the
entry's definition at concrete sizes (:meth:`derive.Derivation.partials`:
the forward pass, the error terms, each scalar partial) with the numbers
substituted, then its value; then each parameter's change and new value.

**Large networks**: for each array, its shape, its norm, its first
:data:`FIRST_ENTRIES` entries and its :data:`LARGEST_ENTRIES` largest entries
by magnitude (for gradients: the weights that move most), instead of tens
of thousands of numbers.

All values are the derivation's (:func:`derive.report.example.worked_example`),
shown to four significant digits.
"""

from __future__ import annotations

import numpy as np
import sympy

from .document import EquationRow, Equations, Section, Table, paragraph
from .example import WorkedExample
from .math import ALPHA, ETA, at_step, change, number, shown, text_number
from .notation import Notation

DETAIL_ENTRIES = 40
#: Formulas with more operations than this are shown with their value only.
SUBSTITUTED_OPERATIONS = 40
FIRST_ENTRIES = 4
LARGEST_ENTRIES = 3

#: The lecture's printed numbers: (our array, entry, sign, the lecture's name, what it prints, after the update).
LECTURE_NUMBERS = (
    ("A1", (0, 0), 1, ("h_j", "j = 1, 2"), ".55", False), ("A2", (0, 0), 1, ("o_k", "k = 1"), ".552", False),
    ("delta2", (0, 0), -1, ("delta_k", "k = 1"), ".086", False),
    ("delta1", (0, 0), -1, ("delta_j", "j = 1, 2"), ".002", False),
    ("b2", (0,), 1, ("w_k0", "bias, k = 1"), ".1172", True), ("W2", (0, 0), 1, ("w_kj", "j = 1, 2"), ".1095", True),
    ("b1", (0,), 1, ("w_j0", "bias, j = 1, 2"), ".1004", True),
    ("W1", (0, 0), 1, ("w_j1", "from x_1 = 1"), ".1004", True),
    ("W1", (0, 1), 1, ("w_j2", "from x_2 = 0"), ".1", True),
)


def example_sections(derivation, example: WorkedExample) -> list[Section]:
    """The worked example: its numbers, then one subsection per step."""
    notation = Notation(derivation)
    start, network = example.start, example.network
    detailed = is_detailed(network, len(start.X))
    intro = Section("worked-example", "Worked example", [
        paragraph("The derivation at numbers: %s. Each step is one step of gradient descent on E over %s, with "
                  % (start.description, "the example" if len(start.X) == 1 else "all %d examples" % len(start.X)),
                  sympy.Eq(ETA, shown(start.lr), evaluate=False), " and ", sympy.Eq(ALPHA, shown(start.momentum),
                                                                                    evaluate=False),
                  "; two steps, so that the momentum term shows in the second. Every number is computed by "
                  "evaluating the equations above, and shown to four significant digits."),
        _array_table("Parameters at the start", start.params, detailed),
        _array_table("Data", {"X": start.X, "T": start.T}, detailed)],
        code="%s\nexample = worked_example(derivation, start)\nprint(example)" % start.code)
    if not detailed:
        intro.blocks.append(paragraph(
            "This network is too large to write out entry by entry (more than %d parameters or unit values), so "
            "each array is summarised: its shape, its norm, its first %d entries and its %d largest entries by "
            "magnitude." % (DETAIL_ENTRIES, FIRST_ENTRIES, LARGEST_ENTRIES), note=True))
    sections = [intro]
    partials = derivation.partials(batch=len(start.X), build=False) if detailed else None
    for step_number, step in enumerate(example.steps, start=1):
        blocks = (_detailed_step(notation, partials, example, step_number) if detailed
                  else _summarised_step(step))
        sections.append(Section("step-%d" % step_number, "Step %d" % step_number, blocks, level=3))
    if start.lecture:
        sections[-1].blocks += lecture_check(example)
    return sections


def is_detailed(network, examples: int) -> bool:
    """Whether the worked example is written entry by entry (see the module docstring)."""
    return network.n_params <= DETAIL_ENTRIES and examples * sum(network.sizes[1:]) <= DETAIL_ENTRIES


def _array_table(caption: str, arrays: dict, detailed: bool) -> Table:
    if detailed:
        rows = tuple((name, "×".join(map(str, np.shape(value))) or "scalar",
                      ", ".join(text_number(v) for v in np.ravel(value))) for name, value in arrays.items())
        return Table(("array", "shape", "entries (row by row)"), rows, caption)
    return _summary_table(caption, arrays)


def _summary_table(caption: str, arrays: dict) -> Table:
    rows = []
    for name, value in arrays.items():
        flat = np.ravel(value)
        order = np.argsort(-np.abs(flat), kind="stable")[:LARGEST_ENTRIES]
        largest = "; ".join("[%s] %s" % (", ".join(map(str, np.unravel_index(i, np.shape(value)))),
                                         text_number(flat[i])) for i in order)
        rows.append((name, "×".join(map(str, np.shape(value))), float(np.linalg.norm(flat)),
                     ", ".join(text_number(v) for v in flat[:FIRST_ENTRIES]) + (", ..." if flat.size > FIRST_ENTRIES
                                                                                 else ""), largest))
    return Table(("array", "shape", "norm", "first entries", "largest entries by magnitude"), tuple(rows), caption)


def _summarised_step(step) -> list:
    return [_summary_table("Forward pass and error terms", step.values),
            paragraph("Loss: ", sympy.Eq(sympy.Symbol("E"), shown(step.loss), evaluate=False), "."),
            _summary_table("Gradients ∂E/∂w", step.gradients),
            _summary_table("Changes Δw (with momentum)", step.changes),
            _summary_table("Parameters after the step", step.updated)]


class _Numbers:
    """Looks up the number of any named entry (data, parameter, forward value, error term) at one step."""

    def __init__(self, notation: Notation, example: WorkedExample, step):
        self.arrays = {**step.params, **step.values, sympy.sstr(notation.X.base): example.start.X,
                       sympy.sstr(notation.T.base): example.start.T}

    def value(self, entry: sympy.Indexed) -> float:
        return float(self.arrays[sympy.sstr(entry.base.label)][tuple(int(i) for i in entry.indices)])

    def substituted(self, expr: sympy.Expr, value: float) -> tuple:
        """``(expr with every entry replaced by its shown number, unevaluated, value)``: ``σ((0.1)(1) + 0.1)``.

        Just ``(value,)`` for a formula too long to read with numbers in it, or one that SymPy cannot keep
        unevaluated (it asks questions of the numbers inside some functions, and may not return).
        """
        if sympy.count_ops(expr) > SUBSTITUTED_OPERATIONS:
            return (shown(value),)
        numbers = {entry: number(self.value(entry)) for entry in expr.atoms(sympy.Indexed)}
        try:
            with sympy.evaluate(False):
                return expr.xreplace(numbers), shown(value)
        except (RecursionError, TypeError, ValueError):
            return (shown(value),)


def _detailed_step(notation: Notation, partials, example: WorkedExample, step_number: int) -> list:
    step = example.steps[step_number - 1]
    numbers = _Numbers(notation, example, step)
    forward, backward = [], []
    error_terms = {notation.delta(layer).base for layer in range(1, notation.depth + 1)}
    for entry, definition in partials.definitions():
        row = EquationRow(entry, numbers.substituted(definition, numbers.value(entry)))
        (backward if entry.base in error_terms else forward).append(row)
    gradients, updates = [], []
    t = sympy.Integer(step_number)
    for name, value in step.gradients.items():
        base = notation.base(name)
        for index in np.ndindex(value.shape):
            entry = base[index]
            partial = partials[(name, *index)]
            gradients.append(EquationRow(sympy.Derivative(notation.E, entry),
                                         numbers.substituted(partial, value[index])))
            with sympy.evaluate(False):
                changed = (number(-example.start.lr) * number(value[index])
                           + number(example.start.momentum) * number(_previous(example, step_number, name)[index]))
                updated = number(step.params[name][index]) + number(step.changes[name][index])
            updates.append(EquationRow(change(entry, t), (changed, shown(step.changes[name][index]))))
            updates.append(EquationRow(at_step(entry, t + 1), (updated, shown(step.updated[name][index]))))
    momentum = ("the previous changes are 0, so the momentum term vanishes" if step_number == 1 else
                "the momentum term carries α times the changes of step %d" % (step_number - 1))
    return [paragraph("Forward phase: the net inputs and activations, layer by layer."),
            Equations(tuple(forward)),
            paragraph("Loss: ", sympy.Eq(notation.E, shown(step.loss), evaluate=False), ". Backward phase: the "
                      "error terms from the output back (the lecture's δ are these with the opposite sign)."),
            Equations(tuple(backward)),
            paragraph("Gradients: each scalar partial at these numbers."),
            Equations(tuple(gradients)),
            paragraph("Updates (%s):" % momentum),
            Equations(tuple(updates))]


def _previous(example: WorkedExample, step_number: int, name: str) -> np.ndarray:
    """Δw of the step before ``step_number`` (zeros before the first)."""
    if step_number == 1:
        return np.zeros_like(example.steps[0].gradients[name])
    return example.steps[step_number - 2].changes[name]


def lecture_check(example: WorkedExample) -> list:
    """The numbers the lecture prints next to this report's, rounded to the lecture's digits."""
    rows = []
    step = example.steps[0]
    for array, index, sign, name, printed, after_update in LECTURE_NUMBERS:
        source = step.updated if after_update else step.values
        ours = sign * float(source[array][index])
        digits = len(printed) - 1
        rounded = ("%.*f" % (digits, ours)).lstrip("0") if ours >= 0 else "%.*f" % (digits, ours)
        entry = sympy.IndexedBase(array)[index]
        rows.append((-entry if sign < 0 else entry, sympy.Symbol(name[0]), name[1], printed, rounded,
                     "same" if float(rounded) == float(printed) else "differs"))
    return [paragraph("The lecture's numbers (its Backprop Example, first step): each of this report's values "
                      "rounded to the digits the lecture prints. The lecture's δ is −∂E/∂net, so the δ rows "
                      "negate ours; 'after' rows are the weights after step 1."),
            Table(("here", "lecture", "which", "lecture prints", "this report", ""), tuple(rows))]
