"""The Markdown writer: math that GitHub renders, figures as SVG files beside the page.

Inline math is ``$...$`` and displayed math a ``$$`` block holding an
``aligned`` environment, the LaTeX of :func:`derive.report.math.latex`, which
GitHub, GitLab, VS Code and Jupyter all render.  Figures are written to a
folder beside the page (``report-figures/network.svg`` for ``report.md``) and
linked relatively.  A table's caption is a line above it; a cell holds
inline math only (GitHub renders no ``cases`` or other environment inside a
table cell).  A box is a block quote.  The Jupyter writer (:mod:`derive.report.notebook`) reuses
these blocks for its Markdown cells.
"""

from __future__ import annotations

import re
from typing import Callable

from .document import MARK_SYMBOLS, Box, Code, Document, Equations, Figure, Paragraph, Section, Table, numeric_columns
from .linebreak import equation_lines
from .math import latex
from .renderer import TexRenderer

#: How a figure is linked: ``link(figure) -> relative path`` (the writer decides where the file goes).
FigureLink = Callable[[Figure], str]


class MarkdownRenderer(TexRenderer):
    """Blocks as Markdown with ``$`` math (see the module docstring); ``link(figure)`` is each figure's path."""

    name = "Markdown"
    escape = staticmethod(lambda text: escape(text))

    def __init__(self, link: FigureLink):
        self.link = link

    def render_document(self, document: Document) -> str:
        """The whole document."""
        head = ["# %s" % escape(document.title), ""]
        head += ["*%s*  " % escape(line) for line in document.subtitle]
        return "\n".join(head).rstrip() + "\n\n" + self.render_sections(document.sections)

    def render_section(self, section: Section) -> str:
        parts = ["%s %s" % ("#" * section.level, escape(section.title))]
        return "\n\n".join(parts + self.render_blocks(section.blocks)) + "\n\n"

    def code(self, source: str) -> str:
        return "`%s`" % source.replace("|", "\\|")

    def answer_space(self) -> str:
        return escape("__________")

    def tick(self, status: str) -> str:
        text = "%s %s" % (MARK_SYMBOLS[status], status)
        return "**%s**" % text if status == "wrong" else text

    def _render_Paragraph(self, block: Paragraph) -> str:
        text = ("**%s** " % escape(block.lead) if block.lead else "") + self.inline(block.parts)
        return "> %s" % text if block.note else text

    def _render_Equations(self, block: Equations) -> str:
        if any(row.caption for row in block.rows):
            return "\n\n".join(("*%s*\n\n" % self.inline(row.caption) if row.caption else "") + self._display([row])
                               for row in block.rows)
        return self._display(block.rows)

    def _display(self, rows) -> str:
        lines = []
        for row in rows:
            written = equation_lines(row)
            if row.tag is not None:
                written[-1] += r" \qquad %s" % latex(row.tag)
            lines += written
        if len(lines) == 1:
            return "$$\n%s\n$$" % lines[0].replace("&", "", 1)
        return "$$\n\\begin{aligned}\n%s\n\\end{aligned}\n$$" % " \\\\\n".join(lines)

    def _render_Table(self, block: Table) -> str:
        lines = ["*%s*" % escape(block.caption), ""] if block.caption else []
        lines += ["| %s |" % " | ".join(self.render_cell(cell) for cell in block.header),
                  "|%s|" % "|".join("---:" if right else "---" for right in numeric_columns(block))]
        lines += ["| %s |" % " | ".join(self.render_cell(cell) for cell in row) for row in block.rows]
        return "\n".join(lines)

    def _render_Figure(self, block: Figure) -> str:
        return "![%s](%s)\n\n*%s*" % (escape(block.alt), self.link(block), escape(block.caption))

    def _render_Code(self, block: Code) -> str:
        fence = "```%s\n%s\n```" % (block.language, block.source.rstrip("\n"))
        if block.folded:
            return "<details><summary>Show the listing (%d lines)</summary>\n\n%s\n\n</details>" % (
                block.source.count("\n") + 1, fence)
        return fence

    def _render_Box(self, block: Box) -> str:
        inner = "\n\n".join(["**%s**" % escape(block.title)] + self.render_blocks(block.blocks))
        return "\n".join(("> " + line).rstrip() for line in inner.splitlines())


def render_markdown(document: Document, link: FigureLink) -> str:
    """The whole document as Markdown; ``link(figure)`` names the file each figure is written to."""
    return MarkdownRenderer(link).render_document(document)


def render_sections(sections: list[Section], link: FigureLink) -> str:
    """Sections as Markdown."""
    return MarkdownRenderer(link).render_sections(sections)


def escape(text: str) -> str:
    """Text with the characters Markdown would read as markup escaped."""
    return re.sub(r"([\\`*_\[\]<>#|$])", r"\\\1", text)
