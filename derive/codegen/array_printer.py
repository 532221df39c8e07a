"""The array printer: index-level SymPy expressions printed as whole-array numpy code.

The derivation writes every quantity entry by entry, with named indices:
``Z1[n, j] = Sum(W1[j, i]*X[n, i], (i, 0, n_0 - 1)) + b1[j]``.  An index is an
*axis label*: ``Z1[n, j]`` is the array ``Z1`` whose axis 0 is ``n`` and axis 1
is ``j``.  :class:`ArrayPrinter` prints such an expression as numpy code for
the whole array at once, with no loop over units or examples:

* an ``Indexed`` entry prints as its array, transposed (``W1.T``) or given new
  axes (``b[:, None]``) so that its labels line up with the labels of the
  array being computed (the *frame*), which is all numpy broadcasting needs;
* an elementwise function of entries prints as the numpy function of arrays
  (``np.tanh(Z1)``), and backprop's activations as calls to their stable helpers;
* a ``Sum`` over a label shared by two factors prints as ``@`` (with ``.T``
  where the labels ask for it), over more factors as ``np.einsum``, over the
  first or last label of one matrix as ``@`` with a vector of ones
  (``np.ones(N) @ delta1``: BLAS sums at full speed), and over one factor
  otherwise as ``np.add.reduce(..., axis=..., keepdims=...)``;
  :func:`derive.codegen.contractions.contraction` says which, so that the planner knows before printing whether a value can be
  written into given memory (``out=``).

Many directions at once: the label ``v``
(:data:`derive.symbolic.second_order.v`) of the R-quantities of Hessian- and
Gauss-Newton-vector products (``RZ1[v, n, j]``) is always an array's first
axis, and prints as leading axes that may be there or not: ``...`` in an
``einsum`` and an index (``V_b1[..., None, :]``), ``.swapaxes(-1, -2)`` for a
transpose, and ``@`` broadcasting over it (a sum along it is an einsum).  So
one printed statement serves one direction (``V_W1`` of shape ``(n_1, n_0)``)
and a batch of them (``(D, n_1, n_0)``).

Comparisons, ``Abs``, ``sign``, ``Max``, ``Heaviside`` and ``Piecewise`` act on
real parts, so that on complex input every printed expression is the
piecewise-analytic continuation of the real one: exactly what complex-step
differentiation needs (``|w|`` prints as ``np.where(w.real < 0, -w, w)``).

Parentheses come from SymPy's precedence rules (``parenthesize`` and
:func:`sympy.printing.precedence.precedence`): each node prints at least at
the precedence SymPy gives it, so a matrix product, which is a ``Sum`` and an
atom to SymPy, prints as ``(delta2 @ W2)``, and ``Heaviside(z)`` as
``(z.real > 0)``; where any expression may stand (a call's argument, a
statement's value) they print without (:meth:`ArrayPrinter.argument`).

The printer only prints.  The planner (:mod:`derive.codegen.module`) has
already rewritten the expressions that overflow or take ``log(0)`` when
printed literally (:func:`~derive.codegen.stable_forms.stabilize`).  A node
the printer cannot print raises ``NotImplementedError`` naming it; so does any
function that would need a module other than numpy.

:class:`derive.codegen.module_printer.ModulePrinter` extends it to the statements of a
generated module (assignments, in-place updates, functions).
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import sympy
from sympy import Mul, S, Sum
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from derive.symbolic.indices import bound_indices, free_indices
from derive.symbolic.second_order import v as DIRECTION
from .contractions import (as_product, contraction, directed, einsum_letters, matmul_labels, natural_layout,
                           sum_by_ones)
from .printing import BackpropNumPyPrinter

__all__ = ["ArrayPrinter", "ufunc_name"]


@lru_cache(maxsize=None)
def _numpy_functions() -> dict[str, str]:
    """The numpy function SymPy's ``NumPyPrinter`` prints for each SymPy function, by name (``"acos"`` -> ``"arccos"``)."""
    prefix = "numpy."
    return {name: path[len(prefix):] for name, path in NumPyPrinter().known_functions.items() if path.startswith(prefix)}


def ufunc_name(function: type) -> str | None:
    """The numpy ufunc that evaluates the SymPy function class ``function`` (``tanh`` -> ``"tanh"``), if any."""
    name = _numpy_functions().get(function.__name__)
    return name if name is not None and isinstance(getattr(np, name, None), np.ufunc) else None


class ArrayPrinter(BackpropNumPyPrinter):
    """Prints index-level expressions as numpy array code; see the module docstring.

    ``helpers_used`` records the :mod:`derive.model.numeric` helpers printed code calls.
    """

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False, **(settings or {})})
        self._frame: tuple = ()
        self._nodes: list = []
        #: Whether the code is for arrays of a few entries (:class:`derive.codegen.nodes.SmallArrays`), where a
        #: sum is ``np.add.reduce`` (a microsecond cheaper there than a product with ones).
        self.small_arrays = False

    # --- entry points ---------------------------------------------------------------

    def array(self, expr: sympy.Expr, layout: tuple, out: str | None = None) -> str:
        """``expr`` as code for an array whose axes are ``layout`` (its free indices, in order).

        With ``out`` (the code of an array of that shape), ``expr`` must be a
        :func:`contraction`, and it writes its result there (``np.matmul(a, b, out=t0)``).

        Raises:
            NotImplementedError: a node that cannot be printed, or an expression
                that does not depend on every index of ``layout``.
            ValueError: ``out`` for an expression that is not a contraction.
        """
        labels = free_indices(expr)
        if labels != frozenset(layout):
            raise NotImplementedError("the array printer cannot print %s as an array indexed %s: its free indices "
                                      "are %s" % (sympy.sstr(expr), list(layout), sorted(labels, key=str)))
        if out is None:
            return self.argument(expr, tuple(layout))
        if contraction(expr) is None:
            raise ValueError("only a matrix product or einsum writes into out=, not %s" % sympy.sstr(expr))
        with self._in_frame(tuple(layout)):
            return self._print(expr, out=out)

    def argument(self, expr: sympy.Expr, layout: tuple | None = None) -> str:
        """``expr`` where any expression may stand (a call's argument, a statement's value): no outer parentheses.

        Args:
            expr: The expression.
            layout: The axes of the array it computes; the current frame by default.
        """
        with self._in_frame(self._frame if layout is None else layout):
            return self._print(expr, bare=True) if isinstance(expr, (Sum, sympy.Heaviside)) else self._print(expr)

    def operand(self, expr: sympy.Expr, layout: tuple | None = None) -> str:
        """``expr`` as a primary expression (a name, call or subscript, or in parentheses), for ``.real``, ``@``, ``.sum()``."""
        with self._in_frame(self._frame if layout is None else layout):
            return self.parenthesize(expr, PRECEDENCE["Func"], strict=True)

    def parenthesize(self, item, level, strict=False):
        """SymPy's rule, applied to what ``item`` prints as: a sum with index-free factors prints as a product."""
        product = as_product(item) if isinstance(item, Sum) else None
        return super().parenthesize(item if product is None else product, level, strict)

    def _print(self, expr, **kwargs):
        self._nodes.append(expr)
        try:
            return super()._print(expr, **kwargs)
        finally:
            self._nodes.pop()

    def _print_not_supported(self, expr):
        raise NotImplementedError("the array printer cannot print %s (in %s)" % (type(expr).__name__, sympy.sstr(expr)))

    emptyPrinter = _print_not_supported
    _print_KroneckerDelta = _print_Derivative = _print_Integral = _print_Product = _print_not_supported

    def _module_format(self, fqn, register=True):
        """``numpy.tanh`` as ``np.tanh``, the name generated code imports numpy as; other modules are refused."""
        if "." not in fqn:
            return super()._module_format(fqn, register)
        if fqn.startswith("numpy."):
            return super()._module_format("np." + fqn[len("numpy."):], register)
        node = next((n for n in reversed(self._nodes) if isinstance(n, sympy.Function)), self._nodes[-1])
        raise NotImplementedError("the array printer cannot print %s (in %s): it needs %s, and generated code "
                                  "imports only numpy" % (type(node).__name__, sympy.sstr(node), fqn))

    # --- axes ---------------------------------------------------------------------

    @contextmanager
    def _in_frame(self, frame: tuple):
        saved, self._frame = self._frame, frame
        try:
            yield
        finally:
            self._frame = saved

    def _order(self, labels, frame=None) -> tuple:
        frame = self._frame if frame is None else frame
        return tuple(sorted(labels, key=frame.index))

    def _alignment(self, layout: tuple) -> str:
        """What makes an array with axes ``layout`` broadcast in the frame: ``.T``, ``[:, None]``, both, or nothing."""
        if DIRECTION in layout:
            return self._directed_alignment(layout)
        order = self._order(layout)
        suffix = ""
        if order != tuple(layout):
            permutation = tuple(layout.index(label) for label in order)
            suffix = ".T" if len(order) == 2 else ".transpose%s" % (permutation,)
        if not order:
            return suffix
        slots = [":" if label in order else "None" for label in self._frame[self._frame.index(order[0]):]]
        while slots and slots[-1] == ":":
            slots.pop()
        return suffix + ("[%s]" % ", ".join(slots) if slots else "")

    def _directed_alignment(self, layout: tuple) -> str:
        """:meth:`_alignment` of an array led by the direction axes: ``.swapaxes(-1, -2)``, ``[..., None, :]``."""
        if layout[0] != DIRECTION or self._frame[:1] != (DIRECTION,):
            raise NotImplementedError("the array printer cannot print an array indexed %s in a frame %s: the "
                                      "direction axis %s must come first" % (list(layout), list(self._frame), DIRECTION))
        own = layout[1:]
        order = tuple(label for label in self._order(layout) if label != DIRECTION)
        suffix = ""
        if order != own:
            if len(own) != 2:
                raise NotImplementedError("the array printer cannot permute the axes %s of an array with direction "
                                          "axes" % (list(own),))
            suffix = ".swapaxes(-1, -2)"
        slots = [":" if label in order else "None" for label in self._frame[1:]]
        while slots and slots[0] == ":":  # the ellipsis takes the leading axes
            slots.pop(0)
        return suffix + "[..., %s]" % ", ".join(slots) if slots else suffix

    def _print_Indexed(self, expr):
        free_indices(expr)
        return self._print(expr.base.label) + self._alignment(tuple(expr.indices))

    def _print_Symbol(self, expr):
        if expr in self._frame:
            raise NotImplementedError("the array printer cannot print the index %s used as a number" % expr)
        return super()._print_Symbol(expr)

    # --- sums: matmul, einsum, reductions -------------------------------------------

    def _print_Sum(self, expr, out: str | None = None, bare: bool = False):
        """``@``, ``np.einsum`` or ``.sum(...)`` (see :func:`contraction`); a contraction writes into ``out``."""
        product = as_product(expr)
        if product is not None:  # parenthesized as a product by parenthesize, merged into one by _print_Mul
            return self._print(product)
        bound = bound_indices(expr)
        factors = Mul.make_args(expr.function)
        result = self._order(free_indices(expr))
        form = contraction(expr)
        side = None if self.small_arrays else sum_by_ones(expr)
        if side is not None:
            return self._sum_by_ones(expr.function, side, bound, out, bare)
        if form == "matmul":
            return self._matmul(factors, next(iter(bound)), result, out, bare)
        if form == "einsum":
            return self._einsum(factors, self._frame + tuple(sorted(bound, key=str)), result, out)
        return self._reduce(expr.function, bound, result)

    def _matmul(self, factors, index, result, out, bare):
        (left, right), (free_left, free_right) = factors, matmul_labels(factors, index)
        if not free_left or (free_right and result.index(free_right[0]) < result.index(free_left[0])):
            (left, free_left), (right, free_right) = (right, free_right), (left, free_left)
        left_layout, right_layout = directed(left) + free_left + (index,), directed(right) + (index,) + free_right
        if out is not None:
            return "%s(%s, %s, out=%s)" % (self._module_format("numpy.matmul"), self.argument(left, left_layout),
                                           self.argument(right, right_layout), out)
        product = "%s @ %s" % (self.operand(left, left_layout), self.operand(right, right_layout))
        alignment = self._alignment(directed(left, right) + free_left + free_right)
        return product if bare and not alignment else "(%s)%s" % (product, alignment)

    def _einsum(self, factors, extended, result, out=None):
        letters = {**einsum_letters(extended), DIRECTION: "..."}  # the direction axes, there or not
        operands, subscripts = [], []
        for factor in factors:
            layout = natural_layout(factor)  # einsum takes any axis order: no transposes
            operands.append(self.argument(factor, layout))
            subscripts.append("".join(letters[label] for label in layout))
        spec = "%s->%s" % (",".join(subscripts), "".join(letters[label] for label in result))
        if out is not None:
            operands.append("out=%s" % out)
        call = '%s("%s", %s)' % (self._module_format("numpy.einsum"), spec, ", ".join(operands))
        return call + self._alignment(result)

    def _reduce(self, body, bound, result):
        layout = natural_layout(body)
        if tuple(label for label in layout if label not in bound) != result:
            layout = result + tuple(sorted(bound, key=str))
        if not result:
            return "%s.sum()" % self.operand(body, layout)
        code = self.argument(body, layout)
        axes = tuple(layout.index(label) for label in sorted(bound, key=layout.index))
        axis = axes[0] if len(axes) == 1 else axes
        # The ufunc's reduce, not the method: ndarray.sum goes through a Python wrapper,
        # a microsecond that counts for a small network's gradients.
        reduce = self._module_format("numpy.add.reduce")
        plain = "%s(%s, axis=%s)" % (reduce, code, axis)
        if not self._alignment(result):
            return plain
        kept = [label if label not in bound else None for label in layout]
        while kept and kept[0] is None:
            kept.pop(0)
        wanted = [label if label in result else None for label in self._frame[self._frame.index(result[0]):]]
        if kept == wanted:
            return "%s(%s, axis=%s, keepdims=True)" % (reduce, code, axis)
        return plain + self._alignment(result)

    def _sum_by_ones(self, matrix, side, bound, out, bare):
        """``np.ones(len) @ M`` (``side`` "rows") or ``M @ np.ones(len)`` ("columns"), aligned to the frame."""
        name = self._print(matrix.base.label)
        ones = "%s(%s.shape[%d], %s.dtype)" % (self._module_format("numpy.ones"), name, -2 if side == "rows" else -1,
                                               name)
        left, right = (ones, name) if side == "rows" else (name, ones)
        if out is not None:
            return "%s(%s, %s, out=%s)" % (self._module_format("numpy.matmul"), left, right, out)
        alignment = self._alignment(directed(matrix) + tuple(
            label for label in matrix.indices if label not in bound and label != DIRECTION))
        product = "%s @ %s" % (left, right)
        return product if bare and not alignment else "(%s)%s" % (product, alignment)

    # --- elementwise functions ----------------------------------------------------------

    def _print_Add(self, expr, order=None):
        """A sum; an integer term prints as a float (``1.0 - A1``): numpy adds a Python float to an array faster."""
        if any(term.is_Integer for term in expr.args):
            expr = sympy.Add(*[sympy.Float(term) if term.is_Integer else term for term in expr.args], evaluate=False)
        return super()._print_Add(expr, order)

    def _print_Mul(self, expr):
        """A product, with the index-free factors of the sums among its factors as its own: ``(1/2)*x.sum()/N``."""
        products = {factor: as_product(factor) for factor in expr.args if isinstance(factor, Sum)}
        merged = expr.xreplace({factor: product for factor, product in products.items() if product is not None})
        return super()._print_Mul(merged) if merged.is_Mul else self._print(merged)

    def _print_softmax(self, expr, helper="softmax"):
        u, j = expr.args
        layout = self._order(free_indices(u) - {j}) + (j,)
        self.helpers_used.add(helper)
        return "%s(%s)" % (helper, self.argument(u, layout)) + self._alignment(layout)

    def _print_log_softmax(self, expr):
        return self._print_softmax(expr, helper="log_softmax")

    def _print_Pow(self, expr, rational=False):
        """``x**y``, with ``np.sqrt(x)`` and ``1/x`` where they read better (as SymPy's Python printers write them)."""
        level = precedence(expr)
        if not rational and expr.exp == S.Half:
            return "%s(%s)" % (self._module_format("numpy.sqrt"), self._print(expr.base))
        if not rational and expr.is_commutative and -expr.exp is S.Half:
            return "1/%s(%s)" % (self._module_format("numpy.sqrt"), self._print(expr.base))
        if not rational and expr.is_commutative and expr.exp is S.NegativeOne:
            return "1/%s" % self.parenthesize(expr.base, level, strict=False)
        return "%s**%s" % (self.parenthesize(expr.base, level, strict=False),
                           self.parenthesize(expr.exp, level, strict=False))

    def _real(self, expr) -> str:
        return self._print(expr) if expr.is_number else "%s.real" % self.operand(expr)

    def _print_Abs(self, expr):
        arg = expr.args[0]
        return "%s(%s < 0, %s, %s)" % (self._module_format("numpy.where"), self._real(arg),
                                       self.argument(-arg), self.argument(arg))

    def _print_sign(self, expr):
        return "%s(%s)" % (self._module_format("numpy.sign"), self._real(expr.args[0]))

    def _print_Heaviside(self, expr, bare=False):
        z, at_zero = expr.args[0], (expr.args[1] if len(expr.args) > 1 else S.Half)
        if at_zero in (0, 1):
            comparison = "%s %s 0" % (self._real(z), ">" if at_zero == 0 else ">=")
            return comparison if bare else "(%s)" % comparison
        return super()._print_Heaviside(expr)

    def _print_Relational(self, expr):
        return "%s %s %s" % (self._real(expr.lhs), expr.rel_op, self._real(expr.rhs))

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond is not sympy.true:
            raise NotImplementedError("the array printer cannot print %s: a Piecewise needs a final "
                                      "(value, True) branch" % sympy.sstr(expr))
        code = self.argument(expr.args[-1].expr)
        for value, condition in reversed(expr.args[:-1]):
            code = "%s(%s, %s, %s)" % (self._module_format("numpy.where"), self.argument(condition),
                                       self.argument(value), code)
        return code

    def _print_Max(self, expr, keep=">="):
        first, *rest = expr.args
        code, real = self.argument(first), self._real(first)
        for other in rest:
            code = "%s(%s %s %s, %s, %s)" % (self._module_format("numpy.where"), real, keep, self._real(other),
                                             code, self.argument(other))
            real = "%s.real" % code
        return code

    def _print_Min(self, expr):
        return self._print_Max(expr, keep="<=")
