"""Numerically stable numpy implementations of the activation functions.

These are forward functions only.  The activation records
(:mod:`derive.model.activations`) name them as their numpy forward and as the
helper the code printer calls for their SymPy function; no derivative is
written here.  Each works for float32, float64 and complex128 arrays and never
overflows: ``sigmoid(-1000.0)`` is 0.0 without a warning, ``softplus(1000.0)``
is 1000.0.  Comparisons look at real parts, so on complex input each is the
piecewise-analytic continuation that complex-step differentiation needs.

The module imports nothing but numpy, so the code generator can copy these
functions into a standalone module.
"""

import numpy as np


def sigmoid(z, out=None, shift=None):
    """1 / (1 + exp(-z)), overflow-free and accurate to a few ulps everywhere; with ``shift``, of ``z + shift``.

    Computed as written wherever exp(-z) cannot overflow: each of its three
    operations is accurate to an ulp, so the result is too, in both tails.
    Only when some entry is left of z = -700 does the whole array go through
    (1 + tanh(z/2)) / 2 instead (one tanh, cannot overflow), with the entries
    left of z = -4 recomputed as exp(z) / (1 + exp(z)), where exp(z) cannot
    overflow (the tanh form's absolute error of about 1e-16 is a large
    relative error where the sigmoid is tiny).  Both forms are analytic off
    the real axis.  A small array is computed through new arrays (for a few
    entries, numpy's allocation costs less than writing in place), a large
    one in ``out``, which may be ``z`` itself (the generated code computes A1
    in Z1's memory).  ``shift`` (a bias, broadcast against z) is added in the
    pass that negates z anyway: ``sigmoid(Z1, out=Z1, shift=b1)`` is
    ``sigmoid(Z1 + b1)`` with one pass over Z1 fewer.  The function is
    self-contained: the code generator copies its source.
    """
    z = np.asarray(z)
    negated = None  # -z (-(z + shift)) in out, once it is computed
    if shift is not None:
        negated = np.subtract(-np.asarray(shift), z, out=out)
        lowest = -np.maximum.reduce(negated.real, axis=None, initial=0.0)
    elif 0 < z.size <= 64:  # a few entries: Python's min is cheaper than a numpy reduction
        lowest = min(z.real.ravel().tolist())
    else:
        lowest = np.minimum.reduce(z.real, axis=None, initial=0.0)
    if lowest >= -700.0:  # False for NaN, which the second form handles too
        if negated is None:
            if out is None:
                return 1.0 / (1.0 + np.exp(-z))
            if z.size <= 1024:
                return np.divide(1.0, 1.0 + np.exp(-z), out=out)
            negated = np.negative(z, out=out)
        np.exp(negated, out=negated)
        negated += 1
        return np.divide(1.0, negated, out=negated)  # np.reciprocal gives the same bits, at half the speed
    if negated is not None:  # z + shift, through the overflow-free form below
        z = out = np.negative(negated, out=negated)
    if out is None:
        out = np.empty(z.shape, np.result_type(z, 0.5))
    tail = z.real < -4.0
    exp_tail = np.exp(z[tail])
    result = np.multiply(z, 0.5, out=out)
    np.tanh(result, out=result)
    result *= 0.5
    result += 0.5
    result[tail] = exp_tail / (1 + exp_tail)
    return result


def normal_cdf(z):
    """Phi(z) = erfc(-z/sqrt(2))/2, the standard normal distribution function, accurate to an ulp or two everywhere.

    erfc keeps the left tail's tiny values accurate where 1 + erf would round to 0.  numpy has no erf, so each
    entry goes through ``math.erfc`` (real arrays only: it has no complex extension here, so a network using it
    is checked with real finite differences, not the complex step).  Self-contained: the code generator copies its
    source.
    """
    import math

    z = np.asarray(z)
    if z.dtype.kind == "c":
        raise TypeError("normal_cdf takes real arrays only (math.erfc has no complex values)")
    erfc = np.frompyfunc(lambda x: 0.5 * math.erfc(-x * 0.7071067811865476), 1, 1)
    return np.asarray(erfc(z), dtype=np.result_type(z, 0.5))


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


def elu(z, alpha):
    """z where z > 0, alpha * (exp(z) - 1) elsewhere; exp never sees a positive argument."""
    z = np.asarray(z)
    positive = z.real > 0
    return np.where(positive, z, alpha * np.expm1(np.where(positive, 0, z)))


def heaviside(z, at_zero):
    """Step function: 1 where z > 0, 0 where z < 0, ``at_zero`` at 0."""
    z = np.asarray(z).real
    return np.where(z > 0, 1.0, np.where(z < 0, 0.0, at_zero))


def softmax(z):
    """Softmax along the last axis, shifted so that exp cannot overflow.

    A real array is shifted by its largest entry, one number for every row
    (a row maximum is a reduction along a short axis, the slowest kind in
    numpy), and each row's total is a matrix-vector product with ones.  That
    is exact as long as no row's largest entry lies far below the array's:
    where some row's total comes out under 1e-10 (its own maximum more than
    about 23 below the array's, or a NaN or infinity anywhere) every row is
    shifted by its own maximum instead, as complex arrays always are.  Above
    that bound an entry computed through the common shift loses accuracy only
    if its probability is below 1e-291, where the row-wise shift is already
    near the subnormal range.
    """
    z = np.asarray(z)
    if z.dtype.kind == "f" and z.size:
        e = np.subtract(z, np.maximum.reduce(z, axis=None))
        np.exp(e, out=e)
        totals = e @ np.ones(z.shape[-1], z.dtype)
        if np.minimum.reduce(totals, axis=None) >= 1e-10:
            e /= totals[..., None]
            return e
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
