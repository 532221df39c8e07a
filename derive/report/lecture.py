"""The lecture's way: the chain rule for one generic layer in the lecture's notation, and the output error term.

Both sections are derived here, with ``sympy.diff`` on the network's own
registry records (its activations' and loss's SymPy definitions), in the
lecture's scalar notation: one example, units counted from 1, o_k the
outputs, h_j the hidden activations, net the net inputs, and the lecture's
sign δ = −∂E/∂net.  Nothing is typed as a known formula: a sigmoid layer
gets h_j(1 − h_j) because SymPy differentiates the sigmoid, a tanh layer
1 − h_j², a ReLU layer the bracket [net_j > 0].

* :func:`output_delta`: ∂E/∂net at the output for one (output activation,
  loss) pair, with the steps that show what cancels: for softmax with
  cross-entropy the sum over the outputs leaves o_j Σ_k t_k − t_j, and the
  stated assumption Σ_k t_k = 1 (targets that sum to one) gives o_j − t_j;
* :func:`chain_rule_section` and :func:`output_delta_section`: the two sections;
* :func:`kink_note`: where an activation has no derivative and which value is used there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

from derive.model.activations import Activation
from derive.model.expression import VARIABLE
from derive.model.losses import OUTPUT, TARGET, Loss
from derive.symbolic.sums import collapse_deltas, factor_sums

from .document import EquationRow, Equations, Section, paragraph
from .quantities import ETA, change, lecture_notation

SYMBOLS = lecture_notation()
o, t, net_k, h, net_j = SYMBOLS["o"], SYMBOLS["t"], SYMBOLS["net_k"], SYMBOLS["h"], SYMBOLS["net"]
i, j, k, K = SYMBOLS["i"], SYMBOLS["j"], SYMBOLS["k"], SYMBOLS["K"]
w_kj, w_ji, delta_k, delta_j, x = SYMBOLS["w_kj"], SYMBOLS["w"], SYMBOLS["delta_k"], SYMBOLS["delta"], SYMBOLS["x"]
E = sympy.Symbol("E")
D = sympy.Derivative


@dataclass(frozen=True)
class OutputDelta:
    """∂E/∂net at the output for one (output activation, loss) pair, in the lecture's letters.

    Attributes:
        rows: The derivation, as equation rows to display.
        result: ∂E/∂net_k (elementwise output) or ∂E/∂net_j (softmax), after the assumption if one was made.
        assumption: ``Eq(Sum(t_k), 1)`` when the result needs targets that sum to one, else None.
        matched: Whether the result is o − t: the activation is the loss's canonical (matched) link.
        unit: The output unit the result is for (k, or j for softmax).
    """

    rows: tuple
    result: sympy.Expr
    assumption: sympy.Eq | None
    matched: bool
    unit: sympy.Symbol

    @property
    def lecture(self) -> sympy.Expr:
        """The lecture's δ at this unit: −∂E/∂net, the minus sign taken into the output's error (t − o)."""
        return negated(self.result)


def negated(expr: sympy.Expr) -> sympy.Expr:
    """``-expr``, the minus sign taken into the difference with the most quantities (``o(1 − o)(t − o)``)."""
    if expr.is_Mul:
        coefficient, factors = expr.as_coeff_mul()
        differences = [f for f in factors if f.is_Add]
        if differences:
            chosen = max(differences, key=lambda f: len(f.free_symbols | f.atoms(sympy.Indexed)))
            rest = list(factors)
            rest[rest.index(chosen)] = sympy.expand(-chosen)
            return sympy.Mul(coefficient, *rest)
    return -expr


@lru_cache(maxsize=64)
def output_delta(activation: Activation, loss: Loss) -> OutputDelta:
    """Derive ∂E/∂net at the output for ``activation`` and ``loss`` (see the module docstring)."""
    dE_do = loss.derivative_expr.xreplace({OUTPUT: o, TARGET: t})
    if activation.elementwise:
        return _elementwise_delta(activation, dE_do)
    return _softmax_delta(activation, loss, dE_do)


def _elementwise_delta(activation: Activation, dE_do: sympy.Expr) -> OutputDelta:
    do_dnet = in_output(activation, net_k, o)
    product = sympy.Mul(dE_do, do_dnet)
    result = min((product, sympy.cancel(product)), key=sympy.count_ops)
    matched = sympy.simplify(result - (o - t)) == 0
    rows = (EquationRow(D(E, o), (dE_do,), "the loss's derivative"),
            EquationRow(D(o, net_k), (do_dnet,), "the output activation's derivative (%s)" % _named(activation)),
            EquationRow(D(E, net_k), (sympy.Mul(D(E, o), D(o, net_k), evaluate=False), product)
                        + ((result,) if result != product else ()), "the chain rule"))
    return OutputDelta(rows, result, None, matched, k)


def _softmax_delta(activation: Activation, loss: Loss, dE_do: sympy.Expr) -> OutputDelta:
    """Softmax: every output depends on every net input, so the chain rule sums over the outputs k."""
    net = sympy.IndexedBase("net", real=True)
    example = sympy.Dummy("n")
    definition = activation.vector_definition(sympy.IndexedBase("netn", real=True), example, k, K)
    definition = definition.replace(lambda e: isinstance(e, sympy.Indexed) and e.base.label.name == "netn",
                                    lambda e: net[e.indices[1]])
    total = next(iter(definition.atoms(sympy.Sum)))
    # the lecture counts units from 1: the same sum over 1..K
    total_from_one = sympy.Sum(total.function, (total.limits[0][0], 1, K))
    definition = definition.xreplace({total: total_from_one})
    jacobian = collapse_deltas(sympy.diff(definition, net[j]))
    jacobian = sympy.factor_terms(sympy.expand(jacobian.xreplace(
        {sympy.exp(net[u]): o.base[u] * total_from_one for u in (j, k)})))
    summand = sympy.Mul(dE_do, jacobian, evaluate=False)
    chained = sympy.Sum(summand, (k, 1, K))
    collapsed = factor_sums(collapse_deltas(sympy.Sum(sympy.expand(sympy.cancel(dE_do * jacobian)), (k, 1, K))))
    targets = sympy.Sum(t, (k, 1, K))
    assumed = collapsed.xreplace({targets: 1})
    assumption = sympy.Eq(targets, 1) if assumed != collapsed else None
    result = assumed
    matched = sympy.simplify(result - (o.base[j] - t.base[j])) == 0
    rows = [EquationRow(D(E, o), (dE_do,), "the loss's derivative"),
            EquationRow(D(o, net_j), (jacobian,), ("the softmax's derivative: each ", o, " depends on every ", net_j,
                                                   " (", sympy.KroneckerDelta(j, k), " is 1 when j = k and 0 otherwise)")),
            EquationRow(D(E, net_j), (sympy.Sum(sympy.Mul(D(E, o), D(o, net_j), evaluate=False), (k, 1, K)),
                                      chained, collapsed), "the chain rule sums over the outputs k; the bracket "
                                                           "keeps the term k = j")]
    if assumption is not None:
        rows.append(EquationRow(D(E, net_j), (result,), "with targets that sum to one"))
    return OutputDelta(tuple(rows), result, assumption, matched, j)


def in_output(activation: Activation, argument: sympy.Expr, output: sympy.Expr) -> sympy.Expr:
    """g′(argument) as ``sympy.diff`` gives it, with g(argument) written as ``output`` where it appears
    (the lecture's o(1 − o) for the sigmoid, 1 − o² for tanh)."""
    value = activation.sympy(argument)
    derivative = activation.derivative_expr.xreplace({VARIABLE: argument})
    return derivative if value == argument else derivative.xreplace({value: output})


def _written(derivative: sympy.Expr, output: sympy.Expr) -> str:
    return ", written with its output" if derivative.has(output) else ""


def loss_name(loss: Loss) -> str:
    """How prose names a loss: ``binary cross entropy``."""
    return loss.name.replace("_", " ")


def _named(activation: Activation) -> str:
    return activation.name if len(activation.name) <= 16 else "custom: %s" % activation.name


def kink_note(activation: Activation, argument: sympy.Expr):
    """A note on where ``activation`` switches form and what its derivative does there, or None without kinks.

    The slopes on either side and the value used at the kink are read from SymPy's derivative; the note says
    that the hand-written engine uses the same value only where it does (its ``backward`` at the kink).
    """
    if not activation.elementwise or not activation.kinks:
        return None
    derivative = activation.derivative_expr
    parts = []
    for point in activation.kinks:
        at = sympy.nsimplify(point)
        sides = [float(derivative.subs(VARIABLE, at + side * sympy.Rational(1, 10**12)).evalf(8)) for side in (-1, 1)]
        value = float(derivative.subs(VARIABLE, at).evalf(15))
        where = sympy.Eq(argument, at, evaluate=False)
        if abs(sides[0] - sides[1]) < 1e-6:
            parts += ["%s switches form at " % _named(activation), where,
                      ", but its slope is continuous there (%.4g on both sides). " % sides[0]]
            continue
        parts += ["%s has a kink at " % _named(activation), where, ": its slope jumps from %.4g to %.4g, so it has no "
                  "derivative there, and the value used at the kink is %.4g, what SymPy's derivative gives there%s. "
                  % (sides[0], sides[1], value, _engine_agrees(activation, point, value))]
    if derivative.has(sympy.Heaviside):
        parts += ["The bracket ", sympy.Heaviside(argument, 0), " is 1 if ", sympy.Gt(argument, 0, evaluate=False),
                  " and 0 otherwise."]
    parts[-1] = parts[-1].rstrip()
    return paragraph(*parts, note=True)


def _engine_agrees(activation: Activation, point: float, value: float) -> str:
    """", as does the hand-written engine" when the record's ``backward`` gives ``value`` at the kink too."""
    if activation.backward is None:
        return " (a custom activation: the engine borrows SymPy's derivative)"
    z = np.array([point])
    slope = float(activation.backward(z, activation.numpy(z), np.ones(1))[0])
    return ", as does the hand-written engine" if abs(slope - value) < 1e-9 else (
        "; the hand-written engine uses %.4g" % slope)


def _divided(network) -> str:
    """`` (with the mean over N examples, every derivative below is also divided by N)`` where E has such means."""
    means = (["N examples"] if network.reduction == "mean" else []) + (
        ["the n_L = %d output units" % network.sizes[-1]] if network.loss.averages_outputs else [])
    if not means:
        return ""
    by = " x ".join("N" if m.startswith("N") else "n_L" for m in means)
    return " (with the mean over %s, every derivative below is also divided by %s)" % (" and ".join(means), by)


def chain_rule_section(derivation) -> Section:
    """The chain rule for the output layer and one hidden layer, as the lecture does it, for this network."""
    network = derivation.network
    depth, output = network.depth, network.activations[-1]
    found = output_delta(output, network.loss)
    below = h if depth > 1 else x.base[j]
    blocks = [paragraph(
        "The lecture derives backpropagation for one example with scalars: ", E, " is the loss of that example, ",
        o, " output k, ", below, " the input it gets from unit j below, ", net_k, " its net input, and the "
        "lecture's error term is ", sympy.Eq(delta_k, -D(E, net_k), evaluate=False), ". Each factor of the chain "
        "rule is the derivative of one step of the forward pass, here for this network's %s output and %s loss%s."
        % (_named(output), loss_name(network.loss), _divided(network)))]
    blocks += _output_layer(found, output, below)
    if depth > 1:
        blocks += _hidden_layers(network)
    blocks.append(paragraph(
        "Every weight changes by η times the error term of the unit it feeds times the input it carries, "
        "and a bias (the weight ", SYMBOLS["w0"], " from a constant input 1) by η times the error term: ",
        sympy.Eq(change(SYMBOLS["w0"]), ETA * delta_j, evaluate=False), ". This report's error terms ",
        "are ∂E/∂net without the minus sign, so every δ below is the lecture's negated."))
    return Section("lecture-chain-rule", "The chain rule, the lecture's way", blocks)


def _output_layer(found: OutputDelta, output: Activation, below: sympy.Expr) -> list:
    dnet_dw = collapse_deltas(sympy.diff(_net_input(w_kj.base, below.base, k), w_kj))
    if output.elementwise:
        rows = [EquationRow(D(E, w_kj), (sympy.Mul(D(E, o), D(o, net_k), D(net_k, w_kj), evaluate=False),),
                            "the chain rule: the weight changes the net input, which changes the output, which "
                            "changes the loss"),
                EquationRow(D(E, o), (found.rows[0].rhs[0],), "the loss's derivative"),
                EquationRow(D(o, net_k), (found.rows[1].rhs[0],), "the output activation's derivative (%s)%s"
                            % (_named(output), _written(found.rows[1].rhs[0], o)))]
        lecture = (sympy.Mul(-1, D(E, o), D(o, net_k), evaluate=False), found.lecture)
    else:
        rows = [EquationRow(D(E, w_kj), (sympy.Mul(D(E, net_k), D(net_k, w_kj), evaluate=False),),
                            "the chain rule, through the net input of output k")]
        m = sympy.Symbol("m", integer=True, positive=True)
        renamed = found.lecture.replace(lambda e: isinstance(e, sympy.Sum), lambda total: sympy.Sum(
            total.function.xreplace({k: m}), (m,) + tuple(total.limits[0][1:])))
        lecture = (renamed.xreplace({j: k}),)
    rows += [EquationRow(D(net_k, w_kj), (dnet_dw,), "the net input is linear in each weight"),
             EquationRow(delta_k, (-D(E, net_k),) + lecture, "the lecture's output error term"),
             EquationRow(change(w_kj), (-ETA * D(E, w_kj), ETA * delta_k * dnet_dw),
                         "the lecture's change of a hidden-to-output weight (without momentum)")]
    blocks = [Equations(tuple(rows))]
    if not output.elementwise:
        blocks.insert(0, paragraph("With a %s output every output depends on every net input, so ∂E/∂net_k sums "
                                   "over the outputs; the next section derives it%s." % (_named(output), (
                                       ", for targets that sum to one" if found.assumption is not None else ""))))
    note = kink_note(output, net_k)
    return blocks + ([note] if note else [])


def _net_input(weights: sympy.IndexedBase, inputs: sympy.IndexedBase, unit: sympy.Symbol) -> sympy.Expr:
    """The lecture's net input of ``unit``: Σ_m w[unit, m] inputs[m] + w[unit, 0]."""
    m = sympy.Symbol("m", integer=True, positive=True)
    return sympy.Sum(weights[unit, m] * inputs[m], (m, 1, sympy.Symbol("J", integer=True, positive=True))) + \
        weights[unit, 0]


def _hidden_layers(network) -> list:
    """δ_j of the layer below the output written out, then every other hidden layer's δ_j."""
    depth = network.depth
    activation = network.activations[depth - 2]
    dnet_dh = collapse_deltas(sympy.diff(_net_input(w_kj.base, h.base, k), h))
    dh_dnet = in_output(activation, net_j, h)
    dE_dnet = sympy.Sum(-delta_k * dnet_dh, (k, 1, K)) * dh_dnet
    rows = [EquationRow(D(E, net_j), (sympy.Sum(sympy.Mul(D(E, net_k), D(net_k, h), D(h, net_j), evaluate=False),
                                                (k, 1, K)),),
                        "hidden unit j feeds every output k: the chain rule sums over them"),
            EquationRow(D(net_k, h), (dnet_dh,), ("the output's net input is linear in ", h)),
            EquationRow(D(h, net_j), (dh_dnet,), "the hidden activation's derivative (%s, layer %d)%s"
                        % (_named(activation), depth - 1, _written(dh_dnet, h))),
            EquationRow(delta_j, (-D(E, net_j), sympy.factor_terms(-dE_dnet)), (
                "with ", sympy.Eq(D(E, net_k), -delta_k, evaluate=False), ": the lecture's hidden error term")),
            EquationRow(change(w_ji), (ETA * delta_j * x,), "the lecture's change of an input-to-hidden weight")]
    blocks = [paragraph("One layer down, the hidden unit j (layer %d) reaches the loss through every output unit k:"
                        % (depth - 1)), Equations(tuple(rows))]
    note = kink_note(activation, net_j)
    blocks += [note] if note else []
    if depth > 2:
        other = []
        for layer in range(depth - 2, 0, -1):
            below = network.activations[layer - 1]
            other.append(EquationRow(delta_j, (sympy.factor_terms(in_output(below, net_j, h) * sympy.Sum(
                w_kj * delta_k, (k, 1, K))),), "layer %d (%s), k running over the units of layer %d"
                % (layer, _named(below), layer + 1)))
        blocks += [paragraph("Each hidden layer further down repeats this step with its own activation, its "
                             "outputs h_j and the error terms δ_k of the layer above, and for layer 1 the inputs "
                             "are the network's x_i:"), Equations(tuple(other))]
        for layer in range(depth - 2, 0, -1):
            note = kink_note(network.activations[layer - 1], net_j)
            if note and network.activations[layer - 1] != activation:
                blocks.append(note)
    return blocks


def output_delta_section(derivation) -> Section:
    """Why the output error term is what it is for this (output activation, loss) pair, derived step by step."""
    network = derivation.network
    output, loss = network.activations[-1], network.loss
    found = output_delta(output, loss)
    unit = found.unit
    o_u, t_u = o.base[unit], t.base[unit]
    blocks = [paragraph("The output layer's error term is where the loss meets the output activation, here %s with "
                        "%s. In the lecture's letters, for one example and with this report's sign "
                        "(∂E/∂net; the lecture's δ is its negative):" % (_named(output), loss_name(loss))),
              Equations(found.rows)]
    if found.assumption is not None:
        blocks.append(paragraph(
            "The last step assumes that the targets of an example sum to one, ", found.assumption, ": one-hot labels "
            "(1 for the right class, 0 for the others) or any probability distribution over the classes. Then the "
            "output minus the target is all that is left. Targets that do not sum to one leave ",
            sympy.Eq(D(E, net_j), found.rows[-2].rhs[-1], evaluate=False), " instead."))
    if found.matched:
        blocks.append(paragraph(
            "Everything else cancels: ", sympy.Eq(D(E, sympy.Indexed(sympy.IndexedBase("net"), unit)), o_u - t_u,
                                                  evaluate=False),
            ", output minus target, however saturated the unit. This is no accident: %s is the matched "
            "(canonical) link of %s, the output function for which the derivative of the loss with respect to the "
            "net input is the residual. The lecture's error term is its negative, " % (_named(output), loss_name(loss)),
            sympy.Eq(delta_k.base[unit], t_u - o_u, evaluate=False), "."))
    else:
        bounded = output.elementwise and all(abs(b) < float("inf") for b in output.output_range)
        blocks.append(paragraph(
            "Nothing cancels: the output activation's derivative stays in the error term, so the error signal is "
            "the output's error scaled by that derivative%s. The lecture's error term is the negative, " % (
                " (%s saturates, where its slope is near zero, so a saturated output learns slowly however wrong "
                "it is; a loss matched to the output activation removes the slope)" % _named(output)
                if bounded else ""),
            sympy.Eq(delta_k.base[unit], found.lecture, evaluate=False), "."))
    blocks.append(_confirmation(derivation, found))
    return Section("output-delta", "The output error term: %s with %s" % (_named(output), loss_name(loss)), blocks)


def _confirmation(derivation, found: OutputDelta):
    """SymPy's check that the index-level derivation's δ at the output is this section's result."""
    network = derivation.network
    depth = network.depth
    ours = derivation.delta(depth)
    outputs, targets = "A%d" % depth, "T"
    unit = found.unit

    def letters(entry):
        name = entry.base.label.name
        index = entry.indices[-1]
        return {outputs: o.base, targets: t.base, "Z%d" % depth: sympy.IndexedBase("net", real=True)}[name][index]

    mapped = ours.replace(lambda e: isinstance(e, sympy.Indexed) and e.base.label.name in (
        outputs, targets, "Z%d" % depth), letters)
    mapped = mapped.replace(lambda e: isinstance(e, sympy.Sum), lambda s: sympy.Sum(
        s.function.xreplace({s.limits[0][0]: k}), (k, 1, K)))
    free = [e for e in mapped.free_symbols if e.name == "j"]
    mapped = mapped.xreplace({symbol: unit for symbol in free}).xreplace({sympy.Symbol("N", integer=True,
                                                                                       positive=True): 1})
    mapped = mapped.xreplace({s: 1 for s in mapped.free_symbols if s.name in ("N", "n_%d" % depth)})
    if found.assumption is not None:
        mapped = mapped.xreplace({found.assumption.lhs: 1})
    result = found.result
    if network.activations[-1].elementwise:  # compare in the net input alone: o is g(net)
        output = {o.base[unit]: network.activations[-1].sympy(sympy.IndexedBase("net", real=True)[unit])}
        mapped, result = mapped.xreplace(output), result.xreplace(output)
    agrees = sympy.simplify(mapped - result) == 0
    if not agrees:
        return paragraph("SymPy could not confirm that the index-level ", sympy.IndexedBase("delta%d" % depth),
                         " simplifies to this section's result.", note=True)
    return paragraph("SymPy confirms it against the index-level derivation: ", sympy.IndexedBase("delta%d" % depth),
                     " with ", sympy.IndexedBase("A%d" % depth), " read as o, T as t and one example%s is this "
                     "section's result." % (", under the same assumption," if found.assumption is not None else ""),
                     note=True)
