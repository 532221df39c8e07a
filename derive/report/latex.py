"""The LaTeX writer: a complete document for pdflatex, and the PDF it compiles to.

The document needs only TeX Live's base and recommended packages (Debian:
``texlive-latex-base`` and ``texlive-latex-recommended``): ``amsmath``,
``amssymb``, ``geometry``, ``graphicx``, ``booktabs``, ``longtable``,
``listings``, ``xcolor`` and ``hyperref``.  Figures are PDF files beside the
``.tex`` (``report-figures/network.pdf``).  Equations are ``align*`` rows of
the LaTeX that :func:`derive.report.math.latex` prints.

:func:`compile_pdf` runs pdflatex in a temporary directory, with the
settings that make its output reproducible (``SOURCE_DATE_EPOCH`` and
``FORCE_SOURCE_DATE``, no trailer id, no creation date in the PDF's info).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import sympy

from derive.errors import InputError

from .document import (Block, Cell, Code, Document, Equations, Figure, Paragraph, Section, Table, is_number,
                       numeric_columns, render_cell)
from .math import equation_latex, latex

PACKAGES = ("amsmath", "amssymb", "geometry", "graphicx", "booktabs", "longtable", "array", "listings", "xcolor",
            "hyperref")
PREAMBLE = r"""\documentclass[11pt]{article}
\ifdefined\pdftrailerid
  \pdftrailerid{}\pdfinfoomitdate=1\pdfsuppressptexinfo=-1
\fi
\usepackage{amsmath,amssymb}
\usepackage[a4paper,margin=22mm]{geometry}
\usepackage{graphicx,booktabs,longtable,array}
\usepackage{xcolor,listings}
\usepackage[hidelinks,pdfcreator={backprop},pdfproducer={}]{hyperref}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\emergencystretch=3em
\lstset{basicstyle=\ttfamily\scriptsize, breaklines=true, columns=fullflexible, keepspaces=true,
  backgroundcolor=\color[gray]{0.96}, frame=none, xleftmargin=0.5em, showstringspaces=false}
"""
#: Unicode the prose may hold, as LaTeX that pdflatex understands without extra packages.
UNICODE = {"×": r"$\times$", "—": "---", "–": "--", "≈": r"$\approx$", "…": r"\dots{}", "∝": r"$\propto$",
           "ε": r"$\varepsilon$", "η": r"$\eta$", "α": r"$\alpha$", "λ": r"$\lambda$", "δ": r"$\delta$",
           "σ": r"$\sigma$", "∂": r"$\partial$", "→": r"$\to$", "←": r"$\leftarrow$", "²": r"$^2$", "≤": r"$\le$",
           "ᵀ": r"$^{\top}$", "≥": r"$\ge$", "−": "-", "‘": "`",
           "’": "'", "“": "``", "”": "''", "Δ": r"$\Delta$", "·": r"$\cdot$",
           "±": r"$\pm$", "∑": r"$\sum$", "μ": r"$\mu$", "✓": r"$\checkmark$", "\u2009": r"\,", "⋮": r"$\vdots$"}
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#",
            "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}",
            "|": r"\textbar{}"}
#: Text columns with a cell longer than this wrap, sharing what the other columns leave of the line;
#: a character of a ``\small`` table takes about CHARACTER_WIDTH of the line.
LONG_CELL, CHARACTER_WIDTH = 28, 0.0115
PDFLATEX_MISSING = ("writing PDF needs pdflatex, which is not installed; install it (Debian/Ubuntu: apt-get install "
                    "texlive-latex-base texlive-latex-recommended) or write .tex and compile it yourself")


def render_latex(document: Document, link: Callable[[Figure], str]) -> str:
    """The whole document; ``link(figure)`` is the path (without extension) of each figure's PDF."""
    title = "{\\LARGE\\bfseries %s\\par}\n\\vspace{0.6em}\n%s" % (
        escape(document.title), "\\\\\n".join(escape(line) for line in document.subtitle))
    body = "".join(render_section(section, link) for section in document.sections)
    return ("%s\\hypersetup{pdftitle={%s}}\n\\begin{document}\n\\begin{center}\n%s\n\\end{center}\n\n%s"
            "\\end{document}\n" % (PREAMBLE, escape(document.title, title=True), title, body))


def standalone(fragment: str) -> str:
    """A LaTeX fragment (``backprop derive --latex``) as a complete document, with the report's preamble."""
    return "%s\\begin{document}\n%s\n\\end{document}\n" % (PREAMBLE, fragment)


def render_section(section: Section, link: Callable[[Figure], str]) -> str:
    command = "section" if section.level <= 2 else "subsection"
    parts = [r"\%s{%s}\label{%s}" % (command, escape(section.title, title=True), section.key)]
    parts += [render_block(block, link) for block in section.blocks]
    return "\n\n".join(parts) + "\n\n"


def render_block(block: Block, link: Callable[[Figure], str]) -> str:
    """One block as LaTeX."""
    if isinstance(block, Paragraph):
        text = inline(block.parts)
        return r"{\small\color[gray]{0.3}%s\par}" % text if block.note else text
    if isinstance(block, Equations):
        return _equations(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        return ("\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth,height=0.42\\textheight,"
                "keepaspectratio]{%s}\n\\caption{%s}\n\\end{figure}" % (link(block), escape(block.caption)))
    if isinstance(block, Code):
        return "\\begin{lstlisting}[language=Python]\n%s\n\\end{lstlisting}" % _ascii(block.source.rstrip("\n"))
    raise TypeError("no LaTeX for %s" % type(block).__name__)


def escape(text: str, title: bool = False) -> str:
    """Text as LaTeX: special characters escaped, the prose's Unicode mapped, anything else replaced by ``?``.

    In a ``title`` (which hyperref also writes into the PDF's bookmarks), math gets a plain-text alternative.
    """
    out = []
    for char in text:
        if char in _SPECIAL:
            out.append(_SPECIAL[char])
        elif char in UNICODE:
            mapped = UNICODE[char]
            plain = mapped.strip("$").lstrip("\\")
            out.append(r"\texorpdfstring{%s}{%s}" % (mapped, plain) if title and mapped.startswith("$") else mapped)
        else:
            out.append(char if ord(char) < 128 else "?")
    return "".join(out)


def _ascii(source: str) -> str:
    return "".join(char if ord(char) < 128 else "?" for char in source)


def inline(parts) -> str:
    return "".join(escape(part) if isinstance(part, str) else "$%s$" % latex(part) for part in parts)


def _equations(block: Equations) -> str:
    lines = []
    for row in block.rows:
        if row.caption:
            lines.append(r"\intertext{\small\color[gray]{0.35}%s}" % escape(row.caption))
        lines.append(equation_latex(row.lhs, *row.rhs) + r" \\")
    if lines:
        lines[-1] = lines[-1][: -len(r" \\")]
    return "\\begin{align*}\n%s\n\\end{align*}" % "\n".join(lines)


def _cell(cell: Cell) -> str:
    return render_cell(cell, lambda expr: "$%s$" % latex(expr), lambda source: r"\texttt{%s}" % escape(source), escape)


def _table(block: Table) -> str:
    return _longtable(block, _column_spec(block))


def _column_spec(block: Table) -> str:
    """``r`` for numbers, ``l`` for short text and math, and wrapping ``p{...}`` columns sharing the rest for
    long text (so that a summary of a 784-100-10 network fits the page)."""
    columns = range(len(block.header))
    numeric = numeric_columns(block)
    longest = [max((len(_plain(row[c])) for row in block.rows), default=0) for c in columns]
    wide = [c for c in columns if longest[c] > LONG_CELL and not numeric[c]]
    narrow = sum(max(longest[c], len(_plain(block.header[c]))) + 2 for c in columns if c not in wide)
    room = max(0.25 * len(wide), 0.95 - CHARACTER_WIDTH * narrow)
    total = sum(min(longest[c], 80) for c in wide)
    spec = ""
    for c in columns:
        if c in wide:
            share = min(room * min(longest[c], 80) / total, CHARACTER_WIDTH * longest[c])
            spec += r">{\raggedright\arraybackslash}p{%.2f\linewidth}" % share
        else:
            spec += "r" if numeric[c] else "l"
    return spec


def _plain(cell) -> str:
    """About as many characters as a cell takes on the page."""
    return render_cell(cell, sympy.sstr, str, str) if not is_number(cell) else "%.4g" % cell


def _longtable(block: Table, spec: str) -> str:
    rows = [" & ".join(_cell(cell) for cell in block.header) + r" \\", r"\midrule"]
    rows += [" & ".join(_cell(cell) for cell in row) + r" \\" for row in block.rows]
    caption = "\\caption*{\\small %s}\\\\\n" % escape(block.caption) if block.caption else ""
    return "{\\small\n\\begin{longtable}{%s}\n%s\\toprule\n%s\n\\bottomrule\n\\end{longtable}}" % (
        spec, caption, "\n".join(rows))


def compile_pdf(tex: str, figures: dict[str, bytes], runs: int = 2) -> bytes:
    """Compile a document with pdflatex and return the PDF's bytes.

    Args:
        tex: The document (:func:`render_latex`).
        figures: Files the document includes, by relative path.
        runs: pdflatex passes (two settle the widths of long tables).

    Raises:
        InputError: pdflatex is not installed (naming the packages to install), or it fails (with its first error).
    """
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        raise InputError(PDFLATEX_MISSING)
    environment = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    with tempfile.TemporaryDirectory(prefix="backprop-pdf-") as directory:
        folder = Path(directory)
        (folder / "report.tex").write_text(tex, encoding="utf-8")
        for name, data in figures.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        for _ in range(runs):
            result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                                    cwd=folder, capture_output=True, text=True, env=environment, timeout=300)
            if result.returncode != 0:
                raise InputError(_failure(result.stdout, result.returncode))
        return (folder / "report.pdf").read_bytes()


def _failure(log: str, code: int) -> str:
    """One line saying why pdflatex failed: a missing package (and what provides it), or its first error."""
    missing = re.findall(r"File `([^']+\.sty)' not found", log)
    if missing:
        return ("pdflatex cannot find %s; the report needs %s (Debian/Ubuntu: apt-get install texlive-latex-base "
                "texlive-latex-recommended)" % (missing[0], ", ".join(PACKAGES)))
    errors = [line[2:] for line in log.splitlines() if line.startswith("!")]
    first = errors[0] if errors else "exit code %d" % code
    return "pdflatex failed on the report: %s (write .tex to inspect it)" % first
