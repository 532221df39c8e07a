"""What kind of bug: hypotheses built from the derivation, tested against the candidate's numbers.

When a candidate gradient disagrees with the symbolic reference, the report
says where; this module says *why*, as a teacher reading the code would.  Each
hypothesis is a complete candidate gradient at the same point, in float64:

* **variants of the derivation** (:mod:`derive.symbolic.variants`), printed by
  the code generator: δ_l without the activation's derivative, with the
  derivative evaluated at the net input Z_l instead of the output A_l (or
  applied to A_l instead of Z_l), δ sent back through ``W_{l+1}`` untransposed
  or through the wrong layer's weights, the penalty term missing or doubled;
* **the reference and its derived parts**: the whole gradient, or its data
  term (the part through δ, without the penalty), times −1, 2, ½, N or 1/N
  (a flipped sign, the ½ of the sse loss, sum against mean); a square weight
  gradient transposed; a bias gradient that is one example's term instead of
  the sum over the batch (the reference on that example alone, times 1/N for
  reduction ``"mean"``).

A hypothesis *fits* a parameter when every entry of the candidate lies within
the candidate's own tolerance (:mod:`verify.check.tolerances`) of the
hypothesis, and the hypothesis differs from the right gradient there (so it
says something).  Entries that depend on a unit sitting on a kink are left
out, as the check leaves them out.  The parameters that disagree are then
covered greedily: first the hypothesis that explains the most of them without
contradicting a parameter the candidate got right, the simplest first among
equals; hypotheses that explain exactly the same parameters are named together
(the point cannot tell them apart).  Parameters that nothing explains are said
to be unexplained, with where their wrong entries sit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy

from derive import Network, derive

from .diagnostics import describe_entry, unit_name
from .modules import module_for
from .report import Diagnosis
from .tolerances import Tolerance

#: Most examples for which per-example bias terms are computed (one reference evaluation each).
MAX_EXAMPLES_PER_TERM = 512
#: Kinds in the order they are preferred when two explain the same parameters (simplest first).
PREFERENCE = ("scale", "transposed", "penalty_missing", "penalty_doubled", "data_scale", "missing_derivative",
              "derivative_at_preactivation", "derivative_of_activation", "bias_not_summed", "untransposed_weights",
              "wrong_layer_weights", "gauss_newton", "hessian", "missing_curvature")
TRIED = ("a missing or misplaced activation derivative in any layer, a flipped sign or constant factor (2, 1/2, N, "
         "1/N), a transposed weight gradient, a bias gradient not summed over the batch, delta sent back through "
         "the wrong weights, a missing or doubled penalty term")


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One candidate explanation: the gradients it predicts and how it is said."""

    kind: str
    layer: int | None
    gradients: dict[str, np.ndarray]
    explain: Callable[[tuple[str, ...]], str]

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


def diagnose(point: Point, candidate: dict, wrong: list[str], returned: dict | None = None,
             raw: dict | None = None) -> list[Diagnosis]:
    """Explain the parameters in ``wrong``: which known bug pattern the candidate's numbers fit.

    Args:
        point: The network, point, reference, tolerance and kink masks of the check.
        candidate: The candidate's gradients, float64, realigned where ``returned`` says so.
        wrong: Parameters whose entries (or shape) disagree, in network order.
        returned: Shapes as returned, for parameters realigned by the check.
        raw: The arrays as returned, for those parameters.

    Returns:
        One :class:`Diagnosis` per pattern found, then one for what nothing explains.
    """
    returned, raw = returned or {}, raw or {}
    found = [Diagnosis((name,), *_shape_finding(point, name, returned[name], raw[name])) for name in wrong
             if name in returned]
    disagree = [name for name in wrong if not _agrees(point, name, candidate[name])]
    hypotheses = _hypotheses(point) + _bias_terms(point, candidate, disagree)
    return found + cover(point, candidate, disagree, hypotheses, TRIED)


def cover(point: Point, candidate: dict, disagree: list[str], hypotheses: list[Hypothesis],
          tried: str) -> list[Diagnosis]:
    """Cover the parameters in ``disagree`` greedily by the hypotheses that fit them (see the module docstring).

    Returns:
        One :class:`Diagnosis` per hypothesis chosen, then a ``"no_fit"`` one
        (saying what was ``tried`` and where the wrong entries are) for what none explains.
    """
    found = []
    fits = {h: [name for name in disagree if name in h.gradients and _fits(point, name, candidate[name], h.gradients[name])]
            for h in hypotheses}
    consistent = {h: all(name in disagree for name in h.gradients if _differs(point, name, h.gradients[name]))
                  for h in hypotheses}
    left = list(disagree)
    while left and hypotheses:
        best = min(hypotheses, key=lambda h: (-len(set(fits[h]) & set(left)), not consistent[h], h.rank))
        covered = [name for name in left if name in fits[best]]
        if not covered:
            break
        same = sorted((h for h in hypotheses if [name for name in left if name in fits[h]] == covered),
                      key=lambda h: (not consistent[h], h.rank))
        found.append(Diagnosis(tuple(covered), best.kind, best.layer, "; or ".join(
            h.explain(tuple(covered)) for h in same)))
        left = [name for name in left if name not in covered]
    if left:
        found.append(Diagnosis(tuple(left), "no_fit", None, _no_fit(point, candidate, left, tried)))
    return found


# --- the hypotheses -----------------------------------------------------------------------------


def _hypotheses(point: Point) -> list[Hypothesis]:
    network, reference = point.network, point.reference
    derivation = derive(network)
    hypotheses, data = [], None
    for variant in derivation.variants():
        if not variant.applies(network.sizes):
            continue
        with np.errstate(all="ignore"):  # a wrong formula may overflow; a non-finite hypothesis fits nothing
            gradients = _float64(derivation.variant_module(variant).gradients(point.params, point.X, point.T))
        if variant.kind == "penalty_missing":
            data = gradients
        hypotheses.append(Hypothesis(variant.kind, variant.layer, gradients,
                                     functools.partial(_explain_variant, network, variant)))
    for factor, label, hint in _factors(network, len(point.X)):
        hypotheses.append(Hypothesis("scale", None, {k: factor * r for k, r in reference.items()},
                                     functools.partial(_explain_scale, label, hint, "")))
        if data is not None:
            scaled = {k: factor * data[k] + (reference[k] - data[k]) for k in reference}
            hypotheses.append(Hypothesis("data_scale", None, scaled, functools.partial(
                _explain_scale, label, hint, " with the data term (everything but the penalty) multiplied by")))
    for layer in range(1, network.depth + 1):
        name = "W%d" % layer
        if reference[name].shape[0] == reference[name].shape[1] > 1:
            hypotheses.append(Hypothesis("transposed", layer, {name: reference[name].T},
                                         functools.partial(_explain_transposed, network, layer)))
    return hypotheses


def _factors(network: Network, batch: int) -> list[tuple[float, str, str]]:
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
    network, N = point.network, len(point.X)
    biases = [name for name in disagree if name.startswith("b")]
    if not biases or not 1 < N <= MAX_EXAMPLES_PER_TERM:
        return []
    terms = _per_example(point)
    hypotheses = []
    for name in biases:
        for example in range(N):
            if _fits(point, name, candidate[name], terms[name][example]):
                hypotheses.append(Hypothesis("bias_not_summed", int(name[1:]), {name: terms[name][example]},
                                             functools.partial(_explain_one_example, example, N)))
                break
    return hypotheses


def _per_example(point: Point) -> dict[str, np.ndarray]:
    """Each example's term of every bias gradient, (N, n_l): dE/db_l of that example alone, times 1/N for mean."""
    module, network = module_for(point.network), point.network
    share = 1.0 / len(point.X) if network.reduction == "mean" else 1.0
    rows = [_float64(module.gradients(point.params, point.X[n:n + 1], point.T[n:n + 1]))
            for n in range(len(point.X))]
    return {name: share * np.stack([row[name] for row in rows]) for name in point.reference if name.startswith("b")}


# --- fitting ------------------------------------------------------------------------------------


def _allowed(point: Point, values: np.ndarray) -> np.ndarray:
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    scale = scale or max(float(np.max(np.abs(r))) for r in point.reference.values()) or 1.0
    return point.tolerance.allowed(values, scale, point.loss)


def _agrees(point: Point, name: str, values: np.ndarray) -> bool:
    keep = ~point.excused[name]
    return bool((np.abs(values - point.reference[name]) <= _allowed(point, point.reference[name]))[keep].all())


def _differs(point: Point, name: str, values: np.ndarray) -> bool:
    return not _agrees(point, name, values)


def _fits(point: Point, name: str, candidate: np.ndarray, hypothesis: np.ndarray) -> bool:
    """``candidate`` equals ``hypothesis`` to tolerance, and ``hypothesis`` is not the right gradient."""
    keep = ~point.excused[name]
    if not keep.any() or not _differs(point, name, hypothesis):
        return False
    return bool((np.abs(candidate - hypothesis) <= _allowed(point, hypothesis))[keep].all())


def _float64(gradients: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(value, dtype=np.float64) for name, value in gradients.items()}


# --- words ----------------------------------------------------------------------------------------


def _verb(parameters: tuple[str, ...]) -> str:
    return "equals the correct gradient" if len(parameters) == 1 else "equal the correct gradients"


def _layer_words(network: Network, layer: int) -> str:
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
        if variant.kind == "penalty_missing":
            return ("%s without the penalty term %s (for %s): the weight-decay penalty in E adds it to every "
                    "weight's gradient" % (verb, plain(term), name))
        return ("%s with the penalty term counted twice: %s instead of %s (for %s); the derivative of lambda/2 "
                "sum w^2 is lambda w" % (verb, plain(2 * term), plain(term), name))
    where = _layer_words(network, layer)
    activation = network.activations[layer - 1].name
    below = any(int(p[1:]) < layer for p in parameters)
    passed = " (the wrong delta%d is passed down to the layers below)" % layer if below else ""
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


def _shape_finding(point: Point, name: str, shape: tuple, raw: np.ndarray) -> tuple[str, int, str]:
    """(kind, layer, text) for a gradient returned in a shape the check could realign."""
    layer, expected = int(name[1:]), point.reference[name].shape
    if name.startswith("W"):
        right = _agrees(point, name, np.asarray(raw, np.float64).T)
        return "transposed", layer, (
            "returned with shape %s, the transpose of %s's shape %s: entry [j, i] must hold dE/d%s[j, i], for the "
            "weight from unit i to unit j, as %s[j, i] does; transposed back, %s"
            % (shape, name, expected, name, name, "it is right" if right else "it is still wrong (see below)"))
    right = _agrees(point, name, np.asarray(raw, np.float64).sum(axis=0))
    return "bias_not_summed", layer, (
        "returned with shape %s, one row per example: the bias gradient is not summed over the batch (sum over "
        "axis 0 for shape %s); summed, %s" % (shape, expected, "it is right" if right else "it is still wrong (see below)"))


def _no_fit(point: Point, candidate: dict, parameters: list[str], tried: str) -> str:
    where = "; ".join(_locate(point, name, candidate[name]) for name in parameters)
    return "no known bug pattern fits (tried: %s). %s" % (tried, where[:1].upper() + where[1:])


def _locate(point: Point, name: str, values: np.ndarray) -> str:
    """Where a parameter's wrong entries sit: one entry, one row or column of a weight, or how many."""
    network = point.network
    wrong = (np.abs(values - point.reference[name]) > _allowed(point, point.reference[name])) & ~point.excused[name]
    places = np.argwhere(wrong)
    count = len(places)
    if count == 1:
        index = tuple(int(i) for i in places[0])
        return "only %s[%s] (%s) is wrong" % (name, ", ".join(map(str, index)), describe_entry(network, (name, index)))
    layer = int(name[1:])
    if name.startswith("W") and count > 1:
        rows, columns = set(places[:, 0]), set(places[:, 1])
        if len(rows) == 1:
            return "the %d wrong entries of %s all lead into %s" % (count, name, unit_name(network, layer,
                                                                                          int(rows.pop())))
        if len(columns) == 1:
            return "the %d wrong entries of %s all come from %s" % (count, name, unit_name(network, layer - 1,
                                                                                         int(columns.pop())))
    return "%d of the %d entries of %s are wrong" % (count, values.size, name)


__all__ = ["Hypothesis", "Point", "cover", "diagnose", "plain"]
