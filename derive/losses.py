"""The loss registry: one entry per loss, defined once, as SymPy.

A :class:`Loss` is a per-unit term l(o, t) for output o and target t; the
network's loss sums it over output units k and examples n,

    E = sum_n sum_k l(o_nk, t_nk)          (reduction "sum", the lecture's)
    E = (1/N) sum_n sum_k l(o_nk, t_nk)    (reduction "mean")

plus the weight-decay penalty.  As with activations, dl/do is never typed in:
it is ``sympy.diff(l(o, t), o)``, printed to numpy by :mod:`derive.printing`.

Registered:

* ``sse``: l = (t - o)^2 / 2, the lecture's sum-squared error;
* ``cross_entropy``: l = -t log o, for a softmax output layer;
* ``binary_cross_entropy``: l = -(t log o + (1 - t) log(1 - o)), for sigmoid outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import sympy

from . import numeric
from .errors import InputError, choices
from .printing import compile_elementwise
from .registry import add_entry

#: The symbols in which per-unit losses are written: output o and target t.
O, T = sympy.symbols("o t", real=True)

REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class Loss:
    """One loss function.

    Attributes:
        name: How users refer to it.
        definition: Builds the per-unit loss l(o, t) as SymPy.
        numpy: Elementwise numpy values of l for arrays O and T (the caller sums).
        requires_output: Output activations this loss accepts (``None``: any).
        description: One line for ``--help`` and reports.
    """

    name: str
    definition: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]
    numpy: Callable[[np.ndarray, np.ndarray], np.ndarray]
    requires_output: tuple[str, ...] | None = None
    description: str = ""

    def sympy(self, o: sympy.Expr, t: sympy.Expr) -> sympy.Expr:
        """l(o, t) as a SymPy expression."""
        return self.definition(o, t)

    @cached_property
    def expression(self) -> sympy.Expr:
        """l(o, t) in the symbols :data:`O` and :data:`T`."""
        return self.sympy(O, T)

    @cached_property
    def derivative_expr(self) -> sympy.Expr:
        """dl/do = ``sympy.diff(l(o, t), o)``."""
        return sympy.diff(self.expression, O)

    @cached_property
    def derivative(self) -> Callable:
        """dl/do as a numpy function of (O, T), printed from :attr:`derivative_expr`."""
        return compile_elementwise(self.derivative_expr, O, T)


#: Every registered loss, by name.
LOSSES: dict[str, Loss] = {}


def register_loss(loss: Loss) -> Loss:
    """Add a loss to the registry (one line per new loss).

    Raises:
        ValueError: the name is already registered.
    """
    return add_entry(LOSSES, "loss", loss)


register_loss(Loss("sse", lambda o, t: (t - o) ** 2 / 2, lambda O, T: (T - O) ** 2 / 2,
                   description="sum-squared error (t - o)^2 / 2, the lecture's"))
register_loss(Loss("cross_entropy", lambda o, t: -t * sympy.log(o), lambda O, T: -numeric.xlogy(T, O),
                   requires_output=("softmax",), description="-t log o, with a softmax output layer"))
register_loss(Loss("binary_cross_entropy", lambda o, t: -(t * sympy.log(o) + (1 - t) * sympy.log(1 - o)),
                   lambda O, T: -(numeric.xlogy(T, O) + numeric.xlogy(1 - T, 1 - O)),
                   requires_output=("sigmoid",), description="-(t log o + (1-t) log(1-o)), with sigmoid outputs"))


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name.

    Raises:
        InputError: unknown name; the message lists the registered ones.
    """
    if isinstance(name, Loss):
        return name
    if name not in LOSSES:
        raise InputError("unknown loss %r; choose one of: %s" % (name, choices(LOSSES)))
    return LOSSES[name]


def get_reduction(name: str) -> str:
    """Validate a reduction name (``sum`` or ``mean``)."""
    if name not in REDUCTIONS:
        raise InputError("unknown reduction %r; choose one of: %s" % (name, ", ".join(REDUCTIONS)))
    return name
