"""The activation registry: one entry per activation, defined once, as SymPy.

An :class:`Activation` holds the SymPy definition g(z) and a numerically
stable numpy forward function.  Its derivative is never written down: it is
``sympy.diff(g(x), x)`` (:attr:`Activation.derivative_expr`), printed to numpy
by :mod:`derive.printing` (:attr:`Activation.derivative`).  Adding an
activation is one call::

    register_activation(Activation("swish", lambda z: z * sigmoid(z), numeric_swish))

and the test-suite, which parametrizes over :data:`ACTIVATIONS`, covers it.

Specs that users write resolve through :func:`get_activation`:

* a registered name: ``"sigmoid"``, ``"relu"``;
* a parameterized name: ``"leaky_relu(0.2)"`` (slope 0.2; default 0.01);
* any other text is parsed as a custom expression in ``x``
  (:func:`derive.expression.parse_activation`): ``"x/(1+abs(x))"``.

Softmax is the one activation that is not elementwise: unit k's output depends
on every unit's input, ``exp(z_k) / sum_m exp(z_m)``.  Its entry has
``elementwise=False`` and ``output_only=True`` and a vector definition used by
the symbolic derivation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Callable

import numpy as np
import sympy

from . import numeric
from .errors import InputError, choices
from .expression import X, parse_activation
from .functions import leaky_relu, relu, sigmoid, softplus
from .printing import compile_elementwise
from .registry import add_entry

#: Functions whose derivative jumps (ReLU-type kinks) or that are not analytic
#: for complex input, so complex-step differentiation is not exact through them.
NON_ANALYTIC = (sympy.Abs, sympy.sign, sympy.Max, sympy.Min, sympy.Heaviside, sympy.Piecewise, relu, leaky_relu)


@dataclass(frozen=True)
class Activation:
    """One activation function.

    Attributes:
        name: How users refer to it (``"sigmoid"``, ``"leaky_relu(0.2)"``, or
            the custom expression text).
        definition: Builds g(z) as SymPy from a SymPy argument.  For softmax,
            ``None`` (see :meth:`vector_definition`).
        numpy: Stable numpy forward function of an array (row-wise for softmax).
        elementwise: False only for softmax-like activations.
        output_only: May only be used on the output layer.
        description: One line for ``--help`` and reports.
        kinks: Points where the derivative jumps (ReLU: ``(0,)``); there finite
            differences straddle two slopes and the subgradient is a convention.
        parameter: ``(name, value)`` for a parameterized activation.
    """

    name: str
    definition: Callable[[sympy.Expr], sympy.Expr] | None
    numpy: Callable
    elementwise: bool = True
    output_only: bool = False
    description: str = ""
    kinks: tuple[float, ...] = ()
    parameter: tuple[str, float] | None = None
    factory: Callable[[float], "Activation"] | None = field(default=None, repr=False, compare=False)

    def sympy(self, z: sympy.Expr) -> sympy.Expr:
        """g(z) as a SymPy expression (elementwise activations only)."""
        if self.definition is None:
            raise TypeError("%s is not elementwise; use vector_definition" % self.name)
        return self.definition(z)

    def vector_definition(self, Z: sympy.IndexedBase, n, k, width) -> sympy.Expr:
        """Output of unit ``k`` for example ``n`` given pre-activations ``Z[n, :]``."""
        if self.elementwise:
            return self.sympy(Z[n, k])
        m = sympy.Dummy("m", integer=True)
        return sympy.exp(Z[n, k]) / sympy.Sum(sympy.exp(Z[n, m]), (m, 0, width - 1))

    @cached_property
    def expression(self) -> sympy.Expr:
        """g(x) in the real symbol ``x``."""
        return self.sympy(X)

    @cached_property
    def derivative_expr(self) -> sympy.Expr:
        """g'(x) = ``sympy.diff(g(x), x)``."""
        return sympy.diff(self.expression, X)

    @cached_property
    def derivative(self) -> Callable:
        """g' as a numpy function, printed from :attr:`derivative_expr`."""
        return compile_elementwise(self.derivative_expr, X)

    @cached_property
    def analytic(self) -> bool:
        """Whether complex-step differentiation is exact through this activation."""
        if not self.elementwise:
            return True
        return not any(self.expression.has(f) for f in NON_ANALYTIC)

    def with_parameter(self, value: float) -> "Activation":
        """A copy with its parameter set (``leaky_relu`` with slope 0.2)."""
        if self.factory is None:
            raise InputError("activation %r takes no parameter" % self.name)
        return self.factory(value)


def _leaky_relu(slope: float = 0.01) -> Activation:
    if not np.isfinite(slope):
        raise InputError("leaky_relu slope %r is not a finite number; write e.g. leaky_relu(0.2)" % slope)
    slope_expr = sympy.nsimplify(slope, rational=True)
    return Activation(
        "leaky_relu" if slope == 0.01 else "leaky_relu(%r)" % slope,
        lambda z: leaky_relu(z, slope_expr),
        lambda z: numeric.leaky_relu(z, slope),
        description="z for z > 0, slope*z otherwise (slope %g)" % slope,
        kinks=(0.0,),
        parameter=("slope", slope),
        factory=_leaky_relu,
    )


#: Every registered activation, by name.
ACTIVATIONS: dict[str, Activation] = {}


def register_activation(activation: Activation) -> Activation:
    """Add an activation to the registry (one line per new activation).

    Raises:
        ValueError: the name is already registered.
    """
    return add_entry(ACTIVATIONS, "activation", activation)


register_activation(Activation("sigmoid", sigmoid, numeric.sigmoid, description="logistic 1/(1+e^-z), the lecture's S"))
register_activation(Activation("tanh", sympy.tanh, np.tanh, description="hyperbolic tangent"))
register_activation(Activation("relu", relu, numeric.relu, description="max(0, z)", kinks=(0.0,)))
register_activation(_leaky_relu())
register_activation(Activation("linear", lambda z: z, lambda z: z * 1, description="identity (regression outputs)"))
register_activation(Activation("softplus", softplus, numeric.softplus, description="log(1+e^z), a smooth relu"))
register_activation(Activation("softmax", None, numeric.softmax, elementwise=False, output_only=True,
                               description="exp(z_k)/sum_m exp(z_m), output layer only"))

_PARAMETERIZED = re.compile(r"^\s*([a-z_]+)\s*\(\s*([-+0-9.eE]+)\s*\)\s*$")


def get_activation(spec: str | Activation, where: str = "") -> Activation:
    """Resolve an activation spec: a registered name, ``name(value)``, or an expression in x.

    Args:
        spec: ``"sigmoid"``, ``"leaky_relu(0.2)"``, ``"x/(1+abs(x))"``, or an
            :class:`Activation`.
        where: Where the spec came from, for error messages (``"layer 2"``).

    Raises:
        InputError: unknown name, bad parameter, or an invalid expression.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("activation%s must be a non-empty string; choose one of: %s"
                         % (" in " + where if where else "", choices(ACTIVATIONS)))
    text = spec.strip()
    if text in ACTIVATIONS:
        return ACTIVATIONS[text]
    match = _PARAMETERIZED.match(text)
    if match and match.group(1) in ACTIVATIONS:
        try:
            value = float(match.group(2))
        except ValueError:
            raise InputError("activation %r%s: parameter %r is not a number" % (text, _at(where), match.group(2))) from None
        if ACTIVATIONS[match.group(1)].factory is None:
            raise InputError("activation %r%s: %s takes no parameter; parameterized: %s" % (
                text, _at(where), match.group(1), choices(n for n, a in ACTIVATIONS.items() if a.factory)))
        try:
            return ACTIVATIONS[match.group(1)].with_parameter(value)
        except InputError as exc:
            raise InputError("%s: %s" % (where, exc) if where else str(exc)) from None
    if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", text) and text != "x":
        raise InputError("unknown activation %r%s; choose one of: %s, or write an expression in x such as 'x/(1+abs(x))'"
                         % (text, _at(where), choices(ACTIVATIONS)))
    try:
        return custom_activation(text, parse_activation(text))
    except InputError as exc:
        raise InputError("%s: %s" % (where, exc) if where else str(exc)) from None


def custom_activation(name: str, expression: sympy.Expr) -> Activation:
    """An activation from a SymPy expression in :data:`derive.expression.X`.

    Its numpy forward function is printed from the expression, like its derivative.

    Raises:
        InputError: numpy cannot evaluate the expression or its derivative
            (``sign(x)*x`` differentiates to a ``DiracDelta``).
    """
    kinks = (0.0,) if any(expression.has(f) for f in NON_ANALYTIC) else ()
    activation = Activation(name, lambda z: expression.subs(X, z), compile_elementwise(expression, X),
                            description="custom: %s" % sympy.sstr(expression), kinks=kinks)
    sample = np.linspace(-3.0, 3.0, 7)
    for what, expr in (("the expression", expression), ("its derivative", activation.derivative_expr)):
        try:
            with np.errstate(all="ignore"):
                compile_elementwise(expr, X)(sample)
        except Exception as exc:  # the printer or numpy refused: say which part, not a traceback
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError("activation %r: numpy cannot evaluate %s %s (%s)"
                             % (name, what, sympy.sstr(expr), reason)) from None
    return activation


def _at(where: str) -> str:
    return " in " + where if where else ""
