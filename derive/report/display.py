"""Rich displays for Jupyter: a derivation and a gradient check, as HTML (MathML), Markdown and LaTeX.

:class:`derive.Derivation` and :class:`verify.CheckReport` define
``_repr_html_``, ``_repr_markdown_`` and ``_repr_latex_`` with these
functions, so a notebook cell that ends in ``derivation`` shows the forward
pass, the loss, every error term and every gradient as formulas, and one
that ends in ``check_gradients(...)`` shows its agreement tables.  The
content is the report's (:mod:`derive.report.sections`,
:mod:`derive.report.verification`), without figures.
"""

from __future__ import annotations

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .document import Section, Table, equations, paragraph
from .html import render_sections as html_sections
from .markdown import render_sections as markdown_sections
from .math import latex
from .renderer import Renderer
from .notation import Notation
from .verification import check_blocks


def derivation_summary(derivation: SymbolicDerivation) -> list[Section]:
    """The derivation in three short sections: forward pass, loss, backpropagation."""
    notation = Notation(derivation)
    title = "Derivation of %s" % derivation.network.describe()
    return [Section("derivation", title, [
        paragraph("Forward pass:"), equations(*((eq.lhs, eq.rhs) for eq in derivation.forward_equations)),
        paragraph("Loss:"), equations((notation.E, derivation.loss)),
        paragraph("Backpropagation (the error terms from the output back, then the gradients):"),
        equations(*((eq.lhs, eq.rhs) for eq in derivation.equations()))], level=3)]


def derivation_html(derivation: SymbolicDerivation) -> str:
    """The summary as HTML with MathML."""
    return html_sections(derivation_summary(derivation))


def derivation_markdown(derivation: SymbolicDerivation) -> str:
    """The summary as Markdown with ``$$`` math."""
    return markdown_sections(derivation_summary(derivation), _no_figures)


def derivation_latex(derivation: SymbolicDerivation) -> str:
    """The summary as one ``aligned`` display (what Jupyter's LaTeX renderer accepts)."""
    notation = Notation(derivation)
    rows = [r"&\text{%s}" % text for text in ("Forward pass",)]
    rows += [r"%s &= %s" % (latex(eq.lhs), latex(eq.rhs)) for eq in derivation.forward_equations]
    rows += [r"&\text{Loss}", r"%s &= %s" % (latex(notation.E), latex(derivation.loss)), r"&\text{Backpropagation}"]
    rows += [r"%s &= %s" % (latex(eq.lhs), latex(eq.rhs)) for eq in derivation.equations()]
    return "$$\\begin{aligned}\n%s\n\\end{aligned}$$" % " \\\\\n".join(rows)


def check_sections(check: dict) -> list[Section]:
    """A gradient check (:meth:`verify.CheckReport.to_dict`) as one section."""
    return [Section("gradient-check", check.get("title", "Gradient check"), check_blocks(check), level=3)]


def check_html(check: dict) -> str:
    """A gradient check as HTML tables."""
    return html_sections(check_sections(check))


def check_markdown(check: dict) -> str:
    """A gradient check as Markdown tables."""
    return markdown_sections(check_sections(check), _no_figures)


def check_latex(check: dict) -> str:
    """A gradient check's agreement table as a LaTeX ``array`` (for Jupyter's LaTeX renderer)."""
    table = next(block for block in check_blocks(check) if isinstance(block, Table))
    lines = [" & ".join(_latex_cell(cell) for cell in table.header)]
    lines += [" & ".join(_latex_cell(cell) for cell in row) for row in table.rows]
    verdict = r"\text{%s: %s}" % (check.get("title", "Gradient check"), "OK" if check["ok"] else "FAILED")
    return "$$%s\\\\\\begin{array}{%s}\n%s\n\\end{array}$$" % (verdict, "l" + "r" * (len(table.header) - 1),
                                                                " \\\\\n".join(lines))


class _JupyterLatex(Renderer):
    """Cells of a LaTeX ``array`` for Jupyter's LaTeX renderer (math mode throughout)."""

    name = "Jupyter LaTeX"

    escape = staticmethod(lambda text: r"\text{%s}" % text)

    def math(self, expr) -> str:
        return latex(expr)

    def code(self, source: str) -> str:
        return r"\texttt{%s}" % source


def _latex_cell(cell) -> str:
    return _JupyterLatex().render_cell(cell)


def _no_figures(figure) -> str:
    raise TypeError("a display has no figures")
