"""Checking a Hessian-vector (or Gauss-Newton-vector) product someone wrote, every entry, three ways.

``check_hvp(network, params, X, T, hvp_fn, V)`` compares, like
:func:`verify.check_gradients`, three independent sources:

* the **candidate**: ``hvp_fn(params, X, T, V)``, a dict shaped like ``params``
  (a parameter named ``network`` receives the network; the list form works as
  for gradients, :mod:`verify.check.sources`);
* the **symbolic reference**: ``hvp`` (or ``gnvp``) of the module that
  :mod:`derive` prints from the R-operator passes (:mod:`derive.symbolic.second_order`);
* **finite differences** (:mod:`verify.check.product_oracles`): of the
  engine's gradients along V for H V, of the engine's forward pass and the
  loss's hand-written derivative for G V.  A product is one directional
  derivative, so differences give *every* entry at once, and all three are
  compared at every entry.

Where the network is analytic, complex-step differences through the
generated *gradients* (exact to rounding) are a second opinion on the
reference.  The report is a :class:`~verify.check.check_report.CheckReport`, read
out as for gradients; when the candidate is wrong, the diagnosis says which
known second-order bug fits (:mod:`verify.check.hvp_diagnosis`).

V defaults to a seeded random direction (Gaussian, unit norm).  Where a unit
sits on a kink (ReLU at 0), entries that depend on it are excused, as for
gradients; differences that cross a kink are flagged, not failed.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from derive import InputError, Network, derive
from derive.codegen.second_order import BLOCK_BYTES
from derive.limits import check_memory
from derive.symbolic.second_order import second_order

from . import finite_differences as fd
from . import product_oracles as oracles
from .kinks_and_saturation import describe_entry
from .comparison import entry_verdict, rank
from .gradient_check import check_inputs, is_analytic
from .hvp_diagnosis import diagnose_product
from .layouts import Layout
from .modules import module_for
from .pipeline import CheckOptions, Run
from .check_report import Agreement, CheckReport, EntryFinding
from .tolerances import FD_TOLERANCES

#: kind -> (generated function, what it is called, the finite-difference method's name).
KINDS = {"hessian": ("hvp", "Hessian-vector product", "gradient_differences"),
         "gauss_newton": ("gnvp", "Gauss-Newton-vector product", "gauss_newton_differences")}


def second_order_module(network: Network):
    """The generated module with ``hvp``, ``gnvp`` and ``hessian`` for ``network`` (:func:`~verify.check.modules.module_for`)."""
    return module_for(network, order=2)


def check_direction(network: Network, V, dtype=np.float64, what: str = "V") -> dict:
    """``V`` as a dict of float64 arrays with exactly the parameters' keys and shapes.

    Raises:
        InputError: not a dict, a missing or unexpected key, a wrong shape, or an entry that is not a finite real.
    """
    expected = network.param_shapes()
    if not isinstance(V, dict):
        raise InputError("%s must be a dict of arrays keyed %s, like the parameters; got a %s"
                         % (what, ", ".join(expected), type(V).__name__))
    for key in expected:
        if key not in V:
            raise InputError("%s has no %r; expected one array per parameter: %s" % (what, key, ", ".join(expected)))
    for key in V:
        if key not in expected:
            raise InputError("%s has an unexpected key %r; expected exactly the keys %s"
                             % (what, key, ", ".join(expected)))
    checked = {}
    for key, shape in expected.items():
        value = np.asarray(V[key])
        if value.shape != shape:
            raise InputError("%s[%r] has shape %s; expected %s, the shape of parameter %s"
                             % (what, key, value.shape, shape, key))
        if value.dtype.kind not in "biuf" or not np.all(np.isfinite(value)):
            raise InputError("%s[%r] must hold finite real numbers (dtype %s)" % (what, key, value.dtype))
        checked[key] = value.astype(np.float64)
    return checked


def check_hvp(network: Network, params: dict, X, T, hvp_fn: Callable, V: dict | None = None,
              kind: str = "hessian", *, rtol: float | None = None, floor: float | None = None, worst: int = 5,
              seed: int = 0, diagnose: bool = True, candidate_name: str | None = None,
              parameter_names: dict | None = None, layout: Layout | None = None) -> CheckReport:
    """Check a Hessian- or Gauss-Newton-vector product against the derivation and finite differences.

    Args:
        network: The network whose loss the product is of.
        params: Parameter dict (float64 or float32; the dtype picks the default tolerance).
        X: Inputs ``(N, n_0)``.
        T: Targets ``(N, n_L)``.
        hvp_fn: ``hvp_fn(params, X, T, V) -> dict`` to check.
        V: The direction, a dict shaped like ``params`` (default: a seeded random unit direction).
        kind: ``"hessian"`` (H V) or ``"gauss_newton"`` (the generalized Gauss-Newton product G V).
        rtol: Per-entry relative tolerance (default by dtype, :mod:`verify.check.tolerances`).
        floor: Absolute floor as a fraction of each parameter's largest entry.
        worst: Worst entries reported.
        seed: Seed of the default direction.
        diagnose: When the candidate is wrong, test the known second-order bug patterns.
        candidate_name: How the report names the candidate.
        parameter_names: Other names of the parameters, shown beside them.
        layout: How ``hvp_fn`` takes and returns its arrays (V in the parameters' layout), when it is not the
            toolkit's way (:class:`~verify.check.layouts.Layout`).

    Returns:
        A :class:`~verify.check.check_report.CheckReport`; ``report.ok`` is the verdict.

    Raises:
        InputError: invalid network, parameters, data, direction or options; a
            direction along which the product is zero; a point where it is not
            finite; a second derivative SymPy cannot give; or a product function
            that raises, exits, or returns something that cannot be read.
    """
    if kind not in KINDS:
        raise InputError("unknown kind %r; choose one of: %s" % (kind, ", ".join(KINDS)))
    run = Run(network, params, X, T, CheckOptions(rtol, floor, seed, worst, diagnose, candidate_name,
                                                   parameter_names, layout))
    function, what, method = KINDS[kind]
    module = second_order_module(network)
    given = V is not None
    V = check_direction(network, V) if given else fd.random_directions(run.p64, 1, seed)[0]
    reference = run.reference(getattr(module, function), V, what="the reference %s" % what)
    _require_moving(network, V, reference, what)
    name, returned = run.candidate(hvp_fn, direction=V, what="%s function" % function, expected=reference)
    check, checked_dtype, narrowed = run.compare(module, "central", returned, reference)
    differences = (oracles.gradient_differences if kind == "hessian" else oracles.gauss_newton_differences)(
        network, run.p64, run.X64, run.T64, V)
    fd_tolerance = FD_TOLERANCES["central"]
    agreements = [check.agreement()] + [_against(check, differences, fd_tolerance, first, values)
                                        for first, values in (("candidate", check.candidate), ("reference", reference))]
    evaluations = differences.evaluations
    if kind == "hessian" and is_analytic(network):
        opinion = oracles.complex_step_product(module.gradients, run.p64, run.X64, run.T64, V)
        agreements.append(_against(check, opinion, FD_TOLERANCES["complex"], "reference", reference, "cs"))
        evaluations += opinion.evaluations
    report = check.report(name, checked_dtype.name, agreements, _worst(check, differences, fd_tolerance, worst), [],
                          evaluations, method=method, fd_method=method, title="%s%s check" % (what[0].upper(), what[1:]),
                          evaluated="gradient evaluations" if kind == "hessian" else "forward and gradient evaluations",
                          quantity="HV" if kind == "hessian" else "GV")
    report.kinks = list(dict.fromkeys(report.kinks + [hit.explain(network) for hit in differences.kinks[:3]]))[:10]
    report.notes = ["direction V: %s" % ("given" if given else "seeded random unit direction (seed %d)" % seed)]
    report.notes += second_order(derive(network)).notes
    if kind == "gauss_newton":
        report.notes.append("G V splits at %s; no complex-step opinion (G V is not the derivative of a gradient)"
                            % ("Z%d" % network.depth if oracles.split_at_logits(network) else "A%d" % network.depth))
    return run.finish(report, returned, narrowed, engine=True, quantity="products",
                      diagnose=lambda: diagnose_product(check, kind, V, returned))


class ZeroProduct(InputError):
    """The product is zero along the direction: a function returning zeros would pass, so there is no verdict.

    A property run, which draws its own points, skips such a draw; ``backprop check`` says it in one line.
    """


def _require_moving(network: Network, V: dict, reference: dict, what: str) -> None:
    """Refuse a direction along which the product is zero: a function returning zeros would pass.

    Raises:
        ZeroProduct: V is zero, or zero on every parameter the product depends on.
    """
    if not any(np.any(v) for v in V.values()):
        raise ZeroProduct("the direction V is zero everywhere: the %s is then zero whatever the code computes; give "
                         "a direction with nonzero entries (or none: a random one)" % what)
    if not any(np.any(r) for r in reference.values()):
        raise ZeroProduct("the %s is exactly zero along this direction V (it is zero on every parameter the product "
                         "depends on at this point): zeros would pass; give another direction" % what)


def assert_hvp_matches(network: Network, params: dict, X, T, hvp_fn: Callable, V: dict | None = None,
                       **options) -> CheckReport:
    """:func:`check_hvp`, raising ``AssertionError`` with the full report when it fails."""
    __tracebackhide__ = True
    report = check_hvp(network, params, X, T, hvp_fn, V, **options)
    if not report.ok:
        raise AssertionError("products do not match\n%s" % report)
    return report


def dense_hessian(network: Network, params: dict, X, T) -> np.ndarray:
    """The generated dense Hessian (float64), refused up front when it is too large.

    Rows and columns in the order of the parameters' keys, each flattened
    row-major (the generated ``hessian``'s order).

    Raises:
        InputError: bad inputs, or a matrix (and the arrays of one block of its columns,
            :data:`~derive.codegen.second_order.BLOCK_BYTES`) above the memory limit
            (:func:`derive.limits.check_memory`), with the estimate.
    """
    params, X, T, _ = check_inputs(network, params, X, T)
    count = network.n_params
    what = "a dense %s x %s Hessian of %s" % (format(count, ","), format(count, ","), network.describe())
    check_memory(8.0 * count * count + BLOCK_BYTES, what, "check products H V instead (check_hvp, backprop check --hvp)")
    return second_order_module(network).hessian({k: v.astype(np.float64) for k, v in params.items()},
                                                 X.astype(np.float64), T.astype(np.float64))


def _allowed(check, oracle, tolerance, name) -> np.ndarray:
    return tolerance.allowed(check.reference[name], check.scales[name], check.loss_value) + 2 * oracle.errors[name]


def _against(check, oracle, tolerance, first: str, values: dict, second: str = "fd") -> Agreement:
    """``values`` (candidate or reference) against an oracle's product at every entry; kink-crossings flagged."""
    entries = sum(v.size for v in values.values())
    if oracle.kinks:
        return Agreement(first, second, 0, 0, 0, entries, 0.0, 0.0)
    disagreements, rel, ratio = 0, 0.0, 0.0
    for name, value in values.items():
        allowed = _allowed(check, oracle, tolerance, name) + (check.allowed[name] if first == "candidate" else 0)
        error = np.abs(value - oracle.values[name])
        keep = ~check.affected[name]
        disagreements += int(((error > allowed) & keep).sum()) if name not in check.returned_shapes else value.size
        size = tolerance.magnitude(check.reference[name], check.scales[name], check.loss_value)
        rel = max(rel, float((error / size)[keep].max(initial=0.0)))
        ratio = max(ratio, float((error / np.maximum(allowed, 1e-300))[keep].max(initial=0.0)))
    return Agreement(first, second, entries, 0, disagreements, 0, rel, ratio)


def _worst(check, oracle, tolerance, count: int) -> list[EntryFinding]:
    findings = []
    for name, index in rank(check.errors, check.allowed, count):
        c, s, f = (float(source[name][index]) for source in (check.candidate, check.reference, oracle.values))
        allow, f_allow = float(check.allowed[name][index]), float(_allowed(check, oracle, tolerance, name)[index])
        flagged = bool(oracle.kinks)
        verdict, note = entry_verdict(abs(c - s) <= allow, abs(f - s) <= f_allow, abs(f - c) <= f_allow + allow,
                                       oracle.kinks if flagged else [], bool(check.affected[name][index]))
        magnitude = check.tolerance.magnitude(s, check.scales[name], check.loss_value)
        findings.append(EntryFinding(fd.format_entry((name, index)), describe_entry(check.network, (name, index)),
                                     c, s, f, float(oracle.errors[name][index]), abs(c - s), float(abs(c - s) / magnitude),
                                     allow, verdict, note))
    return findings


__all__ = ["KINDS", "ZeroProduct", "assert_hvp_matches", "check_direction", "check_hvp", "dense_hessian", "second_order_module"]
