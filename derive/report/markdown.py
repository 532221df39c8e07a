"""The Markdown writer: math that GitHub renders, figures as SVG files beside the page.

Inline math is ``$...$`` and displayed math a ``$$`` block holding an
``aligned`` environment, the LaTeX of :func:`derive.report.math.latex`, which
GitHub, GitLab, VS Code and Jupyter all render.  Figures are written to a
folder beside the page (``report-figures/network.svg`` for ``report.md``) and
linked relatively.  The Jupyter writer (:mod:`derive.report.notebook`) reuses
these blocks for its Markdown cells.
"""

from __future__ import annotations

import re
from typing import Callable

from .document import (Block, Cell, Code, Document, Equations, Figure, Paragraph, Section, Table, numeric_columns,
                       render_cell)
from .math import equation_latex, latex

#: How a figure is linked: ``link(figure) -> relative path`` (the writer decides where the file goes).
FigureLink = Callable[[Figure], str]


def render_markdown(document: Document, link: FigureLink) -> str:
    """The whole document as Markdown; ``link(figure)`` names the file each figure is written to."""
    head = ["# %s" % escape(document.title), ""]
    head += ["*%s*  " % escape(line) for line in document.subtitle]
    return "\n".join(head).rstrip() + "\n\n" + render_sections(document.sections, link)


def render_sections(sections: list[Section], link: FigureLink) -> str:
    """Sections as Markdown."""
    return "".join(render_section(section, link) for section in sections)


def render_section(section: Section, link: FigureLink) -> str:
    """One section: its heading and its blocks, separated by blank lines."""
    parts = ["%s %s" % ("#" * section.level, escape(section.title))]
    parts += [render_block(block, link) for block in section.blocks]
    return "\n\n".join(parts) + "\n\n"


def render_block(block: Block, link: FigureLink) -> str:
    """One block as Markdown."""
    if isinstance(block, Paragraph):
        text = inline(block.parts)
        return "> %s" % text if block.note else text
    if isinstance(block, Equations):
        return _equations(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return "![%s](%s)\n\n*%s*" % (escape(block.alt), link(block), escape(block.caption))
    if isinstance(block, Code):
        fence = "```%s\n%s\n```" % (block.language, block.source.rstrip("\n"))
        if block.folded:
            return "<details><summary>Show the listing (%d lines)</summary>\n\n%s\n\n</details>" % (
                block.source.count("\n") + 1, fence)
        return fence
    raise TypeError("no Markdown for %s" % type(block).__name__)


def escape(text: str) -> str:
    """Text with the characters Markdown would read as markup escaped."""
    return re.sub(r"([\\`*_\[\]<>#|$])", r"\\\1", text)


def inline(parts) -> str:
    """Prose with inline math ``$...$``."""
    return "".join(escape(part) if isinstance(part, str) else "$%s$" % latex(part) for part in parts)


def _equations(block: Equations) -> str:
    if any(row.caption for row in block.rows):
        return "\n\n".join(("*%s*\n\n" % escape(row.caption) if row.caption else "")
                           + "$$\n%s\n$$" % equation_latex(row.lhs, *row.rhs).replace("&=", "=", 1)
                           for row in block.rows)
    lines = " \\\\\n".join(equation_latex(row.lhs, *row.rhs) for row in block.rows)
    return "$$\n\\begin{aligned}\n%s\n\\end{aligned}\n$$" % lines


def cell_text(cell: Cell) -> str:
    """A table cell as Markdown (math ``$...$``, numbers with the report's digits)."""
    return render_cell(cell, lambda expr: "$%s$" % latex(expr), lambda source: "`%s`" % source.replace("|", "\\|"),
                       escape)


def _table(block: Table) -> str:
    lines = ["| %s |" % " | ".join(cell_text(cell) for cell in block.header),
             "|%s|" % "|".join("---:" if right else "---" for right in numeric_columns(block))]
    lines += ["| %s |" % " | ".join(cell_text(cell) for cell in row) for row in block.rows]
    if block.caption:
        lines += ["", "*%s*" % escape(block.caption)]
    return "\n".join(lines)
