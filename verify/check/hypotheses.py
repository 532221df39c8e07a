"""The bug patterns a wrong gradient is tested against, each a complete gradient at the check's point.

* **variants of the derivation** (:mod:`derive.symbolic.variants`), printed by
  the code generator: δ_l without the activation's derivative, the derivative
  evaluated at Z_l instead of A_l (or applied to A_l instead of Z_l), at a
  neighbouring layer's values, a vector activation's Jacobian reduced to its
  diagonal, the output delta of another loss, δ sent back through ``W_{l+1}``
  untransposed or through the wrong layer's weights, the penalty term missing
  or doubled;
* **the reference and its derived parts**: the whole gradient, or its data
  term (without the penalty), times −1, 2, ½, N or 1/N (a flipped sign, the ½
  of the sse loss, sum against mean); a square weight gradient transposed; a
  bias gradient that is one example's term instead of the sum over the batch.

Each :class:`Hypothesis` carries its own words (``explain``), written from
the derivation's own factors (``A2*(1 - A2)``), never from a list of known
formulas.  :mod:`verify.check.diagnosis` decides which of them fit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from derive import Network, derive

from .modules import module_for
from .tolerances import Tolerance

#: Most examples for which per-example bias terms are computed (one reference evaluation each).
MAX_EXAMPLES_PER_TERM = 512
#: Kinds in the order they are preferred when two explain the same parameters (simplest first).
PREFERENCE = ("scale", "transposed", "penalty_missing", "penalty_doubled", "data_scale", "missing_derivative",
              "derivative_at_preactivation", "derivative_of_activation", "jacobian_diagonal",
              "matched_output_delta", "derivative_at_other_layer", "bias_not_summed", "untransposed_weights",
              "wrong_layer_weights", "bias_penalty", "penalty_extra", "gauss_newton", "hessian", "missing_curvature")
TRIED = ("a missing or misplaced activation derivative in any layer (at the net input, at another layer's values, "
         "a softmax Jacobian's diagonal only), another loss's output delta, a flipped sign or constant factor (2, "
         "1/2, N, 1/N), a transposed weight gradient, a bias gradient not summed over the batch, delta sent back "
         "through the wrong weights, a missing or doubled penalty term, a penalty on the biases")


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One candidate explanation: the gradients it predicts and how it is said."""

    kind: str
    layer: int | None
    gradients: dict[str, np.ndarray]
    explain: Callable[[tuple[str, ...]], str]
    key: str = ""  # which hypothesis, the same on every draw: a variant's key, a factor's label

    def __post_init__(self):
        if not self.key:
            object.__setattr__(self, "key", self.kind if self.layer is None else "%s@%d" % (self.kind, self.layer))

    @property
    def rank(self) -> tuple[int, int]:
        return PREFERENCE.index(self.kind), -(self.layer or 0)


@dataclass(frozen=True)
class Point:
    """Where the check ran (float64) and how it compares: what every hypothesis is tested against."""

    network: Network
    params: dict
    X: np.ndarray
    T: np.ndarray
    reference: dict
    tolerance: Tolerance
    loss: float
    excused: dict


def hypotheses(point: Point, candidate: dict, disagree: list[str]) -> list[Hypothesis]:
    """Every first-order hypothesis at ``point`` (see the module docstring)."""
    network, reference = point.network, point.reference
    derivation = derive(network)
    found, data = [], None
    for variant in derivation.variants():
        if not variant.applies(network.sizes):
            continue
        with np.errstate(all="ignore"):  # a wrong formula may overflow; a non-finite hypothesis fits nothing
            gradients = float64(derivation.variant_module(variant).gradients(point.params, point.X, point.T))
        if variant.kind == "penalty_missing":
            data = gradients
        found.append(Hypothesis(variant.kind, variant.layer, gradients,
                                functools.partial(_explain_variant, network, variant), variant.key))
    for factor, label, hint in factors(network, len(point.X)):
        found.append(Hypothesis("scale", None, {k: factor * r for k, r in reference.items()},
                                functools.partial(_explain_scale, label, hint, ""), "scale:" + label))
        if data is not None:
            scaled = {k: factor * data[k] + (reference[k] - data[k]) for k in reference}
            found.append(Hypothesis("data_scale", None, scaled, functools.partial(
                _explain_scale, label, hint, " with the data term (everything but the penalty) multiplied by"),
                "data_scale:" + label))
    for layer in range(1, network.depth + 1):
        name = "W%d" % layer
        if reference[name].shape[0] == reference[name].shape[1] > 1:
            found.append(Hypothesis("transposed", layer, {name: reference[name].T},
                                    functools.partial(_explain_transposed, network, layer)))
    return found + _bias_terms(point, candidate, disagree) + _decay_terms(point, candidate, disagree)


def factors(network: Network, batch: int) -> list[tuple[float, str, str]]:
    """(factor, how it is written, why it happens) for the constant-factor hypotheses."""
    sse = network.loss.name == "sse"
    factors = [(-1.0, "-1 x", ": the sign is flipped (delta computed as t - o, the lecture's sign, and not negated "
                "back, or the gradient of -E)"),
               (2.0, "2 x", ": the sse loss is 1/2 sum (t - o)^2, whose derivative has no factor 2" if sse else ""),
               (0.5, "1/2 x", "")]
    if batch > 1:
        if network.reduction == "sum":
            factors += [(1.0 / batch, "1/N x", " (N = %d examples): averaged over the examples, but this network's "
                         "loss is their sum (reduction 'sum'); if yours is the mean, check with reduction 'mean'"
                         % batch),
                        (float(batch), "N x", " (N = %d examples)" % batch)]
        else:
            factors += [(float(batch), "N x", " (N = %d examples): summed over the examples, but this network's "
                         "loss is their mean (reduction 'mean'); if yours is the sum, check with reduction 'sum'"
                         % batch),
                        (1.0 / batch, "1/N x", " (N = %d examples): divided by N twice" % batch)]
    seen, unique = set(), []
    for factor, label, hint in factors:
        if factor not in seen:
            seen.add(factor)
            unique.append((factor, label, hint))
    return unique


def _bias_terms(point: Point, candidate: dict, disagree: list[str]) -> list[Hypothesis]:
    """For each wrong bias gradient: the term of one example alone, where that is what the candidate holds."""
    N = len(point.X)
    biases = [name for name in disagree if name.startswith("b")]
    if not biases or not 1 < N <= MAX_EXAMPLES_PER_TERM:
        return []
    terms = _per_example(point)
    found = []
    for name in biases:
        for example in range(N):
            if fits(point, name, candidate[name], terms[name][example]):
                found.append(Hypothesis("bias_not_summed", int(name[1:]), {name: terms[name][example]},
                                        functools.partial(_explain_one_example, example, N)))
                break
    return found


def fitted_decay(candidate: dict, reference: dict, params: dict, names) -> float | None:
    """The c with candidate - reference = c p for the parameters ``names``: the median of each one's least-squares
    fit (parameters that are all zero left out); None when none is left."""
    fits = [float(np.vdot(candidate[name] - reference[name], params[name]) / np.vdot(params[name], params[name]))
            for name in names if np.vdot(params[name], params[name])]
    return float(np.median(fits)) if fits else None


def _decay_terms(point: Point, candidate: dict, disagree: list[str]) -> list[Hypothesis]:
    """Wrong gradients that are the right ones plus c p, one c for all of a kind: weight decay applied to the biases
    too (as ``torch.optim``'s ``weight_decay`` does), where this network's penalty, like the lecture's, has weights
    only; or, in a network without weight decay, a decay term on some weights."""
    found = []
    for letter, kind, explain in (("b", "bias_penalty", _explain_bias_penalty),
                                  ("W", "penalty_extra", _explain_extra_penalty)):
        if letter == "W" and point.network.weight_decay:
            continue  # penalty_missing and penalty_doubled, derived, cover a network with weight decay
        names = [name for name in disagree if name.startswith(letter) and np.vdot(point.params[name],
                                                                                  point.params[name])]
        fitted = fitted_decay(candidate, point.reference, point.params, names)
        c = 0.0 if fitted is None else float("%.6g" % fitted)
        if c:
            gradients = {name: point.reference[name] + c * point.params[name] for name in names}
            found.append(Hypothesis(kind, None, gradients, functools.partial(explain, c, point.network)))
    return found


def _explain_extra_penalty(c: float, network: Network, parameters: tuple[str, ...]) -> str:
    others = [name for name in network.param_shapes() if name.startswith("W") and name not in parameters]
    text = ("%s plus %.6g W: a weight-decay term, the penalty %.6g/2 sum w^2, that this network does not have"
            % (_right(parameters), c, c))
    if others:
        text += ("; %s ha%s no such term: if your loss has the penalty, %s gradient%s lack%s it (check with "
                 "--weight-decay %.6g), else %s ha%s one too many" % (
                     ", ".join(others), "s" if len(others) == 1 else "ve", "its" if len(others) == 1 else "their",
                     "" if len(others) == 1 else "s", "s" if len(others) == 1 else "", c, ", ".join(parameters),
                     "s" if len(parameters) == 1 else "ve"))
    return text


def _explain_bias_penalty(c: float, network: Network, parameters: tuple[str, ...]) -> str:
    same = " (the weights' own coefficient)" if np.isclose(c, network.weight_decay) else ""
    return ("%s plus %.6g b: a penalty %.6g/2 sum b^2 on the biases too%s, where this network's weight decay, like "
            "the lecture's, leaves the biases out (torch.optim's weight_decay decays them as well)"
            % (_right(parameters), c, c, same))


def _right(parameters: tuple[str, ...]) -> str:
    return "equals the right gradient" if len(parameters) == 1 else "equal the right gradients"


def _per_example(point: Point) -> dict[str, np.ndarray]:
    """Each example's term of every bias gradient, (N, n_l): dE/db_l of that example alone, times 1/N for mean."""
    module, network = module_for(point.network), point.network
    share = 1.0 / len(point.X) if network.reduction == "mean" else 1.0
    rows = [float64(module.gradients(point.params, point.X[n:n + 1], point.T[n:n + 1])) for n in range(len(point.X))]
    return {name: share * np.stack([row[name] for row in rows]) for name in point.reference if name.startswith("b")}


# --- fitting: a hypothesis against the candidate, entry by entry -----------------------------------


def allowed(point: Point, values: np.ndarray) -> np.ndarray:
    """What the check's tolerance allows around ``values`` (scaled by their largest entry)."""
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    scale = scale or max(float(np.max(np.abs(r))) for r in point.reference.values()) or 1.0
    return point.tolerance.allowed(values, scale, point.loss)


def agrees(point: Point, name: str, values: np.ndarray) -> bool:
    """``values`` are the right gradient of ``name`` at every entry (kinks excused)."""
    keep = ~point.excused[name]
    return bool((np.abs(values - point.reference[name]) <= allowed(point, point.reference[name]))[keep].all())


def differs(point: Point, name: str, values: np.ndarray) -> bool:
    return not agrees(point, name, values)


def fits(point: Point, name: str, candidate: np.ndarray, hypothesis: np.ndarray) -> bool:
    """``candidate`` equals ``hypothesis`` to tolerance, and ``hypothesis`` is not the right gradient."""
    keep = ~point.excused[name]
    if not keep.any() or not differs(point, name, hypothesis):
        return False
    return bool((np.abs(candidate - hypothesis) <= allowed(point, hypothesis))[keep].all())


def float64(gradients: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=np.float64) for name, value in gradients.items()}


# --- words ----------------------------------------------------------------------------------------


def _verb(parameters: tuple[str, ...]) -> str:
    return "equals the correct gradient" if len(parameters) == 1 else "equal the correct gradients"


def layer_words(network: Network, layer: int) -> str:
    if layer == network.depth:
        return "the output layer"
    return "hidden layer %d" % layer if network.depth > 2 else "the hidden layer"


def plain(expr: sympy.Expr) -> str:
    """A derived factor as a reader writes it: ``A2*(1 - A2)`` (entries without indices, unless a sum needs them)."""
    if expr.has(sympy.Sum, sympy.KroneckerDelta):
        return sympy.sstr(expr)
    entries = {e: sympy.Symbol(str(e.base)) for e in expr.atoms(sympy.Indexed)}
    return sympy.sstr(expr.xreplace(entries))


def _explain_variant(network: Network, variant, parameters: tuple[str, ...]) -> str:
    verb, layer = _verb(parameters), variant.layer
    if variant.kind in ("penalty_missing", "penalty_doubled"):
        name = next(p for p in parameters if p.startswith("W"))
        term = variant.base.chain_rule.penalty_terms[name]
        if variant.other is not None:  # one of the two penalties: its part of the term
            term = sympy.Add(*[a for a in sympy.Add.make_args(term) if a.has(sympy.sign) == (variant.other == "l1")])
        which = variant.other or ("l1" if not network.weight_decay else "weight_decay" if not network.l1 else "both")
        penalty, formula, derivative = {
            "l1": ("the L1 penalty", "mu sum |w|", "mu sign(w)"),
            "weight_decay": ("the weight-decay penalty", "lambda/2 sum w^2", "lambda w"),
            "both": ("the penalties", "lambda/2 sum w^2 + mu sum |w|", "lambda w + mu sign(w)")}[which]
        if variant.kind == "penalty_missing":
            return ("%s without the penalty term %s (for %s): %s %s in E adds it to every weight's gradient"
                    % (verb, plain(term), name, penalty, formula))
        return ("%s with the penalty term counted twice: %s instead of %s (for %s); the derivative of %s is %s"
                % (verb, plain(2 * term), plain(term), name, formula, derivative))
    where = layer_words(network, layer)
    activation = network.activations[layer - 1].name
    below = any(int(p[1:]) < layer for p in parameters)
    passed = " (the wrong delta%d is passed down to the layers below)" % layer if below else ""
    if isinstance(variant.other, tuple) and variant.other[1] == 0:
        slip = {"missing_derivative": "left out: each delta is missing its dA/dZ",
                "derivative_at_preactivation": "evaluated at the net input Z, where it is written in terms of the "
                                               "output A = g(Z)",
                "derivative_of_activation": "applied to the output A, where it takes the net input Z (such as "
                                            "sigmoid_prime(a) for sigmoid_prime(z))"}[variant.kind]
        return ("%s with the same slip in %s: each activation derivative %s (%s instead of %s in layer "
                "%d); one slip repeated by the loop over the layers" % (verb, variant.other[0], slip,
                                                                       plain(variant.used) if
                                                                       variant.used is not None else "1",
                                                                       plain(variant.derived), layer))
    if variant.kind == "missing_derivative":
        return ("%s without the factor %s: delta%d, the error term of %s, is missing the %s derivative dA%d/dZ%d%s"
                % (verb, plain(variant.derived), layer, where, activation, layer, layer, passed))
    if variant.kind == "derivative_at_preactivation":
        return ("%s with the %s derivative of %s evaluated at the net input Z%d: %s instead of %s (written in "
                "terms of the output, it must be given A%d = g(Z%d))%s"
                % (verb, activation, where, layer, plain(variant.used), plain(variant.derived), layer, layer, passed))
    if variant.kind == "derivative_of_activation":
        return ("%s with the %s derivative of %s applied to its output A%d: %s instead of %s (as a function of the "
                "net input, it must be given Z%d)%s"
                % (verb, activation, where, layer, plain(variant.used), plain(variant.derived), layer, passed))
    if variant.kind == "jacobian_diagonal":
        return ("%s with the %s derivative of %s taken elementwise: only the diagonal of its Jacobian, %s, instead "
                "of %s (each %s output depends on every net input of its layer, so dA%d[n, k]/dZ%d[n, j] is not "
                "zero for k != j)%s" % (verb, activation, where, plain(variant.used), plain(variant.derived),
                                        activation, layer, layer, passed))
    if variant.kind == "derivative_at_other_layer" and isinstance(variant.other, tuple):
        above = variant.other[1] > 0
        return ("%s with every hidden layer's activation derivative evaluated at the values of the layer %s it "
                "(%s instead of %s for layer %d): an index off by one in the loop over the layers, such as "
                "zs[-l + 1] for zs[-l]" % (verb, "above" if above else "below", plain(variant.used),
                                           plain(variant.derived), layer))
    if variant.kind == "derivative_at_other_layer":
        values = "the inputs X" if variant.other == 0 else "layer %d's values" % variant.other
        return ("%s with the %s derivative of %s evaluated at %s: %s instead of %s (an index off by one in a loop "
                "over the layers?)%s" % (verb, activation, where, values, plain(variant.used),
                                         plain(variant.derived), passed))
    if variant.kind == "matched_output_delta":
        return ("%s with the output delta of %s, %s, where this network's loss is %s: delta%d = %s (that "
                "simplification holds only for %s after %s)%s"
                % (verb, variant.other, plain(variant.used), network.loss.name, layer, plain(variant.derived),
                   variant.other, activation, passed))
    through = ("through W%d without the transpose" % (layer + 1) if variant.kind == "untransposed_weights"
               else "through W%d instead of W%d" % (layer, layer + 1))
    return ("%s with delta%d sent back to %s %s: %s instead of %s%s"
            % (verb, layer + 1, where, through, plain(variant.used), plain(variant.derived), passed))


def _explain_scale(label: str, hint: str, part: str, parameters: tuple[str, ...]) -> str:
    if part:
        return "%s%s %s%s" % (_verb(parameters), part, label.replace(" x", ""), hint)
    subject = "equals" if len(parameters) == 1 else "equal"
    noun = "gradient" if len(parameters) == 1 else "gradients"
    return "%s %s the correct %s%s" % (subject, label, noun, hint)


def _explain_transposed(network: Network, layer: int, parameters: tuple[str, ...]) -> str:
    return ("equals the correct gradient transposed: entry [j, i] must hold dE/dW%d[j, i], for the weight from "
            "unit i of layer %d to unit j of layer %d, as W%d[j, i] does" % (layer, layer - 1, layer, layer))


def _explain_one_example(example: int, batch: int, parameters: tuple[str, ...]) -> str:
    return ("equals the term of example %d alone: the bias gradient is not summed over the batch (it is the sum of "
            "delta%s over all %d examples)" % (example, parameters[0][1:], batch))


__all__ = ["Hypothesis", "MAX_EXAMPLES_PER_TERM", "PREFERENCE", "Point", "TRIED", "agrees", "allowed", "differs",
           "factors", "fits", "float64", "hypotheses", "layer_words", "plain"]
