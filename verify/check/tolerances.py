"""Tolerances for comparing gradients, kept as data keyed by dtype.

A gradient entry ``c`` passes against its reference value ``s`` when

    |c - s| <= rtol * |s| + floor * scale + loss_floor * |E|

where ``scale`` is the largest ``|s|`` of the same parameter array (``W1``,
``b2``, ...) and ``E`` the loss.  Three parts, because none alone works:

* ``rtol`` is a *per-entry* relative tolerance, so a 1% error in any single
  entry fails, however many entries there are.  A comparison of global norms
  (``||c - s|| / ||s||``) cannot do this: one wrong entry among 79,510 moves the
  norm by about 1% / sqrt(79,510), less than the noise of float32.
* ``floor`` keeps entries that are sums with cancellation (a weight whose
  gradient is nearly zero because examples pull both ways) from failing on
  rounding noise, which is proportional to the size of the terms, not to the
  entry.  Scaling it by the parameter's largest entry, not by the global norm,
  keeps a layer with small gradients (the first layer of a deep sigmoid
  network) from hiding behind a layer with large ones.
* ``loss_floor`` covers the point where the whole gradient is rounding noise
  (a stationary point: zero weights and uniform targets), where the largest
  entry is itself noise.  The noise of a gradient entry is about eps times the
  sum of its terms, and those terms are as large as the loss's; a few ulps of
  ``|E|`` bound it.

Defaults, by the dtype of the gradient being checked (the reference is always
computed in float64 from the same parameters):

* float64: ``rtol = 1e-9``, ``floor = 1e-10`` and ``loss_floor = 64 ulp``:
  tight, since two correct float64 implementations agree to ~1e-14 except
  under cancellation;
* float32: ``rtol = 2048 ulp`` (2.4e-4), ``floor = 512 ulp`` (6.1e-5) and
  ``loss_floor = 32 ulp``, in units in the last place of float32.  Measured
  on 784-100-10 and 784-512-512-10 networks (sigmoid, tanh/softmax, relu,
  softplus; weights of scale 0.05 and 0.5; batches of 8 and 256), a correct
  float32 backprop differs from the float64 reference by at most 325 ulp in
  entries above a tenth of their parameter's largest, 43 ulp of that largest
  entry, and 2.3 ulp of |E|: the defaults leave a margin of 6 to 14.

A 1% error (1e-2 relative) is far above either ``rtol``, so it fails in any
entry whose reference is at least ``floor / 1e-2`` of its parameter's largest
entry (1e-8 in float64, 0.6% in float32).

Finite differences carry their own error, so they are compared with the
tolerance of their method (:data:`FD_TOLERANCES`) plus twice the error that the
method estimates for each value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from derive.errors import InputError


@dataclass(frozen=True)
class Tolerance:
    """``|c - s| <= rtol * |s| + floor * max|s of the parameter| + loss_floor * |E|``.

    Attributes:
        rtol: Relative tolerance per entry.
        floor: Absolute floor, as a fraction of the parameter's largest reference entry.
        loss_floor: Absolute floor, as a fraction of the loss |E|.
        ulps: The dtype whose ulps the values were given in, if any (for display).
    """

    rtol: float
    floor: float
    loss_floor: float = 0.0
    ulps: str | None = None

    @classmethod
    def in_ulps(cls, dtype, rtol: float, floor: float, loss_floor: float) -> "Tolerance":
        """A tolerance given in units in the last place of ``dtype``."""
        eps = float(np.finfo(dtype).eps)
        return cls(rtol * eps, floor * eps, loss_floor * eps, np.dtype(dtype).name)

    def allowed(self, reference: np.ndarray, scale: float, loss: float = 0.0) -> np.ndarray:
        """The allowed absolute error of each entry."""
        return self.rtol * np.abs(reference) + self.floor * scale + self.loss_floor * abs(loss)

    def magnitude(self, reference: np.ndarray, scale: float, loss: float = 0.0) -> np.ndarray:
        """``|s|``, floored where the absolute terms dominate: relative errors divide by this.

        An error passes about when ``error / magnitude <= rtol``, so reported
        relative errors read directly against ``rtol``.
        """
        absolute = self.floor * scale + self.loss_floor * abs(loss)
        return np.maximum(np.abs(reference), absolute / self.rtol if self.rtol else absolute) + 1e-300

    def describe(self) -> str:
        """``rtol 1e-09, floor 1e-10 x max|g|, 1.4e-14 x |E|`` (with ulps where given in ulps)."""
        if self.ulps:
            eps = float(np.finfo(self.ulps).eps)
            return "rtol %.0f ulp %s (%.2g), floor %.0f ulp (%.2g) x max|g| per parameter + %.0f ulp x |E|" % (
                self.rtol / eps, self.ulps, self.rtol, self.floor / eps, self.floor, self.loss_floor / eps)
        return "rtol %.2g, floor %.2g x max|g| per parameter + %.2g x |E|" % (self.rtol, self.floor, self.loss_floor)

    def to_dict(self) -> dict:
        """Plain data."""
        return asdict(self)


_EPS64 = float(np.finfo(np.float64).eps)

#: Default tolerance for a candidate gradient, by its dtype.
DEFAULT_TOLERANCES: dict[np.dtype, Tolerance] = {
    np.dtype(np.float64): Tolerance(rtol=1e-9, floor=1e-10, loss_floor=64 * _EPS64),
    np.dtype(np.float32): Tolerance.in_ulps(np.float32, rtol=2048, floor=512, loss_floor=32),
}

#: Tolerance of each finite-difference method against an exact gradient (float64 evaluation).
#: The method's own error estimate is added to it, twice over.
FD_TOLERANCES: dict[str, Tolerance] = {
    "complex": Tolerance(rtol=1e-9, floor=1e-10, loss_floor=64 * _EPS64),
    "richardson": Tolerance(rtol=1e-7, floor=1e-9, loss_floor=64 * _EPS64),
    "central": Tolerance(rtol=1e-5, floor=1e-7, loss_floor=64 * _EPS64),
}


def tolerance_for(dtype, rtol: float | None = None, floor: float | None = None) -> Tolerance:
    """The default tolerance for ``dtype``, with ``rtol`` / ``floor`` overriding it (``loss_floor`` stays).

    Raises:
        InputError: no default for ``dtype`` (only float32 and float64 have one),
            or a negative override.
    """
    dtype = np.dtype(dtype)
    if dtype not in DEFAULT_TOLERANCES:
        raise InputError("no default gradient tolerance for dtype %s; use one of: %s"
                         % (dtype, ", ".join(d.name for d in DEFAULT_TOLERANCES)))
    for name, value in (("rtol", rtol), ("floor", floor)):
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise InputError("%s must be a finite number >= 0, got %r" % (name, value))
    default = DEFAULT_TOLERANCES[dtype]
    if rtol is None and floor is None:
        return default
    return Tolerance(default.rtol if rtol is None else float(rtol), default.floor if floor is None else float(floor),
                     default.loss_floor)
