"""The three-way gradient check: every entry against the symbolic reference, finite differences as referee.

``check_gradients(network, params, X, T, gradient_fn)`` compares three
independent sources of the gradient:

* the **candidate**: ``gradient_fn(params, X, T)`` (a user's backprop), or the
  hand-written engine (:class:`verify.Engine`) when none is given;
* the **symbolic reference**: the numpy module that :mod:`derive` generates
  from ``sympy.diff`` (:func:`verify.check.modules.module_for`, cached), evaluated in float64;
* **finite differences** of the reference module's loss (complex step where
  the network is analytic, central differences where it has kinks).

Why shaped this way: the reference costs one evaluation for *all* entries, so
the candidate is compared with it entry by entry, every entry, with a per-entry
tolerance (:mod:`verify.tolerances`) that a single wrong entry among 79,510
cannot hide under.  Finite differences cost evaluations per entry, so they run
only where they decide something: at the worst entries (where, if candidate and
reference disagree, they say which one is right), at a few random entries per
parameter, and along a few seeded random directions (which test every entry at
once).  The report (:class:`verify.report.CheckReport`) names the source that
takes part in every disagreement.

Kinks and saturation are diagnosed, not guessed at (:mod:`verify.diagnostics`).
When the candidate is wrong, the report says what kind of bug fits its numbers
(:mod:`verify.check.diagnosis`).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Callable

import numpy as np

from derive import InputError, Network, check_params
from verify.engine import Engine, check_data

from . import finite_differences as fd
from .diagnosis import Point, diagnose
from .diagnostics import (describe_entry, kink_affected, preactivations, saturation_warnings, straddled_kinks,
                          units_at_kinks)
from .report import METHOD_NAMES, Agreement, CheckReport, DirectionFinding, EntryFinding, ParameterRow, plural
from .sources import Returned, call_gradient_function, function_name
from .modules import module_for as reference_module  # the symbolic reference: one module per network, cached
from .tolerances import FD_TOLERANCES, Tolerance, tolerance_for

FD_METHODS = ("auto",) + fd.METHODS


@lru_cache(maxsize=1024)
def _engine(network: Network) -> Engine:
    return Engine(network)


def engine_dependence(network: Network) -> list[str]:
    """A note for each layer whose activation gives the engine no derivative of its own."""
    return ["the engine is not independent for this network: layer %d's custom activation %r has no hand-written "
            "derivative, so the engine uses SymPy's (finite differences remain independent)" % (layer, g.name)
            for layer, g in enumerate(network.activations, start=1) if g.custom]


def is_analytic(network: Network) -> bool:
    """Whether complex-step differentiation is exact for this network's loss (no kinks, no L1)."""
    return all(a.analytic for a in network.activations) and not network.l1


def check_gradients(network: Network, params: dict, X, T, gradient_fn: Callable | None = None, *,
                    rtol: float | None = None, floor: float | None = None, fd_method: str = "auto",
                    samples: int = 3, worst: int = 5, directions: int = 2, seed: int = 0, diagnose: bool = True,
                    candidate_name: str | None = None, parameter_names: dict | None = None) -> CheckReport:
    """Check a gradient against the symbolic reference and finite differences.

    Args:
        network: The network the gradient is of.
        params: Parameter dict (float64 or float32; the dtype picks the default tolerance).
        X: Inputs ``(N, n_0)``.
        T: Targets ``(N, n_L)``.
        gradient_fn: ``gradient_fn(params, X, T) -> dict`` to check (or one of
            the other calling forms of :mod:`verify.check.sources`); ``None``
            checks the hand-written engine.
        rtol: Per-entry relative tolerance (default by dtype, :mod:`verify.tolerances`:
            float32 when the parameters or the returned gradients are float32).
        floor: Absolute floor as a fraction of each parameter's largest entry.
        fd_method: ``"auto"`` (complex step if :func:`is_analytic`, else
            central), ``"complex"``, ``"central"`` or ``"richardson"``.
        samples: Random entries per parameter that finite differences check.
        worst: Worst entries reported (and checked by finite differences).
        directions: Seeded random directions checked by finite differences.
        seed: Seed for the sampled entries and the directions.
        diagnose: When the candidate is wrong, test the known bug patterns
            against its numbers (:mod:`verify.check.diagnosis`).
        candidate_name: How the report names the candidate (default: the function's ``module:name``).
        parameter_names: Other names of the parameters, shown beside them (``{"W1": "0.weight"}``).

    Returns:
        A :class:`~verify.report.CheckReport`; ``report.ok`` is the verdict.

    Raises:
        InputError: invalid network, parameters, data or options, or a
            gradient function that raises or returns something that is not
            a params-shaped dict of finite arrays of the parameters' dtype.
    """
    started = time.perf_counter()
    params, X, T, dtype = _check_inputs(network, params, X, T)
    method = _choose_method(network, fd_method)
    check_counts(samples=samples, worst=worst, directions=directions, seed=seed)
    tolerance_for(dtype, rtol, floor)  # bad options fail before any user code runs
    module = reference_module(network)
    p64 = {name: value.astype(np.float64) for name, value in params.items()}
    X64, T64 = X.astype(np.float64), T.astype(np.float64)
    reference = {name: np.asarray(value, dtype=np.float64) for name, value in module.gradients(p64, X64, T64).items()}
    if gradient_fn is None:
        name = "the engine"
        returned = Returned(_engine(network).gradients(params, X.astype(dtype), T.astype(dtype)), {}, {})
    else:
        name = candidate_name or function_name(gradient_fn)
        returned = call_gradient_function(gradient_fn, network, params, X.astype(dtype), T.astype(dtype), name)
    narrowed = sorted(k for k, v in returned.gradients.items() if v.dtype == np.float32 and dtype == np.float64)
    checked_dtype = np.dtype(np.float32) if narrowed else np.dtype(dtype)
    tolerance = tolerance_for(checked_dtype, rtol, floor)
    candidate = {key: np.asarray(value, dtype=np.float64) for key, value in returned.gradients.items()}

    check = _Check(network, p64, X64, T64, module, method, tolerance, seed)
    report = check.run(candidate, reference, samples, worst, directions, name, checked_dtype.name, returned.shapes)
    if narrowed:
        report.warnings.insert(0, "%s returned float32 gradients (%s) for float64 parameters: checked at float32 "
                               "tolerances" % (name, ", ".join(narrowed)))
    if gradient_fn is None:
        report.warnings = engine_dependence(network) + report.warnings
    if diagnose and report.culprit in ("candidate", "undetermined") and not report.agreements[0].agree:
        try:
            report.diagnosis = check.diagnose(returned)
        except NotImplementedError as exc:  # a variant the printer cannot print: the verdict stands without it
            report.warnings.append("no diagnosis: %s" % exc)
    report.parameter_names = dict(parameter_names or {})
    report.seconds = time.perf_counter() - started
    return report


def assert_gradients_match(network: Network, params: dict, X, T, gradient_fn: Callable | None = None,
                           **options) -> CheckReport:
    """:func:`check_gradients`, raising ``AssertionError`` with the full report when it fails.

    For test suites (the pytest plugin offers it as a fixture too)::

        assert_gradients_match(network, params, X, T, my_gradients)

    Returns:
        The passing report.
    """
    __tracebackhide__ = True
    report = check_gradients(network, params, X, T, gradient_fn, **options)
    if not report.ok:
        raise AssertionError("gradients do not match\n%s" % report)
    return report


def check_counts(**counts) -> None:
    """Raise ``InputError`` naming the first option that is not an integer >= 0."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError("%s must be an integer >= 0, got %r" % (name, value))


def _check_inputs(network, params, X, T):
    if not isinstance(network, Network):
        raise InputError("network must be a derive.Network, got %s" % type(network).__name__)
    params = check_params(network, params)
    dtypes = {value.dtype for value in params.values()}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
        raise InputError("parameters must all be float32 or all float64, got %s" % ", ".join(sorted(map(str, dtypes))))
    X, T = check_data(network, X, T)
    if X.dtype.kind == "c" or T.dtype.kind == "c":
        raise InputError("X and T must be real; complex data is for complex-step differences, which the check runs")
    return params, X, T, next(iter(dtypes))


def _choose_method(network: Network, fd_method: str) -> str:
    if fd_method not in FD_METHODS:
        raise InputError("unknown fd_method %r; choose one of: %s" % (fd_method, ", ".join(FD_METHODS)))
    if fd_method == "auto":
        return "complex" if is_analytic(network) else "central"
    if fd_method == "complex" and not is_analytic(network):
        raise InputError("fd_method 'complex' needs an analytic network, but %s has a kink (%s); use 'central' "
                         "or 'richardson'" % (network.describe(), ", ".join(
                             a.name for a in network.activations if not a.analytic) or "L1 penalty"))
    return fd_method


class _Check:
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

    def run(self, candidate, reference, samples, worst, n_directions, name, dtype, returned_shapes) -> CheckReport:
        self.candidate, self.reference, self.returned_shapes = candidate, reference, returned_shapes
        rows, affected = self._compare_every_entry()
        self.affected = affected
        ranked = _rank(self.errors, self.allowed, worst)
        sampled = _sample(reference, samples, self.seed, exclude=set(ranked))
        findings = self._referee(ranked + sampled, affected, len(ranked))
        directions = [self._direction(i, v) for i, v in enumerate(fd.random_directions(self.params, n_directions,
                                                                                          self.seed))]
        self.rows = rows
        agreements = _agreements(rows, self.pairs, directions)
        culprit, summary = _verdict(agreements, self.method)
        Zs = preactivations(self.network, self.params, self.X)
        return CheckReport(
            network=self.network.describe(), dtype=dtype, candidate_name=name,
            tolerance=self.tolerance.to_dict(), fd_method=self.method, fd_tolerance=self.fd_tolerance.to_dict(),
            rows=rows, agreements=agreements, worst=findings, directions=directions, culprit=culprit,
            summary=summary, kinks=_unique(self.kink_notes)[:10], warnings=saturation_warnings(self.network, Zs),
            evaluations=self.evaluations, seed=self.seed)

    def _compare_every_entry(self) -> tuple[list[ParameterRow], dict]:
        """Candidate against reference at every entry; entries that depend on a unit on a kink are excused."""
        reference = self.reference
        scales = {k: float(np.max(np.abs(v))) if v.size else 0.0 for k, v in reference.items()}
        fallback = max(scales.values(), default=0.0) or 1.0
        self.scales = {k: s or fallback for k, s in scales.items()}
        self.errors = {k: np.abs(self.candidate[k] - reference[k]) for k in reference}
        self.allowed = {k: self.tolerance.allowed(reference[k], self.scales[k], self.loss_value) for k in reference}
        at_kinks = units_at_kinks(self.network, self.params, self.X)
        self.kink_notes += [hit.explain(self.network) for hit in at_kinks[:5]]
        affected = kink_affected(self.network, at_kinks)
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
        estimates = fd.estimate(self.method, self.loss, self.params, entries)
        self.evaluations += estimates.evaluations
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
                verdict, note = _entry_verdict(abs(c - s) <= allow, sf_ok, cf_ok, hits, bool(affected[name][index]))
                findings.append(EntryFinding(
                    fd.format_entry(entry), describe_entry(self.network, entry), float(c), float(s), f, f_err,
                    float(abs(c - s)), float(abs(c - s) / self.tolerance.magnitude(s, self.scales[name],
                                                                                   self.loss_value)),
                    float(allow), verdict, note or (hits[0].explain(self.network) if hits else "")))
        return findings

    def _direction(self, position: int, v: dict) -> DirectionFinding:
        """Finite differences along one random direction, against both projections of the gradient."""
        result = fd.directional_derivative(self.loss, self.params, v, self.method)
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


def _agreements(rows, pairs, directions) -> list[Agreement]:
    n_dirs = sum(not d.flagged for d in directions)
    flagged_dirs = len(directions) - n_dirs
    agreements = [Agreement("candidate", "reference", sum(r.entries for r in rows), 0, sum(r.over for r in rows),
                            sum(r.excused for r in rows), max((r.max_rel_error for r in rows), default=0.0),
                            max((r.max_ratio for r in rows), default=0.0))]
    for first, key in (("candidate", "CF"), ("reference", "SF")):
        results = pairs[key]
        agreements.append(Agreement(first, "fd", len(results) - n_dirs, n_dirs, sum(not ok for ok, _, _ in results),
                                    pairs["flagged"] + flagged_dirs, max((rel for _, rel, _ in results), default=0.0),
                                    max((ratio for _, _, ratio in results), default=0.0)))
    return agreements


def _verdict(agreements: list[Agreement], method: str) -> tuple[str | None, str]:
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


def _rank(errors, allowed, count) -> list[fd.Entry]:
    """The ``count`` entries with the largest (nonzero) error relative to what is allowed."""
    candidates = []
    for name, error in errors.items():
        ratio = (error / np.maximum(allowed[name], 1e-300)).ravel()
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


def _entry_verdict(cs_ok, sf_ok, cf_ok, hits, on_kink) -> tuple[str, str]:
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
