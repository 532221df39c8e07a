"""The SymPy objects a report adds to the derivation's: numbers as shown, Δw, w^(t), shapes, the lecture's symbols.

The printers (:mod:`derive.report.latex_printer`, :mod:`derive.report.mathml_printer`) typeset each of them; nothing
here prints.

* :class:`Shown` and :func:`number`: a number substituted into a formula, kept
  apart so that ``(0.2)(0.086)`` stays a product of two numbers;
  :func:`shown` and :func:`text_number` round a value to the digits a report shows;
* :class:`change` (Δw), :class:`at_step` (w^(t)) and :class:`Shape` (N × n₂);
* :func:`lecture_notation`: the lecture's x_i, h_j, o_k, t_k, net_j, w_ji, δ_j and σ;
* :func:`layer_matrix`: a whole array of one layer as a matrix symbol (``W^(l+1)``, n_{l+1} × n_l),
  for the matrix form of backpropagation.
"""

from __future__ import annotations

import math

import sympy

from derive.model.functions import sigmoid

#: Significant digits of the numbers a report shows.
DIGITS = 4

ETA, ALPHA, LAMBDA, MU = sympy.symbols("eta alpha lambda mu", positive=True)
STEP = sympy.Symbol("t", integer=True, nonnegative=True)


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
        return Shown(self.name[1:] if self.name.startswith("-") else "-" + self.name) if self.value else self

    def _latex(self, printer):
        return self.name


def number(value: float, digits: int = DIGITS) -> Shown:
    """:func:`shown`, kept apart inside a formula (see :class:`Shown`)."""
    return Shown(text_number(value, digits))


def text_number(value: float, digits: int = DIGITS) -> str:
    """A number rounded to ``digits`` significant digits, for table cells of plain text."""
    return "%.*g" % (digits, float(value) + 0.0)  # + 0.0: no "-0"


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


class Shape(sympy.Function):
    """The shape of a matrix, ``Shape(N, n_2)`` written N × n₂ (``Shape(n_2)`` for a vector of n₂ entries)."""

    nargs = (1, 2)

    def _latex(self, printer):
        return r" \times ".join(printer._print(size) for size in self.args)


def lecture_notation() -> dict[str, sympy.Basic]:
    """The lecture's symbols: ``x_i``, ``h_j``, ``o_k``, ``t_k``, ``net_j``, ``net_k``, ``w_ji``, ``w_kj``, ``δ``, σ.

    Indices are the lecture's: units count from 1, and index 0 of a weight is the bias (``w_j0``).
    """
    i, j, k = sympy.symbols("i j k", integer=True, positive=True)
    net, delta, w = sympy.IndexedBase("net", real=True), sympy.IndexedBase("delta", real=True), sympy.IndexedBase("w")
    z = sympy.Symbol("z")
    return {
        "i": i, "j": j, "k": k, "K": sympy.Symbol("K", integer=True, positive=True),
        "x": sympy.IndexedBase("x", real=True)[i], "h": sympy.IndexedBase("h", real=True)[j],
        "o": sympy.IndexedBase("o", real=True)[k], "t": sympy.IndexedBase("t", real=True)[k],
        "net": net[j], "net_k": net[k], "w": w[j, i], "w0": w[j, 0], "w_kj": w[k, j], "w_k0": w[k, 0],
        "delta": delta[j], "delta_k": delta[k], "sigma": sigmoid(z),
    }


def layer_matrix(name: str, layer, rows, columns) -> sympy.MatrixSymbol:
    """A whole array of one layer as a matrix symbol: ``layer_matrix("W", "l+1", n_{l+1}, n_l)`` is W^(l+1).

    ``layer`` is a number or a layer expression (``"l"``, ``"l+1"``, ``"L"``); the printers write it as a
    superscript in parentheses.
    """
    return sympy.MatrixSymbol("%s(%s)" % (name, layer), rows, columns)


def layer_size(layer) -> sympy.Symbol:
    """n_l for a layer number or expression: ``layer_size(2)`` is n_2, ``layer_size("l+1")`` is n_{l+1}."""
    return sympy.Symbol("n_%s" % layer, integer=True, positive=True)
