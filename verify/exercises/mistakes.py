"""The mistakes a wrong blank is tested against: that step of the derivation done the way a common mistake does it.

Each :class:`Mistake` computes, from a student's *own* earlier values, the
whole array a blank belongs to as a student who made that mistake would have
it; marking (:mod:`verify.exercises.marking`) names the first one the
student's number fits.  Nothing here is a formula typed for a particular
activation or loss:

* **variants of the derivation** (:mod:`derive.symbolic.variants`, the same
  ones the gradient check's diagnosis uses): an error term without its
  activation's derivative, the derivative at the net input Z instead of the
  output A (or applied to A), at another layer's values, a softmax Jacobian's
  diagonal, another loss's output error term, δ sent back through W untransposed
  or through the wrong layer's weights, a penalty term missing or doubled —
  each printed in the sheet's sign convention
  (:class:`~verify.exercises.formulas.StepFormulas`);
* **the derivation's equations with one entry changed**, by SymPy substitution:
  the net input without its bias or with the weights transposed, a gradient
  from the net inputs Z of the layer below instead of their outputs A, δ sent
  back through the weights *after* the step (the student's own updated ones);
* **the update rule with other coefficients** (:func:`derive.report.example.step_change`): a
  step the wrong way, the learning rate or the momentum term forgotten;
* **the sign**, the activation not applied (A = Z), a factor 2 in the loss, a
  transposed gradient entry; and rounding too early (the answer, or the
  numbers it was computed from, rounded to fewer digits: the lecture's own
  δ_j = .002 for 0.00213), which marking tries itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy
from sympy import Indexed

from derive.model.registry import LOSSES
from derive.report.example import step_change
from derive.report.lecture import loss_name

from ..check.hypotheses import plain
from .formulas import StepFormulas, compile_code, run


@dataclass(frozen=True)
class Mistake:
    """One mistake: ``values(namespace, ahead, own)`` is the array it gives (None where it cannot be made), and
    ``reason(index)`` says it in one line for the entry at ``index``."""

    kind: str
    values: Callable[[dict, dict, np.ndarray], np.ndarray | None]
    reason: Callable[[tuple], str]


@lru_cache(maxsize=256)
def mistakes_for(formulas: StepFormulas, array: str) -> tuple[Mistake, ...]:
    """The mistakes tried for the blanks of ``array`` (``Z1``, ``delta2``, ``dW2``, ``DeltaW2``, ``W2'``...)."""
    if array.endswith("'"):
        return _update_mistakes(formulas, array[:-1])
    if array[0] in "ZA":
        return (_net_input_mistakes if array[0] == "Z" else _activation_mistakes)(formulas, int(array[1:]))
    if array == "E":
        return (Mistake("factor", lambda ns, ahead, own: 2 * own, lambda index: "twice the loss (its factor ½ left "
                        "out?)"), Mistake("factor", lambda ns, ahead, own: own / 2, lambda index: "half the loss"))
    if array.startswith("delta"):
        return _delta_mistakes(formulas, int(array[len("delta"):]))
    return _gradient_mistakes(formulas, array.replace("Delta", "", 1) if array.startswith("Delta") else array[1:])


def _code_values(code) -> Callable:
    return lambda ns, ahead, own: run(code, ns)


def _replaced(expr: sympy.Expr, base: sympy.IndexedBase, entry: Callable) -> sympy.Expr:
    """``expr`` with every entry of ``base`` replaced by ``entry(indices)``."""
    return expr.xreplace({e: entry(e.indices) for e in expr.atoms(Indexed) if e.base == base})


def _net_input_mistakes(formulas: StepFormulas, layer: int) -> tuple[Mistake, ...]:
    derivation, notation = formulas.derivation, formulas.notation
    rhs = derivation.forward_equations[2 * layer - 2].rhs
    found = []
    if derivation.network.bias:
        bias = notation.base("b%d" % layer)
        code = compile_code(formulas.forward_code(_replaced(rhs, bias, lambda index: 0), layer))
        found.append(Mistake("bias_forgotten", _code_values(code),
                             lambda index: "the bias b%d[%d] is left out of the net input" % (layer, index[-1])))
    weights = notation.base("W%d" % layer)
    if derivation.network.sizes[layer] == derivation.network.sizes[layer - 1] > 1:
        code = compile_code(formulas.forward_code(_replaced(rhs, weights, lambda index: weights[index[::-1]]), layer))
        found.append(Mistake("transposed_weights", _code_values(code), lambda index: (
            "W%d read transposed: the weights out of unit %d (column %d) instead of those into it (row %d)"
            % (layer, index[-1], index[-1], index[-1]))))
    return tuple(found)


def _activation_mistakes(formulas: StepFormulas, layer: int) -> tuple[Mistake, ...]:
    name = formulas.derivation.network.activations[layer - 1].name
    return (Mistake("activation_missing", lambda ns, ahead, own: ns["Z%d" % layer],
                    lambda index: "the activation %s is not applied: A%d = Z%d" % (name, layer, layer)),)


def _delta_mistakes(formulas: StepFormulas, layer: int) -> tuple[Mistake, ...]:
    derivation = formulas.derivation
    network = derivation.network
    found = []
    for variant in derivation.variants():
        if layer in variant.deltas and variant.applies(network.sizes):
            code = compile_code(formulas.delta_code(variant.deltas[layer], layer))
            found.append(Mistake(variant.kind, _code_values(code), _variant_reason(formulas, variant, layer)))
    if layer < derivation.depth:
        code = formulas.compiled["delta%d" % layer]
        above = "W%d" % (layer + 1)
        found.append(Mistake("updated_weights", lambda ns, ahead, own: run(code, {**ns, above: ahead[above + "'"]}),
                             lambda index: "δ%d sent back through the updated weights %s' (after the step) instead of "
                                           "%s: update the weights after backpropagating" % (layer + 1, above, above)))
    convention = ("this sheet's δ is ∂E/∂Z; the lecture's −∂E/∂net is the opposite" if formulas.sign == "ours" else
                  "the lecture's δ is −∂E/∂net; ∂E/∂Z is the opposite")
    found.append(Mistake("sign", lambda ns, ahead, own: -own, lambda index: "the sign is flipped: " + convention))
    return tuple(found)


def _variant_reason(formulas: StepFormulas, variant, layer: int) -> Callable[[tuple], str]:
    network = formulas.derivation.network
    activation = network.activations[layer - 1].name
    derived, used = plain(variant.derived) if variant.derived is not None else "", (
        plain(variant.used) if variant.used is not None else "")
    if variant.kind == "matched_output_delta" and formulas.lecture:
        derived, used = plain(-variant.derived), plain(-variant.used)
    kind = variant.kind
    if kind == "missing_derivative":
        text = "the %s derivative %s is missing: that is ∂E/∂A%d, not ∂E/∂Z%d" % (activation, derived, layer, layer)
    elif kind in ("derivative_at_preactivation", "derivative_of_activation", "derivative_at_other_layer",
                  "jacobian_diagonal"):
        how = {"derivative_at_preactivation": "the %s derivative taken at the net input",
               "derivative_of_activation": "the %s derivative applied to the output",
               "derivative_at_other_layer": "the %s derivative taken at another layer's values",
               "jacobian_diagonal": "only the diagonal of the %s Jacobian"}[kind] % activation
        text = "%s: %s instead of %s" % (how, used, derived)
    elif kind == "matched_output_delta":
        text = "the output error term of %s, %s, used with %s: here it is %s" % (
            loss_name(LOSSES[variant.other]), used, loss_name(network.loss), derived)
    elif kind == "untransposed_weights":
        text = "δ%d sent back through W%d without the transpose: %s instead of %s" % (layer + 1, layer + 1, used,
                                                                                        derived)
    else:
        text = "δ%d sent back through W%d instead of W%d" % (layer + 1, layer, layer + 1)
    return lambda index: text


def _gradient_mistakes(formulas: StepFormulas, parameter: str) -> tuple[Mistake, ...]:
    """Mistakes in ∂E/∂w (ours) or the lecture's Δw = −η ∂E/∂w + α Δw(t−1)."""
    derivation, notation, network = formulas.derivation, formulas.notation, formulas.derivation.network
    layer, lecture = int(parameter[1:]), formulas.lecture
    gradients = []  # (kind, code of the changed gradient, reason)
    for variant in derivation.variants():
        if parameter in variant.gradients:
            term = plain(variant.derived)
            gradients.append((variant.kind, formulas.gradient_code(variant.gradients[parameter], parameter),
                              "the penalty term %s is missing" % term if variant.kind == "penalty_missing" else
                              "the penalty term %s is counted twice" % term))
    if parameter[0] == "W" and layer > 1:
        below = notation.Z(layer - 1).base
        changed = _replaced(derivation.gradient(parameter), notation.A(layer - 1).base, lambda index: below[index])
        gradients.append(("net_input_for_output", formulas.gradient_code(changed, parameter),
                          "from the net inputs Z%d of the layer below instead of their outputs A%d"
                          % (layer - 1, layer - 1)))
    found = [Mistake(kind, _gradient_values(formulas, parameter, compile_code(code)), lambda index, text=text: text)
             for kind, code, text in gradients]
    shape = network.param_shapes()[parameter]
    if len(shape) == 2 and shape[0] == shape[1] > 1:
        found.append(Mistake("transposed", lambda ns, ahead, own: own.T, lambda index: (
            "the entry of the transposed array: [%d,%d] holds the value of [%d,%d]" % (*index, *index[::-1]))))
    found.append(Mistake("sign", lambda ns, ahead, own: -own, lambda index: (
        "the sign is flipped: Δw = η δ x with the lecture's δ (+ α Δw(t−1))" if lecture else
        "the sign is flipped: ∂E/∂w is δ times the input, with δ = ∂E/∂Z")))
    if lecture:
        found += _coefficient_mistakes(formulas, parameter, lambda ns: run(formulas.compiled["d" + parameter], ns))
    return tuple(found)


def _gradient_values(formulas: StepFormulas, parameter: str, code) -> Callable:
    """The array a changed gradient gives: itself (ours), or the lecture's change Δw made from it."""
    if not formulas.lecture:
        return _code_values(code)
    return lambda ns, ahead, own: step_change(run(code, ns), ns["previous"][parameter], ns["lr"], ns["momentum"])


def _coefficient_mistakes(formulas: StepFormulas, parameter: str, gradient: Callable) -> list[Mistake]:
    """The change of a step with the learning rate or the momentum term forgotten."""
    return [Mistake("momentum_forgotten", lambda ns, ahead, own: step_change(
                gradient(ns), ns["previous"][parameter], ns["lr"], 0.0),
                lambda index: "the momentum term α Δw(t−1) is missing"),
            Mistake("learning_rate_forgotten", lambda ns, ahead, own: step_change(
                gradient(ns), ns["previous"][parameter], 1.0, ns["momentum"]),
                lambda index: "the learning rate η is missing")]


def _update_mistakes(formulas: StepFormulas, parameter: str) -> tuple[Mistake, ...]:
    """Mistakes in the parameter after the step, w + Δw."""
    if formulas.lecture:
        return (Mistake("sign", lambda ns, ahead, own: ns[parameter] - ns["Delta" + parameter],
                        lambda index: "Δw subtracted: the lecture's update adds it, w ← w + Δw"),)
    changes = _coefficient_mistakes(formulas, parameter, lambda ns: ns["d" + parameter])
    uphill = Mistake("sign", lambda ns, ahead, own: ns[parameter] + step_change(
        ns["d" + parameter], ns["previous"][parameter], -ns["lr"], ns["momentum"]),
        lambda index: "the step goes up the gradient: w + η ∂E/∂w instead of w − η ∂E/∂w")
    return (uphill,) + tuple(Mistake(m.kind, lambda ns, ahead, own, m=m: ns[parameter] + m.values(ns, ahead, own),
                                     m.reason) for m in changes)


def rounding_reason(places: int, significant: bool, inputs: bool, digits: int) -> str:
    """The words for rounding too early: the answer itself, or the numbers it was computed from."""
    precision = "%d %s" % (places, ("significant digit" if significant else "decimal") + "s" * (places != 1))
    if inputs:
        return ("rounded too early: it follows from your earlier numbers rounded to %s; carry on with %d significant "
                "digits" % (precision, digits))
    return "rounded too early: %s where the sheet asks for %d%s" % (precision, digits,
                                                                     "" if significant else " significant digits")
