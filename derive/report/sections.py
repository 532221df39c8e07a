"""The derivation written out for a student: notation, forward pass, loss, the chain rule layer by layer.

Each function returns :class:`~derive.report.document.Section` objects built
from a derivation's own SymPy objects (its forward equations, loss, recorded
chain-rule steps, error terms and gradients) with short prose between them.
The layout is the lecture's: forward pass, loss, then from the output layer
back, every layer written out (none is left as "repeat for the others"),
ending in the δ recursion.  Update rules, the vectorized form and the code
are in :mod:`derive.report.updates`.
"""

from __future__ import annotations

import sympy

from derive.model.functions import sigmoid
from derive.symbolic.derivation import SymbolicDerivation

from .document import Equations, EquationRow, Section, Table, equations, paragraph
from .math import ETA, change, lecture_notation
from .notation import Notation

X_ARGUMENT = sympy.Symbol("x", real=True)
OUTPUT, TARGET = sympy.symbols("o t", real=True)


def derivation_sections(derivation: SymbolicDerivation) -> list[Section]:
    """Notation, forward pass, loss, one section per layer from the output back, and the summary."""
    notation = Notation(derivation)
    sections = [notation_section(derivation, notation), forward_section(derivation, notation),
                loss_section(derivation, notation)]
    sections += [layer_section(derivation, notation, layer) for layer in range(derivation.depth, 0, -1)]
    sections.append(summary_section(derivation, notation))
    return sections


def notation_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The lecture's symbols next to ours, and the sign convention of δ."""
    lecture, depth = lecture_notation(), derivation.depth
    rows = [(lecture["x"], notation.X, "input i of example n (the lecture shows one example and drops n)"),
            (lecture["net"], notation.Z(1), "net input of unit j of layer l (here layer 1)")]
    if depth > 1:
        rows.append((lecture["h"], notation.A(1), "activation of hidden unit j (here layer 1)"))
    rows += [(lecture["o"], notation.A(depth), "output k (layer %d, the output layer)" % depth),
             (lecture["t"], notation.T, "target of output k"),
             (lecture["w"], notation.entry("W1"), "weight from unit i of layer l − 1 to unit j of layer l")]
    if derivation.network.bias:
        rows.append((lecture["w0"], notation.entry("b1"), "bias of unit j: the weight from a constant input 1"))
    z = sympy.Symbol("z")
    rows += [(lecture["sigma"], sympy.Function("g_l")(z), "activation function of layer l"),
             (lecture["delta"], notation.delta(1), "error term of unit j (see the sign convention below)"),
             (notation.E, notation.E, "the loss"), (ETA, ETA, "learning rate")]
    sizes = [sympy.Eq(size, width, evaluate=False) for size, width in zip(notation.sizes, derivation.network.sizes)]
    net, delta, o, t = lecture["net"], lecture["delta"], lecture["o"], lecture["t"]
    return Section("notation", "Notation", [
        paragraph("Arrays are named as in the generated code; their indices are the example n and the units "
                  "i, j, k. Sizes stay symbols throughout the derivation (", notation.N, " examples, ",
                  notation.sizes[0], " inputs, ..., ", notation.sizes[-1], " outputs), so the same formulas hold "
                  "for any widths; this network has ", *_listed(sizes), "."),
        Table(("lecture", "here", "meaning"), tuple(rows)),
        paragraph("Sign convention: the lecture's error term is ",
                  sympy.Eq(delta, -sympy.Derivative(notation.E, net), evaluate=False),
                  ", so that its output term reads ", sympy.Eq(delta.base[o.indices[0]], o * (1 - o) * (t - o),
                                                                evaluate=False),
                  "; here ", sympy.Eq(notation.delta(1), sympy.Derivative(notation.E, notation.Z(1)), evaluate=False),
                  ", without the minus sign. Every δ below is the lecture's with the opposite sign, which is why the "
                  "lecture's update adds ", ETA * delta * lecture["x"], " and ours subtracts ",
                  ETA * sympy.Derivative(notation.E, lecture["w"]), ": the same step.", note=True),
    ])


def _listed(items: list) -> list:
    """``a, b and c`` as paragraph parts."""
    parts = []
    for position, item in enumerate(items):
        if position:
            parts.append(" and " if position == len(items) - 1 else ", ")
        parts.append(item)
    return parts


def forward_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The forward equations, and each activation with the derivative ``sympy.diff`` gives it."""
    blocks = [paragraph("Layer by layer from the input ", notation.X, " (layer 0): each unit sums its inputs "
                        "times their weights", " plus its bias" if derivation.network.bias else "",
                        " (the net input), then applies its layer's activation."),
              equations(*((eq.lhs, eq.rhs) for eq in derivation.forward_equations))]
    rows, seen = [], set()
    for layer, activation in enumerate(derivation.network.activations, start=1):
        if not activation.elementwise or activation.name in seen:
            continue
        seen.add(activation.name)
        g = activation.expression
        written = _written_out(g)
        rows.append((activation.name, g if written == g else sympy.Eq(g, written, evaluate=False),
                     sympy.diff(g, X_ARGUMENT)))
    if rows:
        blocks += [paragraph("The activations, with the derivative ", sympy.Function("g")(X_ARGUMENT).diff(
                       X_ARGUMENT), " as sympy.diff gives it. Each activation declares its derivative once, so that "
                       "SymPy writes the sigmoid's as the lecture does: ",
                       sympy.Eq(sympy.Derivative(sigmoid(X_ARGUMENT), X_ARGUMENT), sympy.diff(sigmoid(X_ARGUMENT),
                                                                                            X_ARGUMENT),
                                evaluate=False), "."),
                   Table(("activation", "g(x)", "g′(x)"), tuple(rows))]
    return Section("forward-pass", "Forward pass", blocks)


def _written_out(g: sympy.Expr) -> sympy.Expr:
    """An activation in elementary functions (σ as 1/(1 + e^−x), relu as a Piecewise), if SymPy can."""
    for target in (sympy.exp, sympy.Piecewise, sympy.log):
        rewritten = g.rewrite(target)
        if rewritten != g:
            return rewritten
    return g


def loss_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """E, its per-unit term and that term's derivative."""
    network = derivation.network
    per_unit = network.loss.sympy(OUTPUT, TARGET)
    mean = network.reduction == "mean"
    parts = ["The loss is %s summed over the output units and the examples" % network.loss.name,
             " and divided by " if mean else "", notation.N if mean else "",
             "; weight decay adds its penalty on the weights" if network.weight_decay or network.l1 else "", ":"]
    return Section("loss", "Loss", [
        paragraph(*parts),
        equations((notation.E, derivation.loss)),
        paragraph("Per output unit, with output o and target t, the term and its derivative are"),
        equations((sympy.Function("l")(OUTPUT, TARGET), per_unit),
                  (sympy.Derivative(sympy.Function("l")(OUTPUT, TARGET), OUTPUT), sympy.diff(per_unit, OUTPUT))),
    ])


def layer_section(derivation: SymbolicDerivation, notation: Notation, layer: int) -> Section:
    """Every chain-rule step of one layer: its error term, then its parameters' gradients."""
    depth, delta, E = derivation.depth, notation.delta(layer), notation.E
    parameters = {notation.base(name) for name in derivation.parameters}
    steps = [step for step in derivation.steps if _shown_with(step, notation) == layer]
    error = [s for s in steps if not _wrt_parameter(s.equation.lhs, parameters)]
    gradient = [s for s in steps if _wrt_parameter(s.equation.lhs, parameters)]
    lecture = lecture_notation()
    if layer == depth:
        title = "Layer %d: the output layer" % layer
        other = sympy.Symbol("n'", integer=True)
        intro = paragraph(
            "Start at the output. The error term ", delta, " says how the loss changes with the net input of "
            "output unit j. The chain rule splits it in two factors, the derivative of the loss with respect to "
            "the output (the lecture's ", sympy.Derivative(E, lecture["o"]), ") and of the output with respect to "
            "its net input (", sympy.Derivative(lecture["o"], lecture["net"].base[lecture["o"].indices[0]]),
            "), and sums over the units and examples in between. An Iverson bracket such as ",
            sympy.KroneckerDelta(notation.n, other), " is 1 when its indices are equal and 0 otherwise: that "
            "examples do not interact is derived, and summing the brackets out leaves one term.")
    else:
        above = notation.base("W%d" % (layer + 1))
        title = "Layer %d: hidden layer" % layer
        intro = paragraph(
            "The error reaches layer %d from layer %d through the weights " % (layer, layer + 1), above,
            ": the net input of every unit k above depends on this layer's output through ",
            above[notation.k, notation.j], ". The chain rule collects those paths, then goes through this layer's "
            "activation. The result is the δ recursion, ", delta, " from ", notation.delta(layer + 1), ".")
    blocks = [intro, _steps(error)]
    if gradient:
        blocks += [paragraph("The gradients of the layer's parameters follow from ", delta, ": the net input ",
                             notation.Z(layer), " is linear in its weights, so each weight's derivative is the "
                             "input it multiplies, and the chain rule sums over the examples."), _steps(gradient)]
    return Section("layer-%d" % layer, title, blocks)


def _shown_with(step, notation: Notation) -> int:
    """The layer a step is shown with: its own, except how the net input above depends on a layer's output
    (recorded with the layer above), which starts that layer's error term."""
    lhs = step.equation.lhs
    if step.layer > 1 and isinstance(lhs, sympy.Derivative) and getattr(lhs.expr, "base", None) == notation.Z(
            step.layer).base and any(getattr(v, "base", None) == notation.A(step.layer - 1).base
                                     for v in lhs.variables):
        return step.layer - 1
    return step.layer


def _wrt_parameter(lhs: sympy.Basic, parameters: set) -> bool:
    return isinstance(lhs, sympy.Derivative) and any(getattr(v, "base", None) in parameters for v in lhs.variables)


def _steps(steps) -> Equations:
    return Equations(tuple(EquationRow(s.equation.lhs, (s.equation.rhs,), s.label) for s in steps))


def summary_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """Backpropagation in full: every δ from the output back, every gradient; the lecture's form where it applies."""
    blocks = [paragraph("Backpropagation in full: compute ", notation.delta(derivation.depth), " at the output, "
                        "then each error term from the one above, and each gradient from its layer's error term "
                        "and the activations below it."),
              equations(*((eq.lhs, eq.rhs) for eq in derivation.equations()))]
    blocks += lecture_comparison(derivation, notation)
    return Section("backpropagation", "Backpropagation: the δ recursion and the gradients", blocks)


def lecture_comparison(derivation: SymbolicDerivation, notation: Notation) -> list:
    """For sigmoid layers with the lecture's SSE: its δ formulas, and SymPy's check that ours are their negatives."""
    network = derivation.network
    if network.loss.name != "sse" or network.reduction != "sum" or any(
            a.name != "sigmoid" for a in network.activations):
        return []
    lecture = lecture_notation()
    o, t, h, delta, x = lecture["o"], lecture["t"], lecture["h"], lecture["delta"], lecture["x"]
    k = o.indices[0]
    w_kj, delta_k = sympy.IndexedBase("w")[k, h.indices[0]], delta.base[k]
    output_rule = o * (1 - o) * (t - o)
    depth = derivation.depth
    output, target = notation.A(depth), notation.T.base[notation.n, notation.j]
    ours = derivation.delta(depth).xreplace({output: o, target: t})
    output_agrees = sympy.simplify(ours + output_rule) == 0
    rows = [EquationRow(delta_k, (output_rule,), "the lecture's output error term")]
    if depth > 1:
        rows.append(EquationRow(delta, (h * (1 - h) * sympy.Sum(w_kj * delta_k, (k, 0, sympy.Symbol("K") - 1)),),
                                "the lecture's hidden error term (K output units)"))
    rows.append(EquationRow(change(lecture["w"]), (ETA * delta * x,), "the lecture's weight change (no momentum)"))
    check = ("SymPy confirms the output term: with o_k for %s and t_k for %s, the derived error term plus the "
             "lecture's simplifies to 0." % (sympy.sstr(output), sympy.sstr(target))) if output_agrees else (
        "SymPy could not confirm that the derived output term is the negative of the lecture's.")
    return [paragraph("In the lecture's notation (sigmoid units, sum-squared error, one example):"),
            Equations(tuple(rows)), paragraph(check, note=True)]
