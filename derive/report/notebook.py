"""The Jupyter writer: an nbformat v4 notebook with one Markdown cell per section and the code that reproduces it.

Each section becomes a Markdown cell (the blocks of
:class:`~derive.report.markdown.MarkdownRenderer`; figures as PNG
attachments of the cell, so the notebook is one file) followed, where the
section has numbers, by a code cell that recomputes them with the public
API.  The notebook opens with a setup cell that builds the network and its
derivation, so it runs top to bottom in a fresh kernel.  Cell ids are the
section keys, so the same report gives the same bytes; the notebook is
validated against the nbformat schema before it is returned.
"""

from __future__ import annotations

import base64

from .document import Document, Figure
from .markdown import MarkdownRenderer, escape

KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}


class NotebookRenderer(MarkdownRenderer):
    """Markdown cells whose figures are attachments of their cell (see the module docstring)."""

    name = "notebook"

    def __init__(self):
        super().__init__(self._attach)
        self.attachments: dict[str, dict] = {}

    def _attach(self, figure: Figure) -> str:
        self.attachments[figure.name + ".png"] = {"image/png": base64.b64encode(figure.render("png")).decode("ascii")}
        return "attachment:%s.png" % figure.name

    def render_document(self, document: Document) -> str:
        """The document as the JSON text of a validated notebook."""
        # nbformat is imported on first use, so that the CLI starts without it.
        import nbformat
        from nbformat import v4

        title = "# %s\n\n%s" % (escape(document.title),
                                "\n".join("*%s*  " % escape(line) for line in document.subtitle))
        cells = [v4.new_markdown_cell(title.rstrip(), id="title")]
        if document.setup:
            cells.append(v4.new_code_cell(document.setup, id="setup"))
        for section in document.sections:
            self.attachments = {}
            cell = v4.new_markdown_cell(self.render_section(section).rstrip("\n"), id=section.key)
            if self.attachments:
                cell["attachments"] = self.attachments
            cells.append(cell)
            if section.code:
                cells.append(v4.new_code_cell(section.code, id=section.key + "-code"))
        notebook = v4.new_notebook(cells=cells, metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
        nbformat.validate(notebook)
        return nbformat.writes(notebook) + "\n"


def render_notebook(document: Document) -> str:
    """The document as the JSON text of a validated notebook."""
    return NotebookRenderer().render_document(document)
