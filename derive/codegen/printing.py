"""The NumPy printer: every line of numeric code in backprop is printed from SymPy.

:class:`BackpropNumPyPrinter` is a subclass of SymPy's ``NumPyPrinter`` (the
printer ``lambdify`` uses).  It adds four things:

* the SymPy functions of our activation records (:mod:`derive.model.activations`)
  print as calls to the numpy helper each record names (``sigmoid(z)``, not
  ``1/(1 + exp(-z))``, which overflows), and the printer records which helpers a
  piece of code needs in ``helpers_used``;
* ``Heaviside`` prints through a helper that also accepts complex input;
* ``Max`` and ``Min`` print as ``numpy.maximum``/``numpy.minimum`` on every
  SymPy version (before 1.14 SymPy printed ``amax`` of a list, which fails
  for an array and a number);
* a node it cannot print raises ``NotImplementedError`` naming it,
  instead of printing something that fails later.

:func:`compile_elementwise` turns an expression in scalar symbols into a numpy
function through this printer.  :func:`activation_forward` and
:func:`activation_derivative` use it for what a record does not carry: the
forward of a custom activation, and g' as ``sympy.diff`` gives it.
"""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from derive.model import functions, numeric
from derive.model.activations import Activation
from derive.model.expression import VARIABLE
from derive.model.registry import ACTIVATIONS

#: Whether equal expressions always print alike (before SymPy 1.13, ``Float(0.5) == Rational(1, 2)``): only then
#: may printed text and rewrites be kept per expression.
EQUAL_PRINTS_ALIKE = sympy.Float(0.5) != sympy.Rational(1, 2)

#: numpy helpers of printing nodes that are not activations (made by the printers themselves).
STRUCTURAL_HELPERS: dict[str, Callable] = {name: getattr(numeric, name) for name in ("heaviside", "softmax", "log_softmax")}


def function_helpers() -> dict[type, Callable]:
    """The numpy helper of each SymPy function class an activation record names (``sigmoid`` -> numeric.sigmoid),
    and of the function classes records use without being theirs (Phi in the exact GELU, z Phi(z))."""
    table = {record.function: record.helper for record in ACTIVATIONS.values() if record.function is not None}
    return {**table, functions.normal_cdf: numeric.normal_cdf}


def helpers() -> dict[str, Callable]:
    """Every helper printed code may call, by the name it calls it."""
    table = {function.__name__: helper for function, helper in function_helpers().items()}
    return {**table, **STRUCTURAL_HELPERS}


def takes_out(helper: Callable) -> bool:
    """Whether a helper can write its result into a given array (``sigmoid(z, out=z)``)."""
    return "out" in inspect.signature(helper).parameters


def takes_shift(helper: Callable) -> bool:
    """Whether a helper adds a broadcast term to its argument in its own first pass (``sigmoid(z, shift=b1)``)."""
    return "shift" in inspect.signature(helper).parameters


class BackpropNumPyPrinter(NumPyPrinter):
    """NumPyPrinter that prints backprop's activation functions as stable helpers."""

    def __init__(self, settings=None):
        super().__init__(settings or {})
        self.helpers_used: set[str] = set()
        self._function_helpers = function_helpers()

    def _helper_call(self, name: str, args) -> str:
        self.helpers_used.add(name)
        return "%s(%s)" % (name, ", ".join(self._print(a) for a in args))

    def _print_Function(self, expr):
        if type(expr) in self._function_helpers:
            return self._helper_call(type(expr).__name__, expr.args)
        return super()._print_Function(expr)

    def _print_Max(self, expr, function="numpy.maximum"):
        """``maximum(a, maximum(b, c))``, elementwise, so that arrays broadcast against numbers.

        SymPy before 1.14 prints ``amax`` of a list of the arguments, which
        fails for an array and a number (``max(x, 1)``).
        """
        *rest, code = [self._print(arg) for arg in expr.args]
        for arg in reversed(rest):
            code = "%s(%s, %s)" % (self._module_format(function), arg, code)
        return code

    def _print_Min(self, expr):
        return self._print_Max(expr, function="numpy.minimum")

    def _print_Heaviside(self, expr):
        z = expr.args[0]
        at_zero = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
        return self._helper_call("heaviside", (z, at_zero))

    def _print_not_supported(self, expr):
        raise NotImplementedError(
            "the numpy printer cannot print %s (in %s)" % (type(expr).__name__, sympy.sstr(expr))
        )

    emptyPrinter = _print_not_supported


def compile_elementwise(expr: sympy.Expr, *symbols: sympy.Symbol) -> Callable:
    """Print ``expr`` (in ``symbols``) as numpy code and return it as a function.

    The function takes one array per symbol, broadcasts them, and returns an
    array of the broadcast shape and dtype even when ``expr`` is a constant
    (the derivative of the identity is ``1``, but callers want an array).
    Common subexpressions are computed once (``sigmoid(x)*(1 - sigmoid(x))``
    evaluates the sigmoid once), and a result that already has the right
    shape and dtype is returned without a copy.

    Args:
        expr: A SymPy expression in ``symbols``.
        *symbols: The scalar symbols, in argument order.

    Returns:
        A numpy function of ``len(symbols)`` arrays.

    Raises:
        NotImplementedError: ``expr`` has a node the printer cannot print.
    """
    printer = BackpropNumPyPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": False})
    function = sympy.lambdify(symbols, expr, modules=[helpers(), "numpy"], printer=printer, docstring_limit=0,
                              cse=True)

    def elementwise(*arrays):
        result = function(*arrays)
        shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
        dtype = np.result_type(*arrays, 0.0)  # the inputs' floating dtype: float32 stays float32
        if (np.shape(result) == shape and getattr(result, "dtype", None) == dtype
                and not any(np.may_share_memory(result, a) for a in arrays)):
            return result  # already a fresh array of the right shape and dtype: no template copy
        return np.broadcast_to(np.asarray(result), shape).astype(dtype)

    elementwise.__doc__ = "numpy code printed from the SymPy expression %s" % sympy.sstr(expr)
    elementwise.expression = expr
    return elementwise


@lru_cache(maxsize=256)
def activation_forward(activation: Activation) -> Callable:
    """g as a numpy function: the record's own forward, or printed from a custom activation's expression."""
    if activation.numpy is not None:
        return activation.numpy
    return compile_elementwise(activation.expression, VARIABLE)


@lru_cache(maxsize=256)
def activation_derivative(activation: Activation) -> Callable:
    """g' as ``sympy.diff`` gives it, printed to numpy (elementwise activations)."""
    return compile_elementwise(activation.derivative_expr, VARIABLE)
