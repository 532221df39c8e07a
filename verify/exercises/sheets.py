"""An exercise sheet: a network, its given numbers, the blanks of each step, and the key.

A :class:`Sheet` is what ``backprop exercise`` writes and ``backprop mark``
marks against.  Its blanks and their answers are the worked example's
(:func:`derive.report.exercises.step_blanks`: every number is the
derivation's own, evaluated), its pages are the report's blocks
(:mod:`derive.report.sheet`), and its key is plain data::

    {"format": "backprop exercise key", "version": 1, "sheet": "7", "seed": 7,
     "network": {"sizes": [2, 2, 1], "activation": "sigmoid", "loss": "sse", ...},
     "sign": "ours", "steps": 1, "digits": 4,
     "given": {"X": [[...]], "T": [[...]], "W1": [[...]], "b1": [...], ..., "lr": 0.5, "momentum": 0.0},
     "answers": {"Z1[0]": 0.2, ..., "b1[1]'": 0.1004}}

With several steps every label starts with its step (``2:Z1[0]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from derive import InputError, Network, derive
from derive.report import ExampleInput, lecture_example, worked_example
from derive.report.document import Document
from derive.report.exercises import SIGNS, Blank, step_blanks
from derive.report.html import render_sections
from derive.report.sheet import SheetContent, sheet_document

from ..report_writers import write_document
from .numbers import draw_numbers
from .precision import DIGITS

KEY_FORMAT, KEY_VERSION = "backprop exercise key", 1
#: The most blanks a sheet may have (it is done by hand).
MOST_BLANKS = 400
#: The most examples a sheet may have.
MOST_EXAMPLES = 8
#: The learning rate of a sheet unless one is given.
SHEET_LR = 0.5


@dataclass(frozen=True, eq=False)
class Sheet:
    """One exercise sheet (see the module docstring); make one with :func:`make_sheet` or :func:`read_key`.

    Attributes:
        network: The network of the exercise.
        start: The given numbers: parameters, inputs X, targets T, learning rate η and momentum α.
        sign: ``"ours"`` (δ = ∂E/∂Z, the update subtracts η∂E/∂w) or ``"lecture"`` (δ = −∂E/∂net, the update
            adds Δw = ηδx + αΔw(t−1)).
        steps: Steps of gradient descent to do by hand.
        digits: Significant digits an answer is written with.
        name: The sheet's name, which answers quote (``"7"``, ``"7-03"``).
        seed: The seed its numbers were drawn from (None for given numbers).
    """

    network: Network
    start: ExampleInput = field(repr=False)
    sign: str = "ours"
    steps: int = 1
    digits: int = 4
    name: str = "1"
    seed: int | None = None

    def __post_init__(self):
        check_settings(self.sign, self.steps, self.digits)

    @cached_property
    def derivation(self):
        """The network's derivation (:func:`derive.derive`)."""
        return derive(self.network)

    @cached_property
    def example(self):
        """The worked example at the sheet's numbers, for its steps."""
        return worked_example(self.derivation, self.start, self.steps)

    @cached_property
    def step_blanks(self) -> tuple[tuple[Blank, ...], ...]:
        """The blanks of each step, in the order a student computes them (labels as printed)."""
        found = []
        for step in range(1, self.steps + 1):
            blanks = step_blanks(self.derivation, self.example, step, self.sign)
            if self.steps > 1:
                blanks = [replace(blank, label="%d:%s" % (step, blank.label)) for blank in blanks]
            found.append(tuple(blanks))
        return tuple(found)

    @property
    def blanks(self) -> list[Blank]:
        """Every blank of the sheet, in order."""
        return [blank for blanks in self.step_blanks for blank in blanks]

    @property
    def labels(self) -> list[str]:
        """The label of every blank, in order."""
        return [blank.label for blank in self.blanks]

    @property
    def answers(self) -> dict[str, float]:
        """The key: label -> the right number."""
        return {blank.label: blank.value for blank in self.blanks}

    def key(self) -> dict:
        """The key as plain data (the module docstring): what ``backprop mark`` reads."""
        given = {"X": self.start.X.tolist(), "T": self.start.T.tolist()}
        given.update({name: np.asarray(value).tolist() for name, value in self.start.params.items()})
        given.update(lr=self.start.lr, momentum=self.start.momentum)
        return {"format": KEY_FORMAT, "version": KEY_VERSION, "sheet": self.name, "seed": self.seed,
                "network": self.network.to_dict(), "sign": self.sign, "steps": self.steps, "digits": self.digits,
                "given": given, "answers": self.answers}

    def content(self) -> SheetContent:
        """What the sheet's pages show (:class:`derive.report.sheet.SheetContent`)."""
        return SheetContent(self.derivation, self.example, self.step_blanks, self.sign, self.digits, self.name)

    def document(self, answers: bool = False) -> Document:
        """The sheet's pages (with ``answers``, the answer sheet: the key and the worked example)."""
        return sheet_document(self.content(), answers)

    def write(self, path: str | Path, *, answers: bool = False, fmt: str | None = None) -> list[Path]:
        """Write the sheet (or the answer sheet) as .html, .md, .tex, .pdf or .ipynb; returns the files written."""
        return write_document(path, lambda: self.document(answers), fmt)

    def _repr_html_(self) -> str:
        return render_sections(self.document().sections)

    def __repr__(self) -> str:
        return "Sheet(%s, %r, sign=%r, steps=%d, %d blanks)" % (self.name, self.network.describe(), self.sign,
                                                               self.steps, len(self.blanks))


def check_settings(sign: str, steps: int, digits: int) -> None:
    """Refuse a sign convention, a number of steps or of digits a sheet cannot have.

    Raises:
        InputError: naming what is accepted.
    """
    if sign not in SIGNS:
        raise InputError("unknown sign convention %r; choose one of: %s" % (sign, ", ".join(SIGNS)))
    if not isinstance(steps, int) or isinstance(steps, bool) or not 1 <= steps <= 5:
        raise InputError("steps must be a whole number from 1 to 5, got %r" % (steps,))
    if not isinstance(digits, int) or isinstance(digits, bool) or digits not in DIGITS:
        raise InputError("digits must be a whole number from %d to %d, got %r" % (DIGITS[0], DIGITS[-1], digits))


def make_sheet(network: Network | str, seed: int | list = 0, *, sign: str = "ours", steps: int = 1,
               examples: int = 1, lr: float = SHEET_LR, momentum: float = 0.0, digits: int = 4,
               name: str | None = None, start: ExampleInput | None = None) -> Sheet:
    """An exercise sheet for ``network`` with numbers drawn from ``seed`` (or the numbers of ``start``).

    Args:
        network: A :class:`~derive.Network` or a spec (``"2-2-1"``): small enough to do by hand.
        seed: Seed of the numbers, an int or a list of ints (the same seed gives the same sheet).
        sign: ``"ours"`` or ``"lecture"`` (see :class:`Sheet`).
        steps: Steps of gradient descent (2 shows the momentum term).
        examples: Examples in the batch (E sums over them).
        lr: Learning rate η.
        momentum: Momentum α (the change of step 1 has no momentum term: Δw(0) = 0).
        digits: Significant digits of the answers.
        name: The sheet's name (default: the seed).
        start: Given numbers to use instead of drawn ones (:func:`derive.report.lecture_example`).

    Raises:
        InputError: a network or settings a sheet cannot have (one line saying what is accepted).
    """
    network = network if isinstance(network, Network) else Network.from_spec(network)
    check_settings(sign, steps, digits)
    if not isinstance(examples, int) or isinstance(examples, bool) or not 1 <= examples <= MOST_EXAMPLES:
        raise InputError("examples must be a whole number from 1 to %d, got %r" % (MOST_EXAMPLES, examples))
    per_step = examples * 2 * sum(network.sizes[1:]) + 1 + 2 * network.n_params
    if per_step * steps > MOST_BLANKS:
        raise InputError("a sheet for %s has %d blanks, too many to do by hand (at most %d); use smaller layers, "
                         "fewer examples or fewer steps" % (network.describe(), per_step * steps, MOST_BLANKS))
    drawn = start is None
    if drawn:
        start = draw_numbers(network, seed, examples=examples, lr=lr, momentum=momentum, steps=steps, digits=digits)
    if name is None:
        name = "-".join(map(str, np.atleast_1d(seed))) if drawn else "1"
    return Sheet(network, start, sign, steps, digits, name, seed if drawn else None)


def make_sheets(network: Network | str, count: int, seed: int = 0, **options) -> list[Sheet]:
    """``count`` distinct sheets (one per student) named ``<seed>-1`` ... (``<seed>-01`` ... from 10 sheets).

    Sheet i draws its numbers from the seed ``[seed, i]`` (``[seed, i, 1]``, ... if they repeat an earlier
    sheet's); ``options`` are those of :func:`make_sheet`.
    """
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10000:
        raise InputError("count must be a whole number from 1 to 10000, got %r" % (count,))
    network = network if isinstance(network, Network) else Network.from_spec(network)
    width = len(str(count))
    sheets, seen = [], set()
    for index in range(1, count + 1):
        name = "%d-%0*d" % (seed, width, index)
        for attempt in range(100):
            sheet = make_sheet(network, [seed, index] + [attempt] * (attempt > 0), name=name, **options)
            if _fingerprint(sheet.start) not in seen:
                break
        seen.add(_fingerprint(sheet.start))
        sheets.append(sheet)
    return sheets


def _fingerprint(start: ExampleInput) -> bytes:
    arrays = [start.X, start.T] + [np.asarray(start.params[name]) for name in sorted(start.params)]
    return b"".join(np.asarray(array, dtype=np.float64).tobytes() for array in arrays)


def lecture_sheet(*, sign: str = "ours", steps: int = 1, digits: int = 4, name: str = "lecture") -> Sheet:
    """The lecture's Backprop Example as a sheet: 2-2-1 sigmoid, every weight 0.1, x = (1, 0), t = 0.9, η 0.2, α 0.9."""
    network, start = lecture_example()
    return Sheet(network, start, sign, steps, digits, name)
