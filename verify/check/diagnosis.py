"""What kind of bug: each parameter diagnosed on its own, then the findings composed.

When a candidate gradient disagrees with the symbolic reference, the report
says where; this module says *why*, as a teacher reading the code would,
from the hypotheses of :mod:`verify.check.hypotheses` (complete gradients at
the same point, each a known bug pattern).  A hypothesis *fits* a parameter
when every entry of the candidate lies within the candidate's tolerance of it
and it differs from the right gradient there; entries that depend on a unit
on a kink are left out, as the check leaves them out.

1. **Whole findings.**  A hypothesis is named for the parameters it changes
   only when it fits *every* one of them, so a finding about the whole
   gradient (sum against mean, a flipped sign, the loss's scale, a missing
   output derivative passed down through every layer) is made only when it
   is consistent with every parameter, the right ones included.  The
   parameters that disagree are covered by such findings, largest first,
   simplest first among equals; findings that explain exactly the same
   parameters are named together (the point cannot tell them apart).  Two
   independent bugs in different parameters are two findings.
2. **Each remaining parameter on its own**: one constant ratio to the right
   gradient, said exactly (``every entry of b1 is 4 x the reference``); a
   pattern that fits this parameter alone (the bug is in this parameter's own
   formula, not in the delta it shares with others); and where its wrong
   entries sit and what they share (:mod:`verify.check.localisation`).  A
   weight's rows and its bias's entries that fail for the same units are said
   once, as those units' error terms.  When nothing fits, the report says what
   was tried and what structure the wrong entries have.
3. The parameters that are right are named, so that a finding about some is
   never read as a finding about all.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .hypotheses import TRIED, Hypothesis, Point, agrees, allowed, differs, fits, hypotheses, layer_words
from .localisation import describe_wrong, shared, units_text, wrong_units
from .check_report import Diagnosis

#: Constant ratios that have a name of their own (besides N and 1/N, which depend on the batch).
NAMED_RATIOS = {-1.0: "the sign is flipped", 2.0: "a factor 2 too many", 0.5: "a factor 1/2 too few"}


def diagnose(point: Point, candidate: dict, wrong: list[str], returned: dict | None = None,
             raw: dict | None = None) -> list[Diagnosis]:
    """Explain the parameters in ``wrong``: which known bug patterns the candidate's numbers fit, and where.

    Args:
        point: The network, point, reference, tolerance and kink masks of the check.
        candidate: The candidate's gradients, float64, realigned where ``returned`` says so.
        wrong: Parameters whose entries (or shape) disagree, in network order.
        returned: Shapes as returned, for parameters realigned by the check.
        raw: The arrays as returned, for those parameters.

    Returns:
        One :class:`Diagnosis` per finding (see the module docstring).
    """
    returned, raw = returned or {}, raw or {}
    found = [Diagnosis((name,), *shape_finding(point, name, returned[name], raw[name])) for name in wrong
             if name in returned]
    disagree = [name for name in wrong if not agrees(point, name, candidate[name])
                and not (name in returned and shape_says_all(raw[name]))]
    return found + compose(point, candidate, disagree, hypotheses(point, candidate, disagree), TRIED)


def shape_says_all(raw) -> bool:
    """Whether a realigned gradient's shape alone says all there is (one number for a layer's biases): no pattern
    of its values can explain more."""
    return np.size(raw) == 1


def compose(point: Point, candidate: dict, disagree: list[str], tried_hypotheses: list[Hypothesis],
            tried: str) -> list[Diagnosis]:
    """Whole findings first, then each remaining parameter on its own, then the right parameters (module docstring)."""
    found, left = _whole(point, candidate, disagree, tried_hypotheses)
    found += _each(point, candidate, left, tried_hypotheses, tried)
    right = [name for name in point.reference if name not in disagree]
    if found and right:
        found.append(Diagnosis(tuple(right), "right", None, "right at every entry"))
    return found


def _whole(point: Point, candidate: dict, disagree: list[str], tried: list[Hypothesis]):
    """Findings that explain every parameter they change; the parameters left unexplained."""
    complete = []
    for h in tried:
        changed = tuple(name for name in point.reference if name in h.gradients and differs(point, name,
                                                                                           h.gradients[name]))
        if changed and all(name in disagree and fits(point, name, candidate[name], h.gradients[name])
                           for name in changed):
            complete.append((h, changed))
    found, left = [], list(disagree)
    while True:
        usable = [(h, changed) for h, changed in complete if set(changed) <= set(left)]
        if not usable:
            return found, left
        best, changed = min(usable, key=lambda item: (-len(item[1]), item[0].rank))
        same = sorted((h for h, c in usable if c == changed), key=lambda h: h.rank)
        alternatives = tuple((h.key, h.explain(changed)) for h in same)
        found.append(Diagnosis(changed, best.kind, best.layer, "; or ".join(text for _, text in alternatives),
                               alternatives))
        left = [name for name in left if name not in changed]


def _each(point: Point, candidate: dict, left: list[str], tried_hypotheses: list[Hypothesis],
          tried: str) -> list[Diagnosis]:
    """Each parameter no whole finding explains: its ratio, a pattern in it alone, or where it is wrong."""
    found, by_ratio, by_pattern, located = [], {}, {}, []
    for name in left:
        ratio = _ratio(point, name, candidate[name])
        if ratio is not None:
            group = next((g for g in by_ratio if fits(point, name, candidate[name], g * point.reference[name])),
                         None)
            by_ratio.setdefault(ratio if group is None else group, []).append(name)
            continue
        alone = [h for h in tried_hypotheses if h.kind not in ("scale", "data_scale") and name in h.gradients
                 and fits(point, name, candidate[name], h.gradients[name])]
        if alone:
            best = min(alone, key=lambda h: h.rank)
            by_pattern.setdefault(best.key, (best, []))[1].append(name)
        else:
            located.append(name)
    for best, names in by_pattern.values():
        found.append(_partly(point, best, tuple(names)))
    for ratio, names in by_ratio.items():
        found.append(Diagnosis(tuple(names), "scale", None, _ratio_text(point, names, ratio)))
    found += _located(point, candidate, located, tried)
    return found


def _partly(point: Point, best: Hypothesis, names: tuple[str, ...]) -> Diagnosis:
    """Parameters that one pattern fits, though it would also change parameters that are not computed that way."""
    others = [p for p in point.reference if p not in names and p in best.gradients
              and differs(point, p, best.gradients[p])]
    one = len(names) == 1
    also = ("; only %s %s computed that way: %s %s right (or wrong differently), so the slip is in %s" % (
        ", ".join(names), "is" if one else "are", ", ".join(others), "is" if len(others) == 1 else "are",
        "%s's own formula" % names[0] if one else "the formula they share") if others else "")
    return Diagnosis(names, best.kind, best.layer, best.explain(names) + also, ((best.key, best.explain(names)),))


def _ratio(point: Point, name: str, values: np.ndarray) -> float | None:
    """The one constant c (not 1) with values = c x the right gradient at every entry, if there is one."""
    right = point.reference[name]
    keep = ~point.excused[name]
    denominator = float(np.vdot(right[keep], right[keep]))
    if not denominator:
        return None
    c = float(np.vdot(values[keep], right[keep])) / denominator
    if not fits(point, name, values, c * right):
        return None
    simple = _simple(c)
    return simple if fits(point, name, values, simple * right) else c


def _simple(value: float) -> float:
    """The nearest p/q with q <= 8 (``-1``, ``4``, ``1/8``), or ``value`` to 4 significant figures."""
    return float(Fraction(value).limit_denominator(8)) if abs(value) < 1e6 else float("%.4g" % value)


def _ratio_text(point: Point, names: list[str], ratio: float) -> str:
    subject = "every entry of %s is" % names[0] if len(names) == 1 else "every entry of %s and %s is" % (
        ", ".join(names[:-1]), names[-1])
    batch = len(point.X)
    meaning = NAMED_RATIOS.get(ratio)
    mean = point.network.reduction == "mean"
    if batch > 1 and np.isclose(ratio, batch):
        meaning = ("= N, the number of examples: summed over them where the mean was meant?" if mean else
                   "= N, the number of examples: multiplied by N once too often?")
    elif point.network.loss.averages_outputs and point.network.sizes[-1] > 1 and np.isclose(
            ratio, point.network.sizes[-1]):
        meaning = ("= n_L, the number of output units: divided by N only, where the mean over every entry of T "
                   "divides by N x n_L?")
    elif batch > 1 and np.isclose(ratio, 1 / batch):
        meaning = ("= 1/N, N the number of examples: divided by N twice (once in the output delta, again in the "
                   "gradient)?" if mean else "= 1/N, N the number of examples: averaged over them where the sum was "
                   "meant?")
    text = "%s %.4g x the reference%s" % (subject, ratio, " (%s)" % meaning if meaning else "")
    if ratio == 0:
        return ("%s 0 where the reference is not: no gradient reached %s (never computed, or overwritten with zeros; "
                "from a custom autograd backward, None returned in its place, or the gradients returned in another "
                "order)" % (subject, "it" if len(names) == 1 else "them"))
    layers = {int(name[1:]) for name in names}
    below = [name for name in point.reference if int(name[1:]) <= max(layers)]
    if sorted(names) == sorted(below) and max(layers) < point.network.depth:
        layer = max(layers)
        text += (": the error term delta%d is %.4g x the right one and the layers above are right, so the slip is "
                 "where delta%d is computed: layer %d's activation derivative, or what it multiplies, delta%d W%d, "
                 "the gradient layer %d sends back to its input (a custom backward's input gradient)%s"
                 % (layer, ratio, layer, layer, layer + 1, layer + 1, layer + 1,
                    ", and it is passed down to the layers below" if layer > 1 else ""))
    return text


def _located(point: Point, candidate: dict, names: list[str], tried: str) -> list[Diagnosis]:
    """Where the unexplained parameters are wrong; a weight's rows and its bias's entries for the same units as one."""
    if not names:
        return []
    network, clauses, said = point.network, [], set()
    masks = {name: (np.abs(candidate[name] - point.reference[name]) > allowed(point, point.reference[name]))
             & ~point.excused[name] for name in names}
    for name in names:
        if name in said:
            continue
        layer = int(name[1:])
        pair = [p for p in ("W%d" % layer, "b%d" % layer) if p in names]
        units = [wrong_units(p, masks[p]) for p in pair]
        if len(pair) == 2 and units[0] is not None and units[0] == units[1] and len(units[0]) < network.sizes[layer]:
            values = np.concatenate([candidate[p][masks[p]] for p in pair])
            right = np.concatenate([point.reference[p][masks[p]] for p in pair])
            clauses.append("the error terms delta%d of %s are wrong, and only those: %s's rows and %s's entries for "
                           "%s (every other entry of both is right)%s"
                           % (layer, units_text(network, layer, units[0]), pair[0], pair[1],
                              "it" if len(units[0]) == 1 else "them", shared(values, right)))
            said.update(pair)
            continue
        clauses.append(describe_wrong(network, name, candidate[name], point.reference[name], masks[name]))
        said.add(name)
    text = "; ".join(clauses)
    return [Diagnosis(tuple(names), "no_fit", None, "no known bug pattern fits (tried: %s). %s"
                      % (tried, text[:1].upper() + text[1:]))]


def shape_finding(point: Point, name: str, shape: tuple, raw: np.ndarray) -> tuple[str, int, str]:
    """(kind, layer, text) for a gradient returned in a shape the check could realign."""
    layer, expected = int(name[1:]), point.reference[name].shape
    if name.startswith("W"):
        right = agrees(point, name, np.asarray(raw, np.float64).T)
        return "transposed", layer, (
            "returned with shape %s, the transpose of %s's shape %s: entry [j, i] must hold dE/d%s[j, i], for the "
            "weight from unit i to unit j, as %s[j, i] does; transposed back, %s%s"
            % (shape, name, expected, name, name, "it is right" if right else "it is still wrong (see below)",
               " (if your code stores weights as (in, out) for X @ W, check it with --weights in-out, or "
               "layout=Layout(weights='in-out'))" if right else ""))
    if np.size(raw) == 1:
        total = float(np.sum(point.reference[name]))
        summed = abs(float(np.asarray(raw, np.float64).reshape(())) - total) <= 1e-9 * max(
            1.0, float(np.abs(point.reference[name]).sum()))
        return "bias_not_summed", layer, (
            "returned as one number (shape %s) where %s has %d entries: the bias gradient summed over the units "
            "too (np.sum(delta) without axis=0), where each unit's entry is its own column summed over the "
            "examples%s" % (np.shape(raw), name, expected[0], "; it is the sum of the right entries" if summed
                            else ""))
    right = agrees(point, name, np.asarray(raw, np.float64).sum(axis=0))
    return "bias_not_summed", layer, (
        "returned with shape %s, one row per example: the bias gradient is not summed over the batch (sum over "
        "axis 0 for shape %s); summed, %s" % (shape, expected, "it is right" if right else "it is still wrong (see below)"))


__all__ = ["NAMED_RATIOS", "compose", "diagnose", "layer_words", "shape_finding", "shape_says_all"]
