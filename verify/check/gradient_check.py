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
tolerance (:mod:`verify.check.tolerances`) that a single wrong entry among 79,510
cannot hide under.  Finite differences cost evaluations per entry, so they run
only where they decide something: at the worst entries (where, if candidate and
reference disagree, they say which one is right), at a few random entries per
parameter, and along a few seeded random directions (which test every entry at
once).  The report (:class:`verify.check.check_report.CheckReport`) names the source that
takes part in every disagreement.

Kinks and saturation are diagnosed, not guessed at (:mod:`verify.check.kinks_and_saturation`).
When the candidate is wrong, the report says what kind of bug fits its numbers
(:mod:`verify.check.diagnosis`), and when it is right under another loss
convention, which one (:mod:`verify.check.other_conventions`).  The steps every
check shares are in :mod:`verify.check.pipeline`.
"""

from __future__ import annotations

from typing import Callable

from derive import InputError, Network

from . import finite_differences as fd
from .other_conventions import find_convention
from .layouts import Layout
from .modules import module_for as reference_module  # the symbolic reference: one module per network, cached
from .pipeline import CheckOptions, Run, check_counts, check_inputs, engine_dependence  # noqa: F401 (re-exported)
from .check_report import CheckReport

FD_METHODS = ("auto",) + fd.METHODS


def is_analytic(network: Network) -> bool:
    """Whether complex-step differentiation is exact for this network's loss (no kinks, no L1)."""
    return all(a.analytic for a in network.activations) and not network.l1


def check_gradients(network: Network, params: dict, X, T, gradient_fn: Callable | None = None, *,
                    rtol: float | None = None, floor: float | None = None, fd_method: str = "auto",
                    samples: int = 3, worst: int = 5, directions: int = 2, seed: int = 0, diagnose: bool = True,
                    candidate_name: str | None = None, parameter_names: dict | None = None,
                    layout: Layout | None = None) -> CheckReport:
    """Check a gradient against the symbolic reference and finite differences.

    Args:
        network: The network the gradient is of.
        params: Parameter dict (float64 or float32; the dtype picks the default tolerance).
        X: Inputs ``(N, n_0)``.
        T: Targets ``(N, n_L)``, or integer class labels ``(N,)`` (given to
            ``gradient_fn`` as they are; one-hot rows for the reference).
        gradient_fn: ``gradient_fn(params, X, T) -> dict`` to check (or one of
            the other calling forms of :mod:`verify.check.sources`); ``None``
            checks the hand-written engine.
        rtol: Per-entry relative tolerance (default by dtype, :mod:`verify.check.tolerances`:
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
        layout: How ``gradient_fn`` takes and returns its arrays when it is not
            the toolkit's way (:class:`~verify.check.layouts.Layout`: weights
            (in, out), examples as columns, ``dW1`` keys, one call per
            example, an update instead of a gradient).

    Returns:
        A :class:`~verify.check.check_report.CheckReport`; ``report.ok`` is the verdict.

    Raises:
        InputError: invalid network, parameters, data or options; a point where
            the loss or its gradient is not finite (the place is named: no
            verdict on NaN); or a gradient function that raises, exits, or
            returns something that cannot be read as a gradient.
    """
    options = CheckOptions(rtol, floor, seed, worst, diagnose, candidate_name, parameter_names, layout)
    run = Run(network, params, X, T, options)
    method = _choose_method(network, fd_method)
    check_counts(samples=samples, directions=directions)
    module = reference_module(network)
    run.require_finite_loss(module)
    reference = run.reference(module.gradients)
    name, returned = run.candidate(gradient_fn, expected=reference)
    check, dtype, narrowed = run.compare(module, method, returned, reference)
    report = check.run(samples, worst, directions, name, dtype.name)
    return run.finish(report, returned, narrowed, engine=gradient_fn is None,
                      diagnose=lambda: check.diagnose(returned),
                      convention=lambda: find_convention(check, returned, options.layout))


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


def _choose_method(network: Network, fd_method: str) -> str:
    if fd_method not in FD_METHODS:
        raise InputError("unknown fd_method %r; choose one of: %s" % (fd_method, ", ".join(FD_METHODS)))
    if fd_method == "auto":
        return "complex" if is_analytic(network) else "central"
    if fd_method == "complex" and not is_analytic(network):
        raise InputError("fd_method 'complex' needs an analytic network, but %s has a kink or no complex values "
                         "(%s); use 'central' or 'richardson'" % (network.describe(), ", ".join(
                             a.name for a in network.activations if not a.analytic) or "L1 penalty"))
    return fd_method
