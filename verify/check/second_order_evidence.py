"""The dense Hessian a report shows, checked here and handed over as plain data.

For ``backprop report SPEC --order 2`` with a worked example of a small
network, :func:`hessian_data` evaluates the generated ``hessian`` at the
example's starting point and checks it against an oracle that shares nothing
with it: central differences of the hand-written engine's gradients, one
column per parameter, ``H[:, e] ~ (g(p + h e) - g(p - h e)) / 2h``.  The
step ``h = 1e-5`` balances the truncation error (∝ h², third derivatives)
against rounding (∝ ε |g| / h): both near 1e-10 for the lecture's numbers.
Its symmetry and eigenvalues come along (``derive`` never imports
``verify``, so the report receives all of it as lists and floats).
"""

from __future__ import annotations

import numpy as np

from verify.engine import Engine

from .finite_differences import all_entries, format_entry
from .modules import module_for

#: The step of the central differences of the engine's gradients.
GRADIENT_STEP = 1e-5


def hessian_data(derivation, params: dict, X: np.ndarray, T: np.ndarray) -> dict:
    """The generated dense Hessian at ``params``, checked against differences of the engine's gradients.

    Args:
        derivation: A :class:`derive.Derivation` (its ``numpy_module(order=2).hessian`` is evaluated).
        params, X, T: The point and the data.

    Returns:
        ``{"parameters": [labels], "order": [names], "matrix": [[...]], "finite_differences":
        {"method", "step", "max_difference", "largest"}, "asymmetry", "eigenvalues", "zero"}``:
        ``zero`` is the magnitude below which an eigenvalue is rounding.
    """
    network = derivation.network
    params = {name: np.asarray(params[name], dtype=np.float64) for name in network.param_shapes()}
    H = np.asarray(module_for(network, order=2).hessian(params, X, T), dtype=np.float64)
    differences = gradient_differences(Engine(network), params, X, T, GRADIENT_STEP)
    eigenvalues = np.linalg.eigvalsh((H + H.T) / 2)
    largest = float(np.abs(H).max())
    return {"parameters": [format_entry(entry) for entry in all_entries(params)], "order": list(params),
            "matrix": H.tolist(),
            "finite_differences": {"method": "central differences of the hand-written engine's gradients",
                                   "step": GRADIENT_STEP, "max_difference": float(np.abs(H - differences).max()),
                                   "largest": largest},
            "asymmetry": float(np.abs(H - H.T).max()), "eigenvalues": eigenvalues.tolist(),
            "zero": 1e3 * np.finfo(np.float64).eps * max(largest, 1e-300) * len(H)}


def gradient_differences(engine: Engine, params: dict, X: np.ndarray, T: np.ndarray, step: float) -> np.ndarray:
    """The Hessian as central differences of ``engine``'s gradients: column e moves parameter entry e by ±step."""
    columns = []
    for name, index in all_entries(params):
        moved = []
        for sign in (1, -1):
            point = {key: value.copy() for key, value in params.items()}
            point[name][index] += sign * step
            gradients = engine.gradients(point, X, T)
            moved.append(np.concatenate([np.ravel(gradients[key]) for key in params]))
        columns.append((moved[0] - moved[1]) / (2 * step))
    return np.column_stack(columns)
