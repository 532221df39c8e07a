"""After the gradients: the update rules, the vectorized form, and the generated code.

* :func:`update_section`: gradient descent with learning rate η, momentum α
  and weight decay λ (kept as a symbol, its value beside it), written with
  each parameter's derived gradient substituted (the decay term is
  ``sympy.diff`` of the penalty);
* :func:`vectorized_section`: every equation for whole arrays (rows are
  examples), as the generated code computes it, described from the
  statements actually printed;
* :func:`code_section`: the generated numpy module, as an appendix.
"""

from __future__ import annotations

import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .arrays import array_statements
from .document import Code, EquationRow, Equations, Section, Table, paragraph
from .math import ALPHA, ETA, LAMBDA, MU, STEP, at_step, change, shown
from .notation import Notation
from .sections import shown_gradient


def update_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The update of every parameter, with momentum, and what weight decay adds."""
    w = sympy.Symbol("w", real=True)
    rows = [EquationRow(change(w, STEP), (-ETA * sympy.Derivative(notation.E, w) + ALPHA * change(w, STEP - 1),),
                        "the change of any weight or bias w at step t"),
            EquationRow(at_step(w, STEP + 1), (at_step(w, STEP) + change(w, STEP),), "the update")]
    for position, name in enumerate(derivation.parameters):
        entry = notation.entry(name)
        step = -ETA * shown_gradient(derivation, name, entry) + ALPHA * change(entry, STEP - 1)
        rows.append(EquationRow(change(entry, STEP), (step,), "" if position else "each parameter's change, with its "
                                                                                "derived gradient"))
    network = derivation.network
    penalty = LAMBDA / 2 * w**2
    decay = Equations((EquationRow(sympy.Derivative(penalty, w), (sympy.diff(penalty, w),)),))
    shrink = ETA * sympy.diff(penalty, w)
    if network.weight_decay:
        said = ("This network has weight decay ", sympy.Eq(LAMBDA, shown(network.weight_decay), evaluate=False),
                ": the penalty ", penalty, " of every weight adds its derivative to the weight's gradient (the ",
                LAMBDA, " term above), so each step also shrinks w by ", shrink, ". The lecture's rule \"",
                -LAMBDA * w, "\" uses a ", LAMBDA, " equal to this ", ETA * LAMBDA, ".")
    else:
        said = ("This network has no weight decay. With --weight-decay ", LAMBDA, " the loss gains ", penalty,
                " per weight, whose derivative adds to the weight's gradient, so that each step also shrinks w by ",
                shrink, " (the lecture's \"", -LAMBDA * w, "\" uses a ", LAMBDA, " equal to this ", ETA * LAMBDA,
                ").")
    if network.l1:
        said += (" The L1 penalty ", MU * sympy.Abs(w), " (", sympy.Eq(MU, shown(network.l1), evaluate=False),
                 ") adds ", sympy.diff(MU * sympy.Abs(w), w), " to the gradient of every weight w ≠ 0.")
    return Section("updates", "Update rules", [
        paragraph("Gradient descent moves every parameter against its gradient, scaled by the learning rate ",
                  ETA, "; momentum ", ALPHA, " (between 0 and 1) adds a fraction of the previous step, so that "
                  "steps keep moving in the same direction. The first step has no previous one: ",
                  sympy.Eq(change(w, 0), 0, evaluate=False), ". With ", sympy.Eq(ALPHA, 0, evaluate=False),
                  " this is plain gradient descent."),
        Equations(tuple(rows)),
        paragraph(*said),
        decay,
        paragraph("backprop train averages the gradient over each batch of B examples (the lecture's batch and "
                  "mini-batch rules, with 1/B); with one example per step, this is the lecture's stochastic rule.",
                  note=True),
    ])


def vectorized_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """Every equation for whole arrays, as the array printer writes it."""
    try:
        statements = array_statements(derivation)
    except NotImplementedError as exc:
        return Section("vectorized", "Vectorized form", [paragraph("No vectorized form: %s." % exc, note=True)])
    rows = tuple((statement.lhs, Code("%s = %s" % (statement.name, statement.code))) for statement in statements)
    code = " ".join(statement.code for statement in statements)
    ways = ["a sum over a shared index is a matrix product @" + (" (with .T for a transpose)" if ".T" in code else "")]
    for spelled in ("np.add.reduce(", ".sum(axis=0)"):
        if spelled in code:
            ways.append("a sum over the examples is %s" % (spelled + "..., axis=0)" if spelled.endswith("(")
                                                             else spelled))
    return Section("vectorized", "Vectorized form", [
        paragraph("For a batch, each index-level equation is one array operation. Rows are examples: ",
                  notation.X.base, " has ", notation.N, " rows and ", notation.sizes[0], " columns, and ",
                  notation.base("W1"), " has ", notation.sizes[1], " rows, one per unit it feeds. In the code below, "
                  "%s, and everything else is elementwise. This is what the generated code computes, printed from "
                  "the same SymPy expressions:" % ", ".join(ways)),
        Table(("quantity", "numpy, for whole arrays"), rows, "Each equation for whole arrays"),
    ])


def code_section(derivation) -> Section:
    """The generated numpy module (``derivation.numpy_source()``)."""
    try:
        source = derivation.numpy_source()
    except NotImplementedError as exc:
        return Section("code", "Appendix: the generated code", [paragraph("No numpy code: %s." % exc, note=True)])
    return Section("code", "Appendix: the generated code", [
        paragraph("The numpy module printed from this derivation: forward(params, X), loss(params, X, T) and "
                  "gradients(params, X, T), with the computations above done in place and in numerically "
                  "stable forms. backprop derive SPEC -o grads.py writes it; from Python, "
                  "derive(network).numpy_module() imports it."),
        Code(source, folded=True),
    ], code="module = derivation.numpy_module()\nprint(derivation.numpy_source()[:600])")
