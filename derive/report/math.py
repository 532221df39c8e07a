"""Mathematics for reports: SymPy objects printed as LaTeX and as presentation MathML.

Every formula in a report is a SymPy object printed here, never a string
written by hand.  LaTeX comes from
:class:`~derive.symbolic.text.DerivationLatexPrinter` (the printer of
``backprop derive --latex``), MathML from :class:`DerivationMathMLPrinter`,
SymPy's presentation MathML printer taught the same conventions:

* ``Derivative(E, W1[j, i])`` is the partial derivative of E (a fraction of ∂s);
* ``KroneckerDelta(j, k)`` is the Iverson bracket ``[j = k]`` (a δ would read
  like the error terms);
* ``W1[j, i]`` is W₁ with the subscript ``j,i`` (as the LaTeX printer writes it);
* ``sigmoid`` is σ, ``Piecewise`` a brace of cases, and a ``Sum`` over several
  indices one ∑ per index (SymPy's MathML printer keeps only the first).

It also holds the lecture's notation (h_j, o_k, w_ji, net_j, σ) as SymPy
objects, and :func:`shown`, which rounds a number for display.
"""

from __future__ import annotations

import math

import sympy
from sympy.core.function import UndefinedFunction
from sympy.printing.mathml import MathMLPresentationPrinter

from derive.model.functions import sigmoid
from derive.symbolic.text import DerivationLatexPrinter

_GREEK = {"alpha", "beta", "gamma", "delta", "eta", "lambda", "mu", "sigma", "theta", "phi", "psi"}
#: Significant digits of the numbers a report shows.
DIGITS = 4


class DerivationMathMLPrinter(MathMLPresentationPrinter):
    """Presentation MathML with the conventions of :class:`DerivationLatexPrinter` (see the module docstring)."""

    def _element(self, tag: str, *children, text: str | None = None, **attributes):
        node = self.dom.createElement(tag)
        for name, value in attributes.items():
            node.setAttribute(name, value)
        if text is not None:
            node.appendChild(self.dom.createTextNode(text))
        for child in children:
            node.appendChild(child)
        return node

    def _row(self, *children):
        return self._element("mrow", *children)

    def _operator(self, text: str, **attributes):
        return self._element("mo", text=text, **attributes)

    def _print_Derivative(self, expr):
        numerator = self._row(self._operator("∂"), self._print(expr.expr))
        denominator = self._row()
        for variable, count in expr.variable_count:
            for _ in range(count):
                denominator.appendChild(self._operator("∂"))
                denominator.appendChild(self._print(variable))
        return self._element("mfrac", numerator, denominator)

    def _print_Subs(self, expr):
        """``Subs(f, r, 0)`` as the LaTeX printer writes it: f with a bar, subscript ``r = 0``."""
        where = self._row()
        for position, (variable, point) in enumerate(zip(expr.variables, expr.point)):
            if position:
                where.appendChild(self._operator(","))
            where.appendChild(self._row(self._print(variable), self._operator("="), self._print(point)))
        return self._row(self._print(expr.expr), self._element("msub", self._operator("|", stretchy="true"), where))

    def _print_KroneckerDelta(self, expr):
        return self._row(self._operator("["), self._print(expr.args[0]), self._operator("="),
                         self._print(expr.args[1]), self._operator("]"))

    def _print_Indexed(self, expr):
        indices = self._row()
        for position, index in enumerate(expr.indices):
            if position:
                indices.appendChild(self._operator(",", separator="true"))
            indices.appendChild(self._print(index))
        return self._element("msub", self._print(expr.base.label), indices)

    def _print_Symbol(self, expr, style="plain"):
        """A primed index (``n'``, a second example in the chain rule) as n with a prime."""
        if expr.name.endswith("'") and len(expr.name) > 1:
            return self._element("msup", self._print(sympy.Symbol(expr.name[:-1])), self._operator("′"))
        return super()._print_Symbol(expr, style)

    def _print_Function(self, expr):
        """An undefined function named like a symbol (``g_l``, ``sigma``) is named as that symbol prints."""
        name = type(expr).__name__
        if isinstance(type(expr), UndefinedFunction) and ("_" in name or name in _GREEK):
            head = self._print(sympy.Symbol(name))
            arguments = self._row(self._operator("("))
            for position, argument in enumerate(expr.args):
                if position:
                    arguments.appendChild(self._operator(","))
                arguments.appendChild(self._print(argument))
            arguments.appendChild(self._operator(")"))
            return self._row(head, arguments)
        return super()._print_Function(expr)

    def _print_sigmoid(self, expr):
        return self._row(self._element("mi", text="σ"), self._parenthesized(expr.args[0]))

    def _parenthesized(self, expr):
        return self._row(self._operator("("), self._print(expr), self._operator(")"))

    def _print_change(self, expr):
        delta = self._element("mi", text="Δ", mathvariant="normal")
        if len(expr.args) == 2:
            delta = self._element("msup", delta, self._parenthesized(expr.args[1]))
        return self._row(delta, self._print(expr.args[0]))

    def _print_at_step(self, expr):
        return self._element("msup", self._print(expr.args[0]), self._parenthesized(expr.args[1]))

    def _print_Shown(self, expr):
        return self._element("mn", text=expr.name)

    def _print_Piecewise(self, expr):
        table = self._element("mtable", columnalign="left left")
        for value, condition in expr.args:
            when = (self._element("mtext", text="otherwise") if condition == sympy.true
                    else self._row(self._element("mtext", text="if\u2009"), self._print(condition)))
            table.appendChild(self._element("mtr", self._element("mtd", self._print(value)),
                                            self._element("mtd", when)))
        return self._row(self._operator("{"), table)

    def _print_Sum(self, expr):
        row = self._row()
        for index, low, high in reversed(expr.limits):  # the first limit is the innermost sum
            below = self._row(self._print(index), self._operator("="), self._print(low))
            row.appendChild(self._element("munderover", self._operator("∑"), below, self._print(high)))
        summand = expr.function
        row.appendChild(self._parenthesized(summand) if summand.is_Add else self._print(summand))
        return row


class ReportLatexPrinter(DerivationLatexPrinter):
    """:class:`DerivationLatexPrinter`, plus the lecture's layout for numbers substituted into a formula."""

    def _print_Mul(self, expr):
        if self._settings["order"] != "none":
            return super()._print_Mul(expr)
        factors, sign = _numeric_factors(expr)
        return sign + "".join(r"\left(%s\right)" % self._print(f) if _wrapped(f, len(factors)) else self._print(f)
                              for f in factors)


class ReportMathMLPrinter(DerivationMathMLPrinter):
    """:class:`DerivationMathMLPrinter`, plus the lecture's layout for numbers substituted into a formula."""

    def _print_Mul(self, expr):
        if self._settings["order"] != "none":
            return super()._print_Mul(expr)
        factors, sign = _numeric_factors(expr)
        row = self._row(*([self._operator("−")] if sign else []))
        for factor in factors:
            row.appendChild(self._parenthesized(factor) if _wrapped(factor, len(factors)) else self._print(factor))
        return row


def _numeric_factors(expr: sympy.Mul) -> tuple[list, str]:
    """The factors of a product with substituted numbers, in the order written, and a leading minus sign."""
    factors = list(expr.args)
    if factors and factors[0] == -1:
        return factors[1:], "-"
    return factors, ""


def _wrapped(factor: sympy.Basic, count: int) -> bool:
    """Whether a factor is written in parentheses: numbers when multiplied, as the lecture writes (.2)(.086)."""
    return count > 1 and (factor.is_Add or isinstance(factor, (Shown, sympy.Number)))


_PRINTERS = {False: (ReportLatexPrinter(), ReportMathMLPrinter()),
             True: (ReportLatexPrinter({"order": "none"}), ReportMathMLPrinter({"order": "none"}))}


def _printers(expr: sympy.Basic) -> tuple:
    """Formulas with substituted numbers keep the order they were written in (the lecture's ``(1)(.1) + .1``)."""
    return _PRINTERS[bool(expr.atoms(Shown))]


def latex(expr: sympy.Basic) -> str:
    """``expr`` as LaTeX, by the printer of ``backprop derive --latex``."""
    return _printers(expr)[0].doprint(expr)


def mathml(expr: sympy.Basic) -> str:
    """``expr`` as an inline presentation-MathML ``<math>`` element."""
    return "<math>%s</math>" % _mathml_body(expr)


def mathml_chain(expressions, display_style: bool = False) -> str:
    """``a = b = c`` as one ``<math>`` element; ``display_style`` draws sums and fractions full size."""
    body = "<mo>=</mo>".join(_mathml_body(expr) for expr in expressions)
    return '<math%s>%s</math>' % (' displaystyle="true"' if display_style else "", body)


def _mathml_body(expr: sympy.Basic) -> str:
    """The printer's MathML, with minus signs as the minus sign U+2212 rather than a hyphen."""
    return _printers(expr)[1].doprint(expr).replace("<mo>-</mo>", "<mo>&#8722;</mo>").replace("<mn>-", "<mn>&#8722;")


def equation_latex(lhs: sympy.Basic, *rhs: sympy.Basic) -> str:
    """``lhs = rhs_1 = rhs_2 ...`` as LaTeX, with ``&`` before the first ``=`` (for ``align*``)."""
    return latex(lhs) + "".join(("&= " if position == 0 else "= ") + latex(value) + " "
                                for position, value in enumerate(rhs)).rstrip()


def shown(value: float, digits: int = DIGITS) -> sympy.Number:
    """A number rounded to ``digits`` significant digits, as the SymPy number a report prints (``1``, ``0.5498``)."""
    value = float(value)
    if not math.isfinite(value):
        return sympy.Float(value)
    rounded = float("%.*g" % (digits, value))
    if rounded == int(rounded) and abs(rounded) < 1e6:
        return sympy.Integer(int(rounded))
    return sympy.Float(rounded, digits)


class Shown(sympy.Symbol):
    """A number substituted into a formula: ``(0.2)(0.086)`` stays a product of two numbers when printed.

    It is a symbol named by the number's digits (and carrying its sign), so
    that SymPy neither multiplies it out nor asks numeric questions of it;
    printers write it as a number.  Build it with :func:`number`.
    """

    def __new__(cls, text: str):
        value = float(text)
        return super().__new__(cls, text, real=True, zero=value == 0, positive=value > 0, negative=value < 0)

    @property
    def value(self) -> float:
        return float(self.name)

    def could_extract_minus_sign(self) -> bool:
        return self.value < 0

    def __neg__(self):
        return number(-self.value)

    def _latex(self, printer):
        return self.name


def number(value: float, digits: int = DIGITS) -> Shown:
    """:func:`shown`, kept apart inside a formula (see :class:`Shown`)."""
    return Shown(text_number(value, digits))


def text_number(value: float, digits: int = DIGITS) -> str:
    """A number rounded to ``digits`` significant digits, for table cells of plain text."""
    return "%.*g" % (digits, float(value) + 0.0)  # + 0.0: no "-0"


# --- the lecture's notation, as SymPy objects ------------------------------------------

def lecture_notation() -> dict[str, sympy.Basic]:
    """The lecture's symbols: ``x_i``, ``h_j``, ``o_k``, ``t_k``, ``net_j``, ``w_ji``, ``w_j0``, ``δ_j`` and σ."""
    i, j, k = sympy.symbols("i j k", integer=True)
    z = sympy.Symbol("z")
    return {
        "x": sympy.IndexedBase("x")[i], "h": sympy.IndexedBase("h")[j], "o": sympy.IndexedBase("o")[k],
        "t": sympy.IndexedBase("t")[k], "net": sympy.IndexedBase(sympy.Symbol(r"net"))[j],
        "w": sympy.IndexedBase("w")[j, i], "w0": sympy.IndexedBase("w")[j, 0],
        "delta": sympy.IndexedBase("delta")[j], "sigma": sigmoid(z),
    }


ETA, ALPHA, LAMBDA = sympy.symbols("eta alpha lambda", positive=True)
STEP = sympy.Symbol("t", integer=True, nonnegative=True)


class change(sympy.Function):
    """Δw, the change of ``w`` in one update; ``change(w, t)`` is Δw at step t (the lecture's Δw^t)."""

    nargs = (1, 2)

    def _latex(self, printer):
        step = r"^{\left(%s\right)}" % printer._print(self.args[1]) if len(self.args) == 2 else ""
        return r"\Delta%s %s" % (step, printer._print(self.args[0]))


class at_step(sympy.Function):
    """``w`` at step t, written w^(t)."""

    nargs = 2

    def _latex(self, printer):
        return r"{%s}^{\left(%s\right)}" % (printer._print(self.args[0]), printer._print(self.args[1]))
