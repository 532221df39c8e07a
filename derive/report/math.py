"""Mathematics for reports: SymPy objects printed as LaTeX and as presentation MathML.

Every formula in a report is a SymPy object printed here, never a string
written by hand: :func:`latex` and :func:`mathml` print with the report's
printers (:mod:`derive.report.printers`: layer numbers as superscripts, the
lecture's order of terms and factors, Iverson brackets, ⊙ for matrices).
The SymPy objects the report adds (numbers as shown, Δw, shapes, the
lecture's symbols) are in :mod:`derive.report.quantities`, re-exported here.
"""

from __future__ import annotations

import re

import sympy

from .printers import ReportLatexPrinter, ReportMathMLPrinter
from .quantities import (ALPHA, DIGITS, ETA, LAMBDA, MU, STEP, Shape, Shown, at_step, change, lecture_notation,
                         number, shown, text_number)

__all__ = ["ALPHA", "DIGITS", "ETA", "LAMBDA", "MU", "STEP", "Shape", "Shown", "at_step", "change",
           "equation_latex", "equation_lines", "latex", "lecture_notation", "mathml", "mathml_chain", "number", "shown",
           "text_number"]

_PRINTERS = {False: (ReportLatexPrinter(), ReportMathMLPrinter()),
             True: (ReportLatexPrinter({"order": "none"}), ReportMathMLPrinter({"order": "none"}))}


def _printers(expr: sympy.Basic) -> tuple:
    """Formulas with substituted numbers keep the order they were written in (the lecture's ``(1)(.1) + .1``)."""
    return _PRINTERS[bool(expr.atoms(Shown))]


def latex(expr: sympy.Basic) -> str:
    """``expr`` as LaTeX, with the report's conventions."""
    return _printers(expr)[0].doprint(expr)


def mathml(expr: sympy.Basic) -> str:
    """``expr`` as an inline presentation-MathML ``<math>`` element."""
    return "<math>%s</math>" % _mathml_body(expr)


def mathml_chain(expressions, display_style: bool = False, relation: str = "=") -> str:
    """``a = b = c`` as one ``<math>`` element; ``display_style`` draws sums and fractions full size."""
    body = ("<mo>%s</mo>" % relation).join(_mathml_body(expr) for expr in expressions)
    return '<math%s>%s</math>' % (' displaystyle="true"' if display_style else "", body)


def _mathml_body(expr: sympy.Basic) -> str:
    """The printer's MathML, with minus signs as the minus sign U+2212 rather than a hyphen."""
    return _printers(expr)[1].doprint(expr).replace("<mo>-</mo>", "<mo>&#8722;</mo>").replace("<mn>-", "<mn>&#8722;")


#: How each relation of an equation row is written in LaTeX.
RELATIONS = {"=": "=", "←": r"\leftarrow"}


def equation_latex(lhs: sympy.Basic, *rhs: sympy.Basic, relation: str = "=") -> str:
    """``lhs = rhs_1 = rhs_2 ...`` as LaTeX, with ``&`` before the first relation (for ``align*``)."""
    first = RELATIONS[relation]
    return latex(lhs) + "".join(("&%s " % first if position == 0 else "= ") + latex(value) + " "
                                for position, value in enumerate(rhs)).rstrip()


#: About how many characters of printed math fit on one line of a LaTeX page (and of a Markdown display).
LINE_WIDTH = 78


def equation_lines(row, width: int = LINE_WIDTH) -> list[str]:
    """An equation row (:class:`~derive.report.document.EquationRow`) as the lines of an ``align*``.

    A row that fits is one line, ``lhs &= rhs_1 = rhs_2``.  A longer chain
    puts each ``= rhs`` on a line of its own, and a sum still too long is
    broken before a ``+`` or ``−`` into lines that each fit (the lecture's
    long sums are written the same way): no line runs past the margin.
    """
    relation = RELATIONS[row.relation]
    pieces = [row.rhs[0]] + list(row.rhs[1:])
    whole = equation_latex(row.lhs, *row.rhs, relation=row.relation)
    if printed_width(whole) <= width:
        return [whole]
    lines, room = [], width - printed_width(latex(row.lhs)) - 2
    for position, piece in enumerate(pieces):
        prefix = "%s&%s " % (latex(row.lhs), relation) if position == 0 else "&= "
        lines += [(prefix if first else r"&\quad ") + text for first, text in _broken(piece, room)]
    return lines


def _broken(expr: sympy.Basic, room: float) -> list[tuple[bool, str]]:
    """``expr`` as LaTeX in lines of about ``room`` characters, broken between the terms of a sum."""
    text = latex(expr)
    if printed_width(text) <= room or not isinstance(expr, sympy.Add):
        return [(True, text)]
    printer = _printers(expr)[0]
    terms = printer._as_ordered_terms(expr)
    lines, current = [], ""
    for term in terms:
        negative = term.could_extract_minus_sign()
        piece = latex(-term if negative else term)
        if isinstance(term, sympy.Add) or (not negative and printer._needs_add_brackets(term)):
            piece = r"\left(%s\right)" % piece
        joined = ("- " if negative else "+ ") + piece if current or lines else ("- " if negative else "") + piece
        if current and printed_width(current + joined) > room:
            lines.append(current)
            current = joined
        else:
            current = (current + " " + joined).strip()
    lines.append(current)
    return [(position == 0, line) for position, line in enumerate(lines)]


_COMMAND = re.compile(r"\\(left|right|mathrm|operatorname|mathcal|mathbf|quad|qquad|substack|limits|displaystyle)"
                      r"(?![a-zA-Z])|\\[,;! ]")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}")


def printed_width(tex: str) -> float:
    """About how many characters wide ``tex`` prints: commands count as one, scripts as two thirds,
    a fraction as its wider part (rough, but it errs on the wide side)."""
    tex = _COMMAND.sub("", tex)
    for _ in range(4):  # innermost scripts first
        tex = _SCRIPT.sub(lambda found: "s" * int(0.67 * len(found.group(1)) + 0.5), tex)
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda f: "f" * max(len(f.group(1)), len(f.group(2))), tex)
    tex = re.sub(r"\\[a-zA-Z]+", "c", tex)
    return len(re.sub(r"[{}& ]", "", tex)) * 1.0
