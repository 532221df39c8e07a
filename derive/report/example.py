"""The worked example: the derivation evaluated at numbers, for two steps of gradient descent with momentum.

Given parameters, examples ``X`` (N, n_0) and targets ``T`` (N, n_L), a
learning rate η and a momentum α, :func:`worked_example` evaluates every
equation of the derivation, in order, as whole arrays: the forward pass
(``Z_l``, ``A_l``), the loss E, the error terms ``delta_l`` from the output
back, and the gradients.  Each equation is printed from its SymPy expression
by the array printer of the generated code (:mod:`derive.codegen.array_printer`)
and evaluated, so every number in a report is the derivation's own.  Then the
update of the lecture, for every parameter w::

    Δw(t) = -η ∂E/∂w + α Δw(t-1)        w(t+1) = w(t) + Δw(t)        Δw(0) = 0

Two steps, so that the momentum term shows (the lecture: "this is time step
2, so momentum term will be nonzero").  Each step is one gradient-descent step
on E over all the given examples (with one example, the lecture's stochastic
step).

:func:`lecture_example` is the lecture's 2-2-1 example; :func:`random_example`
draws seeded parameters and one example for any network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from derive.errors import InputError
from derive.model.network import Network
from derive.model.params import check_params, init_params
from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .arrays import array_namespace, array_statements

#: The lecture's "Backprop Example": every weight and bias 0.1, x = (1, 0), target 0.9, η = 0.2, α = 0.9.
LECTURE_SIZES = (2, 2, 1)
LECTURE_LR, LECTURE_MOMENTUM = 0.2, 0.9
STEPS = 2


@dataclass(frozen=True)
class ExampleInput:
    """The numbers a worked example starts from.

    Attributes:
        params: The parameter dict.
        X: Inputs, (N, n_0).
        T: Targets, (N, n_L).
        lr: Learning rate η.
        momentum: Momentum α.
        description: Where the numbers come from, for the report.
        code: Python (public API) that recreates ``params``, ``X`` and ``T`` in a notebook.
        lecture: Whether this is the lecture's example (the report then quotes the lecture's numbers).
    """

    params: dict
    X: np.ndarray
    T: np.ndarray
    lr: float = LECTURE_LR
    momentum: float = LECTURE_MOMENTUM
    description: str = ""
    code: str = ""
    lecture: bool = False


@dataclass(frozen=True)
class Step:
    """One step of gradient descent: the values at the parameters it starts from, and the update.

    Attributes:
        params: The parameters before the step.
        values: Every evaluated array by name: ``Z1``, ``A1``, ..., ``delta2``, ``delta1`` (each (N, n_l)).
        loss: E at ``params``.
        gradients: ∂E/∂w of every parameter.
        changes: Δw of every parameter (with the momentum term).
        updated: The parameters after the step.
    """

    params: dict
    values: dict
    loss: float
    gradients: dict
    changes: dict
    updated: dict


@dataclass(frozen=True)
class WorkedExample:
    """The derivation evaluated at an :class:`ExampleInput`, for :data:`STEPS` steps."""

    network: Network
    start: ExampleInput
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        lines = ["Worked example for %s: %d example(s), eta %g, alpha %g"
                 % (self.network.describe(), len(self.start.X), self.start.lr, self.start.momentum)]
        for number, step in enumerate(self.steps, start=1):
            lines.append("step %d: E = %.6g" % (number, step.loss))
            for name, value in step.values.items():
                lines.append("  %-8s %s" % (name, _row(value)))
            for name in step.gradients:
                lines.append("  dE/d%-4s %s   updated %s"
                             % (name, _row(step.gradients[name]), _row(step.updated[name])))
        return "\n".join(lines)


def _row(value: np.ndarray, shown: int = 6) -> str:
    flat = np.ravel(value)
    text = " ".join("%.4g" % v for v in flat[:shown])
    return text + (" ... (%d entries)" % flat.size if flat.size > shown else "")


def lecture_example() -> tuple[Network, ExampleInput]:
    """The lecture's "Backprop Example": 2-2-1 sigmoid/SSE, all weights 0.1, x = (1, 0), t = 0.9, η = 0.2, α = 0.9."""
    network = Network(LECTURE_SIZES, activation="sigmoid", loss="sse")
    params = {name: np.full(shape, 0.1) for name, shape in network.param_shapes().items()}
    start = ExampleInput(params, np.array([[1.0, 0.0]]), np.array([[0.9]]), LECTURE_LR, LECTURE_MOMENTUM,
                         "the lecture's Backprop Example, every weight and bias 0.1, input x = (1, 0) and "
                         "target t = 0.9",
                         "from derive.report import lecture_example\n_, start = lecture_example()", lecture=True)
    return network, start


def random_example(network: Network, seed: int = 0, lr: float = LECTURE_LR,
                   momentum: float = LECTURE_MOMENTUM) -> ExampleInput:
    """Seeded numbers for any network: the lecture's initialisation and one random example.

    Parameters are :func:`derive.init_params` (uniform in (-0.05, 0.05)) from
    ``seed``; the input is uniform in [0, 1) and, from the same seed, the
    target uniform in [0.1, 0.9) per output unit, or, for an output layer that
    is not elementwise (softmax: its outputs are a distribution over the
    classes), a one-hot label of a class drawn uniformly.
    """
    params = init_params(network, seed)
    rng = np.random.default_rng([seed, 2])
    X = rng.uniform(0.0, 1.0, size=(1, network.sizes[0]))
    T = rng.uniform(0.1, 0.9, size=(1, network.sizes[-1]))
    if not network.activations[-1].elementwise:
        T = np.eye(network.sizes[-1])[[int(rng.integers(network.sizes[-1]))]]
    code = ("from derive.report import random_example\nstart = random_example(network, seed=%d, lr=%r, momentum=%r)"
            % (seed, lr, momentum))
    target = ("a one-hot target (class %d)" % int(T[0].argmax()) if not network.activations[-1].elementwise
              else "targets uniform in [0.1, 0.9)")
    return ExampleInput(params, X, T, lr, momentum, "seeded random numbers (seed %d): parameters uniform in "
                        "(-0.05, 0.05) as the lecture initialises them, one input uniform in [0, 1) and %s"
                        % (seed, target), code)


def worked_example(derivation: SymbolicDerivation, start: ExampleInput, steps: int = STEPS) -> WorkedExample:
    """Evaluate the derivation at ``start`` for ``steps`` steps of gradient descent with momentum.

    Args:
        derivation: What :func:`derive.derive` returned.
        start: The parameters, data and settings (:func:`lecture_example`, :func:`random_example`, your own).
        steps: Number of steps (2 shows the momentum term).

    Returns:
        The :class:`WorkedExample`.

    Raises:
        InputError: parameters or data that do not fit the network, or bad settings.
    """
    network = derivation.network
    params = check_params(network, start.params, "worked-example parameters")
    X, T = _check_data(network, start.X, start.T)
    for name, value, high in (("learning rate", start.lr, np.inf), ("momentum", start.momentum, 1.0)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and 0 <= value < high):
            raise InputError("%s must be a finite number >= 0%s, got %r"
                             % (name, " and < 1" if high == 1 else "", value))
    program = _program(derivation)
    done, previous = [], {name: np.zeros_like(value, dtype=np.float64) for name, value in params.items()}
    current = {name: np.asarray(value, dtype=np.float64) for name, value in params.items()}
    for _ in range(steps):
        values, loss, gradients = program.evaluate(current, X, T)
        changes = {name: step_change(gradients[name], previous[name], start.lr, start.momentum) for name in current}
        updated = {name: current[name] + changes[name] for name in current}
        done.append(Step(current, values, loss, gradients, changes, updated))
        current, previous = updated, changes
    return WorkedExample(network, start, tuple(done))


def step_change(gradient: np.ndarray, previous: np.ndarray, lr: float, momentum: float) -> np.ndarray:
    """The lecture's change of a parameter in one step, Δw(t) = −η ∂E/∂w + α Δw(t−1) (w(t+1) = w(t) + Δw(t))."""
    return -lr * gradient + momentum * previous


def _check_data(network: Network, X, T) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for name, value, width in (("X", X, network.sizes[0]), ("T", T, network.sizes[-1])):
        array = np.asarray(value, dtype=np.float64) if np.asarray(value).dtype.kind in "fiu" else None
        if array is None or array.ndim != 2 or array.shape[1] != width or len(array) == 0:
            raise InputError("worked-example %s must be a non-empty (N, %d) array of numbers for %s, got %s"
                             % (name, width, network.describe(), getattr(np.asarray(value), "shape", value)))
        if not np.isfinite(array).all():
            raise InputError("worked-example %s has a NaN or infinite entry; every entry must be finite" % name)
        arrays.append(array)
    if len(arrays[0]) != len(arrays[1]):
        raise InputError("worked-example X has %d examples but T has %d" % (len(arrays[0]), len(arrays[1])))
    return arrays[0], arrays[1]


class _Program:
    """The derivation's array statements (:func:`~derive.report.arrays.array_statements`), compiled."""

    def __init__(self, derivation: SymbolicDerivation):
        self.derivation = derivation
        self.parameters = derivation.parameters
        # The code is printed from the derivation's SymPy expressions, never from user text.
        self.statements = [(s.name, compile(s.code, "<%s>" % s.name, "eval")) for s in array_statements(derivation)]

    def evaluate(self, params: dict, X: np.ndarray, T: np.ndarray) -> tuple[dict, float, dict]:
        """Every array of the derivation at these numbers: ``(values, loss, gradients)``."""
        namespace = array_namespace(self.derivation, params, X, T)
        values = {}
        with np.errstate(all="ignore"):
            for name, code in self.statements:
                namespace[name] = values[name] = np.asarray(eval(code, namespace), dtype=np.float64)  # noqa: S307
        loss = float(values.pop("E"))
        gradients = {name: values.pop("d" + name) for name in self.parameters}
        return values, loss, gradients


@lru_cache(maxsize=32)
def _program(derivation: SymbolicDerivation) -> _Program:
    return _Program(derivation)
