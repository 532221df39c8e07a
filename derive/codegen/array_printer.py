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
  where the labels ask for it), over more factors as ``np.einsum``, and over
  one factor as ``.sum(axis=..., keepdims=...)``.

Comparisons, ``Abs``, ``sign``, ``Max``, ``Heaviside`` and ``Piecewise`` act on
real parts, so that on complex input every printed expression is the
piecewise-analytic continuation of the real one: exactly what complex-step
differentiation needs (``|w|`` prints as ``np.where(w.real < 0, -w, w)``).
:func:`~derive.stable_forms.stabilize` rewrites the expressions that overflow
or take ``log(0)`` when printed literally (softmax, ``log(softmax)``,
``log(sigmoid)``) into stable helper calls.  A node the printer cannot print raises ``NotImplementedError``
naming it; so does any function that would need a module other than numpy.

:class:`derive.codegen_nodes.ModulePrinter` extends it to the statements of a
generated module (assignments, in-place updates, functions).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import sympy
from sympy import Indexed, Mul, Sum

from derive.symbolic.indices import bound_indices, free_indices
from .printing import BackpropNumPyPrinter
from .stable_forms import log_softmax, softmax, stabilize

__all__ = ["ArrayPrinter", "free_indices", "log_softmax", "softmax", "stabilize",
           "strip_parentheses", "ufunc_name"]


def ufunc_name(function: type) -> str | None:
    """The numpy ufunc that evaluates the SymPy function class ``function`` (``tanh`` -> ``"tanh"``), if any."""
    name = ArrayPrinter._kf.get(function.__name__, "")
    short = name[len("np."):] if name.startswith("np.") else None
    return short if short and isinstance(getattr(np, short, None), np.ufunc) else None


def _group(code: str) -> str:
    """``code`` in parentheses unless it is a primary expression (name, attribute, call, subscript, literal)."""
    depth = 0
    for char in code:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and not (char.isalnum() or char in "_.)]}"):
            return "(%s)" % code
    return code


def strip_parentheses(code: str) -> str:
    """``code`` without parentheses around the whole of it."""
    while code.startswith("(") and _closing(code) == len(code) - 1:
        code = code[1:-1]
    return code


def _closing(code: str) -> int:
    """The position of the bracket that closes the one ``code`` starts with."""
    depth = 0
    for position, char in enumerate(code):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0:
            return position
    return -1


class ArrayPrinter(BackpropNumPyPrinter):
    """Prints index-level expressions as numpy array code; see the module docstring.

    ``helpers_used`` records the :mod:`derive.numeric` helpers printed code calls.
    """

    _module = "np"
    _kf = {name: "np." + path.split(".", 1)[1] for name, path in BackpropNumPyPrinter._kf.items() if path.startswith("numpy.")}
    _kc = {name: "np." + path.split(".", 1)[1] for name, path in BackpropNumPyPrinter._kc.items()}

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, "allow_unknown_functions": False, **(settings or {})})
        self._frame: tuple = ()
        self._out: str | None = None
        self.wrote_out = False
        self._nodes: list = []

    # --- entry points ---------------------------------------------------------------

    def array(self, expr: sympy.Expr, layout: tuple, out: str | None = None) -> str:
        """``expr`` as code for an array whose axes are ``layout`` (its free indices, in order).

        With ``out`` (the name of an array of that shape), a sum that prints as
        ``@`` or ``einsum`` writes its result there (``np.matmul(a, b, out=t0)``).

        Raises:
            NotImplementedError: a node that cannot be printed, or an expression
                that does not depend on every index of ``layout``.
        """
        expr = stabilize(expr)
        labels = free_indices(expr)
        if labels != frozenset(layout):
            raise NotImplementedError("the array printer cannot print %s as an array indexed %s: its free indices "
                                      "are %s" % (sympy.sstr(expr), list(layout), sorted(labels, key=str)))
        self._out = out if isinstance(expr, Sum) else None
        with self._in_frame(tuple(layout)):
            return strip_parentheses(self._print(expr))

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
        if "." in fqn and not fqn.startswith("np."):
            node = next((n for n in reversed(self._nodes) if isinstance(n, sympy.Function)), self._nodes[-1])
            raise NotImplementedError("the array printer cannot print %s (in %s): it needs %s, and generated code "
                                      "imports only numpy" % (type(node).__name__, sympy.sstr(node), fqn))
        return super()._module_format(fqn, register)

    # --- axes ---------------------------------------------------------------------

    @contextmanager
    def _in_frame(self, frame: tuple):
        saved, self._frame = self._frame, frame
        try:
            yield
        finally:
            self._frame = saved

    def _compact(self, expr: sympy.Expr, layout: tuple) -> str:
        """``expr`` printed as an array with exactly the axes ``layout``."""
        with self._in_frame(layout):
            return self._print(expr)

    def _order(self, labels, frame=None) -> tuple:
        frame = self._frame if frame is None else frame
        return tuple(sorted(labels, key=frame.index))

    def _fit(self, code: str, layout: tuple) -> str:
        """Transpose and add axes to an array with axes ``layout`` so it broadcasts in the frame."""
        order = self._order(layout)
        if order != tuple(layout):
            permutation = tuple(layout.index(label) for label in order)
            code = "%s.T" % _group(code) if len(order) == 2 else "%s.transpose%s" % (_group(code), permutation)
        if not order:
            return code
        slots = [":" if label in order else "None" for label in self._frame[self._frame.index(order[0]):]]
        while slots and slots[-1] == ":":
            slots.pop()
        return "%s[%s]" % (_group(code), ", ".join(slots)) if slots else code

    def _print_Indexed(self, expr):
        free_indices(expr)
        return self._fit(self._print(expr.base.label), tuple(expr.indices))

    def _print_Symbol(self, expr):
        if expr in self._frame:
            raise NotImplementedError("the array printer cannot print the index %s used as a number" % expr)
        return super()._print_Symbol(expr)

    # --- sums: matmul, einsum, reductions -------------------------------------------

    def _print_Sum(self, expr):
        out, self._out = self._out, None
        bound = bound_indices(expr)
        factors = Mul.make_args(expr.function)
        outside = [f for f in factors if not free_indices(f) & bound]
        if outside:
            inside = [f for f in factors if free_indices(f) & bound]
            return self._print(Mul(*outside) * Sum(Mul(*inside), *expr.limits))
        result = self._order(free_indices(expr))
        extended = self._frame + tuple(sorted(bound, key=str))
        if len(bound) == 1 and len(factors) == 2:
            code = self._matmul(factors, next(iter(bound)), result, out)
            if code is not None:
                return code
        if len(factors) >= 2 and len({free_indices(f) for f in factors}) > 1:
            return self._einsum(factors, extended, result, out)
        return self._reduce(expr.function, bound, result)

    def _matmul(self, factors, index, result, out=None):
        (left, right), (free_left, free_right) = factors, [tuple(free_indices(f) - {index}) for f in factors]
        if len(free_left) > 1 or len(free_right) > 1 or set(free_left) & set(free_right):
            return None
        if not free_left or (free_right and result.index(free_right[0]) < result.index(free_left[0])):
            (left, free_left), (right, free_right) = (right, free_right), (left, free_left)
        operands = (self._compact(left, free_left + (index,)), self._compact(right, (index,) + free_right))
        if out is not None and free_left + free_right == self._frame:
            self.wrote_out = True
            return "%s(%s, %s, out=%s)" % (self._module_format("np.matmul"), *map(strip_parentheses, operands), out)
        return "(%s)" % self._fit("%s @ %s" % tuple(map(_group, operands)), free_left + free_right)

    def _einsum(self, factors, extended, result, out=None):
        letters = _letters(extended)
        operands, subscripts = [], []
        for factor in factors:
            layout = self._order(free_indices(factor), extended)
            operands.append(strip_parentheses(self._compact(factor, layout)))
            subscripts.append("".join(letters[label] for label in layout))
        spec = "%s->%s" % (",".join(subscripts), "".join(letters[label] for label in result))
        if out is not None and result == self._frame:
            self.wrote_out = True
            operands.append("out=%s" % out)
        return self._fit('%s("%s", %s)' % (self._module_format("np.einsum"), spec, ", ".join(operands)), result)

    def _reduce(self, body, bound, result):
        layout = _natural_layout(body)
        if tuple(label for label in layout if label not in bound) != result:
            layout = result + tuple(sorted(bound, key=str))
        code = _group(self._compact(body, layout))
        if not result:
            return "%s.sum()" % code
        axes = tuple(layout.index(label) for label in sorted(bound, key=layout.index))
        axis = axes[0] if len(axes) == 1 else axes
        plain = "%s.sum(axis=%s)" % (code, axis)
        if self._fit("_", result) == "_":
            return plain
        kept = [label if label not in bound else None for label in layout]
        while kept and kept[0] is None:
            kept.pop(0)
        wanted = [label if label in result else None for label in self._frame[self._frame.index(result[0]):]]
        if kept == wanted:
            return "%s.sum(axis=%s, keepdims=True)" % (code, axis)
        return self._fit(plain, result)

    # --- elementwise functions ----------------------------------------------------------

    def _print_softmax(self, expr, helper="softmax"):
        u, j = expr.args
        layout = self._order(free_indices(u) - {j}) + (j,)
        self.helpers_used.add(helper)
        return self._fit("%s(%s)" % (helper, strip_parentheses(self._compact(u, layout))), layout)

    def _print_log_softmax(self, expr):
        return self._print_softmax(expr, helper="log_softmax")

    def _print_Pow(self, expr, rational=False):
        return self._hprint_Pow(expr, rational=rational, sqrt="np.sqrt")

    def _real(self, expr) -> str:
        return self._print(expr) if expr.is_number else "%s.real" % _group(self._print(expr))

    def _print_Abs(self, expr):
        arg = expr.args[0]
        return "%s(%s < 0, %s, %s)" % (self._module_format("np.where"), self._real(arg),
                                       strip_parentheses(self._print(-arg)), strip_parentheses(self._print(arg)))

    def _print_sign(self, expr):
        return "%s(%s)" % (self._module_format("np.sign"), self._real(expr.args[0]))

    def _print_Heaviside(self, expr):
        z, at_zero = expr.args[0], (expr.args[1] if len(expr.args) > 1 else sympy.S.Half)
        if at_zero in (0, 1):
            return "(%s %s 0)" % (self._real(z), ">" if at_zero == 0 else ">=")
        return super()._print_Heaviside(expr)

    def _print_Relational(self, expr):
        operators = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
        return "(%s %s %s)" % (self._real(expr.lhs), operators[expr.rel_op], self._real(expr.rhs))

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond is not sympy.true:
            raise NotImplementedError("the array printer cannot print %s: a Piecewise needs a final "
                                      "(value, True) branch" % sympy.sstr(expr))
        code = self._print(expr.args[-1].expr)
        for value, condition in reversed(expr.args[:-1]):
            code = "%s(%s, %s, %s)" % (self._module_format("np.where"), strip_parentheses(self._print(condition)),
                                       strip_parentheses(self._print(value)), strip_parentheses(code))
        return code

    def _print_Max(self, expr, keep=">="):
        first, *rest = expr.args
        code, real = strip_parentheses(self._print(first)), self._real(first)
        for other in rest:
            code = "%s(%s %s %s, %s, %s)" % (self._module_format("np.where"), real, keep, self._real(other),
                                             code, strip_parentheses(self._print(other)))
            real = "%s.real" % code
        return code

    def _print_Min(self, expr):
        return self._print_Max(expr, keep="<=")


def _letters(labels: tuple) -> dict:
    """One einsum letter per label: its own name when that is a single letter, else a free letter."""
    letters, used = {}, set()
    for label in labels:
        name = str(label)
        if len(name) == 1 and name.isalpha() and name not in used:
            letters[label] = name
            used.add(name)
    spare = (c for c in "abcdefghopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used)
    for label in labels:
        if label not in letters:
            letters[label] = next(spare)
    return letters


def _natural_layout(expr: sympy.Expr) -> tuple:
    """The axis order of the first entry in ``expr`` that carries all its labels (no transpose needed)."""
    labels = free_indices(expr)
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, Indexed) and frozenset(node.indices) == labels:
            return tuple(node.indices)
    return tuple(sorted(labels, key=str))
