"""The report's MathML printer: presentation MathML with the conventions of the LaTeX printer.

:class:`ReportMathMLPrinter` is SymPy's presentation MathML printer taught
what :class:`~derive.report.latex_printer.ReportLatexPrinter` does (see
:mod:`derive.report.conventions`), plus what SymPy's MathML printer leaves
out: a ``Sum`` over several indices is one ∑ per index, ``Subs`` a bar with
its point, ``Piecewise`` a brace of cases, and a minus sign U+2212.
Browsers render it natively (HTML reports, Jupyter).
"""

from __future__ import annotations

import sympy
from sympy.core.function import UndefinedFunction
from sympy.printing.mathml import MathMLPresentationPrinter

from .conventions import (GREEK, LAYER_FUNCTION, SHIFTED, ArrayName, ArrayNames, array_name, is_simple, layered,
                          lecture_factors, lecture_terms, negative_number, numeric_factors, numeric_fraction,
                          sum_last, wrapped)


class ReportMathMLPrinter(ArrayNames, MathMLPresentationPrinter):
    """Presentation MathML with the conventions of :class:`~derive.report.latex_printer.ReportLatexPrinter`
    (see the module docstring)."""

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

    def _parenthesized(self, expr):
        return self._row(self._operator("("), self._print(expr), self._operator(")"))

    def _layer(self, text: str):
        """A layer number or expression (``2``, ``l``, ``l+1``) as MathML, with a real minus sign."""
        shifted = SHIFTED.match(text)
        if shifted:
            return self._row(self._element("mi", text=shifted["name"]),
                             self._operator("+" if shifted["sign"] == "+" else "−"), self._element("mn", text=shifted["step"]))
        return self._element("mn" if text.isdigit() else "mi", text=text)

    def _array(self, name: ArrayName, indices=None, transposed: bool = False):
        head = self._print(sympy.Symbol(name.base)) if name.base in GREEK else self._element("mi", text=name.base)
        layer = self._row(self._operator("("), self._layer(name.layer), self._operator(")"))
        if transposed:
            layer = self._row(*([layer] if name.layer else []), self._operator("⊤"))
        if (name.layer or transposed) and indices is not None:
            core = self._element("msubsup", head, indices, layer)
        elif name.layer or transposed:
            core = self._element("msup", head, layer)
        else:
            core = self._element("msub", head, indices) if indices is not None else head
        if name.op in ("R", "G"):
            return self._row(self._element("mi", text="ℛ" if name.op == "R" else "𝒢"), self._operator("{"), core,
                             self._operator("}"))
        if name.op in ("HV", "GV"):
            product = self._row(self._operator("("), self._element("mi", text=name.op[0]),
                                self._element("mi", text="V"), self._operator(")"))
            return self._element("msub", product, core)
        return self._element("msub", self._element("mi", text="V"), core) if name.op == "V" else core

    def _indices(self, expr):
        indices = self._row()
        joined = str(expr.base.label) == "w" and all(len(str(index)) == 1 for index in expr.indices)
        for position, index in enumerate(expr.indices):
            if position and not joined:
                indices.appendChild(self._operator(",", separator="true"))
            indices.appendChild(self._print(index))
        return indices

    def _print_Indexed(self, expr):
        label = str(expr.base.label)
        name = array_name(label)
        if name is not None:
            return self._array(name, self._indices(expr))
        head = self._element("mi", text="net") if label == "net" else self._print(expr.base.label)
        return self._element("msub", head, self._indices(expr))

    def _joined(self, terms: list):
        """``(negative, printed)`` terms joined by + and −."""
        row = self._row()
        for position, (negative, term) in enumerate(terms):
            if position or negative:
                row.appendChild(self._operator("−" if negative else "+"))
            row.appendChild(term)
        return row

    def _print_Pow(self, expr):
        if (layered(expr.base) or negative_number(expr.base)) and expr.exp.is_Integer and expr.exp > 0:
            return self._element("msup", self._parenthesized(expr.base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        denominator = self._row()
        for variable, count in expr.variable_count:
            for _ in range(count):
                denominator.appendChild(self._operator("∂"))
                denominator.appendChild(self._print(variable))
        if is_simple(expr.expr):
            return self._element("mfrac", self._row(self._operator("∂"), self._print(expr.expr)), denominator)
        return self._row(self._element("mfrac", self._operator("∂"), denominator), self._parenthesized(expr.expr))

    def _print_Subs(self, expr):
        """``Subs(f, r, 0)`` as the LaTeX printer writes it: f with a bar, subscript ``r = 0``."""
        where = self._row()
        for position, (variable, point) in enumerate(zip(expr.variables, expr.point)):
            if position:
                where.appendChild(self._operator(","))
            where.appendChild(self._row(self._print(variable), self._operator("="), self._print(point)))
        return self._row(self._print(expr.expr), self._element("msub", self._operator("|", stretchy="true"), where))

    def _bracket(self, *parts):
        return self._row(self._operator("["), *parts, self._operator("]"))

    def _print_KroneckerDelta(self, expr):
        return self._bracket(self._print(expr.args[0]), self._operator("="), self._print(expr.args[1]))

    def _print_Heaviside(self, expr):
        if len(expr.args) == 2 and expr.args[1] in (0, 1):
            relation = ">" if expr.args[1] == 0 else "≥"
            return self._bracket(self._print(expr.args[0]), self._operator(relation), self._element("mn", text="0"))
        return super()._print_Heaviside(expr)

    def _print_Symbol(self, expr, style="plain"):
        """A primed index (``n'``, a second example in the chain rule) as n with a prime."""
        if expr.name.endswith("'") and len(expr.name) > 1:
            return self._element("msup", self._print(sympy.Symbol(expr.name[:-1])), self._operator("′"))
        head, _, subscript = expr.name.partition("_")
        if SHIFTED.match(subscript):
            return self._element("msub", self._element("mi", text=head), self._layer(subscript))
        return super()._print_Symbol(expr, style)

    def _print_Function(self, expr):
        """An undefined function named like a symbol (``g_l``, ``sigma``) is named as that symbol prints;
        ``g(l)`` and ``g'(l)`` are g and g′ of layer l."""
        named = isinstance(type(expr), UndefinedFunction)
        return self._applied(type(expr).__name__, expr.args, named) or super()._print_Function(expr)

    def _applied(self, name: str, args, named: bool = False):
        found = LAYER_FUNCTION.match(name)
        if found:
            head = self._element("mi", text="g")
            if found["name"].endswith("'"):
                head = self._row(head, self._operator("′", lspace="0", rspace="0"))
            if found["layer"]:
                head = self._element("msup", head, self._row(self._operator("("), self._layer(found["layer"]),
                                                             self._operator(")")))
        elif named and ("_" in name or name in GREEK):
            head = self._print(sympy.Symbol(name))
        else:
            return None
        arguments = self._row(self._operator("("))
        for position, argument in enumerate(args):
            if position:
                arguments.appendChild(self._operator(","))
            arguments.appendChild(self._print(argument))
        arguments.appendChild(self._operator(")"))
        return self._row(head, arguments)

    def _print_sigmoid(self, expr):
        return self._row(self._element("mi", text="σ"), self._parenthesized(expr.args[0]))

    def _print_normal_cdf(self, expr):
        return self._row(self._element("mi", text="Φ", mathvariant="normal"), self._parenthesized(expr.args[0]))

    def _print_change(self, expr):
        delta = self._element("mi", text="Δ", mathvariant="normal")
        if len(expr.args) == 2:
            delta = self._element("msup", delta, self._parenthesized(expr.args[1]))
        return self._row(delta, self._print(expr.args[0]))

    def _print_at_step(self, expr):
        return self._element("msup", self._print(expr.args[0]), self._parenthesized(expr.args[1]))

    def _print_Shape(self, expr):
        row = self._row()
        for position, size in enumerate(expr.args):
            if position:
                row.appendChild(self._operator("×"))
            row.appendChild(self._print(size))
        return row

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

    def _as_ordered_terms(self, expr, order=None):
        return lecture_terms(super()._as_ordered_terms(expr, order=order), self._settings["order"] == "none")

    def _print_Mul(self, expr):
        if not isinstance(expr, sympy.Mul):
            return super()._print_Mul(expr)
        if self._settings["order"] == "none":
            factors, sign = numeric_factors(expr)
            numerator, denominator = numeric_fraction(factors)
            if denominator:
                top = self._print(sympy.Mul(*numerator, evaluate=False)) if numerator else self._element("mn", text="1")
                return self._row(*([self._operator("−")] if sign else []), self._element(
                    "mfrac", top, self._print(sympy.Mul(*denominator, evaluate=False))))
            row = self._row(*([self._operator("−")] if sign else []))
            for factor in factors:
                row.appendChild(self._parenthesized(factor) if wrapped(factor, len(factors)) else self._print(factor))
            return row
        split = sum_last(expr)
        if split is not None:
            return self._row(self._print(split[0]), *[self._print(total) for total in split[1]])
        written = lecture_factors(expr)
        if written is None:
            return super()._print_Mul(expr)
        negative, factors = written
        row = self._row(*([self._operator("-")] if negative else []))
        for position, factor in enumerate(factors):
            if position:
                row.appendChild(self._operator("\u2062"))  # invisible times
            row.appendChild(self._parenthesized(factor) if factor.is_Add else self._print(factor))
        return row

    def _print_HadamardProduct(self, expr):
        row = self._row()
        for position, argument in enumerate(expr.args):
            if position:
                row.appendChild(self._operator("⊙"))
            row.appendChild(self._parenthesized(argument) if argument.is_MatAdd or argument.is_MatMul
                            else self._print(argument))
        return row

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, sympy.MatrixSymbol) and array_name(expr.arg.name) is not None:
            return self._array(array_name(expr.arg.name), transposed=True)
        inner = self._print(expr.arg) if isinstance(expr.arg, sympy.MatrixSymbol) else self._parenthesized(expr.arg)
        return self._element("msup", inner, self._operator("⊤"))

    def _print_OneMatrix(self, expr):
        one = self._element("mn", text="𝟏")  # MATHEMATICAL BOLD DIGIT ONE: browsers ignore mathvariant="bold"
        return self._element("msup", one, self._operator("⊤")) if expr.shape[0] == 1 and expr.shape[1] != 1 else one

    def _print_ElementwiseApplyFunction(self, expr):
        return self._applied(type(expr.function.expr).__name__, [expr.expr]) or super(
        )._print_ElementwiseApplyFunction(expr)
