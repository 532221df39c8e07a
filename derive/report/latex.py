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

from .document import (MARK_SYMBOLS, Blanks, Box, Code, Document, Equations, Figure, Marks, Paragraph, Section, Table,
                       is_number, numeric_columns)
from .linebreak import equation_lines
from .math import latex
from .renderer import TexRenderer

PACKAGES = ("amsmath", "amssymb", "geometry", "graphicx", "booktabs", "longtable", "array", "listings", "xcolor",
            "multicol", "hyperref")
PREAMBLE = r"""\documentclass[11pt]{article}
\ifdefined\pdftrailerid
  \pdftrailerid{}\pdfinfoomitdate=1\pdfsuppressptexinfo=-1
\fi
\usepackage{amsmath,amssymb}
\usepackage[a4paper,margin=22mm]{geometry}
\usepackage{graphicx,booktabs,longtable,array}
\usepackage{xcolor,listings,multicol}
\usepackage[hidelinks,pdfcreator={backprop},pdfproducer={}]{hyperref}
\allowdisplaybreaks
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\emergencystretch=3em
\newcommand{\reportbox}[2]{\par\medskip\noindent\fcolorbox[rgb]{0.12,0.37,0.66}{0.97,0.98,1}{%
  \begin{minipage}{\dimexpr\linewidth-2\fboxsep-2\fboxrule\relax}
  {\bfseries\color[rgb]{0.12,0.37,0.66}#1\par}\smallskip #2\end{minipage}}\par\medskip}
\lstset{basicstyle=\ttfamily\scriptsize, breaklines=true, columns=fullflexible, keepspaces=true,
  backgroundcolor=\color[gray]{0.96}, frame=none, xleftmargin=0.5em, showstringspaces=false}
"""
#: Unicode the prose may hold, as LaTeX that pdflatex understands without extra packages.
UNICODE = {"×": r"$\times$", "—": "---", "–": "--", "≈": r"$\approx$", "…": r"\dots{}", "∝": r"$\propto$",
           "ε": r"$\varepsilon$", "η": r"$\eta$", "α": r"$\alpha$", "λ": r"$\lambda$", "δ": r"$\delta$",
           "σ": r"$\sigma$", "∂": r"$\partial$", "→": r"$\to$", "←": r"$\leftarrow$", "²": r"$^2$", "≤": r"$\le$",
           "ᵀ": r"$^{\top}$", "≥": r"$\ge$", "−": "-", "‘": "`",
           "’": "'", "“": "``", "”": "''", "Δ": r"$\Delta$", "·": r"$\cdot$",
           "±": r"$\pm$", "∑": r"$\sum$", "μ": r"$\mu$", "✓": r"$\checkmark$", "\u2009": r"\,", "⋮": r"$\vdots$",
           "′": r"$'$", "⊙": r"$\odot$", "⊤": r"$^{\top}$", "∈": r"$\in$", "≠": r"$\neq$", "θ": r"$\theta$",
           "ℛ": r"$\mathcal{R}$", "✗": r"$\times$", "≈": r"$\approx$", "Σ": r"$\Sigma$", "∇": r"$\nabla$", "½": r"$\frac{1}{2}$"}
_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%", "#": r"\#",
            "_": r"\_", "^": r"\^{}", "~": r"\~{}", "<": r"\textless{}", ">": r"\textgreater{}",
            "|": r"\textbar{}"}
#: Text columns with a cell longer than this wrap, sharing what the other columns leave of the line;
#: a character of a ``\small`` table takes about CHARACTER_WIDTH of the line.
LONG_CELL, CHARACTER_WIDTH = 28, 0.0115
#: Tables with more columns than this are set smaller, with less space between columns (a Hessian of 9 parameters).
WIDE_TABLE = 7
#: The colour of each mark (green, blue, red, grey), as xcolor's rgb.
TICK_COLOURS = {"correct": "0.1,0.5,0.22", "carried forward": "0.12,0.37,0.66", "wrong": "0.78,0.16,0.16",
                "unanswered": "0.37,0.39,0.41"}
PDFLATEX_MISSING = ("writing PDF needs pdflatex, which is not installed; install it (Debian/Ubuntu: apt-get install "
                    "texlive-latex-base texlive-latex-recommended) or write .tex and compile it yourself")


class LatexRenderer(TexRenderer):
    """Blocks as LaTeX for pdflatex (see the module docstring); ``link(figure)`` is each figure's PDF path."""

    name = "LaTeX"
    escape = staticmethod(lambda text: escape(text))

    def __init__(self, link: Callable[[Figure], str]):
        self.link = link

    def render_document(self, document: Document) -> str:
        """The whole document."""
        title = "{\\LARGE\\bfseries %s\\par}\n\\vspace{0.6em}\n%s" % (
            escape(document.title), "\\\\\n".join(escape(line) for line in document.subtitle))
        return ("%s\\hypersetup{pdftitle={%s}}\n\\begin{document}\n\\begin{center}\n%s\n\\end{center}\n\n%s"
                "\\end{document}\n" % (PREAMBLE, escape(document.title, title=True), title,
                                       self.render_sections(document.sections)))

    def render_section(self, section: Section) -> str:
        command = "section" if section.level <= 2 else "subsection"
        parts = [r"\%s{%s}\label{%s}" % (command, escape(section.title, title=True), section.key)]
        return "\n\n".join(parts + self.render_blocks(section.blocks)) + "\n\n"

    def code(self, source: str) -> str:  # a straight ' (a label's prime), not the typewriter font's curly one
        return r"\texttt{%s}" % escape(source).replace("'", r"\textquotesingle{}")

    def answer_space(self) -> str:
        return r"\framebox[9em]{\rule{0pt}{1.2em}}"

    def tick(self, status: str) -> str:
        return r"\textcolor[rgb]{%s}{%s~%s}" % (TICK_COLOURS[status], escape(MARK_SYMBOLS[status]), escape(status))

    def _render_Paragraph(self, block: Paragraph) -> str:
        text = (r"\textbf{%s} " % escape(block.lead) if block.lead else "") + self.inline(block.parts)
        return r"{\small\color[gray]{0.3}%s\par}" % text if block.note else text

    def _render_Equations(self, block: Equations) -> str:
        lines, before = [], ""
        for position, row in enumerate(block.rows):
            caption = r"{\small\color[gray]{0.35}%s}" % self.inline(row.caption) if row.caption else ""
            if caption and position == 0:
                before = caption + "\\par\\nobreak\n"  # not \intertext: no empty display line above it
            elif caption:
                lines.append(r"\intertext{%s}" % caption)
            written = equation_lines(row)
            if row.tag is not None:
                written[-1] += r" \tag*{$%s$}" % latex(row.tag)
            lines += [line + r" \\" for line in written]
        if lines:
            lines[-1] = lines[-1][: -len(r" \\")]
        return "%s\\begin{align*}\n%s\n\\end{align*}" % (before, "\n".join(lines))

    def _render_Table(self, block: Table, spec: str | None = None) -> str:
        rows = [" & ".join(self.render_cell(cell) for cell in block.header) + r" \\", r"\midrule"]
        rows += [" & ".join(self.render_cell(cell) for cell in row) + r" \\" for row in block.rows]
        caption = "\\caption*{\\small %s}\\\\\n" % escape(block.caption) if block.caption else ""
        stretch = any(isinstance(cell, sympy.Basic) for row in block.rows for cell in row)
        size = "\\scriptsize\\setlength{\\tabcolsep}{3pt}" if len(block.header) > WIDE_TABLE else "\\small"
        return "{%s%s\n\\begin{longtable}{%s}\n%s\\toprule\n%s\n\\bottomrule\n\\end{longtable}}" % (
            size, "\\renewcommand{\\arraystretch}{1.6}" if stretch else "", spec or _column_spec(block), caption,
            "\n".join(rows))

    def _render_Blanks(self, block: Blanks) -> str:
        table = block.table()  # short labels, math and boxes: no column wraps
        return self._render_Table(table, "l" * len(table.header))

    def _render_Marks(self, block: Marks) -> str:  # the reasons wrap in the last column
        return self._render_Table(block.table(), "lllll>{\\raggedright\\arraybackslash}p{0.3\\linewidth}")

    def _render_Figure(self, block: Figure) -> str:
        return ("\\begin{figure}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth,height=0.42\\textheight,"
                "keepaspectratio]{%s}\n\\caption{%s}\n\\end{figure}" % (self.link(block), escape(block.caption)))

    def _render_Code(self, block: Code) -> str:
        listing = "\\begin{lstlisting}[language=Python%s]\n%s\n\\end{lstlisting}" % (
            ",basicstyle=\\ttfamily\\tiny" if block.folded else "", _ascii(block.source.rstrip("\n")))
        # a long listing (an appendix) in two columns of small type
        return "\\begin{multicols}{2}\n%s\n\\end{multicols}" % listing if block.folded else listing

    def _render_Box(self, block: Box) -> str:
        return "\\reportbox{%s}{%%\n%s}" % (escape(block.title), "\n\n".join(self.render_blocks(block.blocks)))


def render_latex(document: Document, link: Callable[[Figure], str]) -> str:
    """The whole document; ``link(figure)`` is the path (without extension) of each figure's PDF."""
    return LatexRenderer(link).render_document(document)


def standalone(fragment: str) -> str:
    """A LaTeX fragment (``backprop derive --latex``) as a complete document, with the report's preamble."""
    return "%s\\begin{document}\n%s\n\\end{document}\n" % (PREAMBLE, fragment)


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


def _column_spec(block: Table) -> str:
    """``r`` for numbers, ``l`` for short text and math, and wrapping ``p{...}`` columns sharing the rest for
    long text (so that a summary of a 784-100-10 network fits the page)."""
    columns = range(len(block.header))
    numeric = numeric_columns(block)
    longest = [max((len(_plain(row[c])) for row in block.rows), default=0) for c in columns]
    wide = [c for c in columns if longest[c] > LONG_CELL and not numeric[c]]
    narrow = sum(max(longest[c], len(_plain(block.header[c]))) + 2 for c in columns if c not in wide)
    room = max(0.25 * len(wide), 0.93 - CHARACTER_WIDTH * narrow)
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
    if is_number(cell):
        return "%.4g" % cell
    return cell.source if isinstance(cell, Code) else sympy.sstr(cell) if isinstance(cell, sympy.Basic) else str(cell)


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
