"""Finite differences on the parameter-dict convention: the third oracle.

Every function here differentiates a scalar ``loss_fn(params) -> float`` whose
``params`` is the dict ``{"W1": array, "b1": array, ...}``; nothing here knows
what a network is, so these estimates are independent of both the generated
code and the engine.  An *entry* is a pair ``(name, index)`` such as
``("W2", (3, 7))``; a function given ``entries=None`` differentiates every one.

Four methods, with their accuracy and cost (eps is the machine epsilon of the
parameters' dtype, n the number of entries differentiated):

============  ========================  ====================================  =================
method        step h per entry          error                                 loss evaluations
============  ========================  ====================================  =================
central       eps^(1/3) * max(1, |w|)   O(h^2) + O(eps/h), about eps^(2/3)    2 n
richardson    eps^(1/5) * max(1, |w|)   O(h^4) + O(eps/h), about eps^(4/5)    6 n
complex step  1e-20 (imaginary)         O(h^2) + O(eps): rounding only        n (complex)
directional   as its method, along v    as its method                         2, 6 or 1 per v
============  ========================  ====================================  =================

*Central differences* ``(f(w+h) - f(w-h)) / 2h`` have truncation error
``h^2 f'''/6`` and rounding error about ``eps |f| / h``; the step balances the
two.  The step is rounded so that ``w + h`` is exactly representable, and it
scales with ``|w|`` because a relative perturbation is what rounding sees.

*Richardson extrapolation* combines central differences at ``h`` and ``h/2``:
``R(h) = D(h/2) + (D(h/2) - D(h)) / 3`` cancels the ``h^2`` term, leaving
``O(h^4)``; a second extrapolation from ``h/2`` and ``h/4`` gives the value and,
by comparison with the first, an error estimate that is accurate rather than
merely an upper bound.  It is the most accurate method for a function that is
not analytic.

*Complex-step differentiation* ``Im f(w + ih) / h`` involves no subtraction,
hence no cancellation: with ``h = 1e-20`` the truncation error ``h^2 f'''/6`` is
far below rounding, and the result is exact to rounding.  It needs a loss that
accepts complex parameters and is *analytic* (no ``abs``, no comparisons that
select a branch by anything but the real part): the generated module's
``loss`` on complex128 parameters is.  One complex evaluation costs two to four
real ones.

*Directional derivatives* ``d/dt f(w + t v)`` along a seeded random unit
direction ``v`` cost the same few evaluations whatever the number of
parameters, and equal ``grad . v``; they test every entry at once, but one
wrong entry moves the projection only by its share ``v_k``, so they
complement, never replace, an entry-by-entry comparison.

Error estimates returned with each value are *estimates*: central differences
report their rounding error (truncation needs extra evaluations: use
Richardson for that); complex step reports rounding of the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from derive.errors import InputError

#: A parameter entry: ``("W2", (3, 7))`` is ``params["W2"][3, 7]``.
Entry = tuple[str, tuple[int, ...]]
Params = Mapping[str, np.ndarray]
LossFn = Callable[[dict], object]

METHODS = ("central", "richardson", "complex")
COMPLEX_STEP = 1e-20


@dataclass(frozen=True)
class Estimates:
    """Finite-difference estimates of some partial derivatives.

    Attributes:
        method: ``"central"``, ``"richardson"`` or ``"complex"``.
        entries: The entries differentiated, in order.
        values: dE/dw for each entry (float64).
        errors: Estimated absolute error of each value.
        steps: The step used for each entry.
        evaluations: Number of loss evaluations spent (complex ones counted once).
    """

    method: str
    entries: tuple[Entry, ...]
    values: np.ndarray
    errors: np.ndarray
    steps: np.ndarray
    evaluations: int

    def to_params(self, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """A params-shaped dict of the estimates, NaN where no entry was differentiated."""
        out = {name: np.full(shape, np.nan) for name, shape in shapes.items()}
        for (name, index), value in zip(self.entries, self.values):
            out[name][index] = value
        return out


@dataclass(frozen=True)
class Directional:
    """A directional derivative ``d/dt f(w + t v)`` at ``t = 0``.

    Attributes:
        method: The finite-difference method used along the direction.
        direction: Unit-norm params-shaped dict ``v``.
        value: The estimate of ``grad . v``.
        error: Its estimated absolute error.
        evaluations: Loss evaluations spent.
    """

    method: str
    direction: dict[str, np.ndarray]
    value: float
    error: float
    evaluations: int

    def project(self, gradient: Params) -> float:
        """``gradient . v``: what a correct gradient predicts for :attr:`value`."""
        return float(sum(np.vdot(self.direction[name], np.asarray(gradient[name], dtype=np.float64))
                         for name in self.direction))


# --- entries -------------------------------------------------------------------------


def all_entries(params: Params) -> list[Entry]:
    """Every entry of every parameter, in key order then C order."""
    return [(name, tuple(int(i) for i in index)) for name, value in params.items()
            for index in np.ndindex(np.shape(value))]


def format_entry(entry: Entry) -> str:
    """``("W2", (3, 7))`` -> ``"W2[3, 7]"``."""
    name, index = entry
    return "%s[%s]" % (name, ", ".join(map(str, index)))


def _check_entries(params: Params, entries: Iterable[Entry] | None) -> tuple[Entry, ...]:
    if entries is None:
        return tuple(all_entries(params))
    checked = []
    for name, index in entries:
        if name not in params:
            raise InputError("entry %s: no parameter %r; parameters are %s" % (name, name, ", ".join(params)))
        index = tuple(int(i) for i in np.atleast_1d(index))
        shape = np.shape(params[name])
        if len(index) != len(shape) or any(not 0 <= i < n for i, n in zip(index, shape)):
            raise InputError("entry %s is outside %s, which has shape %s" % (format_entry((name, index)), name, shape))
        checked.append((name, index))
    return tuple(checked)


def _epsilon(params: Params) -> float:
    dtypes = {np.asarray(v).dtype for v in params.values()}
    kinds = {d.kind for d in dtypes}
    if not kinds <= {"f"}:
        raise InputError("finite differences need real floating-point parameters, got %s"
                         % ", ".join(sorted(map(str, dtypes))))
    return max(float(np.finfo(d).eps) for d in dtypes)


def _scalar(value, what: str) -> complex:
    array = np.asarray(value)
    if array.size != 1:
        raise InputError("loss function returned an array of shape %s at %s; expected a scalar" % (array.shape, what))
    return array.reshape(()).item()


# --- one-entry kernels -------------------------------------------------------------------


class _Perturber:
    """Evaluates ``loss_fn`` with one entry moved, on private copies of the arrays."""

    def __init__(self, loss_fn: LossFn, params: Params, dtype=None):
        self.loss_fn = loss_fn
        self.params = {name: np.array(value, dtype=dtype, copy=True) for name, value in params.items()}
        self.evaluations = 0

    def __call__(self, entry: Entry, delta) -> complex:
        name, index = entry
        array = self.params[name]
        saved = array[index]
        array[index] = saved + delta
        try:
            self.evaluations += 1
            return _scalar(self.loss_fn(self.params), format_entry(entry))
        finally:
            array[index] = saved


def representable_step(w: float, h: float, dtype) -> float:
    """``(w + h) - w``: the step that the dtype actually takes from ``w``."""
    w = np.asarray(w, dtype=dtype)
    return float((w + np.asarray(h, dtype=dtype)) - w)


def _central(move: _Perturber, entry: Entry, h: float, eps: float) -> tuple[float, float]:
    up, down = move(entry, h).real, move(entry, -h).real
    return (up - down) / (2 * h), eps * max(abs(up), abs(down), 1e-300) / h


# --- public methods ----------------------------------------------------------------------------


def central_differences(loss_fn: LossFn, params: Params, entries: Iterable[Entry] | None = None,
                        scale: float | None = None) -> Estimates:
    """Central differences ``(f(w+h) - f(w-h)) / 2h``, one step per entry.

    Accuracy: truncation ``O(h^2)`` plus rounding ``O(eps |f| / h)``; with the
    default step ``h = eps^(1/3) max(1, |w|)`` about ``eps^(2/3)`` relative
    (1e-10 to 1e-11 in float64).  Cost: 2 loss evaluations per entry.

    Args:
        loss_fn: ``loss_fn(params) -> float``.
        params: The parameter dict (not modified).
        entries: Entries to differentiate; ``None`` for every entry.
        scale: Step factor replacing ``eps^(1/3)``.

    Returns:
        :class:`Estimates` with the rounding-error estimate of each value.
    """
    eps = _epsilon(params)
    factor = eps ** (1 / 3) if scale is None else scale
    return _run("central", loss_fn, params, entries, factor, lambda move, entry, h: _central(move, entry, h, eps))


def richardson(loss_fn: LossFn, params: Params, entries: Iterable[Entry] | None = None,
               scale: float | None = None) -> Estimates:
    """Richardson extrapolation of central differences at ``h``, ``h/2`` and ``h/4``.

    ``R(h) = D(h/2) + (D(h/2) - D(h)) / 3`` cancels the ``h^2`` term of the
    central difference ``D``, leaving ``O(h^4)``.  Two such extrapolations,
    ``R(h)`` and ``R(h/2)``, give the value ``R(h/2)`` and its error estimate
    ``|R(h/2) - R(h)| / 15`` (their ``h^4`` terms differ by a factor 16), plus
    the rounding of the finest difference.  Accuracy: about ``eps^(4/5)``
    relative (1e-12 to 1e-13 in float64) with ``h = eps^(1/5) max(1, |w|)``.
    Cost: 6 loss evaluations per entry.

    Args and Returns: as :func:`central_differences`.
    """
    eps = _epsilon(params)
    factor = eps ** (1 / 5) if scale is None else scale

    def extrapolate(move, entry, h):
        d1, d2, (d4, rounding) = (_central(move, entry, h, eps)[0], _central(move, entry, h / 2, eps)[0],
                                  _central(move, entry, h / 4, eps))
        coarse, fine = d2 + (d2 - d1) / 3, d4 + (d4 - d2) / 3
        return fine, abs(fine - coarse) / 15 + rounding

    return _run("richardson", loss_fn, params, entries, factor, extrapolate)


def central_at_steps(loss_fn: LossFn, params: Params, entry: Entry, steps: Iterable[float]) -> list[float]:
    """Central differences of one entry at each of ``steps`` (absolute steps), on one private copy of the arrays:
    the step-size study of a report, without copying a large network's parameters once per step."""
    move = _Perturber(loss_fn, params)
    return [float((move(entry, h).real - move(entry, -h).real) / (2 * h)) for h in steps]


def complex_step(loss_fn: LossFn, params: Params, entries: Iterable[Entry] | None = None,
                 h: float = COMPLEX_STEP) -> Estimates:
    """Complex-step differentiation ``Im f(w + ih) / h``.

    Exact to rounding for an analytic ``loss_fn`` (no subtraction, so no
    cancellation; truncation ``h^2 f'''/6`` is ~1e-40).  Wrong, silently, for a
    loss that is not analytic (``abs``, branch choices on complex values).
    Cost: 1 complex loss evaluation per entry (2-4 times a real one).

    Args:
        loss_fn: ``loss_fn(params) -> scalar`` that accepts complex128 arrays,
            such as ``functools.partial(module.loss, X=X, T=T)`` of the
            generated module.
        params: Real parameters (not modified).
        entries: Entries to differentiate; ``None`` for every entry.
        h: The imaginary step.

    Returns:
        :class:`Estimates` whose error is the rounding of each value.
    """
    eps = np.finfo(np.float64).eps
    _epsilon(params)

    def kernel(move, entry, step):
        value = move(entry, 1j * h).imag / h
        return value, 4 * eps * abs(value)

    return _run("complex", loss_fn, params, entries, None, kernel, dtype=np.complex128, fixed_step=h)


def _run(method, loss_fn, params, entries, factor, kernel, dtype=None, fixed_step=None) -> Estimates:
    entries = _check_entries(params, entries)
    move = _Perturber(loss_fn, params, dtype)
    values, errors, steps = np.empty(len(entries)), np.empty(len(entries)), np.empty(len(entries))
    for position, entry in enumerate(entries):
        name, index = entry
        if fixed_step is None:
            w = float(np.asarray(params[name])[index])
            h = representable_step(w, factor * max(1.0, abs(w)), np.asarray(params[name]).dtype)
        else:
            h = fixed_step
        values[position], errors[position] = kernel(move, entry, h)
        steps[position] = h
    return Estimates(method, entries, values, errors, steps, move.evaluations)


# --- directions ---------------------------------------------------------------------------------


def random_directions(params: Params, count: int = 1, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` seeded random unit directions (Gaussian, then normalised) in params space.

    The same seed gives the same directions, so a failing check can be replayed.
    """
    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(count):
        v = {name: rng.standard_normal(np.shape(value)) for name, value in params.items()}
        norm = np.sqrt(sum(float(np.sum(x * x)) for x in v.values()))
        directions.append({name: x / norm for name, x in v.items()})
    return directions


def directional_derivative(loss_fn: LossFn, params: Params, direction: Params,
                           method: str = "central") -> Directional:
    """``d/dt loss_fn(params + t * direction)`` at ``t = 0`` by finite differences.

    Accuracy and cost are those of ``method`` for a single entry (the
    direction is treated as one coordinate, with step ``eps^(1/3)`` for
    ``central``, ``eps^(1/5)`` for ``richardson``, ``1e-20`` for ``complex``):
    2, 6 or 1 evaluations, whatever the number of parameters.

    Args:
        loss_fn: ``loss_fn(params) -> scalar`` (complex-capable for ``"complex"``).
        params: The point.
        direction: A params-shaped dict, normally from :func:`random_directions`.
        method: ``"central"``, ``"richardson"`` or ``"complex"``.
    """
    dtype = np.result_type(*[np.asarray(value).dtype for value in params.values()])
    _epsilon(params)
    line = _Line(loss_fn, params, {name: np.asarray(v, dtype=dtype) for name, v in direction.items()})
    result = estimate(method, line, {"t": np.zeros(1, dtype=dtype)})
    return Directional(method, {name: np.asarray(v, dtype=np.float64) for name, v in direction.items()},
                       float(result.values[0]), float(result.errors[0]), result.evaluations)


class _Line:
    """``t -> loss_fn(params + t v)``, itself in the parameter-dict convention ``{"t": [t]}``."""

    def __init__(self, loss_fn: LossFn, params: Params, direction: Params):
        self.loss_fn, self.params, self.direction = loss_fn, params, direction

    def __call__(self, point: dict) -> object:
        t = point["t"][0]
        return self.loss_fn({name: value + t * np.asarray(self.direction[name]) for name, value in self.params.items()})


def estimate(method: str, loss_fn: LossFn, params: Params, entries: Sequence[Entry] | None = None) -> Estimates:
    """Dispatch to :func:`central_differences`, :func:`richardson` or :func:`complex_step` by name."""
    if method not in METHODS:
        raise InputError("unknown finite-difference method %r; choose one of: %s" % (method, ", ".join(METHODS)))
    return {"central": central_differences, "richardson": richardson, "complex": complex_step}[method](
        loss_fn, params, entries)
