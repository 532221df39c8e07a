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
from .report import CheckReport
from .sources import Returned, call_gradient_function, function_name
from .modules import module_for as reference_module  # the symbolic reference: one module per network, cached
from .tolerances import tolerance_for
from .comparison import Check

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
    params, X, T, dtype = check_inputs(network, params, X, T)
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

    check = Check(network, p64, X64, T64, module, method, tolerance, seed)
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


def check_inputs(network, params, X, T):
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
