"""The result of a gradient check: who agrees with whom, where, and by how much.

A :class:`CheckReport` is plain data (:meth:`CheckReport.to_dict` gives dicts,
lists, strings and floats, ready for JSON or a derivation report) with a
readable ``str()``.  It answers, in order:

1. **The verdict** (:attr:`CheckReport.ok`) and **which source is wrong**
   (:attr:`CheckReport.culprit`): of the three sources, the candidate gradient,
   the symbolic reference (the generated code) and finite differences, the one
   that takes part in every disagreeing pair.  When candidate and reference
   disagree, finite differences are the referee.
2. **How each pair agrees** (:attr:`CheckReport.agreements`): entries and
   directions compared, how many disagree, the largest relative error.
3. **Per parameter** (:attr:`CheckReport.rows`): largest absolute and relative
   error, entries over tolerance, entries excused because of a kink.
4. **The worst entries** (:attr:`CheckReport.worst`), each located in the
   network (``W2[3, 7]: from hidden unit 7 to output unit 3``) with all three
   values and a verdict.
5. **Tolerances** used, **kinks** flagged (with the unit, the example and the
   subgradient convention) and **warnings** (saturated units).
6. When the candidate is wrong, **what kind of bug** it is (:attr:`CheckReport.diagnosis`):
   each :class:`Diagnosis` names the parameters a known bug pattern explains
   exactly, in words (:mod:`verify.check.diagnosis`), or says that none fits.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field

from derive.report import display

from .tolerances import Tolerance

#: A terminal escape sequence (colours, cursor moves), removed from text that came from elsewhere.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
#: The three sources of a gradient, by their short name.
SOURCES = {"candidate": "candidate", "reference": "symbolic reference", "fd": "finite differences",
           "cs": "complex step"}
METHOD_NAMES = {"complex": "complex-step differences", "central": "central differences",
                "richardson": "Richardson-extrapolated differences",
                "gradient_differences": "differences of the engine's gradients",
                "gauss_newton_differences": "differences of the engine's output and loss derivative"}


@dataclass(frozen=True)
class ParameterRow:
    """Candidate against reference over every entry of one parameter.

    ``max_ratio`` is the largest error as a fraction of what the tolerance
    allows (1 or less passes); ``returned_shape`` is the shape the candidate
    returned when it was not the parameter's but could be realigned (a
    transposed weight gradient, a bias gradient with one row per example).
    """

    name: str
    shape: tuple[int, ...]
    entries: int
    largest: float
    max_abs_error: float
    max_rel_error: float
    over: int
    excused: int
    max_ratio: float = 0.0
    returned_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Diagnosis:
    """What kind of bug explains the candidate's numbers for some parameters.

    Attributes:
        parameters: The parameters explained, in network order (``("W2", "b2")``).
        kind: The bug pattern (``"missing_derivative"``, ``"scale"``, ``"transposed"``,
            ...; ``"no_fit"`` when none fits).  See :mod:`verify.check.diagnosis`.
        layer: The layer where the pattern sits, if it has one.
        text: The explanation, one sentence or two, for a student.
        alternatives: The bug patterns that fit, each as ``(key, text)``, the key naming the pattern the same way
            on every draw (``derivative_at_other_layer@2:3``).  Several fit equally where degenerate values
            (zeros, ones) make them coincide; ``text`` then joins them with "or".
    """

    parameters: tuple[str, ...]
    kind: str
    layer: int | None
    text: str
    alternatives: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class EntryFinding:
    """One entry with the three values and what they say.

    ``verdict`` is ``"agree"``, ``"candidate wrong"``, ``"reference wrong"``,
    ``"undetermined"``, or ``"kink"`` (the entry sits on or across a kink).
    """

    label: str
    meaning: str
    candidate: float
    reference: float
    fd: float | None
    fd_error: float | None
    abs_error: float
    rel_error: float
    allowed: float
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class Agreement:
    """How two sources agree: over ``entries`` entries and ``directions`` random directions.

    ``max_rel_error`` is relative to each entry's size; ``max_ratio`` is the
    largest error as a fraction of what the pair's tolerance allows (1 or less
    passes), the figure that says how close to failing the pair came.
    """

    first: str
    second: str
    entries: int
    directions: int
    disagreements: int
    flagged: int
    max_rel_error: float
    max_ratio: float = 0.0

    @property
    def agree(self) -> bool:
        return self.disagreements == 0


@dataclass(frozen=True)
class DirectionFinding:
    """Finite differences along one random unit direction v, against both projections ``g . v``.

    ``allowed`` is the allowance of reference against finite differences;
    the candidate gets ``candidate_allowed`` on top.
    """

    index: int
    fd: float
    fd_error: float
    candidate: float
    reference: float
    allowed: float
    candidate_allowed: float
    flagged: bool


@dataclass
class CheckReport:
    """Everything :func:`verify.check_gradients` found.  ``str(report)`` reads it out."""

    network: str
    dtype: str
    candidate_name: str
    tolerance: dict
    fd_method: str
    fd_tolerance: dict
    rows: list[ParameterRow]
    agreements: list[Agreement]
    worst: list[EntryFinding]
    directions: list[DirectionFinding]
    culprit: str | None
    summary: str
    kinks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evaluations: int = 0
    seed: int = 0
    seconds: float = 0.0
    diagnosis: list[Diagnosis] = field(default_factory=list)
    parameter_names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    title: str = "Gradient check"
    evaluated: str = "loss evaluations"
    quantity: str = "g"  # what the entries are, in the table's "max |g|" column: g, HV or GV
    read: str = ""  # how the candidate's arrays were read, when not in the toolkit's layout
    output: str = ""  # what the candidate printed while it ran
    convention: object = None  # a verify.check.other_conventions.Convention under which the candidate is right
    rerun: str = ""  # the command line that passes under that convention (the CLI fills it in)

    @property
    def ok(self) -> bool:
        """True when every pair of sources agrees (entries on kinks excused)."""
        return all(a.agree for a in self.agreements)

    @property
    def entries(self) -> int:
        """Number of gradient entries compared between candidate and reference."""
        return sum(row.entries for row in self.rows)

    def max_errors(self) -> dict[str, float]:
        """Largest relative error of each pair, keyed ``"candidate-reference"`` etc."""
        return {"%s-%s" % (a.first, a.second): a.max_rel_error for a in self.agreements}

    def to_dict(self) -> dict:
        """Plain data: dicts, lists, strings, numbers and None."""
        data = {key: value for key, value in vars(self).items()}
        for key in ("rows", "agreements", "worst", "directions", "diagnosis"):
            data[key] = [_plain(asdict(item)) for item in getattr(self, key)]
        for item, agreement in zip(data["agreements"], self.agreements):
            item["agree"] = agreement.agree
        data["convention"] = None if self.convention is None else self.convention.to_dict()
        data["ok"] = self.ok
        data["entries"] = self.entries
        return _plain(data)

    def display_data(self) -> dict:
        """:meth:`to_dict` plus the display names of the sources and of the method (what reports print)."""
        return {**self.to_dict(), "source_names": dict(SOURCES),
                "method_name": METHOD_NAMES.get(self.fd_method, self.fd_method)}

    # --- Jupyter: the same tables, rendered (derive.report.display) ---

    def _repr_html_(self) -> str:
        return display.check_html(self.display_data())

    def _repr_markdown_(self) -> str:
        return display.check_markdown(self.display_data())

    def _repr_latex_(self) -> str:
        return display.check_latex(self.display_data())

    def __str__(self) -> str:
        lines = ["%s of %s (%s), %s: %s" % (
            self.title, self.candidate_name, self.dtype, plural(self.entries, "entry", "entries"),
            "OK" if self.ok else "FAILED"), "  network: %s" % self.network]
        lines += ["  " + self.read] if self.read else []
        lines += ["  " + self.summary, ""]
        if self.convention is not None:
            passes = ("; they pass for %s" % self.convention.network.describe()
                      if self.convention.options and not getattr(self.convention, "negated", False) else "")
            lines += ["Convention: %s%s" % (self.convention.text, passes)]
            if self.convention.options:
                lines += ["  rerun: %s" % self.rerun if self.rerun else "  options: %s" % " ".join(
                    self.convention.options)]
            lines += [""]
        if self.diagnosis:
            lines += ["Diagnosis:"] + ["  - %s: %s" % (self._names(d.parameters), d.text) for d in self.diagnosis] + [""]
        lines += _agreement_table(self.agreements)
        lines += [""] + _parameter_table(self.rows, self.parameter_names, self.quantity)
        if self.worst:
            lines += ["", "Worst entries (candidate / reference / %s):" % METHOD_NAMES.get(self.fd_method, self.fd_method)]
            lines += ["  " + _entry_line(finding) for finding in self.worst]
        flagged = [d for d in self.directions if d.flagged]
        lines += ["", "Tolerances: candidate: %s" % _describe(self.tolerance),
                  "            %s: %s, plus twice their error estimate"
                  % (METHOD_NAMES.get(self.fd_method, self.fd_method), _describe(self.fd_tolerance)),
                  "Finite differences: %d %s, %s%s; %.3f s in all"
                  % (self.evaluations, self.evaluated, "%s (seed %d)" % (
                      plural(len(self.directions), "random direction"), self.seed) if self.directions else "no random "
                     "directions", ", %d flagged at kinks" % len(flagged) if flagged else "", self.seconds)]
        if self.kinks:
            lines += ["Kinks (flagged, not failed):"] + ["  - " + text for text in self.kinks]
        if self.warnings:
            lines += ["Warnings:"] + ["  - " + text for text in self.warnings]
        if self.notes:
            lines += ["Notes:"] + ["  - " + text for text in self.notes]
        lines += printed_lines(self.candidate_name, self.output)
        return "\n".join(lines)


    def _names(self, parameters) -> str:
        """``W1, b1``, or ``W1 (0.weight), b1 (0.bias)`` where the parameters have other names too."""
        return ", ".join("%s (%s)" % (p, self.parameter_names[p]) if p in self.parameter_names else p
                         for p in parameters)


def printed_lines(name: str, output: str, most: int = 12) -> list[str]:
    """``What NAME printed (first 12 of 240 lines):`` and the lines, indented; nothing when it printed nothing."""
    lines = [_clean(line) for line in output.splitlines()]
    if not any(line.strip() for line in lines):
        return []
    shown = "first %d of %s" % (most, plural(len(lines), "line")) if len(lines) > most else plural(len(lines), "line")
    return ["What %s printed (%s):" % (name, shown)] + ["  | " + line for line in lines[:most]]


def _clean(text: str) -> str:
    """A line without control characters (terminal escapes, carriage returns), tabs as spaces."""
    text = text.expandtabs(4)
    text = ANSI_ESCAPE.sub("", text)
    return "".join(char for char in text if char.isprintable())


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``plural(1, "entry", "entries")`` is ``1 entry``; ``plural(79510, ...)`` is ``79,510 entries``."""
    return "%s %s" % (format(count, ","), noun if count == 1 else nouns or noun + "s")


def _describe(tolerance: dict) -> str:
    return Tolerance(**tolerance).describe()


def _agreement_table(agreements: list[Agreement]) -> list[str]:
    lines = ["%-44s %22s %9s %8s %12s" % ("sources", "compared", "disagree", "flagged", "max rel err")]
    for a in agreements:
        compared = "%s entries" % format(a.entries, ",")
        if a.directions:
            compared += " + %d dir" % a.directions
        lines.append("%-44s %22s %9d %8d %12s" % (
            "%s vs %s" % (SOURCES[a.first], SOURCES[a.second]), compared, a.disagreements, a.flagged,
            _number(a.max_rel_error)))
    return lines


def _parameter_table(rows: list[ParameterRow], names: dict[str, str] | None = None, quantity: str = "g") -> list[str]:
    names = names or {}
    width = max([6] + [len(row.name) + len(names[row.name]) + 3 for row in rows if row.name in names])
    lines = ["%-*s %-12s %9s %11s %12s %12s %9s %6s" % (
        width, "param", "shape", "entries", "max |%s|" % quantity, "max abs err", "max rel err", "over tol", "kinks")]
    for row in rows:
        label = "%s (%s)" % (row.name, names[row.name]) if row.name in names else row.name
        lines.append("%-*s %-12s %9s %11s %12s %12s %9d %6d" % (
            width, label, "x".join(map(str, row.shape)), format(row.entries, ","), _number(row.largest),
            _number(row.max_abs_error), _number(row.max_rel_error), row.over, row.excused))
    for row in rows:
        if row.returned_shape is not None:
            theirs = names.get(row.name, "").endswith(".T")  # stored (in, out): say the shapes as the user has them
            returned, expected = (row.returned_shape[::-1], row.shape[::-1]) if theirs else (row.returned_shape,
                                                                                                row.shape)
            lines.append("  %s was returned with shape %s, not %s%s: every entry counts as wrong (errors above are of "
                         "its values realigned)" % (row.name, "x".join(map(str, returned)) or "() (one number)",
                                                    "x".join(map(str, expected)),
                                                    ", the shape of your %s" % names[row.name][:-2] if theirs else ""))
    return lines


def _entry_line(finding: EntryFinding) -> str:
    fd = "-" if finding.fd is None else "%.9g" % finding.fd
    text = "%s (%s): %.9g / %.9g / %s, rel err %s -> %s" % (
        finding.label, finding.meaning, finding.candidate, finding.reference, fd, _number(finding.rel_error),
        finding.verdict)
    return text + ("\n      " + finding.note if finding.note else "")


def _number(value: float) -> str:
    return "%.2e" % value if math.isfinite(value) else str(value)


def _plain(value):
    """Convert tuples, numpy scalars and nested containers to JSON-ready data; non-finite numbers become None
    (JSON has no NaN or infinity: ``json.dumps(report.to_dict(), allow_nan=False)`` always works)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
