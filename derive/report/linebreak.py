"""Displayed equations broken into lines that fit the page, and how wide a piece of LaTeX prints.

A report's LaTeX and Markdown writers print each equation row of a block
through :func:`equation_lines`: a row that fits is one line of an
``align*`` (``lhs &= rhs``); a longer one is broken, a chain of ``=`` one
right-hand side per line, a sum before a ``+`` or ``−``, a product between
its factors, and a derivative at a point (the second derivatives' ∂/∂r(…)|
at r = 0) around what it differentiates.  :func:`printed_width` estimates
how wide LaTeX prints, in ems of a math letter, by reading it the way TeX
lays it out (fractions as their wider part, the limits of a sum under it,
scripts smaller); the tests read pdflatex's log to see that nothing runs
past the margin.
"""

from __future__ import annotations

import re

import sympy

from .math import RELATIONS, equation_latex, latex
from .conventions import lecture_factors, lecture_terms, wrapped
from .quantities import Shown


#: About how many ems of display math fit on one line of a LaTeX page, in a box too (and in a Markdown display).
LINE_WIDTH = 54


def equation_lines(row, width: int = LINE_WIDTH) -> list[str]:
    """An equation row (:class:`~derive.report.document.EquationRow`) as the lines of an ``align*``.

    A row that fits is one line, ``lhs &= rhs_1 = rhs_2``.  A longer chain
    puts each ``= rhs`` on a line of its own, and a sum still too long is
    broken before a ``+`` or ``−`` into lines that each fit (the lecture's
    long sums are written the same way): no line runs past the margin.
    """
    relation = RELATIONS[row.relation]
    pieces = list(row.rhs)
    whole = equation_latex(row.lhs, *row.rhs, relation=row.relation)
    if printed_width(whole) <= width:
        return [whole]
    lines, room = [], width - printed_width(latex(row.lhs)) - 2
    for position, piece in enumerate(pieces):
        prefix = "%s&%s " % (latex(row.lhs), relation) if position == 0 else "&= "
        lines += [(r"&\quad " if number else prefix) + text
                  for number, text in enumerate(broken_lines(piece, room))]
    return lines


def broken_lines(expr: sympy.Basic, room: float) -> list[str]:
    """``expr`` as LaTeX lines of about ``room`` ems: a sum broken before a ``+`` or ``−``, a product between its
    factors (the next line starting with ·), and a derivative at a point around the expression it differentiates."""
    text = latex(expr)
    if printed_width(text) <= room:
        return [text]
    if isinstance(expr, sympy.Subs) and isinstance(expr.expr, sympy.Derivative) and len(expr.variables) == 1:
        variable, point = expr.variables[0], expr.point[0]
        inner = broken_lines(expr.expr.expr, room - 6)
        opening = r"\frac{\partial}{\partial %s}\Bigl(" % latex(variable)
        closing = r"\Bigr)\Bigr|_{%s=%s}" % (latex(variable), latex(point))
        if len(inner) == 1:
            return [opening + inner[0] + closing]
        return [opening + inner[0]] + inner[1:-1] + [inner[-1] + closing]
    if isinstance(expr, sympy.Add):
        written = bool(expr.atoms(Shown))  # numbers substituted: the terms in the order written
        pieces = []
        for position, term in enumerate(lecture_terms(list(expr.args) if written else expr.as_ordered_terms(),
                                                      written)):
            negative = term.could_extract_minus_sign()
            piece = latex(-term if negative else term)
            if isinstance(term, sympy.Add):
                piece = r"\left(%s\right)" % piece
            pieces.append((("- " if negative else "+ ") if position else ("- " if negative else "")) + piece)
        return _filled(pieces, room)
    numbers = bool(expr.atoms(Shown))
    written = (_numbers_written(expr) if numbers else lecture_factors(expr)) if isinstance(expr, sympy.Mul) else None
    if written is not None and len(written[1]) > 1:
        negative, factors = written
        pieces = [r"\left(%s\right)" % latex(f) if f.is_Add or numbers and wrapped(f, len(factors)) else latex(f)
                  for f in factors]
        pieces = [("- " if negative else "") + pieces[0]] + [r"\cdot " + piece for piece in pieces[1:]]
        return _filled(pieces, room)
    return [text]


def _numbers_written(expr: sympy.Mul) -> tuple[bool, list]:
    """A product with numbers substituted, its factors in the order written (as the printer writes it)."""
    factors = list(expr.args)
    return (True, factors[1:]) if factors and factors[0] == -1 else (False, factors)


def _filled(pieces: list[str], room: float) -> list[str]:
    """Pieces joined into lines of about ``room`` ems (a piece wider than that gets a line of its own)."""
    lines, current = [], ""
    for piece in pieces:
        if current and printed_width(current + " " + piece) > room:
            lines.append(current)
            current = piece
        else:
            current = (current + " " + piece).strip()
    return lines + [current]


#: Widths, in ems of an ordinary math letter, of what is not one letter wide.
_COMMAND_WIDTHS = {"quad": 2.0, "qquad": 4.0, ",": 0.3, ";": 0.4, "!": -0.2, " ": 0.4, "log": 2.4, "exp": 2.4,
                   "leq": 1.8, "geq": 1.8, "times": 1.8, "odot": 1.8, "leftarrow": 2.2, "cdot": 1.0, "top": 0.8,
                   "lbrace": 0.6, "rbrace": 0.6, "partial": 0.9, "infty": 1.3, "tanh": 3.2, "sigma": 1.1,
                   "mathcal": 1.2, "cases": 0.0}
_TEXT_COMMANDS = {"mathcal", "mathrm", "mathbf", "operatorname", "text", "mathit"}
_CHAR_WIDTHS = {"+": 1.8, "-": 1.8, "=": 1.8, "<": 1.8, ">": 1.8, ",": 0.4, ".": 0.4, "(": 0.6, ")": 0.6,
                "[": 0.5, "]": 0.5, "|": 0.4, "'": 0.4, "&": 0.0, " ": 0.0, "/": 0.8}
_TOKEN = re.compile(r"\\([a-zA-Z]+|.)|(.)", re.S)


def printed_width(tex: str) -> float:
    """About how wide ``tex`` prints in display style, in ems of a math letter (rough, but close enough to break
    long lines before the margin: fractions count their wider part, sums their limits, scripts 0.7)."""
    return _Width(tex).measure()


class _Width:
    """A small reader of the LaTeX the report's printer writes, measuring as it goes."""

    def __init__(self, tex: str):
        self.tokens = [(m.group(1), m.group(2)) for m in _TOKEN.finditer(tex)]
        self.at = 0

    def measure(self, until: str | None = None) -> float:
        total = 0.0
        while self.at < len(self.tokens):
            command, char = self.tokens[self.at]
            if until is not None and char == until:
                self.at += 1
                return total
            self.at += 1
            total += self._token(command, char)
        return total

    def _group(self) -> float:
        """The next group ``{...}`` or single token."""
        if self.at < len(self.tokens) and self.tokens[self.at][1] == "{":
            self.at += 1
            return self.measure("}")
        if self.at < len(self.tokens):
            command, char = self.tokens[self.at]
            self.at += 1
            return self._token(command, char)
        return 0.0

    def _scripts(self) -> float:
        """Sub- and superscripts after a token, stacked: the wider of them at script size."""
        widths = []
        while self.at < len(self.tokens) and self.tokens[self.at][1] in ("_", "^"):
            self.at += 1
            widths.append(0.7 * self._group())
        return max(widths, default=0.0)

    def _token(self, command, char) -> float:
        if char is not None:
            if char == "{":
                return self.measure("}")
            if char in "_^":
                self.at -= 1
                return self._scripts()
            return _CHAR_WIDTHS.get(char, 1.0)
        if command == "frac":
            return max(self._group(), self._group()) + 0.4
        if command in ("sum", "prod"):
            return max(1.6, self._scripts()) + 0.4
        if command in ("left", "right"):
            following = self._group()
            return 0.0 if following == _CHAR_WIDTHS["."] else 0.6
        if command == "substack":
            self.at += 1  # its opening brace
            lines, current = [], 0.0
            while self.at < len(self.tokens):
                inner, inner_char = self.tokens[self.at]
                self.at += 1
                if inner_char == "}":
                    break
                if inner == "\\":
                    lines.append(current)
                    current = 0.0
                else:
                    current += self._token(inner, inner_char)
            return max(lines + [current])
        if command in _TEXT_COMMANDS:
            return self._group()
        if command in ("begin", "end"):
            self._group()
            return 0.0
        return _COMMAND_WIDTHS.get(command, 1.0)
