"""The formats a report is written in, by name and by file extension, and :func:`render`.

========  ===========  ===============================================================
format    extension    what is written
========  ===========  ===============================================================
html      .html .htm   one standalone page: MathML, inline SVG, no network request
markdown  .md          the page (math GitHub renders) and ``<stem>-figures/*.svg``
latex     .tex         a pdflatex document and ``<stem>-figures/*.pdf``
pdf       .pdf         the LaTeX document compiled by pdflatex (one file)
notebook  .ipynb       a Jupyter notebook (figures attached to their cells)
========  ===========  ===============================================================

:func:`render` returns every file as bytes, keyed by its path relative to
the output's folder, the report itself first; the caller writes them (the
``backprop`` command writes each atomically).  The same document gives the
same bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from derive.errors import InputError, choices

from .document import Document, Figure
from .html import render_html
from .latex import PDFLATEX_MISSING, compile_pdf, render_latex
from .markdown import render_markdown
from .notebook import render_notebook

#: Format name -> the extensions it is written with (the first is its usual one).
FORMATS = {"html": (".html", ".htm"), "markdown": (".md",), "latex": (".tex",), "pdf": (".pdf",),
           "notebook": (".ipynb",)}


def format_for(path: str | Path, fmt: str | None = None) -> str:
    """The format to write ``path`` in: ``fmt`` if given (a name or an extension), else from the extension.

    Raises:
        InputError: an unknown format or extension, naming the ones accepted.
    """
    if fmt is not None:
        key = fmt.lower().lstrip(".")
        for name, extensions in FORMATS.items():
            if key == name or "." + key in extensions:
                return name
        raise InputError("unknown report format %r; choose one of: %s" % (fmt, choices(list(FORMATS))))
    suffix = Path(path).suffix.lower()
    for name, extensions in FORMATS.items():
        if suffix in extensions:
            return name
    accepted = ", ".join(ext for extensions in FORMATS.values() for ext in extensions)
    raise InputError("cannot tell the report format of %s from its extension %r; use one of %s (or --format)"
                     % (path, suffix or "(none)", accepted))


def check_tools(fmt: str) -> None:
    """Refuse, before any work, a format whose tool is missing (pdflatex for ``pdf``).

    Raises:
        InputError: naming the packages to install.
    """
    if fmt == "pdf" and shutil.which("pdflatex") is None:
        raise InputError(PDFLATEX_MISSING)


def render(document: Document, fmt: str, path: str | Path) -> dict[str, bytes]:
    """Every file of the report in format ``fmt``, as ``{relative path: bytes}``, the report itself first.

    Args:
        document: The report's content (:func:`derive.report.build_report`).
        fmt: A format name of :data:`FORMATS`.
        path: Where the report will be written (its name names the figures' folder).

    Raises:
        InputError: unknown format, or pdflatex missing or failing (``pdf``).
    """
    path = Path(path)
    folder = "%s-figures" % path.stem
    if fmt == "html":
        return {path.name: render_html(document).encode("utf-8")}
    if fmt == "notebook":
        return {path.name: render_notebook(document).encode("utf-8")}
    if fmt == "markdown":
        figures = {"%s/%s.svg" % (folder, figure.name): figure.render("svg") for figure in document.figures()}
        page = render_markdown(document, lambda figure: "%s/%s.svg" % (folder, figure.name))
        return {path.name: page.encode("utf-8"), **figures}
    if fmt in ("latex", "pdf"):
        figures = {"%s/%s.pdf" % (folder, figure.name): figure.render("pdf") for figure in document.figures()}
        tex = render_latex(document, lambda figure: "%s/%s" % (folder, figure.name))
        if fmt == "latex":
            return {path.name: tex.encode("utf-8"), **figures}
        return {path.name: compile_pdf(tex, figures)}
    raise InputError("unknown report format %r; choose one of: %s" % (fmt, choices(list(FORMATS))))


__all__ = ["FORMATS", "Figure", "check_tools", "format_for", "render"]
