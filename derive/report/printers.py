"""The report's printers: LaTeX and presentation MathML that typeset the derivation as the lecture writes it.

Both printers are SymPy printers (``_print_<Node>`` methods) taught the same conventions:

* an array of layer l is written with the layer as a superscript, ``W1[j, i]`` as W^(1)_{j,i} and
  ``delta2[n, j]`` as δ^(2)_{n,j} (a subscript layer would make n, j sub-subscripts); the
  second-order arrays as R{Z^(1)_{n,j}}, G{δ^(2)_{n,j}}, (HV)_{W^(1)_{j,i}} and V_{W^(1)_{j,i}};
  the lecture's net input upright (net_j), as a word;
* sums are written before the other terms and terms with a minus sign last (``T − A``, not
  ``−A + T``; ``Σ w x + b`` as the lecture writes ``Σ w_ji x_i + w_j0``), and the factors of a
  product in the lecture's order: numbers, then single quantities, then differences of one
  quantity, then the rest (``o(1 − o)(t − o)``, ``A(1 − A)(A − T)``);
* ``Derivative(E, W1[j, i])`` is a fraction of ∂s, and the derivative of a longer expression is
  ∂/∂r applied to it in parentheses; ``KroneckerDelta(j, k)`` is the Iverson bracket [j = k];
  ``Heaviside(z, 0)`` (ReLU's derivative, 0 at the kink) is the bracket [z > 0];
* matrices: ``HadamardProduct`` is ⊙, a transpose ᵀ, ``OneMatrix`` a bold 1, and a function
  applied entry by entry (``g'(l)``) g′^(l)(Z^(l)).

Numbers substituted into a formula (:class:`~derive.report.quantities.Shown`)
keep the order they were written in (``(0.1)(1) + 0.1``): such formulas are
printed with ``order="none"``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import sympy
from sympy.core.function import UndefinedFunction
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.mathml import MathMLPresentationPrinter

from derive.symbolic.text import DerivationLatexPrinter

from .quantities import Shown

_GREEK = {"alpha", "beta", "gamma", "delta", "eta", "lambda", "mu", "sigma", "theta", "phi", "psi"}
_ARRAY = re.compile(r"^(?P<op>R|G)?(?P<base>W|b|Z|A|delta|X|T)(?:(?P<digits>\d+)|\((?P<layer>[^()]+)\))?$")
_PRODUCT = re.compile(r"^(?P<op>HV|GV|V)_(?P<base>W|b)(?P<digits>\d+)$")
_SHIFTED = re.compile(r"^(?P<name>[a-zA-Z])(?P<sign>[+-])(?P<step>\d+)$")
_GRADIENT = re.compile(r"^dE/d(?P<array>.+)$")
_LAYER_FUNCTION = re.compile(r"^(?P<name>g'|g)(?:\((?P<layer>[^()]+)\))?$")


class ArrayName(NamedTuple):
    """An array's name read as the printers typeset it: ``Rdelta2`` is ``("R", "delta", "2")``."""

    op: str
    base: str
    layer: str


def array_name(name: str) -> ArrayName | None:
    """How an array of the derivation is named (None for any other name)."""
    found = _ARRAY.match(name) or _PRODUCT.match(name)
    if not found:
        return None
    groups = found.groupdict()
    return ArrayName(groups["op"] or "", groups["base"], groups.get("layer") or groups["digits"] or "")


def _rank(factor: sympy.Basic) -> tuple:
    """Where a factor goes in a product written the lecture's way (see the module docstring)."""
    if factor.is_Number or isinstance(factor, Shown):
        return (0, 0)
    if isinstance(factor, sympy.KroneckerDelta):
        return (0, 1)
    if factor.is_Add:
        return (2, len(factor.atoms(sympy.Indexed, sympy.Symbol) - factor.atoms(Shown)))
    if factor.has(sympy.Sum, sympy.Derivative, sympy.Integral):
        return (3, 0)
    if isinstance(factor, sympy.Function) and any(argument.is_Add for argument in factor.args):
        return (2, 99)  # a function of a difference, after the differences: (1 − t) log(1 − o)
    return (1, 0 if isinstance(factor, sympy.Symbol) and factor.name in _GREEK else 1)


def lecture_factors(expr: sympy.Mul) -> tuple[bool, list] | None:
    """``(negative, factors)``: a product's factors in the lecture's order; None for a fraction or a
    non-integer coefficient, which SymPy's own layout writes better."""
    coefficient, factors = expr.as_coeff_mul()
    if not coefficient.is_Integer or any(f.is_Pow and f.exp.is_negative for f in factors):
        return None
    ordered = sorted(factors, key=_rank)
    if abs(coefficient) != 1:
        ordered.insert(0, abs(coefficient))
    return bool(coefficient < 0), ordered


def lecture_terms(terms: list, written: bool = False) -> list:
    """The terms of a sum in the lecture's order: sums first, terms with a minus sign last (stable).

    In a formula with numbers substituted (``written``) the terms keep their order, except that a negative
    number goes last (``0.5523 − 0.9``).
    """
    if written:
        return sorted(terms, key=lambda term: term.could_extract_minus_sign() and (isinstance(term, Shown) or (
            term.is_Mul and len(term.args) == 2 and term.args[0] == -1)))
    return sorted(terms, key=lambda term: (term.could_extract_minus_sign(), not isinstance(term, sympy.Sum),
                                           not term.has(sympy.Sum)))


def sum_last(expr: sympy.Mul) -> tuple[sympy.Expr, list] | None:
    """``(coefficient part, sums)`` for a product with a fractional coefficient and sums, written λ/2 Σ …;
    None for any other product."""
    coefficient, factors = expr.as_coeff_mul()
    sums = [f for f in factors if isinstance(f, sympy.Sum)]
    if not sums or coefficient.is_Integer or len(sums) == len(factors) and coefficient == 1:
        return None
    return sympy.Mul(coefficient, *[f for f in factors if not isinstance(f, sympy.Sum)]), sums


def _layered(expr: sympy.Basic) -> bool:
    """Whether ``expr`` is an array entry printed with a layer superscript (a power of it needs parentheses)."""
    label = str(expr.base.label) if isinstance(expr, sympy.Indexed) else getattr(expr, "name", None)
    name = array_name(label) if label else None
    return name is not None and bool(name.layer or name.op)


def _negative_number(expr: sympy.Basic) -> bool:
    """Whether ``expr`` is a substituted negative number, which a power must put in parentheses: (−0.5)²."""
    return isinstance(expr, Shown) and expr.could_extract_minus_sign()


def _is_simple(expr: sympy.Basic) -> bool:
    """Whether ∂expr/∂x reads unambiguously as a fraction (else ∂/∂x is applied to expr in parentheses)."""
    return expr.is_Atom or isinstance(expr, (sympy.Indexed, sympy.MatrixSymbol)) or (
        isinstance(expr, sympy.Function) and not isinstance(expr, sympy.Sum))


class ReportLatexPrinter(DerivationLatexPrinter):
    """LaTeX with the report's conventions (see the module docstring)."""

    def _array(self, name: ArrayName, indices: str = "", transposed: bool = False) -> str:
        head = "\\" + name.base if name.base in _GREEK else name.base
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

    def _print_IndexedBase(self, expr):
        name = array_name(str(expr.label))
        return self._array(name) if name is not None else self._print(expr.label)

    def _print_MatrixSymbol(self, expr):
        gradient = _GRADIENT.match(expr.name)
        if gradient:
            return self._print(sympy.Derivative(sympy.Symbol("E"), sympy.MatrixSymbol(gradient["array"], *expr.shape)))
        name = array_name(expr.name)
        return self._array(name) if name is not None else self._print(sympy.Symbol(expr.name))

    def _print_Pow(self, expr):
        if (_layered(expr.base) or _negative_number(expr.base)) and expr.exp.is_Integer and expr.exp > 0:
            return r"\left(%s\right)^{%s}" % (self._print(expr.base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        wrt = " ".join(r"\partial %s" % self._print(v) for v, count in expr.variable_count for _ in range(count))
        if _is_simple(expr.expr):
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
            factors, sign = _numeric_factors(expr)
            numerator, denominator = _fraction(factors)
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
        found = _LAYER_FUNCTION.match(name)
        if not found:
            return None
        layer = "^{(%s)}" % found["layer"] if found["layer"] else ""
        return r"%s%s\left(%s\right)" % (found["name"], layer, ", ".join(self._print(argument) for argument in arguments))

    def _print_Function(self, expr, exp=None):
        return self._layer_function(type(expr).__name__, expr.args) or super()._print_Function(expr, exp)


class ReportMathMLPrinter(MathMLPresentationPrinter):
    """Presentation MathML with the conventions of :class:`ReportLatexPrinter` (see the module docstring)."""

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
        shifted = _SHIFTED.match(text)
        if shifted:
            return self._row(self._element("mi", text=shifted["name"]),
                             self._operator("+" if shifted["sign"] == "+" else "−"), self._element("mn", text=shifted["step"]))
        return self._element("mn" if text.isdigit() else "mi", text=text)

    def _array(self, name: ArrayName, indices=None, transposed: bool = False):
        head = self._print(sympy.Symbol(name.base)) if name.base in _GREEK else self._element("mi", text=name.base)
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

    def _print_IndexedBase(self, expr):
        name = array_name(str(expr.label))
        return self._array(name) if name is not None else self._print(expr.label)

    def _print_MatrixSymbol(self, expr):
        gradient = _GRADIENT.match(expr.name)
        if gradient:
            return self._print(sympy.Derivative(sympy.Symbol("E"), sympy.MatrixSymbol(gradient["array"], *expr.shape)))
        name = array_name(expr.name)
        return self._array(name) if name is not None else self._print(sympy.Symbol(expr.name))

    def _print_Pow(self, expr):
        if (_layered(expr.base) or _negative_number(expr.base)) and expr.exp.is_Integer and expr.exp > 0:
            return self._element("msup", self._parenthesized(expr.base), self._print(expr.exp))
        return super()._print_Pow(expr)

    def _print_Derivative(self, expr):
        denominator = self._row()
        for variable, count in expr.variable_count:
            for _ in range(count):
                denominator.appendChild(self._operator("∂"))
                denominator.appendChild(self._print(variable))
        if _is_simple(expr.expr):
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
        if _SHIFTED.match(subscript):
            return self._element("msub", self._element("mi", text=head), self._layer(subscript))
        return super()._print_Symbol(expr, style)

    def _print_Function(self, expr):
        """An undefined function named like a symbol (``g_l``, ``sigma``) is named as that symbol prints;
        ``g(l)`` and ``g'(l)`` are g and g′ of layer l."""
        named = isinstance(type(expr), UndefinedFunction)
        return self._applied(type(expr).__name__, expr.args, named) or super()._print_Function(expr)

    def _applied(self, name: str, args, named: bool = False):
        found = _LAYER_FUNCTION.match(name)
        if found:
            head = self._element("mi", text="g")
            if found["name"].endswith("'"):
                head = self._row(head, self._operator("′", lspace="0", rspace="0"))
            if found["layer"]:
                head = self._element("msup", head, self._row(self._operator("("), self._layer(found["layer"]),
                                                             self._operator(")")))
        elif named and ("_" in name or name in _GREEK):
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
            factors, sign = _numeric_factors(expr)
            numerator, denominator = _fraction(factors)
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


def _numeric_factors(expr: sympy.Mul) -> tuple[list, str]:
    """The factors of a product with substituted numbers, in the order written, and a leading minus sign."""
    factors = list(expr.args)
    if factors and factors[0] == -1:
        return factors[1:], "-"
    return factors, ""


def _fraction(factors: list) -> tuple[list, list]:
    """The factors of a product with numbers substituted, split into numerator and denominator (x⁻¹ as x)."""
    denominator = [f.base for f in factors if f.is_Pow and f.exp == -1]
    return [f for f in factors if not (f.is_Pow and f.exp == -1)], denominator


def wrapped(factor: sympy.Basic, count: int) -> bool:
    """Whether a factor is written in parentheses: numbers when multiplied, as the lecture writes (.2)(.086)."""
    return count > 1 and (factor.is_Add or isinstance(factor, (Shown, sympy.Number)))
