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
* :class:`Section`: a title and blocks, plus the notebook code that reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import sympy

from .math import text_number

#: Inline content: text, or a SymPy object printed as inline math.
Inline = Union[str, sympy.Basic]
#: A table cell: text, a number (printed with the report's digits), or a SymPy object (math).
Cell = Union[str, int, float, sympy.Basic]


@dataclass(frozen=True)
class Paragraph:
    """Prose with inline math: ``Paragraph(("the error term ", delta, " of layer 2"))``."""

    parts: tuple[Inline, ...]
    note: bool = False  # an aside (printed smaller / as a note)


@dataclass(frozen=True)
class EquationRow:
    """``lhs = rhs[0] = rhs[1] ...``, with an optional caption saying what it is."""

    lhs: sympy.Basic
    rhs: tuple[sympy.Basic, ...]
    caption: str = ""


@dataclass(frozen=True)
class Equations:
    """A group of displayed equations, aligned at the first ``=``."""

    rows: tuple[EquationRow, ...]


@dataclass(frozen=True)
class Table:
    """A table; ``numeric`` columns are right-aligned."""

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


Block = Union[Paragraph, Equations, Table, Figure, Code]


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
        """Every figure, in order."""
        return [block for section in self.sections for block in section.blocks if isinstance(block, Figure)]


def is_number(cell: Cell) -> bool:
    """Whether a cell is a number (printed with the report's digits, right-aligned)."""
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


def numeric_columns(table: Table) -> list[bool]:
    """For each column of ``table``, whether every cell in it is a number."""
    return [all(is_number(row[c]) for row in table.rows) for c in range(len(table.header))]


def render_cell(cell: Cell, math: Callable[[sympy.Basic], str], code: Callable[[str], str],
                text: Callable[[str], str]) -> str:
    """A cell in a writer's syntax: ``math(expr)``, ``code(source)``, ``text(string)``, or a number as text."""
    if isinstance(cell, sympy.Basic):
        return math(cell)
    if isinstance(cell, Code):
        return code(cell.source)
    if not is_number(cell):
        return text(str(cell))
    return format(cell, ",") if isinstance(cell, int) else text_number(cell)


def equations(*rows: tuple) -> Equations:
    """``equations((lhs, rhs), (lhs, rhs1, rhs2), ...)``: rows without captions."""
    return Equations(tuple(EquationRow(row[0], tuple(row[1:])) for row in rows))


def paragraph(*parts: Inline, note: bool = False) -> Paragraph:
    """``paragraph("text ", expr, " more text")``."""
    return Paragraph(tuple(parts), note)
