"""The numbers of a sheet: drawn from a seed, with one decimal, and redrawn until the sheet is a fair exercise.

Every weight and bias is a multiple of 0.1 between −0.8 and 0.8 (never 0),
every input one between −1 and 1 (never 0), and each target one inside the
output activation's range (its record's ``output_range``, at least 0.1 from a
bound), or a one-hot class for an output that is not elementwise (softmax).
So sheets of different seeds differ in their numbers, not in how hard they
are; and a draw is kept only if nothing makes a blank trivial or ambiguous:

* no unit within 0.1 of a kink of its activation (the records' ``kinks``: a
  ReLU at 0 has no derivative to compute);
* no unit whose activation is flat there (|g′(z)| < 0.05 by the engine's own
  rule, :meth:`verify.Engine.local_derivative`): a dead ReLU or a saturated
  sigmoid sends back nothing worth computing;
* every output at least 0.1 from its target (an error term near 0 is a
  number one cannot get wrong);
* every parameter moved by at least 3 units of the last significant digit of
  its new value (otherwise "the parameter after the step" is the parameter
  before it, to the digits asked for).

Draws continue from the seed until one passes (:data:`ATTEMPTS` at most; then
the draw with fewest flaws), so the same seed gives the same sheet.
"""

from __future__ import annotations

import math

import numpy as np

from derive import Network, derive
from derive.report import ExampleInput, worked_example

from ..engine import Engine
from .precision import unit_in_last_place

#: Weights and biases: multiples of 0.1 up to this magnitude (never 0); inputs up to 1.
LARGEST_WEIGHT, LARGEST_INPUT = 0.8, 1.0
#: How far from a kink a unit stays, and how far an output from its target.
MARGIN = 0.1
#: The least slope of an activation at a unit's net input.
SLOPE = 0.05
#: The least move of a parameter in a step, in units of the last significant digit of its new value.
LEAST_MOVE = 3
#: Draws tried before the one with fewest flaws is taken.
ATTEMPTS = 3000


def draw_numbers(network: Network, seed, *, examples: int = 1, lr: float = 0.5, momentum: float = 0.0,
                 steps: int = 1, digits: int = 4) -> ExampleInput:
    """The given numbers of a sheet for ``network`` from ``seed`` (an int or a sequence of ints).

    Returns:
        An :class:`~derive.report.ExampleInput` with parameters, ``examples`` inputs and targets, η and α.
    """
    derivation = derive(network)
    engine = Engine(network)
    rng = np.random.default_rng(seed)
    best, fewest = None, math.inf
    for _ in range(ATTEMPTS):
        start = _draw(network, rng, examples, lr, momentum, seed)
        flaws = _flaws(derivation, engine, start, steps, digits)
        if flaws < fewest:
            best, fewest = start, flaws
        if not flaws:
            break
    return best


def _tenths(rng: np.random.Generator, largest: float, shape: tuple) -> np.ndarray:
    """Nonzero multiples of 0.1 up to ``largest`` in magnitude, with random signs."""
    magnitudes = rng.integers(1, int(round(largest * 10)) + 1, size=shape) / 10.0
    return magnitudes * rng.choice((-1.0, 1.0), size=shape)


def target_levels(network: Network) -> np.ndarray:
    """The targets a sheet may ask for: multiples of 0.1 inside the output's range, 0.1 away from its bounds."""
    low, high = network.activations[-1].output_range
    levels = np.round(np.arange(-9, 10) / 10.0, 1)
    return levels[(levels >= low + MARGIN - 1e-9) & (levels <= high - MARGIN + 1e-9)]


def _draw(network: Network, rng, examples: int, lr: float, momentum: float, seed) -> ExampleInput:
    params = {name: _tenths(rng, LARGEST_WEIGHT, shape) for name, shape in network.param_shapes().items()}
    X = _tenths(rng, LARGEST_INPUT, (examples, network.sizes[0]))
    outputs = network.sizes[-1]
    if network.activations[-1].elementwise:
        T = rng.choice(target_levels(network), size=(examples, outputs))
    else:
        T = np.eye(outputs)[rng.integers(outputs, size=examples)]
    return ExampleInput(params, X, T, lr, momentum, "numbers drawn from seed %s, each with one decimal" % (seed,))


def _flaws(derivation, engine: Engine, start: ExampleInput, steps: int, digits: int) -> int:
    """How many of the conditions of the module docstring the sheet's numbers break (0: a fair sheet)."""
    network = derivation.network
    example = worked_example(derivation, start, steps)
    flaws = 0
    for step in example.steps:
        for layer, activation in enumerate(network.activations, start=1):
            Z = step.values["Z%d" % layer]
            for kink in activation.kinks:
                flaws += int(np.sum(np.abs(Z - kink) < MARGIN))
            if activation.elementwise:
                flaws += int(np.sum(np.abs(engine.local_derivative(layer, Z)) < SLOPE))
        if network.activations[-1].elementwise:
            flaws += int(np.sum(np.abs(step.values["A%d" % network.depth] - start.T) < MARGIN))
        for name, moved in step.changes.items():
            flaws += int(np.sum(np.abs(moved) < LEAST_MOVE * unit_in_last_place(step.updated[name], digits)))
    return flaws
