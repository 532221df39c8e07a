"""The base of every report writer: a printer of documents that dispatches on the block kind by name.

SymPy's printers find the method for a node by its class name
(``_print_Add``); report writers do the same for blocks: a
:class:`Renderer` looks up ``_render_<Block>`` (``_render_Paragraph``,
``_render_Equations``, ``_render_Table``, ``_render_Figure``,
``_render_Code``, ``_render_Box``) on itself, so a new block kind is one
method per format, and a format without it fails naming what is missing.
The blocks of an exercise sheet (``_render_Blanks``, ``_render_Marks``) are
tables whose new kinds of cell each format writes: :meth:`Renderer.answer_space`
(a box to write in) and :meth:`Renderer.tick` (a mark).

A subclass writes the pieces every block is made of:

* :meth:`Renderer.text` (prose, escaped for the format) and :meth:`Renderer.math`
  (a SymPy object as inline math);
* :meth:`Renderer.code` (a short piece of code inside a table cell);
* :meth:`Renderer.answer_space` and :meth:`Renderer.tick` (the cells of an exercise sheet);
* :meth:`Renderer.render_section` (a heading and its blocks).

The formats: :class:`~derive.report.html.HtmlRenderer`,
:class:`~derive.report.latex.LatexRenderer`,
:class:`~derive.report.markdown.MarkdownRenderer` and, reusing the
Markdown blocks, :class:`~derive.report.notebook.NotebookRenderer`.
"""

from __future__ import annotations

import sympy

from .document import AnswerSpace, Blanks, Block, Cell, Code, Marks, Section, Tick, is_number, number_text
from .math import latex


class Renderer:
    """Writes sections and blocks in one format (see the module docstring)."""

    #: The format's name, for messages.
    name = "report"

    def render_sections(self, sections: list[Section]) -> str:
        """Sections, one after the other."""
        return "".join(self.render_section(section) for section in sections)

    def render_section(self, section: Section) -> str:
        """A section: its heading and its blocks."""
        raise NotImplementedError("%s does not write sections" % type(self).__name__)

    def render_block(self, block: Block) -> str:
        """One block, by the ``_render_<Block>`` method of its kind.

        Raises:
            NotImplementedError: the format has no method for this kind of block (named in the message).
        """
        method = getattr(self, "_render_" + type(block).__name__, None)
        if method is None:
            raise NotImplementedError("the %s writer cannot write a %s block: %s has no _render_%s"
                                      % (self.name, type(block).__name__, type(self).__name__, type(block).__name__))
        return method(block)

    def render_blocks(self, blocks) -> list[str]:
        """Each block of ``blocks``, in order."""
        return [self.render_block(block) for block in blocks]

    def render_cell(self, cell: Cell) -> str:
        """A table cell: math for a SymPy object, code for :class:`Code`, a number with the report's digits, or text."""
        if isinstance(cell, sympy.Basic):
            return self.math(cell)
        if isinstance(cell, Code):
            return self.code(cell.source)
        if isinstance(cell, AnswerSpace):
            return self.answer_space()
        if isinstance(cell, Tick):
            return self.tick(cell.status)
        return self.text(number_text(cell) if is_number(cell) else str(cell))

    def _render_Blanks(self, block: Blanks) -> str:
        return self.render_block(block.table())

    def _render_Marks(self, block: Marks) -> str:
        return self.render_block(block.table())

    def inline(self, parts) -> str:
        """Prose with inline math (a plain string is prose)."""
        if isinstance(parts, str):
            return self.text(parts)
        return "".join(self.text(part) if isinstance(part, str) else self.math(part) for part in parts)

    def text(self, text: str) -> str:
        """Prose, escaped for the format (by its ``escape``)."""
        return self.escape(text)

    @staticmethod
    def escape(text: str) -> str:
        """Text with what the format reads as markup escaped."""
        raise NotImplementedError

    def math(self, expr: sympy.Basic) -> str:
        """A SymPy object as inline math."""
        raise NotImplementedError

    def code(self, source: str) -> str:
        """A short piece of code inside a table cell."""
        raise NotImplementedError

    def answer_space(self) -> str:
        """An empty box a student writes a number in."""
        raise NotImplementedError("the %s writer has no answer boxes: %s has no answer_space" % (
            self.name, type(self).__name__))

    def tick(self, status: str) -> str:
        """The mark of a blank: ✓ (correct, or carried forward), ✗ (wrong), – (unanswered), with its word."""
        raise NotImplementedError("the %s writer has no marks: %s has no tick" % (self.name, type(self).__name__))


class TexRenderer(Renderer):
    """A format whose inline math is LaTeX between dollars (LaTeX documents, Markdown, notebooks)."""

    def math(self, expr: sympy.Basic) -> str:
        return "$%s$" % latex(expr)
