"""Oracles for second-order products: H V and G V by differences, independent of the second-order derivation.

A Hessian-vector product is the directional derivative of the gradient,
``H V = d/dt grad E(theta + t V)`` at t = 0, so any gradient differenced
along V gives every entry of H V at once (a few gradient evaluations,
whatever the number of parameters):

* :func:`gradient_differences`: central differences of the **engine's**
  gradients (:class:`verify.Engine`, hand-written, no SymPy derivative in it):
  the third opinion, independent of both the generated code and the
  second-order derivation.  Step ``eps^(1/3)`` (scaled by the parameters and
  V); the error estimate compares the steps h and 2h (truncation grows four
  times, so ``|D(2h) - D(h)| / 3`` estimates it) and adds rounding.
* :func:`complex_step_product`: ``Im grad(theta + i h V) / h`` through the
  **generated gradients** (first order, printed from ``sympy.diff``), exact to
  rounding where the network is analytic: the second opinion.

The generalized Gauss-Newton product ``G V = J^T H_out J V`` (plus the
penalty's Hessian) is not the derivative of a gradient, so
:func:`gauss_newton_differences` builds it from its factors, each by the
engine: ``J V`` by central differences of the engine's forward pass up to the
split point (Z_L for a loss made for its output activation, else A_L),
``H_out (J V)`` by central differences of the loss record's hand-written
``dl/do`` (or ``dl/dz``), and ``J^T w`` as the engine's gradient of an sse
network without penalty whose targets are ``out - w`` (its gradient is
``J^T (out - targets)``).  There is no complex-step opinion for G V.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from derive import Network
from derive.codegen.printing import activation_forward
from verify.engine import Engine

from .kinks_and_saturation import straddled_kinks

#: Complex step along V (V is scaled to largest entry 1 first).
COMPLEX_STEP = 1e-20
_EPS = float(np.finfo(np.float64).eps)


class Product(NamedTuple):
    """A product estimated by one oracle.

    Attributes:
        values: One float64 array per parameter.
        errors: The oracle's error estimate, per entry.
        evaluations: Gradient (or forward) evaluations spent.
        kinks: Units whose kink the differences crossed (the estimate is not a derivative there).
    """

    values: dict
    errors: dict
    evaluations: int
    kinks: list


def _step(params: dict, V: dict) -> tuple[float, float]:
    """(central step h along V, largest |V| entry): h * |V| is eps^(1/3) of the parameters' size."""
    largest_v = max((float(np.max(np.abs(v))) for v in V.values() if v.size), default=0.0) or 1.0
    largest_p = max((float(np.max(np.abs(p))) for p in params.values() if p.size), default=0.0)
    return _EPS ** (1 / 3) * max(1.0, largest_p) / largest_v, largest_v


def _moved(params: dict, V: dict, t) -> dict:
    return {name: value + t * V[name] for name, value in params.items()}


def central_along(function: Callable[[dict], dict], params: dict, V: dict, h: float) -> tuple[dict, dict, int]:
    """``d/dt function(params + t V)`` by central differences at h, its error estimate, and evaluations (4).

    ``function`` returns a dict of arrays.  The error is the truncation
    estimate ``|D(2h) - D(h)| / 3`` plus rounding ``eps max|f| / h``.
    """
    values, errors = {}, {}
    ups, downs = function(_moved(params, V, h)), function(_moved(params, V, -h))
    ups2, downs2 = function(_moved(params, V, 2 * h)), function(_moved(params, V, -2 * h))
    for name in ups:
        D = (np.asarray(ups[name], np.float64) - downs[name]) / (2 * h)
        D2 = (np.asarray(ups2[name], np.float64) - downs2[name]) / (4 * h)
        size = max(float(np.max(np.abs(ups[name]), initial=0.0)), float(np.max(np.abs(downs[name]), initial=0.0)))
        values[name], errors[name] = D, np.abs(D2 - D) / 3 + _EPS * size / h
    return values, errors, 4


def gradient_differences(network: Network, params: dict, X, T, V: dict) -> Product:
    """H V by central differences of the engine's gradients along V (see the module docstring)."""
    engine = Engine(network)
    h, _ = _step(params, V)
    values, errors, count = central_along(lambda p: engine.gradients(p, X, T, check=False), params, V, h)
    kinks = straddled_kinks(network, _moved(params, V, 2 * h), _moved(params, V, -2 * h), X)
    return Product(values, errors, count, kinks)


def complex_step_product(gradients: Callable, params: dict, X, T, V: dict) -> Product:
    """H V as ``Im gradients(params + i h V) / h``: exact to rounding for an analytic network's generated gradients."""
    _, largest_v = _step(params, V)
    h = COMPLEX_STEP / largest_v
    moved = {name: value.astype(np.complex128) + 1j * h * V[name] for name, value in params.items()}
    result = gradients(moved, X.astype(np.complex128), T.astype(np.complex128))
    values = {name: np.imag(value) / h for name, value in result.items()}
    errors = {name: 4 * _EPS * np.abs(value) for name, value in values.items()}
    return Product(values, errors, 1, [])


def split_at_logits(network: Network) -> bool:
    """Whether the Gauss-Newton split is at Z_L (a loss made for its output activation) rather than at A_L."""
    output, loss = network.activations[-1], network.loss
    return loss.output_backward is not None and output.name in (loss.requires_output or ())


def gauss_newton_differences(network: Network, params: dict, X, T, V: dict) -> Product:
    """G V = J^T H_out J V + lambda V_W from the engine's forward pass and the loss's hand-written derivative.

    Computed with the steps h and 2h; the error estimate is a third of their
    difference (truncation grows four times) plus rounding.
    """
    at_logits = split_at_logits(network)
    head = network.replace(activation=list(network.activations[:-1]) + (["linear"] if at_logits else
                                                                         [network.activations[-1]]),
                           loss="sse", reduction="sum", weight_decay=0.0, l1=0.0)
    engine = Engine(head)
    output, loss = network.activations[-1], network.loss
    scale = network.loss_scale(len(X))
    if at_logits:
        forward = activation_forward(output)
        slope = lambda out: scale * loss.output_backward(forward(out), T)  # noqa: E731
    else:
        slope = lambda out: scale * loss.backward(out, T)  # noqa: E731
    out = engine.forward(params, X, check=False)

    def product(h: float) -> dict:
        JV = (engine.forward(_moved(params, V, h), X, check=False)
              - engine.forward(_moved(params, V, -h), X, check=False)) / (2 * h)
        s, _ = _step({"out": out}, {"out": JV})
        HJV = (slope(out + s * JV) - slope(out - s * JV)) / (2 * s)
        return engine.gradients(params, X, out - HJV, check=False)  # J^T HJV

    h, _ = _step(params, V)
    values, doubled = product(h), product(2 * h)
    errors = {name: np.abs(doubled[name] - values[name]) / 3 + 1e3 * _EPS * np.abs(values[name]).max(initial=0.0)
              for name in values}
    if network.weight_decay:
        for name in values:
            if name.startswith("W"):
                values[name] = values[name] + network.weight_decay * V[name]
    kinks = straddled_kinks(network, _moved(params, V, 2 * h), _moved(params, V, -2 * h), X)
    return Product(values, errors, 10, kinks)


__all__ = ["Product", "central_along", "complex_step_product", "gauss_newton_differences", "gradient_differences",
           "split_at_logits"]
