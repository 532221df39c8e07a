"""The content of a report, independent of its format: a :class:`Document` of :class:`Section` blocks.

A report is built once as this content model and then written by one writer
per format (:mod:`derive.report.writers`).  Blocks hold SymPy objects for all
mathematics, so each writer prints them with its own printer (MathML for
HTML, LaTeX for Markdown, LaTeX documents and notebooks):

* :class:`Paragraph`: prose; its parts are strings (text) and SymPy objects (inline math);
* :class:`Equations`: displayed equations ``lhs = rhs_1 = rhs_2 ...``, aligned, each with an optional caption;
* :class:`Table`: a header and rows of cells, each a string, a number or a SymPy object;
* :class:`Figure`: a drawing (a plot, a diagram) that can render itself as SVG, PDF or PNG bytes;
* :class:`Code`: a source listing;
* :class:`Box`: a framed group of blocks under a title (the four equations of backpropagation);
* :class:`Blanks`: the blanks of an exercise sheet, each with a box to write in (or, on an answer sheet,
  its answer); :class:`Marks`: the same blanks marked (the student's number, the key's, a tick, why);
* :class:`Section`: a title and blocks, plus the notebook code that reproduces it.

Each writer is a :class:`~derive.report.renderer.Renderer` with one
``_render_<Block>`` method per block kind, found by the block's class name
(as SymPy's printers find ``_print_<Node>``): a new block kind is a class
here and one method per format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import sympy

from .math import text_number

#: Inline content: text, or a SymPy object printed as inline math.
Inline = Union[str, sympy.Basic]


@dataclass(frozen=True)
class AnswerSpace:
    """A table cell left empty for a student to write a number in (a box on paper)."""

    def __str__(self) -> str:
        return " " * 14  # about the width it takes


@dataclass(frozen=True)
class Tick:
    """A table cell with a mark: ``status`` is ``"correct"``, ``"carried forward"``, ``"wrong"`` or ``"unanswered"``."""

    status: str

    def __str__(self) -> str:
        return MARK_SYMBOLS[self.status] + " " + self.status


#: The symbol of each mark.
MARK_SYMBOLS = {"correct": "✓", "carried forward": "✓", "wrong": "✗", "unanswered": "–"}
#: A table cell: text, a number (printed with the report's digits), a SymPy object (math), or a cell of an exercise.
Cell = Union[str, int, float, sympy.Basic, AnswerSpace, Tick]


@dataclass(frozen=True)
class Paragraph:
    """Prose with inline math: ``Paragraph(("the error term ", delta, " of layer 2"))``.

    ``note`` makes it an aside (printed smaller); ``lead`` is a bold lead-in (``"Exercise 1."``).
    """

    parts: tuple[Inline, ...]
    note: bool = False
    lead: str = ""


@dataclass(frozen=True)
class EquationRow:
    """``lhs = rhs[0] = rhs[1] ...``, with an optional caption saying what it is (printed above the row).

    ``relation`` is ``"="`` or ``"←"`` (an update, as the lecture writes w ← w + Δw); ``tag`` is
    printed at the right of the row (the shape of a matrix equation).
    """

    lhs: sympy.Basic
    rhs: tuple[sympy.Basic, ...]
    caption: str | tuple = ""  # text, or paragraph parts (text and inline math)
    relation: str = "="
    tag: sympy.Basic | None = None


@dataclass(frozen=True)
class Equations:
    """A group of displayed equations, aligned at the first ``=``."""

    rows: tuple[EquationRow, ...]


@dataclass(frozen=True)
class Table:
    """A table with its caption above it; columns of numbers are right-aligned."""

    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    """A drawing: ``render(fmt)`` returns its bytes in ``"svg"``, ``"pdf"`` or ``"png"``.

    ``name`` is a file-name stem (unique in its document), ``alt`` the text a
    screen reader or a missing image shows.
    """

    name: str
    caption: str
    alt: str
    render: Callable[[str], bytes] = field(compare=False)


@dataclass(frozen=True)
class Code:
    """A source listing (``language`` for syntax-aware viewers); ``folded`` when it is long and optional."""

    source: str
    language: str = "python"
    folded: bool = False


@dataclass(frozen=True)
class Box:
    """A framed group of blocks under a title, read apart from the text around it."""

    title: str
    blocks: tuple


@dataclass(frozen=True)
class BlankRow:
    """One blank: its ``label`` (``dE/dW2[0,1]``), the ``quantity`` it is (math), the ``lecture``'s symbol for it
    (or None), and its ``answer`` (None: a box to write in)."""

    label: str
    quantity: sympy.Basic
    lecture: sympy.Basic | None = None
    answer: float | None = None


@dataclass(frozen=True)
class Blanks:
    """Blanks of an exercise sheet in the order a student fills them in; answers shown with ``digits`` digits."""

    rows: tuple[BlankRow, ...]
    caption: str = ""
    digits: int = 4

    def table(self) -> Table:
        """The blanks as a table: label, the lecture's symbol (where there is one), the quantity, the answer."""
        lecture = any(row.lecture is not None for row in self.rows)
        header = ("blank",) + (("lecture",) if lecture else ()) + ("quantity", "answer")
        rows = tuple((Code(row.label, "text"),) + ((row.lecture if row.lecture is not None else "",) if lecture
                                                   else ()) + (row.quantity, AnswerSpace() if row.answer is None
                                                               else written_number(row.answer, self.digits))
                     for row in self.rows)
        return Table(header, rows, self.caption)


@dataclass(frozen=True)
class MarkRow:
    """One marked blank: the student's number (None: unanswered), the key's, the ``status`` and the reason."""

    label: str
    quantity: sympy.Basic
    given: float | None
    expected: float
    status: str
    reason: str = ""


@dataclass(frozen=True)
class Marks:
    """Marked blanks: label, quantity, the student's answer, the key's, a tick, and a one-line reason."""

    rows: tuple[MarkRow, ...]
    caption: str = ""
    digits: int = 4

    def table(self) -> Table:
        """The marks as a table."""
        rows = tuple((Code(row.label, "text"), row.quantity,
                      "" if row.given is None else text_number(row.given, 10),
                      written_number(row.expected, self.digits), Tick(row.status), row.reason) for row in self.rows)
        return Table(("blank", "quantity", "your answer", "key", "mark", "why"), rows, self.caption)


Block = Union[Paragraph, Equations, Table, Figure, Code, Box, Blanks, Marks]


@dataclass
class Section:
    """A titled part of a report.

    Attributes:
        key: Identifier (anchors, notebook cell ids): lowercase words joined by dashes.
        title: The heading.
        blocks: The content, in order.
        level: 2 for a section, 3 for a subsection.
        code: Python that reproduces the section's numbers with the public API
            (a notebook runs it in a code cell after the section).
    """

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2
    code: str | None = None


@dataclass
class Document:
    """A whole report: title, subtitle lines, sections; ``setup`` is the notebook's first code cell."""

    title: str
    subtitle: tuple[str, ...] = ()
    sections: list[Section] = field(default_factory=list)
    setup: str | None = None

    def figures(self) -> list[Figure]:
        """Every figure, in order (also those inside boxes)."""
        return [block for section in self.sections for block in _flat(section.blocks) if isinstance(block, Figure)]


def _flat(blocks) -> list:
    """Blocks with the contents of boxes in their place."""
    return [inner for block in blocks for inner in (_flat(block.blocks) if isinstance(block, Box) else [block])]


def is_number(cell: Cell) -> bool:
    """Whether a cell is a number (printed with the report's digits, right-aligned)."""
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


def numeric_columns(table: Table) -> list[bool]:
    """For each column of ``table``, whether every cell in it is a number."""
    return [all(is_number(row[c]) for row in table.rows) for c in range(len(table.header))]


def written_number(value: float, digits: int) -> str:
    """A number with ``digits`` significant digits, trailing zeros kept, as an answer is written (0.5500, 0)."""
    return "0" if value == 0 else "%#.*g" % (digits, float(value))


def number_text(cell: int | float) -> str:
    """A number of a table as text: integers with thousands separators, others with the report's digits."""
    return format(cell, ",") if isinstance(cell, int) else text_number(cell)


def equations(*rows: tuple) -> Equations:
    """``equations((lhs, rhs), (lhs, rhs1, rhs2), ...)``: rows without captions."""
    return Equations(tuple(EquationRow(row[0], tuple(row[1:])) for row in rows))


def paragraph(*parts: Inline, note: bool = False, lead: str = "") -> Paragraph:
    """``paragraph("text ", expr, " more text")``."""
    return Paragraph(tuple(p for p in parts if not isinstance(p, str) or p), note, lead)
