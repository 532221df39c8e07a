"""The derivation written out for a student: notation, the network, forward pass, loss, and the results.

Each function returns :class:`~derive.report.document.Section` objects built
from a derivation's own SymPy objects (its forward equations, loss, error
terms and gradients) with prose generated from the network's records: a
sentence about the sigmoid appears only in a network with a sigmoid, the
lecture's output error term is the one for this network's output and loss,
and every kink is stated where its activation's derivative appears.  The
lecture's way of deriving the error terms is :mod:`derive.report.lecture`;
the index-level chain rule with every step is the appendix
(:mod:`derive.report.appendix`).
"""

from __future__ import annotations

import sympy

from derive.model.functions import sigmoid
from derive.symbolic.symbolic_derivation import SymbolicDerivation
from derive.symbolic.layers import data_loss, penalty
from derive.symbolic.indices import fresh_index, readable_index, rename_bound
from derive.symbolic.sums import collapse_deltas

from .document import EquationRow, Equations, Section, Table, equations, paragraph
from .lecture import kink_note, loss_name, output_delta
from .notation import Notation
from .plots import network_diagram
from .quantities import ALPHA, ETA, LAMBDA, MU, lecture_notation, shown

X_ARGUMENT = sympy.Symbol("x", real=True)
OUTPUT, TARGET = sympy.symbols("o t", real=True)


def layer_list(layers: list[int]) -> str:
    """``layer 1``, ``layers 1 and 2``, ``layers 1, 2 and 3``."""
    if len(layers) == 1:
        return "layer %d" % layers[0]
    return "layers %s and %d" % (", ".join(map(str, layers[:-1])), layers[-1])


def activation_layers(network) -> dict:
    """Each distinct activation of ``network`` with the layers that use it, in order."""
    found: dict = {}
    for layer, activation in enumerate(network.activations, start=1):
        found.setdefault(activation, []).append(layer)
    return found


def notation_rows(derivation: SymbolicDerivation, notation: Notation) -> list[tuple]:
    """The rows (lecture, here, meaning) of the table of the lecture's symbols and ours."""
    network, depth = derivation.network, derivation.depth
    lecture = lecture_notation()
    i, j, k, n = lecture["i"], lecture["j"], lecture["k"], notation.n

    def array(name, *index):
        return sympy.IndexedBase(name)[index]

    rows = [(lecture["x"], array("X", n, i - 1), "input i of example n: the lecture shows one example (no n) and "
                                                 "counts units from 1, this report from 0"),
            (lecture["net"], array("Z(l)", n, j - 1), "net input of unit j of layer l")]
    if depth > 1:
        rows.append((lecture["h"], array("A(l)", n, j - 1), "activation of hidden unit j (layer l < %d)" % depth))
    rows += [(lecture["o"], array("A%d" % depth, n, k - 1), "output k (layer %d, the output layer)" % depth),
             (lecture["t"], array("T", n, k - 1), "target of output k"),
             (lecture["w"], array("W(l)", j - 1, i - 1), "weight from unit i of layer l − 1 to unit j of layer l")]
    if network.bias:
        rows.append((lecture["w0"], array("b(l)", j - 1), "bias of unit j: the lecture's weight from a constant "
                                                          "input 1, its unit 0"))
    used = "; ".join("%s in %s" % (a.name if len(a.name) <= 16 else "custom", layer_list(layers))
                     for a, layers in activation_layers(network).items())
    rows += [(lecture["sigma"], sympy.Function("g(l)")(sympy.Symbol("z")),
              "activation of layer l (the lecture's units are sigmoids; here %s)" % used),
             (lecture["delta"], -array("delta(l)", n, j - 1), "error term of unit j: the opposite sign (below)"),
             (sympy.Symbol("E"), notation.E, "the loss"), (ETA, ETA, "learning rate"), (ALPHA, ALPHA, "momentum")]
    return rows


def notation_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The lecture's symbols next to ours (its units count from 1), and the sign convention of δ."""
    network, lecture = derivation.network, lecture_notation()
    rows = notation_rows(derivation, notation)
    sizes = [sympy.Eq(size, width, evaluate=False) for size, width in zip(notation.sizes, network.sizes)]
    found = output_delta(network.activations[-1], network.loss)
    delta, net = lecture["delta"], lecture["net"]
    return Section("notation", "Notation", [
        paragraph("Arrays are named as in the generated code, with the layer as a superscript (the code's W1 is ",
                  notation.base("W1"), "); their indices are the example n and the units i, j, k. Sizes stay symbols "
                  "throughout the derivation (", notation.N, " examples, ", notation.sizes[0], " inputs, …, ",
                  notation.sizes[-1], " outputs), so the same formulas hold for any widths; this network has ",
                  *_listed(sizes), "."),
        Table(("lecture", "here", "meaning"), tuple(rows), "The lecture's symbols and this report's"),
        paragraph("Sign convention: the lecture's error term is ", sympy.Eq(delta, -sympy.Derivative(
            notation.E, net), evaluate=False), ", so that for this network's output (%s with %s) it reads "
            % (_name(network.activations[-1]), loss_name(network.loss)),
            sympy.Eq(delta.base[found.unit], found.lecture, evaluate=False),
            "; here ", sympy.Eq(notation.delta(1).base[notation.n, notation.j],
                                sympy.Derivative(notation.E, notation.Z(1)), evaluate=False),
            ", without the minus sign. Every δ below is the lecture's with the opposite sign, which is why the "
            "lecture's update adds ", ETA * delta * lecture["x"], " and ours subtracts ",
            ETA * sympy.Derivative(notation.E, notation.entry("W1")), ": the same step.", note=True),
    ])


def _name(activation) -> str:
    return activation.name if len(activation.name) <= 16 else "a custom activation"


def _listed(items: list) -> list:
    """``a, b and c`` as paragraph parts."""
    parts = []
    for position, item in enumerate(items):
        if position:
            parts.append(" and " if position == len(items) - 1 else ", ")
        parts.append(item)
    return parts


def network_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The diagram of the network, with its layers named."""
    network = derivation.network
    names = ["input (%d)" % network.sizes[0]]
    names += ["layer %d: %s (%d)" % (layer, _name(activation) if len(activation.name) <= 16 else "custom", width)
              for layer, (activation, width) in enumerate(zip(network.activations, network.sizes[1:]), start=1)]
    counts = ", ".join("%s %s" % (name, "×".join(map(str, shape))) for name, shape in network.param_shapes().items())
    generic = sympy.IndexedBase("W(l)")[notation.j, notation.i]
    return Section("network", "The network", [
        paragraph("%d layers of weights (%s), %s parameters in all. " % (network.depth, counts,
                                                                         format(network.n_params, ",")),
                  generic, " is the weight from unit i of layer l − 1 to unit j of layer l."),
        network_diagram(network.sizes, names, network.bias)])


def forward_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """The forward equations, and each activation with the derivative ``sympy.diff`` gives it (and its kinks)."""
    network = derivation.network
    blocks = [paragraph("Layer by layer from the input ", notation.X, " (layer 0): each unit sums its inputs times "
                        "their weights", " plus its bias" if network.bias else "",
                        " (the net input), then applies its layer's activation."),
              equations(*((eq.lhs, eq.rhs) for eq in derivation.forward_equations))]
    g, g_prime = sympy.Function("g")(X_ARGUMENT), sympy.Function("g'")(X_ARGUMENT)
    for activation, layers in activation_layers(network).items():
        where = "%s (%s)" % (_name(activation), layer_list(layers))
        if not activation.elementwise:
            blocks.append(paragraph("The %s is not elementwise: each output depends on the net inputs of every "
                                    "unit of its layer; its derivative is in the section on the output error term."
                                    % where))
            continue
        written = _written_out(activation.expression)
        blocks += [paragraph("The activation %s and its derivative, as sympy.diff gives it:" % where),
                   Equations((EquationRow(g, (activation.expression,) + (
                       (written,) if written != activation.expression else ())),
                              EquationRow(g_prime, (sympy.diff(activation.expression, X_ARGUMENT),))))]
        note = kink_note(activation, X_ARGUMENT)
        blocks += [note] if note else []
    if any(a.elementwise and a.expression.has(sigmoid) for a in network.activations):
        blocks.append(paragraph("The sigmoid declares its derivative once (in SymPy, like tanh's), so that SymPy "
                                "writes it as the lecture does, ", sympy.Eq(sympy.Derivative(
                                    sigmoid(X_ARGUMENT), X_ARGUMENT), sympy.diff(sigmoid(X_ARGUMENT), X_ARGUMENT),
                                    evaluate=False), ", in terms of the sigmoid's own output.", note=True))
    return Section("forward-pass", "Forward pass", blocks)


def _written_out(g: sympy.Expr) -> sympy.Expr:
    """An activation in elementary functions (σ as 1/(1 + e^−x), relu as a Piecewise), if SymPy can."""
    for target in (sympy.exp, sympy.Piecewise, sympy.log):
        rewritten = g.rewrite(target)
        if rewritten != g:
            return rewritten
    return g


def shown_loss(derivation: SymbolicDerivation) -> sympy.Expr:
    """E as the report shows it: the data term, and the penalties with λ and μ kept as symbols."""
    return data_loss(derivation.network) + penalty(derivation.network, LAMBDA, MU)


def shown_gradient(derivation: SymbolicDerivation, name: str, entry: sympy.Indexed) -> sympy.Expr:
    """∂E/∂(parameter) as the report shows it: the derived data term, and the penalty's derivative with λ and μ."""
    network = derivation.network
    if not (network.weight_decay or network.l1) or not name.startswith("W"):
        return derivation.gradient(name)
    decay = collapse_deltas(sympy.diff(rename_bound(penalty(network, LAMBDA, MU), fresh_index), entry))
    return derivation.chain_rule.data_terms[name] + rename_bound(decay, readable_index())


def penalty_values(network) -> list:
    """``λ = 0.01`` (and ``μ = …``) for the penalties ``network`` has, as math for prose."""
    values = []
    if network.weight_decay:
        values.append(sympy.Eq(LAMBDA, shown(network.weight_decay), evaluate=False))
    if network.l1:
        values.append(sympy.Eq(MU, shown(network.l1), evaluate=False))
    return values


def loss_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """E, its per-unit term and that term's derivative."""
    network = derivation.network
    per_unit = network.loss.sympy(OUTPUT, TARGET)
    mean = network.reduction == "mean"
    parts = ["The loss is the %s summed over the output units and the examples" % loss_name(network.loss),
             " and divided by " if mean else "", notation.N if mean else ""]
    values = penalty_values(network)
    if values:
        parts += ["; weight decay adds its penalty on the weights, with "] + _listed(values)
    blocks = [paragraph(*parts, ":"), Equations((EquationRow(notation.E, (shown_loss(derivation),)),)),
              paragraph("Per output unit, with output o and target t, the term and its derivative are"),
              equations((sympy.Function("l")(OUTPUT, TARGET), per_unit),
                        (sympy.Derivative(sympy.Function("l")(OUTPUT, TARGET), OUTPUT), sympy.diff(per_unit, OUTPUT)))]
    return Section("loss", "Loss", blocks)


def summary_section(derivation: SymbolicDerivation, notation: Notation) -> Section:
    """Backpropagation in index form: every δ from the output back, every gradient."""
    rows = [EquationRow(notation.delta(layer), (derivation.delta(layer),),
                        "the output layer's error term" if layer == derivation.depth else
                        "layer %d's error term, from layer %d's" % (layer, layer + 1))
            for layer in range(derivation.depth, 0, -1)]
    rows += [EquationRow(sympy.Derivative(notation.E, notation.entry(name)),
                         (shown_gradient(derivation, name, notation.entry(name)),))
             for name in derivation.parameters]
    return Section("backpropagation", "Backpropagation in index form: the δ recursion and the gradients", [
        paragraph("What the chain rule gives for every example n and unit, with this network's sizes kept as "
                  "symbols: ", notation.delta(derivation.depth), " at the output, then each error term from the one "
                  "above, and each gradient from its layer's error term and the activations below it (the sum over "
                  "n adds up the examples). The appendix shows every step SymPy takes to get here."),
        Equations(tuple(rows))])
