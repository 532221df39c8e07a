"""Activation specs as users write them, resolved to records of the registry (:mod:`derive.model.activations`).

* a registered name: ``"sigmoid"``, ``"relu"``;
* a parameterized name: ``"leaky_relu(0.2)"`` (slope 0.2; default 0.01), ``"elu(0.5)"``;
* any other text is parsed as a custom expression in ``x``
  (:func:`derive.model.expression.parse_activation`): ``"x/(1+abs(x))"``.  A
  custom activation has no hand-written derivative: the engine borrows
  SymPy's, and gradient-check reports say so.
"""

from __future__ import annotations

import re

import sympy

from derive.errors import InputError, choices

from .activations import Activation
from .expression import VARIABLE, function_classes_of, parse_activation
from .registry import ACTIVATIONS

__all__ = ["custom_activation", "get_activation"]

_PARAMETERIZED = re.compile(r"^\s*([a-z_]+)\s*\(\s*([-+0-9.eE]+)\s*\)\s*$", re.ASCII)


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
                         % (_at(where), choices(ACTIVATIONS)))
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
    """An activation from a SymPy expression in :data:`derive.model.expression.VARIABLE`.

    It has no numpy forward and no hand-written derivative of its own: the
    code printer prints both from the expression (:mod:`derive.codegen`).  Its
    kinks are the real zeros of the arguments of its non-smooth parts.

    Raises:
        InputError: the expression or its derivative holds something numpy
            cannot evaluate (``sign(x)*x`` differentiates to a ``DiracDelta``),
            or its kinks are not isolated points.
    """
    # the functions whose numpy helpers take no complex values: those of the records that say so (Phi, gelu_erf's)
    real_only = {type(f) for record in ACTIVATIONS.values() if record.elementwise and not record.complex_step
                 for f in record.expression.atoms(sympy.Function)}
    activation = Activation(name, lambda z: expression.xreplace({VARIABLE: z}), None, complex_step=not any(
        type(f) in real_only for f in expression.atoms(sympy.Function)))
    for what, expr in (("the expression", expression), ("its derivative", activation.derivative_expr)):
        unknown = sorted({type(f).__name__ for f in expr.atoms(sympy.Function, sympy.Derivative, sympy.Subs)}
                         - set(function_classes_of(ACTIVATIONS)))
        if unknown:
            raise InputError("activation %r: numpy cannot evaluate %s %s (%s)"
                             % (name, what, sympy.sstr(expr), ", ".join(unknown)))
    return activation


def _at(where: str) -> str:
    return " in " + where if where else ""
