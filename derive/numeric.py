"""Numerically stable numpy implementations of the activation functions.

These are forward functions only: no derivative is written here (derivatives
come from :func:`sympy.diff` and are printed to numpy by :mod:`derive.printing`).
Each works for float32, float64 and complex128 arrays and never overflows:
``sigmoid(-1000.0)`` is 0.0 without a warning, ``softplus(1000.0)`` is 1000.0.

The module imports nothing but numpy, so the code generator can copy these
functions into a standalone module.
"""

import numpy as np


def sigmoid(z):
    """1 / (1 + exp(-z)), evaluated on the side where exp cannot overflow."""
    z = np.asarray(z)
    positive = z.real >= 0
    e = np.exp(np.where(positive, -z, z))
    return np.where(positive, 1 / (1 + e), e / (1 + e))


def softplus(z):
    """log(1 + exp(z)) as max(z, 0) + log1p(exp(-|z|)); analytic off the real axis."""
    z = np.asarray(z)
    positive = z.real >= 0
    return np.where(positive, z, 0) + np.log1p(np.exp(np.where(positive, -z, z)))


def relu(z):
    """max(z, 0), comparing real parts (the complex path is not analytic at the kink)."""
    z = np.asarray(z)
    return np.where(z.real > 0, z, 0)


def leaky_relu(z, slope):
    """z where z > 0, slope * z elsewhere."""
    z = np.asarray(z)
    return np.where(z.real > 0, z, slope * z)


def heaviside(z, at_zero):
    """Step function: 1 where z > 0, 0 where z < 0, ``at_zero`` at 0."""
    z = np.asarray(z).real
    return np.where(z > 0, 1.0, np.where(z < 0, 0.0, at_zero))


def softmax(z):
    """Softmax along the last axis, shifted by the row maximum so exp cannot overflow."""
    z = np.asarray(z)
    shifted = z - z.real.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    """log(softmax(z)) along the last axis, without forming softmax (no log(0))."""
    z = np.asarray(z)
    shifted = z - z.real.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def xlogy(x, y):
    """x * log(y) with the convention 0 * log(0) = 0 (used by cross-entropy)."""
    x = np.asarray(x)
    y = np.asarray(y)
    safe = np.where(x == 0, 1, y)
    return np.where(x == 0, 0 * safe, x * np.log(safe))
