"""The NumPy printer: every line of numeric code in backprop is printed from SymPy.

:class:`BackpropNumPyPrinter` is a subclass of SymPy's ``NumPyPrinter`` (the
printer ``lambdify`` uses).  It adds three things:

* the activation functions of :mod:`derive.functions` print as calls to the
  stable helpers of :mod:`derive.numeric` (``sigmoid(z)``, not
  ``1/(1 + exp(-z))``, which overflows), and the printer records which helpers
  a piece of code needs in ``helpers_used``;
* ``Heaviside`` prints through a helper that also accepts complex input;
* a node it cannot print raises ``NotImplementedError`` naming the node,
  instead of printing something that fails later.

:func:`compile_elementwise` turns an expression in scalar symbols into a numpy
function through this printer; the registries use it for the derivatives of
activations and losses.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from . import numeric

#: numpy helpers the printed code may call, by the name it calls them.
HELPERS: dict[str, Callable] = {
    name: getattr(numeric, name)
    for name in ("sigmoid", "softplus", "relu", "leaky_relu", "heaviside", "softmax", "log_softmax", "xlogy")
}


class BackpropNumPyPrinter(NumPyPrinter):
    """NumPyPrinter that prints backprop's activation functions as stable helpers."""

    printmethod = "_backprop_numpy"

    def __init__(self, settings=None):
        super().__init__(settings or {})
        self.helpers_used: set[str] = set()

    def _helper_call(self, name: str, args) -> str:
        self.helpers_used.add(name)
        return "%s(%s)" % (name, ", ".join(self._print(a) for a in args))

    def _print_Function(self, expr):
        helper = getattr(type(expr), "numpy_helper", None)
        if helper is not None:
            return self._helper_call(helper, expr.args)
        return super()._print_Function(expr)

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
    function = sympy.lambdify(symbols, expr, modules=[HELPERS, "numpy"], printer=printer, docstring_limit=0, cse=True)

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
