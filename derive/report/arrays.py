"""The derivation's equations as whole-array numpy expressions, in evaluation order.

:func:`array_statements` prints each equation of a derivation (forward pass,
loss, error terms from the output back, gradients) with the array printer of
the generated code (:class:`derive.codegen.array_printer.ArrayPrinter`), after
the same rewrites into stable forms as the generated code
(:func:`derive.codegen.stable_forms.stabilize`: softmax prints as ``softmax(Z2)``):
``Z1 = b1 + (X @ W1.T)``, ``delta1 = (1 - A1)*A1*(delta2 @ W2)``,
``dW1 = delta1.T @ X``.  A report shows them as the vectorized form of the
derivation, and the worked example evaluates them (:mod:`derive.report.example`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
import sympy

from derive.codegen.array_printer import ArrayPrinter
from derive.codegen.printing import helpers
from derive.codegen.stable_forms import stabilize
from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .notation import Notation


class ArrayStatement(NamedTuple):
    """``name = code``: ``lhs`` is what it computes (an entry, E, or a derivative), ``code`` whole-array numpy."""

    name: str
    lhs: sympy.Basic
    code: str


@lru_cache(maxsize=32)
def array_statements(derivation: SymbolicDerivation) -> tuple[ArrayStatement, ...]:
    """Every equation of ``derivation`` printed for whole arrays; gradients are named ``dW1``, ``db1``, ...

    Raises:
        NotImplementedError: an expression the array printer cannot print (named in the message).
    """
    notation = Notation(derivation)
    statements = []

    def add(name: str, lhs: sympy.Basic, expr: sympy.Expr, layout: tuple) -> None:
        statements.append(ArrayStatement(name, lhs, array_code(expr, layout)))

    for equation in derivation.forward_equations:
        add(sympy.sstr(equation.lhs.base), equation.lhs, equation.rhs, equation.lhs.indices)
    add("E", notation.E, derivation.loss, ())
    for layer in range(derivation.depth, 0, -1):
        entry = notation.delta(layer)
        add(sympy.sstr(entry.base), entry, derivation.delta(layer), entry.indices)
    for name in derivation.parameters:
        entry = notation.entry(name)
        add("d" + name, sympy.Derivative(notation.E, entry), derivation.gradient(name), entry.indices)
    return tuple(statements)


def array_code(expr: sympy.Expr, layout: tuple) -> str:
    """``expr`` (an entry's formula, indexed by ``layout``) as whole-array numpy, as the generated code prints it."""
    return ArrayPrinter().array(stabilize(expr), tuple(layout))


def array_namespace(derivation: SymbolicDerivation, params: dict, X: np.ndarray, T: np.ndarray) -> dict:
    """What the printed statements read: numpy, the printer's helpers, the parameters, X, T, N and the sizes."""
    notation = Notation(derivation)
    widths = (X.shape[1],) + tuple(np.shape(params[p])[0] for p in derivation.parameters if p.startswith("W"))
    return {"np": np, **helpers(), **params, sympy.sstr(notation.X.base): X, sympy.sstr(notation.T.base): T,
            sympy.sstr(notation.N): len(X), **{sympy.sstr(size): width for size, width in zip(notation.sizes, widths)}}
