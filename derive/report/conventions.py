"""The conventions both report printers follow: how arrays are named, and the lecture's order of terms and factors.

:mod:`derive.report.latex_printer` and :mod:`derive.report.mathml_printer`
print the same SymPy objects the same way; what they share is here:

* :func:`array_name` reads a derivation's array name (``W1``, ``Rdelta2``, ``HV_W1``, ``delta(l+1)``) as the
  printers typeset it: the base, the layer (a superscript), and an operator (R{·}, G{·}, (HV)_·, V_·);
* :func:`lecture_factors` and :func:`lecture_terms` order a product and a sum as the lecture writes them
  (``o(1 − o)(t − o)``, ``T − A``, ``Σ w x + b``); :func:`sum_last` writes ``λ/2 Σ …``;
* for formulas with numbers substituted (:class:`~derive.report.quantities.Shown`), the factors in the order
  written, numbers in parentheses (:func:`numeric_factors`, :func:`numeric_fraction`, :func:`wrapped`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import sympy

from .quantities import Shown

GREEK = {"alpha", "beta", "gamma", "delta", "eta", "lambda", "mu", "sigma", "theta", "phi", "psi"}
_ARRAY = re.compile(r"^(?P<op>R|G)?(?P<base>W|b|Z|A|delta|X|T)(?:(?P<digits>\d+)|\((?P<layer>[^()]+)\))?$")
_PRODUCT = re.compile(r"^(?P<op>HV|GV|V)_(?P<base>W|b)(?P<digits>\d+)$")
SHIFTED = re.compile(r"^(?P<name>[a-zA-Z])(?P<sign>[+-])(?P<step>\d+)$")
GRADIENT = re.compile(r"^dE/d(?P<array>.+)$")
LAYER_FUNCTION = re.compile(r"^(?P<name>g'|g)(?:\((?P<layer>[^()]+)\))?$")


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
    return (1, 0 if isinstance(factor, sympy.Symbol) and factor.name in GREEK else 1)


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


def layered(expr: sympy.Basic) -> bool:
    """Whether ``expr`` is an array entry printed with a layer superscript (a power of it needs parentheses)."""
    label = str(expr.base.label) if isinstance(expr, sympy.Indexed) else getattr(expr, "name", None)
    name = array_name(label) if label else None
    return name is not None and bool(name.layer or name.op)


def negative_number(expr: sympy.Basic) -> bool:
    """Whether ``expr`` is a substituted negative number, which a power must put in parentheses: (−0.5)²."""
    return isinstance(expr, Shown) and expr.could_extract_minus_sign()


def is_simple(expr: sympy.Basic) -> bool:
    """Whether ∂expr/∂x reads unambiguously as a fraction (else ∂/∂x is applied to expr in parentheses)."""
    return expr.is_Atom or isinstance(expr, (sympy.Indexed, sympy.MatrixSymbol)) or (
        isinstance(expr, sympy.Function) and not isinstance(expr, sympy.Sum))


def numeric_factors(expr: sympy.Mul) -> tuple[list, str]:
    """The factors of a product with substituted numbers, in the order written, and a leading minus sign."""
    factors = list(expr.args)
    if factors and factors[0] == -1:
        return factors[1:], "-"
    return factors, ""


def numeric_fraction(factors: list) -> tuple[list, list]:
    """The factors of a product with numbers substituted, split into numerator and denominator (x⁻¹ as x)."""
    denominator = [f.base for f in factors if f.is_Pow and f.exp == -1]
    return [f for f in factors if not (f.is_Pow and f.exp == -1)], denominator


def wrapped(factor: sympy.Basic, count: int) -> bool:
    """Whether a factor is written in parentheses: numbers when multiplied, as the lecture writes (.2)(.086)."""
    return count > 1 and (factor.is_Add or isinstance(factor, (Shown, sympy.Number)))


def negative_matrix_term(term: sympy.MatrixExpr) -> bool:
    """Whether a term of a sum of matrices carries a minus sign (``−T``)."""
    return isinstance(term, sympy.MatMul) and any(f.is_number and f.is_negative for f in term.args)


def matrix_terms(expr: sympy.MatAdd) -> list:
    """The terms of a sum of matrices, products of matrices first, then a penalty (λW), then terms with a minus
    sign: ``A − T``, ``δᵀA + λW``, as the gradients are written."""
    def key(term):
        scalars = [f for f in (term.args if isinstance(term, sympy.MatMul) else ()) if not f.is_Matrix]
        return any(f.free_symbols for f in scalars), negative_matrix_term(term)
    return sorted(expr.args, key=key)


class ArrayNames:
    """The printers' methods for whole arrays, the same in LaTeX and MathML: an ``IndexedBase`` or a
    ``MatrixSymbol`` named like an array of the derivation is written as :func:`array_name` reads it
    (``self._array``), a matrix named ``dE/dA(L)`` as the derivative ∂E/∂A^(L), and a sum of matrices in
    the order of :func:`matrix_terms`."""

    def _print_MatAdd(self, expr):
        terms = matrix_terms(expr)
        return self._joined([(negative_matrix_term(term), self._print(-term if negative_matrix_term(term) else term))
                             for term in terms])

    def _print_IndexedBase(self, expr):
        name = array_name(str(expr.label))
        return self._array(name) if name is not None else self._print(expr.label)

    def _print_MatrixSymbol(self, expr):
        gradient = GRADIENT.match(expr.name)
        if gradient:
            return self._print(sympy.Derivative(sympy.Symbol("E"), sympy.MatrixSymbol(gradient["array"], *expr.shape)))
        name = array_name(expr.name)
        return self._array(name) if name is not None else self._print(sympy.Symbol(expr.name))
