"""Marking a student's answers the way a good teacher marks by hand: one slip costs one blank, and it is named.

Each blank, in the order the sheet lists them, gets one of four marks:

``correct``
    within the sheet's precision (:mod:`verify.exercises.precision`) of the key; or of the value the
    student's own earlier numbers give, where none of those numbers is wrong (their rounding is
    theirs to keep);
``carried forward``
    wrong against the key, but right given the student's own earlier answers: every blank is
    computed again from the student's numbers with the same formulas as the key
    (:mod:`verify.exercises.formulas`), so an answer that correctly uses an earlier wrong one is
    not wrong.  It scores as right;
``wrong``
    neither; it gets the mistake that fits it (:mod:`verify.exercises.mistakes`, tried on the
    student's own earlier numbers, then rounding too early), or "no common mistake fits";
``unanswered``
    left empty (later blanks then use the value the student's own numbers give).

Which earlier numbers an answer depends on is found by computing every blank
twice: from the student's numbers, and from the same numbers with each wrong
one replaced by its right value.  Where the two agree, nothing wrong feeds
the blank.

>>> from verify.exercises import make_sheet, mark
>>> sheet = make_sheet("2-2-1", seed=7)
>>> marking = mark(sheet, {label: value for label, value in sheet.answers.items()})
>>> marking.score == marking.out_of
True
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from derive.report.document import MARK_SYMBOLS, Document, written_number
from derive.report.html import render_sections
from derive.report.sheet import marked_document

from ..report_writers import write_document
from .answers import Answers, checked_answers
from .formulas import formulas_for
from .mistakes import mistakes_for, rounding_reason
from .precision import close, rounded
from .sheets import Sheet

STATUSES = ("correct", "carried forward", "wrong", "unanswered")
#: Two computations of a blank agree (nothing wrong feeds it) to this relative precision.
SAME = 1e-9
NO_MISTAKE = "no common mistake fits this number"


@dataclass(frozen=True)
class MarkedBlank:
    """One blank marked: ``status`` (see the module docstring), the key's value, the student's (None: empty),
    the ``mistake`` named for a wrong one (and its ``kind``), and the value the student's own earlier numbers
    give (``follows``)."""

    label: str
    status: str
    expected: float
    given: float | None
    mistake: str | None = None
    kind: str | None = None
    follows: float | None = None

    def to_dict(self) -> dict:
        return {"label": self.label, "status": self.status, "expected": self.expected, "given": self.given,
                "mistake": self.mistake, "kind": self.kind, "from_your_numbers": self.follows}


@dataclass
class Marking:
    """A student's answers marked (:func:`mark`): the blanks in order, the score, and the marked sheet."""

    sheet: Sheet
    blanks: list[MarkedBlank] = field(default_factory=list)
    student: str = ""
    source: str = ""

    @property
    def score(self) -> int:
        """Blanks right, carried forward included."""
        return sum(blank.status in ("correct", "carried forward") for blank in self.blanks)

    @property
    def out_of(self) -> int:
        return len(self.blanks)

    @property
    def all_correct(self) -> bool:
        """Whether every blank is correct (none carried forward, wrong or empty)."""
        return all(blank.status == "correct" for blank in self.blanks)

    def count(self, status: str) -> int:
        return sum(blank.status == status for blank in self.blanks)

    def to_dict(self) -> dict:
        """``{"sheet", "name", "score", "out_of", "blanks": [{"label", "status", "expected", "given", "mistake",
        ...}]}``."""
        return {"sheet": self.sheet.name, "name": self.student, "score": self.score, "out_of": self.out_of,
                "blanks": [blank.to_dict() for blank in self.blanks]}

    def document(self) -> Document:
        """The marked sheet: the score, then each blank with the student's number, the key's, a tick, why."""
        return marked_document(self.sheet.content(), [blank.to_dict() for blank in self.blanks], self.student)

    def write(self, path: str | Path, fmt: str | None = None) -> list[Path]:
        """Write the marked sheet (.html, .md, .tex, .pdf, .ipynb); returns the files written."""
        return write_document(path, self.document, fmt)

    def summary(self) -> str:
        """One line: whose answers, which sheet, the score, and what the rest are."""
        counts = ", ".join("%d %s" % (self.count(status), status) for status in STATUSES[1:] if self.count(status))
        who = "%s, " % self.student if self.student else ""
        return "%ssheet %s: %d of %d%s" % (who, self.sheet.name, self.score, self.out_of,
                                          " (%s)" % counts if counts else "")

    def text(self, width: int = 80) -> str:
        """The marks as a table for a terminal of ``width`` columns, each mistake under its blank."""
        digits = self.sheet.digits
        lines = [self.summary(), "", "%-16s %14s %14s  %s" % ("blank", "your answer", "key", "mark")]
        for blank in self.blanks:
            given = "" if blank.given is None else "%.*g" % (digits + 2, blank.given)
            lines.append("%-16s %14s %14s  %s" % (blank.label, given, written_number(blank.expected, digits),
                                                  "%s %s" % (MARK_SYMBOLS[blank.status], blank.status)))
            if blank.status == "wrong":
                lines += textwrap.wrap(blank.mistake or NO_MISTAKE, width, initial_indent="    ",
                                       subsequent_indent="    ")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return render_sections(self.document().sections)


def mark(sheet: Sheet, answers: Answers | dict, student: str = "") -> Marking:
    """Mark a student's answers to ``sheet``.

    Args:
        sheet: The sheet (:func:`~verify.exercises.make_sheet`, :func:`~verify.exercises.read_key`).
        answers: label -> number (None for an empty blank), or :class:`~verify.exercises.Answers` read from a file.
        student: The student's name (default: the one the answers give).

    Returns:
        The :class:`Marking`.

    Raises:
        InputError: an unknown label, a word where a number belongs, answers for another sheet.
    """
    values = checked_answers(sheet.labels, answers, sheet.name)
    if isinstance(answers, Answers):
        student, source = student or answers.name, answers.source
    else:
        source = "answers"
    marker = _Marker(sheet, values)
    return Marking(sheet, marker.run(), student, source)


class _Marker:
    """Walks the sheet step by step, array by array, with the student's numbers and the repaired ones."""

    def __init__(self, sheet: Sheet, values: dict):
        self.sheet, self.values = sheet, values
        self.formulas = formulas_for(sheet.derivation, sheet.sign)
        self.digits = sheet.digits

    def run(self) -> list[MarkedBlank]:
        start = self.sheet.start
        params = {name: np.asarray(value, dtype=np.float64) for name, value in start.params.items()}
        mine, repaired = dict(params), dict(params)
        mine_before = repaired_before = {name: np.zeros_like(value) for name, value in params.items()}
        answered: set[str] = set()
        marked = []
        for blanks in self.sheet.step_blanks:
            ns = self.formulas.namespace(mine, start.X, start.T, start.lr, start.momentum, mine_before)
            fixed = self.formulas.namespace(repaired, start.X, start.T, start.lr, start.momentum, repaired_before)
            ahead = self._ahead(blanks)
            for array in self.formulas.order:
                marked += self._array(array, [b for b in blanks if b.array == array], ns, fixed, ahead, answered)
                answered.add(array)
            mine, mine_before = self._next(ns)
            repaired, repaired_before = self._next(fixed)
            answered = set(mine)
        return marked

    def _next(self, ns: dict) -> tuple[dict, dict]:
        """The parameters after a step, and its changes (the momentum term of the next step)."""
        formulas = self.formulas
        params = {name: ns[name + "'"] for name in formulas.parameters}
        changes = {name: ns[formulas.change_name(name)] if formulas.lecture else ns[name + "'"] - ns[name]
                   for name in formulas.parameters}
        return params, changes

    def _ahead(self, blanks) -> dict:
        """The student's parameters after this step (the key's where left empty), for mistakes that use them."""
        found = {}
        for blank in blanks:
            if blank.array.endswith("'"):
                given = self.values[blank.label]
                found.setdefault(blank.array, np.asarray(self.sheet.start.params[blank.array[:-1]],
                                                         dtype=np.float64).copy())
                found[blank.array][blank.index] = blank.value if given is None else given
        return found

    def _array(self, array, blanks, ns, fixed, ahead, answered) -> list[MarkedBlank]:
        own, right = self.formulas.evaluate(array, ns), self.formulas.evaluate(array, fixed)
        mine, repaired = own.copy(), right.copy()
        tried: dict = {}
        marked = []
        for blank in blanks:
            given, follows = self.values[blank.label], float(own[blank.index])
            status, kind, mistake = self._judge(blank, given, follows, float(right[blank.index]))
            if status == "wrong":
                kind, mistake = self._mistake(array, blank, given, own, ns, ahead, answered, tried)
            if given is not None:
                mine[blank.index] = given
                if status == "correct":
                    repaired[blank.index] = given
            marked.append(MarkedBlank(blank.label, status, blank.value, given, mistake, kind, follows))
        ns[array], fixed[array] = mine, repaired
        return marked

    def _judge(self, blank, given, follows: float, right: float) -> tuple[str, None, None]:
        if given is None:
            return "unanswered", None, None
        if close(given, blank.value, self.digits):
            return "correct", None, None
        if close(given, follows, self.digits):
            same = abs(follows - right) <= SAME * max(abs(follows), abs(right), 1e-300)
            return ("correct" if same else "carried forward"), None, None
        return "wrong", None, None

    def _fits(self, given: float, value: float, follows: float) -> bool:
        return bool(np.isfinite(value)) and close(given, value, self.digits) and not close(value, follows, self.digits)

    def _mistake(self, array, blank, given, own, ns, ahead, answered, tried) -> tuple[str | None, str]:
        follows = float(own[blank.index])
        for places, significant in self._precisions():  # the right number itself, written with too few digits
            for right in (follows, blank.value):
                short = float(rounded(right, places, significant))
                if abs(given - short) <= SAME * abs(short) and self._fits(given, short, right):
                    return "rounding", rounding_reason(places, significant, False, self.digits)
        for position, mistake in enumerate(mistakes_for(self.formulas, array)):
            if position not in tried:
                try:
                    tried[position] = np.broadcast_to(mistake.values(ns, ahead, own), own.shape)
                except (ValueError, KeyError, IndexError):  # a mistake the shapes of this network do not allow
                    tried[position] = np.full(own.shape, np.nan)
            if self._fits(given, float(tried[position][blank.index]), follows):
                return mistake.kind, mistake.reason(blank.index)
        return self._rounding(array, blank, given, follows, ns, answered)

    def _precisions(self) -> list[tuple[int, bool]]:
        """Fewer digits than the sheet asks for: significant digits, then decimals."""
        return [(places, True) for places in range(1, self.digits)] + [(places, False) for places in (1, 2, 3)]

    def _rounding(self, array, blank, given, follows, ns, answered) -> tuple[str | None, str]:
        """Rounding too early: the answer near the right one rounded, or computed from rounded earlier numbers."""
        for places, significant in self._precisions():
            if self._fits(given, float(rounded(follows, places, significant)), follows):
                return "rounding", rounding_reason(places, significant, False, self.digits)
        for places, significant in self._precisions():
            coarse = {**ns, **{name: rounded(ns[name], places, significant) for name in answered if name in ns}}
            value = float(self.formulas.evaluate(array, coarse)[blank.index])
            if self._fits(given, value, follows) or self._fits(given, float(rounded(value, places, significant)),
                                                                follows):
                return "rounding", rounding_reason(places, significant, True, self.digits)
        return None, NO_MISTAKE
