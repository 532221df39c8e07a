"""The loss registry: one record per loss, the one place it is defined.

A :class:`Loss` is a per-unit term l(o, t) for output o and target t; the
network's loss sums it over output units k and examples n,

    E = sum_n sum_k l(o_nk, t_nk)          (reduction "sum", the lecture's)
    E = (1/N) sum_n sum_k l(o_nk, t_nk)    (reduction "mean")

plus the weight-decay penalty.  A loss that *averages over the output units*
(``averages_outputs``: ``mse``, as ``torch.nn.MSELoss`` and Keras compute it)
has a further 1/n_L in front: with reduction "mean", E is the mean of l over
all N * n_L entries.  The reduction a loss is used with by default is its
``default_reduction`` (``mean`` for ``mse``, else the lecture's ``sum``).  Its record holds the SymPy definition (which
the derivation differentiates with ``sympy.diff``), numpy values, and, for the
engine only, the **hand-written derivative** dl/do as the lecture writes it
(sse: o - t) and, for a loss made for one output activation, the derivative
straight through it to the pre-activation (cross-entropy after softmax and
binary cross-entropy after a sigmoid: o - t), which stays finite where the
output rounds to 0 or 1.

Registered:

* ``sse``: l = (t - o)^2 / 2, the lecture's sum-squared error (whose derivative has no factor 2);
* ``squared_error``: l = (o - t)^2, without the 1/2 (``((y_pred - y)**2).sum()`` of the PyTorch
  tutorials, ``nn.MSELoss(reduction="sum")``);
* ``mse``: l = (o - t)^2 averaged over the output units and, by default, the examples: the mean over
  all N * n_L entries (``nn.MSELoss()``, Keras' ``"mse"``);
* ``cross_entropy``: l = -t log o, for a softmax output layer;
* ``binary_cross_entropy``: l = -(t log o + (1 - t) log(1 - o)), for sigmoid outputs;
* ``mean_binary_cross_entropy``: the same l averaged over the output units and, by default, the examples:
  the mean over all N * n_L entries (``nn.BCELoss()``, ``nn.BCEWithLogitsLoss()``, Keras'
  ``"binary_crossentropy"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
import sympy

from derive.errors import InputError, choices

from . import numeric
from .registry import LOSSES, add_entry

__all__ = ["LOSSES", "Loss", "OUTPUT", "REDUCTIONS", "TARGET", "get_loss", "get_reduction", "register_loss"]

#: The symbols in which per-unit losses are written: output o and target t.
OUTPUT, TARGET = sympy.symbols("o t", real=True)

REDUCTIONS = ("sum", "mean")


@dataclass(frozen=True)
class Loss:
    """One loss function.

    Attributes:
        name: How users refer to it.
        definition: Builds the per-unit loss l(o, t) as SymPy.
        numpy: Elementwise numpy values of l for arrays O and T (the caller sums).
        backward: Hand-written dl/do as a numpy function of (O, T) (the engine's).
        requires_output: Output activations this loss accepts (``None``: any).
        from_logs: l written with log o and log(1 - o) as numpy ``(log_o, log_1mo, T)``,
            for losses that take logs; with the output activation's stable log
            forms it is finite where o rounds to 0 or 1 (``log_1mo`` is None
            when the activation has no stable form of it).
        output_backward: Hand-written dl/dz through the required output
            activation, as numpy ``(O, T)`` (the lecture's o - t); the engine uses
            it instead of multiplying dl/do by the activation's derivative.
        averages_outputs: E carries 1/n_L: the per-unit terms are averaged over
            the output units, not summed (``mse``).
        default_reduction: The reduction over examples when none is given.
        convention: How the loss is written in other people's code, for the
            check's hint when gradients fit this loss instead of the one checked.
    """

    name: str
    definition: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]
    numpy: Callable[[np.ndarray, np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = field(default=None, compare=False)
    requires_output: tuple[str, ...] | None = None
    from_logs: Callable | None = field(default=None, compare=False)
    output_backward: Callable | None = field(default=None, compare=False)
    averages_outputs: bool = False
    default_reduction: str = "sum"
    convention: str = ""

    def sympy(self, o: sympy.Expr, t: sympy.Expr) -> sympy.Expr:
        """l(o, t) as a SymPy expression."""
        return self.definition(o, t)

    @cached_property
    def expression(self) -> sympy.Expr:
        """l(o, t) in the symbols :data:`OUTPUT` and :data:`TARGET`."""
        return self.sympy(OUTPUT, TARGET)

    @cached_property
    def derivative_expr(self) -> sympy.Expr:
        """dl/do = ``sympy.diff(l(o, t), o)``."""
        return sympy.diff(self.expression, OUTPUT)


def register_loss(loss: Loss) -> Loss:
    """Add a loss to the registry (one call per new loss).

    Raises:
        ValueError: the name is already registered.
    """
    return add_entry(LOSSES, "loss", loss)


register_loss(Loss(
    "sse", lambda o, t: (t - o) ** 2 / 2, lambda O, T: (T - O) ** 2 / 2,
    backward=lambda O, T: O - T,                                    # d/do (t - o)^2/2 = o - t
    convention="1/2 sum (t - o)^2, the lecture's sum-squared error"))

register_loss(Loss(
    "squared_error", lambda o, t: (o - t) ** 2, lambda O, T: (O - T) ** 2,
    backward=lambda O, T: 2 * (O - T),                              # d/do (o - t)^2 = 2(o - t)
    convention="sum (o - t)^2 without the 1/2, as ((y_pred - y)**2).sum() or nn.MSELoss(reduction='sum')"))

register_loss(Loss(
    "mse", lambda o, t: (o - t) ** 2, lambda O, T: (O - T) ** 2,
    backward=lambda O, T: 2 * (O - T),                              # d/do (o - t)^2; E carries 1/n_L (and 1/N)
    averages_outputs=True, default_reduction="mean",
    convention="the mean of (o - t)^2 over the output units (and the examples), as nn.MSELoss() or Keras' 'mse'"))

register_loss(Loss(
    "cross_entropy", lambda o, t: -t * sympy.log(o), lambda O, T: -numeric.xlogy(T, O),
    backward=lambda O, T: -T / O,                                   # d/do (-t log o) = -t/o
    requires_output=("softmax",),
    from_logs=lambda log_o, log_1mo, T: -T * log_o,
    output_backward=lambda O, T: O * T.sum(axis=-1, keepdims=True) - T,   # o - t when each row of t sums to 1
    convention="-sum t log o after a softmax output"))

#: The binary cross-entropy's pieces, shared by its summed and averaged records.
_BINARY_CROSS_ENTROPY = dict(
    definition=lambda o, t: -(t * sympy.log(o) + (1 - t) * sympy.log(1 - o)),
    numpy=lambda O, T: -(numeric.xlogy(T, O) + numeric.xlogy(1 - T, 1 - O)),
    backward=lambda O, T: (O - T) / (O * (1 - O)),                  # -t/o + (1 - t)/(1 - o)
    requires_output=("sigmoid",),
    from_logs=lambda log_o, log_1mo, T: -(T * log_o + (1 - T) * log_1mo),
    output_backward=lambda O, T: O - T)                             # through o(1 - o): o - t

register_loss(Loss(
    "binary_cross_entropy", **_BINARY_CROSS_ENTROPY,
    convention="-sum (t log o + (1 - t) log(1 - o)) after sigmoid outputs"))

register_loss(Loss(
    "mean_binary_cross_entropy", **_BINARY_CROSS_ENTROPY, averages_outputs=True, default_reduction="mean",
    convention="the mean of the binary cross-entropy over the output units (and the examples), as nn.BCELoss() "
               "or nn.BCEWithLogitsLoss()"))


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
