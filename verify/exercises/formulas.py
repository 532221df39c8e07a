"""The formula of every blank on a sheet: the derivation's equations, printed, in the sheet's sign convention.

A sheet's key is the worked example's numbers
(:func:`derive.report.exercises.step_blanks`).  Marking needs each blank
computed again from a student's *own* earlier answers (an answer that follows
correctly from a wrong earlier one is carried forward, not wrong), and from
the same answers with one step done as a common mistake does it
(:mod:`verify.exercises.mistakes`).  These are the equations the worked
example evaluates: each is printed as whole-array numpy by the generated
code's array printer (:func:`derive.report.arrays.array_code`), compiled
once, and evaluated in a namespace holding the given numbers and the
student's values of everything computed before it.

The arrays of one step, in the order a student computes them:

* ``Z1``, ``A1``, ..., ``ZL``, ``AL`` (the forward pass) and ``E``;
* ``deltaL`` ... ``delta1``, each written in terms of the error term above it.  With the lecture's sign
  (``sign="lecture"``) an error term is −∂E/∂Z: the same equation with δ_{l+1} read as −δ_{l+1} and
  negated, as SymPy rewrites it;
* ``dWL``, ``dbL``, ... (the gradients, ours) or ``DeltaWL``, ``DeltabL``, ... (the lecture's changes,
  Δw = −η ∂E/∂w + α Δw(t−1), from the same gradient equations);
* ``WL'``, ``bL'``, ... (the parameters after the step: w + Δw).

The update rule w ← w − η ∂E/∂w + α Δw(t−1) is the worked example's own
(:func:`derive.report.example.step_change`); the mistakes in it (the sign of
the step, a forgotten η or momentum term) are the same function with other
coefficients.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy
from sympy import Indexed

from derive.report.arrays import array_code, array_namespace, array_statements
from derive.report.example import step_change
from derive.report.exercises import SIGNS
from derive.report.notation import Notation


class StepFormulas:
    """The compiled formulas of one step's arrays for a derivation and a sign convention (see the module docstring).

    Attributes:
        derivation: The derivation the formulas come from.
        sign: ``"ours"`` (δ = ∂E/∂Z) or ``"lecture"`` (δ = −∂E/∂net).
        order: The arrays of a step, in the order a student computes them.
    """

    def __init__(self, derivation, sign: str):
        if sign not in SIGNS:
            raise ValueError("sign must be one of %s, got %r" % (", ".join(SIGNS), sign))
        self.derivation, self.sign = derivation, sign
        self.notation = Notation(derivation)
        self.lecture = sign == "lecture"
        printed = {statement.name: statement.code for statement in array_statements(derivation)}
        depth = derivation.depth
        self.order = [name for layer in range(1, depth + 1) for name in ("Z%d" % layer, "A%d" % layer)] + ["E"]
        self.order += ["delta%d" % layer for layer in range(depth, 0, -1)]
        self.parameters = sorted(derivation.parameters, key=lambda name: (-int(name[1:]), name[0] != "W"))
        self.order += [self.change_name(name) for name in self.parameters]
        self.order += [name + "'" for name in self.parameters]
        self.sources = {name: printed[name] for name in self.order[:2 * depth + 1]}
        for layer in range(depth, 0, -1):
            self.sources["delta%d" % layer] = self.delta_code(derivation.delta(layer), layer)
        for name in self.parameters:
            self.sources["d" + name] = self.gradient_code(derivation.gradient(name), name)
        self.compiled = {name: compile_code(source) for name, source in self.sources.items()}

    def change_name(self, parameter: str) -> str:
        """The array a student writes for a parameter's step: ``dW2`` (our gradient) or ``DeltaW2`` (the lecture's)."""
        return ("Delta" if self.lecture else "d") + parameter

    def delta_code(self, expr: sympy.Expr, layer: int) -> str:
        """δ_l's equation (ours, in terms of δ_{l+1}) printed in this sheet's sign convention."""
        if self.lecture:
            expr = -self._flipped(expr)
        return array_code(expr, self.notation.delta(layer).indices)

    def gradient_code(self, expr: sympy.Expr, name: str) -> str:
        """∂E/∂(name)'s equation (ours, in terms of δ) printed for the error terms of this sheet's convention."""
        return array_code(self._flipped(expr) if self.lecture else expr, self.notation.entry(name).indices)

    def forward_code(self, expr: sympy.Expr, layer: int) -> str:
        """A changed net input Z_l printed (a mistake in the forward pass)."""
        return array_code(expr, self.notation.Z(layer).indices)

    def _flipped(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with every error term read as its negative (δ_ours = −δ_lecture)."""
        bases = {self.notation.delta(layer).base for layer in range(1, self.derivation.depth + 1)}
        return expr.xreplace({entry: -entry for entry in expr.atoms(Indexed) if entry.base in bases})

    def namespace(self, params: dict, X: np.ndarray, T: np.ndarray, lr: float, momentum: float,
                  previous: dict) -> dict:
        """What a step's formulas read: the parameters at its start, the data, η, α and the changes of the step
        before (``previous``, zeros for step 1); each array of the step is added under its name as it is found."""
        return {**array_namespace(self.derivation, params, X, T), "lr": lr, "momentum": momentum,
                "previous": previous}

    def evaluate(self, name: str, namespace: dict) -> np.ndarray:
        """Array ``name`` of a step from the values in ``namespace`` (see :meth:`namespace`)."""
        settings = (namespace["lr"], namespace["momentum"])
        if name.endswith("'"):
            parameter = name[:-1]
            if self.lecture:
                return namespace[parameter] + namespace[self.change_name(parameter)]
            return namespace[parameter] + step_change(namespace["d" + parameter], namespace["previous"][parameter],
                                                      *settings)
        if name.startswith("Delta"):
            parameter = name[len("Delta"):]
            return step_change(run(self.compiled["d" + parameter], namespace), namespace["previous"][parameter],
                               *settings)
        return run(self.compiled[name], namespace)


def compile_code(source: str):
    """Printed numpy (never user text) compiled for :func:`run`."""
    return compile(source, "<formula>", "eval")


def run(code, namespace: dict) -> np.ndarray:
    """Evaluate compiled printed numpy in ``namespace`` (a wrong formula may overflow: that is a value too)."""
    with np.errstate(all="ignore"):
        return np.asarray(eval(code, namespace), dtype=np.float64)  # noqa: S307 -- printed by SymPy's printer


@lru_cache(maxsize=64)
def formulas_for(derivation, sign: str) -> StepFormulas:
    """The (cached) formulas of ``derivation``'s blanks in sign convention ``sign``."""
    return StepFormulas(derivation, sign)
