"""Comparing one source of derivatives with another, entry by entry: what the gradient and product checks share.

:class:`Check` holds one check in progress (the point, the reference module's
loss, the tolerances, what was found); :func:`verdict` names the source that
takes part in every disagreement; :func:`rank` orders entries by how far
outside their tolerance they are; :func:`entry_verdict` reads one entry's three
comparisons.  :func:`verify.check.gradient_check.check_gradients` and
:func:`verify.check.hvp_check.check_hvp` are built from them.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from derive import InputError

from . import finite_differences as fd
from .diagnosis import diagnose
from .hypotheses import Point
from .check_report import METHOD_NAMES, Agreement, CheckReport, DirectionFinding, EntryFinding, ParameterRow, plural
from .kinks_and_saturation import (describe_entry, kink_affected, layer_inputs, preactivations, saturation_warnings,
                                   straddled_kinks, units_at_kinks)
from .returned import Returned
from .tolerances import FD_TOLERANCES, Tolerance


class Check:
    """One check in progress: the point, the reference module, the tolerances, and what was found so far."""

    def __init__(self, network, params, X, T, module, method, tolerance: Tolerance, seed):
        self.network, self.params, self.X, self.T = network, params, X, T
        self.method, self.tolerance, self.seed = method, tolerance, seed
        self.fd_tolerance = FD_TOLERANCES[method]
        self.loss = lambda p: module.loss(p, X, T)
        self.loss_value = abs(float(np.real(self.loss(params))))
        self.evaluations = 1
        self.pairs = {"SF": [], "CF": [], "flagged": 0}  # (agrees, relative error, error / allowed) per entry or direction
        self.kink_notes: list[str] = []

    def compare(self, candidate: dict, reference: dict, returned: Returned) -> None:
        """Candidate against reference at every entry (:attr:`rows`); the first step of every check."""
        self.candidate, self.reference, self.returned_shapes = candidate, reference, returned.shapes
        self.uncertainty = returned.uncertainty
        self.rows, self.affected = self._compare_every_entry()

    def run(self, samples, worst, n_directions, name, dtype) -> CheckReport:
        """Finite differences as referee of a gradient check (after :meth:`compare`), and the report."""
        ranked = rank(self.errors, self.allowed, worst)
        sampled = _sample(self.reference, samples, self.seed, exclude=set(ranked))
        findings = self._referee(ranked + sampled, self.affected, len(ranked))
        directions = [self._direction(i, v) for i, v in enumerate(fd.random_directions(self.params, n_directions,
                                                                                          self.seed))]
        agreements = _agreements(self.agreement(), self.pairs, directions)
        return self.report(name, dtype, agreements, findings, directions, self.evaluations)

    def report(self, name, dtype, agreements, worst, directions, evaluations, **fields) -> CheckReport:
        """The :class:`CheckReport` of this check, from the agreements its referee found."""
        culprit, summary = verdict(agreements, fields.pop("method", self.method))
        Zs = preactivations(self.network, self.params, self.X)
        return CheckReport(
            network=self.network.describe(), dtype=dtype, candidate_name=name,
            tolerance=self.tolerance.to_dict(), fd_method=fields.pop("fd_method", self.method),
            fd_tolerance=self.fd_tolerance.to_dict(), rows=self.rows, agreements=agreements, worst=worst,
            directions=directions, culprit=culprit, summary=summary, kinks=_unique(self.kink_notes)[:10],
            warnings=saturation_warnings(self.network, Zs), evaluations=evaluations, seed=self.seed, **fields)

    def agreement(self) -> Agreement:
        """Candidate against reference, over every entry (the first row of every check's table)."""
        rows = self.rows
        return Agreement("candidate", "reference", sum(r.entries for r in rows), 0, sum(r.over for r in rows),
                         sum(r.excused for r in rows), max((r.max_rel_error for r in rows), default=0.0),
                         max((r.max_ratio for r in rows), default=0.0))

    def _compare_every_entry(self) -> tuple[list[ParameterRow], dict]:
        """Candidate against reference at every entry; entries that depend on a unit on a kink are excused."""
        reference = self.reference
        scales = {k: float(np.max(np.abs(v))) if v.size else 0.0 for k, v in reference.items()}
        fallback = max(scales.values(), default=0.0) or 1.0
        self.scales = {k: s or fallback for k, s in scales.items()}
        self.errors = {k: np.abs(self.candidate[k] - reference[k]) for k in reference}
        self.allowed = {k: self.tolerance.allowed(reference[k], self.scales[k], self.loss_value)
                        + self.uncertainty.get(k, 0.0) for k in reference}
        Zs = preactivations(self.network, self.params, self.X) if any(
            activation.kinks for activation in self.network.activations) else None
        at_kinks = units_at_kinks(self.network, self.params, self.X, Zs)
        self.kink_notes += [hit.explain(self.network) for hit in at_kinks[:5]]
        affected = kink_affected(self.network, at_kinks, layer_inputs(self.network, self.params, self.X)
                                 if at_kinks else None, self.params, Zs)
        rows = []
        for k in reference:
            over = self.errors[k] > self.allowed[k]
            relative = self.errors[k] / self.tolerance.magnitude(reference[k], self.scales[k], self.loss_value)
            ratio = self.errors[k] / np.maximum(self.allowed[k], 1e-300)
            misshapen = k in self.returned_shapes  # as returned, no entry is where it belongs
            rows.append(ParameterRow(k, reference[k].shape, reference[k].size, self.scales[k],
                                     float(self.errors[k].max(initial=0.0)), float(relative.max(initial=0.0)),
                                     reference[k].size if misshapen else int((over & ~affected[k]).sum()),
                                     0 if misshapen else int((over & affected[k]).sum()),
                                     float(ratio.max(initial=0.0)), self.returned_shapes.get(k)))
        return rows, affected

    def diagnose(self, returned: Returned) -> list:
        """What kind of bug the candidate's numbers fit, for every parameter that disagrees."""
        wrong = [row.name for row in self.rows if row.over]
        point = Point(self.network, self.params, self.X, self.T, self.reference, self.tolerance, self.loss_value,
                      self.affected)
        return diagnose(point, self.candidate, wrong, returned.shapes, returned.raw)

    def _referee(self, entries, affected, n_worst) -> list[EntryFinding]:
        """Finite differences at ``entries``; the first ``n_worst`` become the report's worst entries."""
        with np.errstate(all="ignore"):
            estimates = fd.estimate(self.method, self.loss, self.params, entries)
        self.evaluations += estimates.evaluations
        if not np.isfinite(estimates.values).all():
            raise InputError("no verdict: %s of the loss are not finite at %s: the loss is not defined within a "
                             "step of these parameters (a domain edge, such as sqrt(x) at 0, is that close); give "
                             "other parameters or data" % (METHOD_NAMES[self.method], fd.format_entry(
                                 entries[int(np.argmax(~np.isfinite(estimates.values)))])))
        estimates = self._second_opinion(entries, estimates)
        findings = []
        for position, entry in enumerate(entries):
            name, index = entry
            c, s, allow = self.candidate[name][index], self.reference[name][index], self.allowed[name][index]
            f, f_err = float(estimates.values[position]), float(estimates.errors[position])
            fd_allow = self.fd_tolerance.allowed(s, self.scales[name], self.loss_value) + 2 * f_err
            hits = self._straddles({name: _unit(self.params[name], index, float(estimates.steps[position]))})
            sf_ok, cf_ok = abs(f - s) <= fd_allow, abs(f - c) <= fd_allow + allow
            cf_ok = cf_ok and name not in self.returned_shapes  # as returned, the entry is not at [index]
            self.kink_notes += ["%s (finite differences): %s" % (fd.format_entry(entry), hit.explain(self.network))
                                for hit in hits[:2]]
            size = float(self.fd_tolerance.magnitude(s, self.scales[name], self.loss_value))
            self._record(hits, (sf_ok, abs(f - s) / size, abs(f - s) / fd_allow),
                         (cf_ok, abs(f - c) / size, abs(f - c) / (fd_allow + allow)))
            if position < n_worst:
                verdict, note = entry_verdict(abs(c - s) <= allow, sf_ok, cf_ok, hits, bool(affected[name][index]))
                findings.append(EntryFinding(
                    fd.format_entry(entry), describe_entry(self.network, entry), float(c), float(s), f, f_err,
                    float(abs(c - s)), float(abs(c - s) / self.tolerance.magnitude(s, self.scales[name],
                                                                                   self.loss_value)),
                    float(allow), verdict, note or (hits[0].explain(self.network) if hits else "")))
        return findings

    def _second_opinion(self, entries, estimates):
        """Central differences that disagree with a reference the candidate agrees with, redone by Richardson
        extrapolation (which estimates its truncation error too): a referee that looks wrong is asked again
        before it is believed.  At a degenerate point (a tiny gradient behind a large curvature) a central
        difference's truncation error, which its own error estimate leaves out, can exceed its tolerance."""
        if self.method != "central":
            return estimates
        doubtful = [position for position, (name, index) in enumerate(entries)
                    if abs(self.candidate[name][index] - self.reference[name][index]) <= self.allowed[name][index]
                    and abs(estimates.values[position] - self.reference[name][index]) > self.fd_tolerance.allowed(
                        self.reference[name][index], self.scales[name], self.loss_value) + 2 * estimates.errors[position]]
        if not doubtful:
            return estimates
        with np.errstate(all="ignore"):
            better = fd.estimate("richardson", self.loss, self.params, [entries[p] for p in doubtful])
        self.evaluations += better.evaluations
        values, errors = estimates.values.copy(), estimates.errors.copy()
        for position, value, error in zip(doubtful, better.values, better.errors):
            if np.isfinite(value):
                values[position], errors[position] = value, error
        return dataclasses.replace(estimates, values=values, errors=errors)

    def _direction(self, position: int, v: dict) -> DirectionFinding:
        """Finite differences along one random direction, against both projections of the gradient."""
        with np.errstate(all="ignore"):
            result = fd.directional_derivative(self.loss, self.params, v, self.method)
        if not np.isfinite(result.value):
            raise InputError("no verdict: %s of the loss along random direction %d are not finite: the loss is not "
                             "defined within a step of these parameters; give other parameters or data"
                             % (METHOD_NAMES[self.method], position))
        self.evaluations += result.evaluations
        project = lambda per_entry: sum(float(np.vdot(per_entry[k], np.abs(v[k]))) for k in v)  # noqa: E731
        fd_allow = project({k: self.fd_tolerance.allowed(r, self.scales[k], self.loss_value)
                            for k, r in self.reference.items()}) + 2 * result.error
        candidate_allow = project(self.allowed)
        c, s = result.project(self.candidate), result.project(self.reference)
        step = 0.0 if self.method == "complex" else np.finfo(np.float64).eps ** (
            1 / 3 if self.method == "central" else 1 / 5)
        hits = self._straddles({k: step * d for k, d in v.items()})
        self.kink_notes += ["random direction %d (finite differences): %s" % (position, hit.explain(self.network))
                            for hit in hits[:1]]
        size = project({k: self.fd_tolerance.magnitude(r, self.scales[k], self.loss_value)
                        for k, r in self.reference.items()})
        self._record(hits, (abs(result.value - s) <= fd_allow, abs(result.value - s) / size,
                            abs(result.value - s) / max(fd_allow, 1e-300)),
                     (abs(result.value - c) <= fd_allow + candidate_allow, abs(result.value - c) / size,
                      abs(result.value - c) / max(fd_allow + candidate_allow, 1e-300)))
        return DirectionFinding(position, result.value, result.error, c, s, fd_allow, candidate_allow, bool(hits))

    def _straddles(self, step: dict) -> list:
        """Kinks that a central difference from ``params - step`` to ``params + step`` crosses."""
        if self.method == "complex":
            return []
        up = {k: p + step[k] if k in step else p for k, p in self.params.items()}
        down = {k: p - step[k] if k in step else p for k, p in self.params.items()}
        return straddled_kinks(self.network, up, down, self.X)

    def _record(self, hits, reference_vs_fd, candidate_vs_fd) -> None:
        if hits:
            self.pairs["flagged"] += 1
        else:
            self.pairs["SF"].append(reference_vs_fd)
            self.pairs["CF"].append(candidate_vs_fd)


def _unit(array: np.ndarray, index, size: float) -> np.ndarray:
    """An array shaped like ``array``: ``size`` at ``index``, 0 elsewhere."""
    step = np.zeros_like(array)
    step[index] = size
    return step


def _agreements(first: Agreement, pairs, directions) -> list[Agreement]:
    n_dirs = sum(not d.flagged for d in directions)
    flagged_dirs = len(directions) - n_dirs
    agreements = [first]
    for first, key in (("candidate", "CF"), ("reference", "SF")):
        results = pairs[key]
        agreements.append(Agreement(first, "fd", len(results) - n_dirs, n_dirs, sum(not ok for ok, _, _ in results),
                                    pairs["flagged"] + flagged_dirs, max((rel for _, rel, _ in results), default=0.0),
                                    max((ratio for _, _, ratio in results), default=0.0)))
    return agreements


def verdict(agreements: list[Agreement], method: str) -> tuple[str | None, str]:
    """The source in every disagreeing pair, and a sentence saying so."""
    failing = [a for a in agreements if not a.agree]
    fd_name = METHOD_NAMES[method]
    if not failing:
        flagged = (" (%d more entries or directions flagged at kinks)" % agreements[2].flagged
                   if agreements[2].flagged else "")
        directions = (" and %s" % plural(agreements[2].directions, "random direction")
                      if agreements[2].directions else "")
        return None, ("all three sources agree: candidate and symbolic reference at every entry, %s at %s%s%s"
                      % (fd_name, plural(agreements[2].entries, "entry", "entries"), directions, flagged))
    common = set.intersection(*({a.first, a.second} for a in failing))
    culprit = common.pop() if len(common) == 1 else None
    cs = agreements[0]
    if culprit == "candidate":
        return culprit, ("the CANDIDATE is wrong: it differs from the symbolic reference at %d of %s, and "
                         "%s side with the reference" % (cs.disagreements, plural(cs.entries, "entry", "entries"),
                                                         fd_name))
    if culprit == "reference":
        return culprit, ("the SYMBOLIC REFERENCE is wrong: it differs from the candidate at %d entries, and %s side "
                         "with the candidate (please report this as a bug in backprop)" % (cs.disagreements, fd_name))
    if culprit == "fd":
        return culprit, ("FINITE DIFFERENCES disagree with both gradients, which agree with each other: the "
                         "numerically differentiated loss is not the one the gradients belong to, or a kink "
                         "went undetected")
    if not cs.agree:
        return "undetermined", ("candidate and symbolic reference differ at %d entries, and %s cannot tell which "
                                "is right (see the worst entries)" % (cs.disagreements, fd_name))
    return "undetermined", "the sources disagree in a pattern that singles out none of them (see the table)"


def rank(errors, allowed, count) -> list[fd.Entry]:
    """The ``count`` entries with the largest (nonzero) error relative to what is allowed."""
    candidates = []
    for name, error in errors.items():
        ratio = (error / np.maximum(allowed[name], 1e-300)).ravel()
        if count < ratio.size:  # the largest count, without sorting every entry
            chosen = np.argpartition(ratio, ratio.size - count)[ratio.size - count:]
            top = chosen[np.argsort(ratio[chosen])[::-1]]
        else:
            top = np.argsort(ratio)[::-1][:count]
        candidates += [(float(ratio[i]), name, np.unravel_index(i, error.shape)) for i in top if ratio[i] > 0]
    candidates.sort(key=lambda item: -item[0])
    return [(name, tuple(int(i) for i in index)) for _, name, index in candidates[:count]]


def _sample(reference, per_parameter, seed, exclude) -> list[fd.Entry]:
    rng = np.random.default_rng(seed)
    entries = []
    for name, value in reference.items():
        chosen = rng.choice(value.size, size=min(per_parameter, value.size), replace=False) if value.size else []
        entries += [(name, tuple(int(i) for i in np.unravel_index(flat, value.shape))) for flat in chosen]
    return [entry for entry in entries if entry not in exclude]


def entry_verdict(cs_ok, sf_ok, cf_ok, hits, on_kink) -> tuple[str, str]:
    if cs_ok and not hits:
        return "agree", ""
    if hits:
        return "kink", ""
    if on_kink:
        return "kink", "a unit this entry depends on lies on a kink, where the derivative is a convention"
    if sf_ok and not cf_ok:
        return "candidate wrong", "finite differences agree with the reference"
    if cf_ok and not sf_ok:
        return "reference wrong", "finite differences agree with the candidate"
    if sf_ok and cf_ok:
        return "undetermined", "the difference is below the resolution of finite differences"
    return "undetermined", "finite differences agree with neither"


def _unique(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))
