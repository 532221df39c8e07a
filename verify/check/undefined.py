"""Where a network is not defined: no verdict is given on NaN, the place is named instead.

A custom activation may be undefined on the data (``sqrt(x)`` or ``log(x)`` at a
negative net input) or overflow (``x**99999``); a loss may take the log of an
output that is exactly 0.  Then the loss, the reference gradient or a finite
difference is not a number, and comparing it with anything says nothing.
:func:`explain` finds the first place, in the order the forward and backward
passes compute them, where the numbers stop being finite, and says so in one
line a user can act on::

    sqrt(x) in layer 1 is not real at net input -0.31 (example 0, unit 2)

The forward values come from the activations' own numpy functions (those of
the records, or printed from a custom expression), the derivative from the
record's ``derivative_expr`` printed to numpy; nothing here is an oracle.
"""

from __future__ import annotations

import numpy as np

from derive import InputError, Network
from derive.codegen.printing import activation_derivative, activation_forward


def _first(bad: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(bad)[0])


def _what(value) -> str:
    return "overflows" if np.isinf(value) else "is not real"


def forward_problem(network: Network, params: dict, X: np.ndarray) -> str | None:
    """The first net input or activation that is not finite, said in words; None when the forward pass is finite."""
    A = X
    for layer, activation in enumerate(network.activations, start=1):
        with np.errstate(all="ignore"):
            Z = A @ params["W%d" % layer].T
            if network.bias:
                Z = Z + params["b%d" % layer]
        if not np.isfinite(Z).all():
            n, j = _first(~np.isfinite(Z))
            return ("the net input of layer %d overflows (example %d, unit %d): the parameters or the layer's inputs "
                    "are too large" % (layer, n, j))
        with np.errstate(all="ignore"):
            A = activation_forward(activation)(Z)
        if not np.isfinite(A).all():
            n, j = _first(~np.isfinite(A))
            return ("%s in layer %d %s at net input %.3g (example %d, unit %d)"
                    % (activation.name, layer, _what(A[n, j]), Z[n, j], n, j))
    return None


def _loss_problem(network: Network, params: dict, X: np.ndarray, T: np.ndarray) -> str | None:
    A = X
    for layer, activation in enumerate(network.activations, start=1):
        Z = A @ params["W%d" % layer].T + (params["b%d" % layer] if network.bias else 0)
        A = activation_forward(activation)(Z)
    with np.errstate(all="ignore"):
        terms = network.loss.numpy(A, T)
    if np.isfinite(terms).all():
        return None
    n, k = _first(~np.isfinite(terms))
    return ("the %s loss is not finite at output %.3g with target %.3g (example %d, output unit %d)"
            % (network.loss.name, A[n, k], T[n, k], n, k))


def _derivative_problem(network: Network, params: dict, X: np.ndarray) -> str | None:
    A = X
    for layer, activation in enumerate(network.activations, start=1):
        Z = A @ params["W%d" % layer].T + (params["b%d" % layer] if network.bias else 0)
        A = activation_forward(activation)(Z)
        if not activation.elementwise:
            continue
        with np.errstate(all="ignore"):
            slope = np.broadcast_to(activation_derivative(activation)(Z), Z.shape)
        if not np.isfinite(slope).all():
            n, j = _first(~np.isfinite(slope))
            return ("the derivative of %s in layer %d %s at net input %.3g (example %d, unit %d): the gradient is "
                    "undefined there" % (activation.name, layer, "is infinite" if np.isinf(slope[n, j]) else
                                         "is not real", Z[n, j], n, j))
    return None


def explain(network: Network, params: dict, X: np.ndarray, T: np.ndarray, what: str) -> str:
    """Why ``what`` (``"the reference gradient"``) is not finite at this point: the first place it stops being."""
    with np.errstate(all="ignore"):
        found = (forward_problem(network, params, X) or _loss_problem(network, params, X, T)
                 or _derivative_problem(network, params, X))
    return found or "%s is not finite at these parameters and data" % what


def require_finite(values, network: Network, params: dict, X: np.ndarray, T: np.ndarray, what: str) -> None:
    """Raise one :class:`InputError` line saying where, unless every value (a number or a dict of arrays) is finite.

    Raises:
        InputError: "no verdict: <what> is not finite: <the place>".
    """
    arrays = values.values() if isinstance(values, dict) else [values]
    if all(np.isfinite(np.asarray(array)).all() for array in arrays):
        return
    place = explain(network, params, X, T, what)
    raise InputError("no verdict: %s is not finite, because %s; check where the network is defined, or give other "
                     "data (--data) or parameters (--params)" % (what, place))


__all__ = ["explain", "forward_problem", "require_finite"]
