"""Mathematics for reports: SymPy objects printed as LaTeX and as presentation MathML.

Every formula in a report is a SymPy object printed here, never a string
written by hand: :func:`latex` and :func:`mathml` print with the report's
printers (:mod:`derive.report.latex_printer`, :mod:`derive.report.mathml_printer`: layer numbers as superscripts, the
lecture's order of terms and factors, Iverson brackets, ⊙ for matrices).
The SymPy objects the report adds (numbers as shown, Δw, shapes, the
lecture's symbols) are in :mod:`derive.report.quantities`, re-exported here.
"""

from __future__ import annotations

import sympy

from .latex_printer import ReportLatexPrinter
from .mathml_printer import ReportMathMLPrinter
from .quantities import (ALPHA, DIGITS, ETA, LAMBDA, MU, STEP, Shape, Shown, at_step, change, lecture_notation,
                         number, shown, text_number)

__all__ = ["ALPHA", "DIGITS", "ETA", "LAMBDA", "MU", "STEP", "Shape", "Shown", "at_step", "change",
           "equation_latex", "latex", "lecture_notation", "mathml", "mathml_chain", "number", "shown",
           "text_number"]

_PRINTERS = {False: (ReportLatexPrinter(), ReportMathMLPrinter()),
             True: (ReportLatexPrinter({"order": "none"}), ReportMathMLPrinter({"order": "none"}))}


def printers_for(expr: sympy.Basic) -> tuple:
    """Formulas with substituted numbers keep the order they were written in (the lecture's ``(1)(.1) + .1``)."""
    return _PRINTERS[bool(expr.atoms(Shown))]


def latex(expr: sympy.Basic) -> str:
    """``expr`` as LaTeX, with the report's conventions."""
    return printers_for(expr)[0].doprint(expr)


def mathml(expr: sympy.Basic) -> str:
    """``expr`` as an inline presentation-MathML ``<math>`` element."""
    return "<math>%s</math>" % _mathml_body(expr)


def mathml_chain(expressions, display_style: bool = False, relation: str = "=") -> str:
    """``a = b = c`` as one ``<math>`` element; ``display_style`` draws sums and fractions full size."""
    body = ("<mo>%s</mo>" % relation).join(_mathml_body(expr) for expr in expressions)
    return '<math%s>%s</math>' % (' displaystyle="true"' if display_style else "", body)


def _mathml_body(expr: sympy.Basic) -> str:
    """The printer's MathML, with minus signs as the minus sign U+2212 rather than a hyphen."""
    return printers_for(expr)[1].doprint(expr).replace("<mo>-</mo>", "<mo>&#8722;</mo>").replace("<mn>-", "<mn>&#8722;")


#: How each relation of an equation row is written in LaTeX.
RELATIONS = {"=": "=", "←": r"\leftarrow"}


def equation_latex(lhs: sympy.Basic, *rhs: sympy.Basic, relation: str = "=") -> str:
    """``lhs = rhs_1 = rhs_2 ...`` as LaTeX, with ``&`` before the first relation (for ``align*``)."""
    first = RELATIONS[relation]
    return latex(lhs) + "".join(("&%s " % first if position == 0 else "= ") + latex(value) + " "
                                for position, value in enumerate(rhs)).rstrip()
