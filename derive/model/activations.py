"""The activation registry: one record per activation, the one place it is defined.

An :class:`Activation` record holds everything the toolkit knows about one
activation function, and every other part *reads* it:

* its SymPy definition g(z) (``definition``; the derivation differentiates it
  with ``sympy.diff``) and, when g is a SymPy function of ours
  (:mod:`derive.model.functions`), that class (``function``) and the numpy helper
  the code printer calls for it (``helper``);
* its stable numpy forward (``numpy``) and its **hand-written local derivative**
  (``backward``), written next to it as the lecture writes it (sigmoid: a(1 - a),
  tanh: 1 - a^2).  Only the engine uses ``backward``: it is an oracle
  independent of SymPy's derivative rules;
* where its derivative jumps (``kinks``), which also says whether it is
  analytic (complex-step differences are exact only without kinks); for an
  expression the kinks are derived from the SymPy expression itself;
* its output range (which gives the 0.9/0.1 training targets of the lecture);
* log g(z) and log(1 - g(z)) written so that they stay finite (``log_forms``),
  for the losses that take logs of the output.

Adding an activation is one :func:`register_activation` call; the parser, the
printer, the engine, the strategies, the CLI help and the test-suite (which
parametrizes over :data:`ACTIVATIONS`) pick it up.

Specs that users write (``"sigmoid"``, ``"leaky_relu(0.2)"``, an expression
in ``x``) resolve to records through
:func:`derive.model.activation_specs.get_activation`.

Softmax is the one activation that is not elementwise: unit k's output depends
on every unit's input, ``exp(z_k) / sum_m exp(z_m)``.  Its record has
``elementwise=False`` and ``output_only=True``, a vector definition used by the
derivation, and as ``backward`` the hand-written vector-Jacobian product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np
import sympy

from derive.errors import InputError

from . import functions, numeric
from .expression import VARIABLE, breakpoints
from .registry import ACTIVATIONS, add_entry

__all__ = ["ACTIVATIONS", "Activation", "LogForms", "register_activation", "target_levels"]

#: Kinks are located in this window of pre-activations (beyond it every unit is saturated or linear).
KINK_WINDOW = 1e3
#: Margin inside the bounds of a bounded activation for the on/off training targets (the lecture's 0.9/0.1).
TARGET_MARGIN = 0.1


@dataclass(frozen=True)
class LogForms:
    """log g(z) and log(1 - g(z)), written so that they stay finite where g(z) rounds to 0 or 1.

    Identities of g, not derivatives: with them a loss that takes the log of
    the output (cross-entropy) is computed from the pre-activation z.

    Attributes:
        output: SymPy ``log(g(u))`` of an argument u (the code printer's rewrite).
        complement: SymPy ``log(1 - g(u))``, or None.
        numpy_output: numpy log g(z) (the engine's).
        numpy_complement: numpy log(1 - g(z)), or None.
    """

    output: Callable | None
    complement: Callable | None
    numpy_output: Callable
    numpy_complement: Callable | None = None


@dataclass(frozen=True)
class Activation:
    """One activation function.

    Attributes:
        name: How users refer to it (``"sigmoid"``, ``"leaky_relu(0.2)"``, or
            the custom expression text); registered names may also be called
            in custom expressions (``"x*sigmoid(x)"``).
        definition: Builds g(z) as SymPy from a SymPy argument.  For softmax,
            ``None`` (see :meth:`vector_definition`).
        numpy: Stable numpy forward function of an array (row-wise for
            softmax); None for a custom activation (:mod:`derive.codegen`
            prints one from the definition).
        backward: The hand-written local derivative as a vector-Jacobian
            product ``backward(z, a, upstream) -> dE/dz`` given dE/da =
            ``upstream`` (elementwise: ``upstream * g'(z)``, written from z
            and a = g(z) as the lecture writes it); None for a custom activation.
        function: The SymPy function class ``definition`` calls, if it is one
            of ours (:mod:`derive.model.functions`); the printer calls
            ``helper`` for it.
        helper: The numpy function that evaluates ``function`` on the same
            arguments (``leaky_relu(z, slope)``); a plain ``def``, because
            generated modules carry its source.
        elementwise: False only for softmax-like activations.
        output_only: May only be used on the output layer.
        kinks: Points where the derivative jumps (ReLU: ``(0.0,)``); there
            finite differences straddle two slopes and the subgradient is a
            convention.  Derived from the expression when not given.
        complex_step: Whether its numpy helpers take complex values (analytic off the real axis), so that
            complex-step differences may go through it; False for the exact GELU (``math.erfc``).
        output_range: ``(low, high)``, the values g can take (bounds may be infinite).
        log_forms: Stable log g and log(1 - g), or None.
        parameter: ``(name, value)`` for a parameterized activation.
        example_parameter: A value of the parameter to show users (``0.2``: ``leaky_relu(0.2)``).
        factory: Builds the record for another parameter value.
    """

    name: str
    definition: Callable[[sympy.Expr], sympy.Expr] | None
    numpy: Callable | None
    backward: Callable | None = field(default=None, compare=False)
    function: type | None = None
    helper: Callable | None = field(default=None, compare=False)
    elementwise: bool = True
    output_only: bool = False
    kinks: tuple[float, ...] | None = None
    output_range: tuple[float, float] = (-math.inf, math.inf)
    complex_step: bool = True
    log_forms: LogForms | None = field(default=None, compare=False)
    parameter: tuple[str, float] | None = None
    example_parameter: float | None = None
    factory: Callable[[float], "Activation"] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.kinks is None:
            object.__setattr__(self, "kinks", _kinks_of(self.name, self.expression) if self.elementwise else ())

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
        return self.sympy(VARIABLE)

    @cached_property
    def derivative_expr(self) -> sympy.Expr:
        """g'(x) = ``sympy.diff(g(x), x)``."""
        return sympy.diff(self.expression, VARIABLE)

    @property
    def analytic(self) -> bool:
        """Whether complex-step differentiation is exact through this activation (no kinks, complex helpers)."""
        return not self.kinks and self.complex_step

    @property
    def custom(self) -> bool:
        """Whether this is a custom expression, with no hand-written derivative of its own."""
        return self.backward is None

    def with_parameter(self, value: float) -> "Activation":
        """A copy with its parameter set (``leaky_relu`` with slope 0.2)."""
        if self.factory is None:
            raise InputError("activation %r takes no parameter" % self.name)
        return self.factory(value)


def register_activation(activation: Activation) -> Activation:
    """Add an activation to the registry (one call per new activation).

    Raises:
        ValueError: the name is already registered.
    """
    return add_entry(ACTIVATIONS, "activation", activation)


def target_levels(activation: Activation) -> tuple[float, float]:
    """The (on, off) training targets for output units of ``activation``.

    A bounded elementwise activation only approaches its bounds, so, as in the
    lecture, its targets sit :data:`TARGET_MARGIN` inside them (sigmoid 0.9
    and 0.1, tanh 0.9 and -0.9); every other output is trained toward 1 and 0
    (softmax: one-hot rows).
    """
    low, high = activation.output_range
    if activation.elementwise and math.isfinite(low) and math.isfinite(high):
        return high - TARGET_MARGIN, low + TARGET_MARGIN
    return 1.0, 0.0


def target_range(activation: Activation) -> tuple[float, float]:
    """Target values to draw for outputs of an elementwise ``activation``: its output range within [-1, 1]."""
    low, high = activation.output_range
    return max(low, -1.0), min(high, 1.0)


def _kinks_of(name: str, expression: sympy.Expr) -> tuple[float, ...]:
    """The real points where ``expression``'s derivative may jump, within :data:`KINK_WINDOW`.

    Raises:
        InputError: the kinks are not isolated points (``abs(sin(x))`` has infinitely many).
    """
    points: set[float] = set()
    window = sympy.Interval(-KINK_WINDOW, KINK_WINDOW)
    for argument in breakpoints(expression, ACTIVATIONS):
        roots = sympy.solveset(argument, VARIABLE, domain=window)
        if not isinstance(roots, sympy.FiniteSet) or len(roots) > 1000:
            raise InputError("activation %r: cannot locate its kinks (where %s = 0); use an expression whose "
                             "non-smooth parts switch at isolated points" % (name, sympy.sstr(argument)))
        points.update(float(root) for root in roots)
    return tuple(sorted(points))


def _check_parameter(function: str, name: str, value, example: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError("%s %s %r is not a finite number; write e.g. %s(%g)" % (function, name, value, function,
                                                                                 example))
    return float(value)


# --- the registered activations: forward and textbook derivative side by side -----------------


def _sigmoid_log_forms() -> LogForms:
    return LogForms(output=lambda u: -functions.softplus(-u), complement=lambda u: -functions.softplus(u),
                    numpy_output=lambda z: -numeric.softplus(-z), numpy_complement=lambda z: -numeric.softplus(z))


register_activation(Activation(
    "sigmoid", functions.sigmoid, numeric.sigmoid,
    backward=lambda z, a, up: up * a * (1 - a),                    # S'(z) = S(1 - S): the lecture's o(1 - o)
    function=functions.sigmoid, helper=numeric.sigmoid, output_range=(0.0, 1.0), log_forms=_sigmoid_log_forms()))

register_activation(Activation(
    "tanh", sympy.tanh, np.tanh,
    backward=lambda z, a, up: up * (1 - a * a),                    # tanh' = 1 - tanh^2
    output_range=(-1.0, 1.0)))

register_activation(Activation(
    "relu", functions.relu, numeric.relu,
    backward=lambda z, a, up: up * (z.real > 0),                   # step: 1 for z > 0, 0 at and below the kink
    function=functions.relu, helper=numeric.relu, kinks=(0.0,), output_range=(0.0, math.inf)))


def _leaky_relu(slope: float = 0.01, example: float = 0.2) -> Activation:
    slope = _check_parameter("leaky_relu", "slope", slope, example)
    exact = sympy.nsimplify(slope, rational=True)
    return Activation(
        "leaky_relu" if slope == 0.01 else "leaky_relu(%r)" % slope,
        lambda z: functions.leaky_relu(z, exact), lambda z: numeric.leaky_relu(z, slope),
        backward=lambda z, a, up: up * np.where(z.real > 0, 1.0, slope).astype(a.dtype),   # 1 or the slope
        function=functions.leaky_relu, helper=numeric.leaky_relu, kinks=(0.0,), parameter=("slope", slope),
        example_parameter=example, factory=_leaky_relu)


register_activation(_leaky_relu())

register_activation(Activation(
    "linear", lambda z: z, lambda z: z * 1,
    backward=lambda z, a, up: up * 1))                             # the identity's slope is 1


def _elu(alpha: float = 1.0, example: float = 0.5) -> Activation:
    alpha = _check_parameter("elu", "alpha", alpha, example)
    if alpha <= 0:
        raise InputError("elu alpha %r must be > 0; write e.g. elu(%g)" % (alpha, example))
    exact = sympy.nsimplify(alpha, rational=True)
    return Activation(
        "elu" if alpha == 1.0 else "elu(%r)" % alpha,
        lambda z: functions.elu(z, exact), lambda z: numeric.elu(z, alpha),
        backward=lambda z, a, up: up * np.where(z.real > 0, 1, a + alpha),   # 1, or alpha e^z = a + alpha
        function=functions.elu, helper=numeric.elu, kinks=(0.0,), output_range=(-alpha, math.inf),
        parameter=("alpha", alpha), example_parameter=example, factory=_elu)


register_activation(_elu())

register_activation(Activation(
    "softplus", functions.softplus, numeric.softplus,
    backward=lambda z, a, up: up * numeric.sigmoid(z),             # log(1 + e^z)' = the sigmoid
    function=functions.softplus, helper=numeric.softplus, output_range=(0.0, math.inf)))


def _silu_backward(z, a, up):
    s = numeric.sigmoid(z)
    return up * s * (1 + z * (1 - s))                              # (z S)' = S + z S(1 - S)


register_activation(Activation(
    "silu", lambda z: z * functions.sigmoid(z), lambda z: z * numeric.sigmoid(z),
    backward=_silu_backward, output_range=(-0.2785, math.inf)))

#: GELU's tanh approximation: 0.5 z (1 + tanh(c (z + k z^3))), c = sqrt(2/pi), k = 0.044715.
_GELU_C, _GELU_K = math.sqrt(2 / math.pi), 0.044715


def _gelu(z):
    return z / 2 * (1 + sympy.tanh(sympy.sqrt(2 / sympy.pi) * (z + sympy.Rational(44715, 10**6) * z**3)))


def _gelu_numpy(z):
    return 0.5 * z * (1 + np.tanh(_GELU_C * (z + _GELU_K * z**3)))


def _gelu_backward(z, a, up):
    t = np.tanh(_GELU_C * (z + _GELU_K * z**3))
    return up * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_K * z * z))


register_activation(Activation("gelu", _gelu, _gelu_numpy, backward=_gelu_backward, output_range=(-0.17, math.inf)))

#: 1/sqrt(2 pi), the standard normal density at 0.
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


def _gelu_erf_backward(z, a, up):
    return up * (numeric.normal_cdf(z) + z * np.exp(-0.5 * z * z) * _INV_SQRT_2PI)   # (z Phi)' = Phi + z phi


register_activation(Activation(
    "gelu_erf", lambda z: z * functions.normal_cdf(z), lambda z: np.asarray(z) * numeric.normal_cdf(z),
    backward=_gelu_erf_backward, output_range=(-0.17, math.inf), complex_step=False))


def _softmax_backward(z, a, up):
    return a * (up - (a * up).sum(axis=-1, keepdims=True))      # (J^T g)_k = o_k g_k - o_k sum_m o_m g_m


register_activation(Activation(
    "softmax", None, numeric.softmax, backward=_softmax_backward, elementwise=False, output_only=True,
    output_range=(0.0, 1.0), log_forms=LogForms(output=None, complement=None, numpy_output=numeric.log_softmax)))
