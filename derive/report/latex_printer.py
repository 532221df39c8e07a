"""The report's LaTeX printer: the derivation typeset as the lecture writes it (see :mod:`derive.report.conventions`).

:class:`ReportLatexPrinter` extends the printer of ``backprop derive --latex``
(:class:`~derive.symbolic.derivation_text.DerivationLatexPrinter`) with the report's
conventions: layers as superscripts (W^(1)_{j,i}), R{·} and (HV)_· for the
second-order arrays, net upright, the lecture's order of terms and factors,
∂/∂r(…) for the derivative of a longer expression, the bracket [z > 0] for
ReLU's derivative, and ⊙, ᵀ and a bold 1 for the matrix form.
"""

from __future__ import annotations

import sympy

from derive.symbolic.derivation_text import DerivationLatexPrinter

from .conventions import (GREEK, LAYER_FUNCTION, ArrayName, ArrayNames, array_name, is_simple, layered,
                          lecture_factors, lecture_terms, negative_number, numeric_factors, numeric_fraction,
                          sum_last, wrapped)


class ReportLatexPrinter(ArrayNames, DerivationLatexPrinter):
    """LaTeX with the report's conventions (see the module docstring)."""

    def _array(self, name: ArrayName, indices: str = "", transposed: bool = False) -> str:
        head = "\\" + name.base if name.base in GREEK else name.base
        layer = "(%s)" % name.layer if name.layer else ""
        top = layer + (r"\top" if transposed else "")
        core = head + ("^{%s}" % top if top else "") + ("_{%s}" % indices if indices else "")
        if name.op in ("R", "G"):
            return r"\mathcal{%s}\lbrace %s\rbrace" % (name.op, core)
        if name.op in ("HV", "GV"):
            return r"\left(%s V\right)_{%s}" % (name.op[0], core)
        return "V_{%s}" % core if name.op == "V" else core

    def _print_Indexed(self, expr):
        label = str(expr.base.label)
        name = array_name(label)
        indices = ",".join(self._print(index) for index in expr.indices)
        if name is not None:
            return self._array(name, indices)
        if label == "net":
            return r"\mathrm{net}_{%s}" % indices
        if label == "w" and all(len(self._print(index)) == 1 for index in expr.indices):
            indices = indices.replace(",", "")  # the lecture's w_ji
        return "%s_{%s}" % (self._print(expr.base.label), indices)

    def _joined(self, terms: list) -> str:
        """``(negative, printed)`` terms joined by + and −."""
        return "".join(("- " if negative else "") + text if not position else (" - " if negative else " + ") + text
                       for position, (negative, text) in enumerate(terms))

    def _print_Pow(self, expr):
        if (layered(expr.base) or negative_number(expr.base)) and expr.exp.is_Integer and expr.exp > 0:
            return r"\left(%s\right)^{%s}" % (self._print(expr.base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        wrt = " ".join(r"\partial %s" % self._print(v) for v, count in expr.variable_count for _ in range(count))
        if is_simple(expr.expr):
            return r"\frac{\partial %s}{%s}" % (self._print(expr.expr), wrt)
        return r"\frac{\partial}{%s}\left(%s\right)" % (wrt, self._print(expr.expr))

    def _print_Heaviside(self, expr, exp=None):
        if len(expr.args) == 2 and expr.args[1] in (0, 1):
            return r"\left[%s %s 0\right]" % (self._print(expr.args[0]), ">" if expr.args[1] == 0 else r"\geq")
        return super()._print_Heaviside(expr, exp)

    def _as_ordered_terms(self, expr, order=None):
        return lecture_terms(super()._as_ordered_terms(expr, order=order), self._settings["order"] == "none")

    def _print_Mul(self, expr):
        if not isinstance(expr, sympy.Mul):  # SymPy prints some powers (1/x) through _print_Mul
            return super()._print_Mul(expr)
        if self._settings["order"] == "none":
            factors, sign = numeric_factors(expr)
            numerator, denominator = numeric_fraction(factors)
            if denominator:
                return sign + r"\frac{%s}{%s}" % (self._print(sympy.Mul(*numerator, evaluate=False)) if numerator
                                                  else "1", self._print(sympy.Mul(*denominator, evaluate=False)))
            return sign + "".join(r"\left(%s\right)" % self._print(f) if wrapped(f, len(factors))
                                  else self._print(f) for f in factors)
        split = sum_last(expr)
        if split is not None:
            return " ".join([self._print(split[0])] + [self._print(total) for total in split[1]])
        written = lecture_factors(expr)
        if written is None:
            return super()._print_Mul(expr)
        negative, factors = written
        parts = []
        for position, factor in enumerate(factors):
            tex = self._print(factor)
            if factor.is_Add or self._needs_mul_brackets(factor, first=position == 0,
                                                         last=position == len(factors) - 1):
                tex = r"\left(%s\right)" % tex
            parts.append(tex)
        return ("- " if negative else "") + " ".join(parts)

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(r"\left(%s\right)" % self._print(arg) if arg.is_MatAdd or arg.is_MatMul
                                else self._print(arg) for arg in expr.args)

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, sympy.MatrixSymbol):
            name = array_name(expr.arg.name)
            return self._array(name, transposed=True) if name is not None else r"%s^{\top}" % self._print(expr.arg)
        return r"\left(%s\right)^{\top}" % self._print(expr.arg)

    def _print_OneMatrix(self, expr):
        """A column of ones 𝟏 (a row of ones, 𝟏ᵀ, when it has one row)."""
        return r"\mathbf{1}^{\top}" if expr.shape[0] == 1 and expr.shape[1] != 1 else r"\mathbf{1}"

    def _print_ElementwiseApplyFunction(self, expr):
        """g'(l) applied to each entry of a matrix: g′^(l)(Z^(l))."""
        return self._layer_function(type(expr.function.expr).__name__, [expr.expr]) or super(
        )._print_ElementwiseApplyFunction(expr)

    def _layer_function(self, name: str, arguments) -> str | None:
        found = LAYER_FUNCTION.match(name)
        if not found:
            return None
        layer = "^{(%s)}" % found["layer"] if found["layer"] else ""
        return r"%s%s\left(%s\right)" % (found["name"], layer, ", ".join(self._print(argument) for argument in arguments))

    def _print_Function(self, expr, exp=None):
        return self._layer_function(type(expr).__name__, expr.args) or super()._print_Function(expr, exp)
