"""The one path every check takes: prepare the point, call the candidate, compare, referee, diagnose, report.

:func:`verify.check_gradients`, :func:`verify.check_hvp` and the PyTorch
checks differ in what they compare (a gradient or a product) and in their
referee (finite differences at chosen entries and directions, or a product's
differences at every entry).  Everything else is here, once:

1. **prepare** (:class:`Run`): validate the network, the parameters and the
   data (targets may be integer labels: the user's function gets them as
   given, the reference one-hot rows), choose the dtype, and refuse a point
   where the network is undefined (:mod:`verify.check.undefined`): no verdict
   is ever given on NaN;
2. **the candidate** (:meth:`Run.candidate`): the user's function called in its
   layout, its printed output captured (:mod:`verify.check.candidates`); or the
   hand-written engine;
3. **compare** (:meth:`Run.compare`): every entry against the reference, at the
   tolerance of the dtype the candidate computed in
   (:class:`~verify.check.comparison.Check`);
4. the check's own **referee**, then **finish** (:meth:`Run.finish`): warnings,
   the diagnosis of a wrong candidate, the convention that would make it right
   (:mod:`verify.check.other_conventions`), what the function printed and what was
   read, the timing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

import numpy as np

from derive import InputError, Network, check_params
from derive.limits import check_memory
from verify.engine import Engine, check_data

from .candidates import call_candidate
from .returned import Returned
from .comparison import Check
from .layouts import Layout, shown_names, user_entry
from .modules import module_for
from .check_report import CheckReport, Diagnosis
from .sources import function_name
from .tolerances import tolerance_for
from .undefined import require_finite


@dataclass(frozen=True)
class CheckOptions:
    """What every check takes besides the point (see :func:`verify.check_gradients` for each)."""

    rtol: float | None = None
    floor: float | None = None
    seed: int = 0
    worst: int = 5
    diagnose: bool = True
    candidate_name: str | None = None
    parameter_names: dict | None = None
    layout: Layout | None = None


@lru_cache(maxsize=1024)
def engine_for(network: Network) -> Engine:
    return Engine(network)


def engine_dependence(network: Network) -> list[str]:
    """A note for each layer whose activation gives the engine no derivative of its own."""
    return ["the engine is not independent for this network: layer %d's custom activation %r has no hand-written "
            "derivative, so the engine uses SymPy's (finite differences remain independent)" % (layer, g.name)
            for layer, g in enumerate(network.activations, start=1) if g.custom]


def check_counts(**counts) -> None:
    """Raise ``InputError`` naming the first option that is not an integer >= 0."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError("%s must be an integer >= 0, got %r" % (name, value))


def check_inputs(network, params, X, T):
    """``(params, X, T, dtype)`` validated: one float dtype for the parameters, real data, T one-hot for labels."""
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


class Run:
    """One check from its inputs to its report (the steps of the module docstring).

    Attributes:
        network, options: What is checked, and how.
        params, X, T, dtype: The point as given (T one-hot), and the parameters' dtype.
        given_T: The targets as the user gave them (integer labels stay labels).
        p64, X64, T64: The point in float64, where the reference is computed.
    """

    def __init__(self, network: Network, params: dict, X, T, options: CheckOptions):
        self.started = time.perf_counter()
        self.options = options
        self.params, self.X, self.T, self.dtype = check_inputs(network, params, X, T)
        self.network = network
        check_memory(16 * 8 * network.n_params + 8 * 8 * len(self.X) * sum(network.sizes),
                     "checking the gradient of %s on %d examples" % (network.describe(), len(self.X)),
                     "check a narrower network, or fewer examples")
        self.given_T = np.asarray(T) if np.ndim(T) == 1 and network.sizes[-1] > 1 else self.T
        check_counts(worst=options.worst, seed=options.seed)
        tolerance_for(self.dtype, options.rtol, options.floor)  # bad options fail before any user code runs
        if options.layout is not None and not isinstance(options.layout, Layout):
            raise InputError("layout must be a verify.check.layouts.Layout, got %s" % type(options.layout).__name__)
        self.p64 = {name: value.astype(np.float64) for name, value in self.params.items()}
        self.X64, self.T64 = self.X.astype(np.float64), self.T.astype(np.float64)

    def reference(self, compute: Callable, *arguments, what: str = "the reference gradient") -> dict:
        """``compute(p64, X64, T64, *arguments)`` as float64 arrays, refused in one line where it is not finite."""
        with np.errstate(all="ignore"):
            values = {k: np.asarray(v, dtype=np.float64) for k, v in compute(self.p64, self.X64, self.T64,
                                                                              *arguments).items()}
        require_finite(values, self.network, self.p64, self.X64, self.T64, what)
        return values

    def require_finite_loss(self, module) -> None:
        with np.errstate(all="ignore"):
            value = module.loss(self.p64, self.X64, self.T64)
        require_finite(value, self.network, self.p64, self.X64, self.T64, "the loss")

    def candidate(self, function: Callable | None, direction: dict | None = None, what: str = "gradient function",
                  expected: dict | None = None) -> tuple[str, Returned]:
        """(its name, what it returned): the user's function called in its layout, or the engine (no function)."""
        if function is None:
            return "the engine", Returned(engine_for(self.network).gradients(self.params, self.X, self.T), {}, {})
        name = self.options.candidate_name or function_name(function)
        cast = lambda value: value.astype(self.dtype) if value.dtype.kind == "f" else value  # noqa: E731
        returned = call_candidate(function, self.network, self.params, cast(self.X), cast(self.given_T),
                                  layout=self.options.layout, name=name, what=what, expected=expected,
                                  direction=None if direction is None else {k: v.astype(self.dtype)
                                                                            for k, v in direction.items()})
        return name, returned

    def compare(self, module, method: str, returned: Returned, reference: dict) -> tuple[Check, np.dtype, list]:
        """The :class:`Check` after every entry is compared, the dtype checked at, and the parameters narrowed."""
        narrowed = sorted(k for k, v in returned.gradients.items()
                          if v.dtype == np.float32 and self.dtype == np.float64)
        checked_dtype = np.dtype(np.float32) if narrowed else np.dtype(self.dtype)
        tolerance = tolerance_for(checked_dtype, self.options.rtol, self.options.floor)
        candidate = {key: np.asarray(value, dtype=np.float64) for key, value in returned.gradients.items()}
        check = Check(self.network, self.p64, self.X64, self.T64, module, method, tolerance, self.options.seed)
        check.compare(candidate, reference, returned)
        return check, checked_dtype, narrowed

    def _loss_note(self, given: float, gradient_right: bool, convention: Network | None = None) -> tuple[bool, str]:
        """Whether the loss the function returned beside its gradient is the network's loss here, and the note.

        A returned loss that is not the network's while the gradient is right means the function's loss and
        gradient are of different losses (a sum and a mean, a missing 1/2): one of them has a slip.  Where the
        gradient is right under another ``convention`` (a network) and the loss is that network's, loss and
        gradient agree with each other, and the note says so.
        """
        with np.errstate(all="ignore"):
            expected = float(module_for(self.network).loss(self.p64, self.X64, self.T64))
            theirs = None if convention is None else float(module_for(convention).loss(self.p64, self.X64, self.T64))
        if not np.isfinite(given):
            return False, "the loss it returned is %s; the network's loss here is %.6g" % (given, expected)
        if np.isclose(given, expected, rtol=1e-6, atol=1e-12):
            return True, "the loss it returned, %.6g, is the network's loss here" % given
        if theirs is not None and np.isclose(given, theirs, rtol=1e-6, atol=1e-12):
            return True, ("the loss it returned, %.6g, is the loss of the convention above (%s), as its gradient is; "
                          "this network's is %.6g" % (given, convention.describe(), expected))
        ratio = " (%.4g x)" % (given / expected) if expected else ""
        if gradient_right:
            return False, ("the loss it returned, %.6g, is not the network's loss here, %.6g%s, though its gradient "
                           "is this network's: the function's loss and its gradient are of different losses, so one "
                           "of them has a slip" % (given, expected, ratio))
        return False, "the loss it returned, %.6g, is not the network's loss here either, %.6g%s" % (given, expected,
                                                                                                 ratio)

    def _in_user_layout(self, report: CheckReport, layout: Layout) -> None:
        """The parameters and worst entries of ``report`` named as the user's layout writes them too."""
        report.parameter_names = shown = shown_names(self.network, layout)
        report.diagnosis = [_transposed_as_theirs(d, shown[d.parameters[0]][:-2], self.network)
                            if d.kind == "transposed" and shown.get(d.parameters[0], "").endswith(".T")
                            and d.parameters[0] in _realigned(report) else d for d in report.diagnosis]
        report.worst = [replace(finding, meaning="%s; yours: %s" % (finding.meaning, user_entry(
            self.network, layout, *_entry_key(finding.label)))) if _entry_key(finding.label)[0] in shown else finding
                        for finding in report.worst]

    def finish(self, report: CheckReport, returned: Returned, narrowed: list, engine: bool,
               diagnose: Callable[[], list], convention: Callable[[], object] | None = None,
               quantity: str = "gradients") -> CheckReport:
        """Warnings, diagnosis, convention, the user's output and what was read, names and timing."""
        if narrowed:
            report.warnings.insert(0, "%s returned float32 %s (%s) for float64 parameters: checked at float32 "
                                      "tolerances" % (report.candidate_name, quantity, ", ".join(narrowed)))
        if engine:
            report.warnings = engine_dependence(self.network) + report.warnings
        if returned.read:
            report.read = returned.read
            if self.options.layout is not None and self.options.layout.update is not None:
                largest = max(float(np.max(u, initial=0.0)) for u in returned.uncertainty.values())
                report.notes.append("recovered from an update with learning rate %g: each entry carries up to %.2g "
                                    "of rounding, (|p| + |p'|) x 4 eps / lr, added to its tolerance"
                                    % (self.options.layout.update, largest))
        report.output = returned.output
        if len(self.X) == 1 and quantity == "gradients":
            report.notes.append("one example: a gradient not summed over the examples (a bias gradient of one row, "
                                "delta itself), or a sum where the mean is meant, cannot be told from a right one "
                                "here; check a batch of several to tell (--batch, or more rows of X)")
        if returned.changed:
            report.warnings.append(
                "%s changed %s in place, the parameters it was given: a gradient function that also updates the "
                "weights steps twice in a training loop (the check used the values from before the call; if it is a "
                "training step, check it with --update LR)" % (report.candidate_name, ", ".join(returned.changed)))
        wrong = report.culprit in ("candidate", "undetermined") and not report.agreements[0].agree
        if self.options.diagnose and wrong and convention is not None:
            report.convention = convention()
        explained = report.convention is not None and bool(report.convention.options)
        if returned.loss is not None:
            gradient_right = bool(report.agreements) and report.agreements[0].agree
            same, note = self._loss_note(returned.loss, gradient_right,
                                         report.convention.network if explained else None)
            (report.notes if same or not gradient_right else report.warnings).append(note)
        if self.options.diagnose and wrong:
            try:
                report.diagnosis = diagnose()
            except NotImplementedError as exc:  # a variant the printer cannot print: the verdict stands without it
                report.warnings.append("no diagnosis: %s" % exc)
            if explained:
                report.diagnosis = _under_convention(report.diagnosis, report.convention)
        report.parameter_names = dict(self.options.parameter_names or {})
        if self.options.layout is not None and not report.parameter_names:
            self._in_user_layout(report, self.options.layout)
        report.seconds = time.perf_counter() - self.started
        return report


def _realigned(report: CheckReport) -> set[str]:
    """The parameters returned in another shape than theirs (a non-square weight transposed), realigned by the check."""
    return {row.name for row in report.rows if row.returned_shape is not None}


def _transposed_as_theirs(diagnosis: Diagnosis, theirs: str, network: Network) -> Diagnosis:
    """A weight gradient returned transposed, said in the shapes of the user's (in, out) layout."""
    shape = network.param_shapes()[diagnosis.parameters[0]]
    right = "it is right" in diagnosis.text
    return replace(diagnosis, text=(
        "returned with shape %s, the transpose of your %s's shape %s (in, out): entry [i, j] must hold dE/d%s[i, j], "
        "for the weight from unit i to unit j, as your %s[i, j] does; transposed back, %s"
        % (shape, theirs, shape[::-1], theirs, theirs, "it is right" if right else "it is still wrong (see below)")))


def _entry_key(label: str) -> tuple[str, tuple[int, ...]]:
    """``"W1[5, 0]"`` as ``("W1", (5, 0))``."""
    name, _, index = label.rstrip("]").partition("[")
    return name, tuple(int(i) for i in index.split(","))


def _under_convention(diagnosis: list, convention) -> list:
    """``diagnosis`` with the parameters no bug pattern fits said to be right under ``convention`` instead.

    Where a convention (another loss, reduction or weight decay) explains every entry, "no known bug pattern
    fits" would send the user looking for a bug that is not there.
    """
    said = "%s under the convention above (%s)" % ("the negative of the right values" if convention.negated else
                                                    "right", " ".join(convention.options))
    replaced = ("no_fit", "penalty_extra") + (("scale",) if convention.negated else ())
    return [Diagnosis(d.parameters, "convention", None, said) if d.kind in replaced else d for d in diagnosis]


__all__ = ["CheckOptions", "Run", "check_counts", "check_inputs", "engine_dependence", "engine_for"]
