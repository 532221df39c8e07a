"""The statements of a generated numpy module, and :class:`ModulePrinter`, which prints them.

The code generator (:mod:`derive.codegen.module`) never writes code text: it
builds these nodes, whose values are index-level SymPy expressions, and
:class:`ModulePrinter` (the array printer of :mod:`derive.codegen.array_printer`
plus ``_print_Assign``, ``_print_Update``, ...) prints them, the way SymPy's
own ``sympy.codegen.ast`` nodes are printed.  A target is an entry such as
``A1[n, j]``: its indices are the axes of the array the statement computes.
Every decision is in the nodes (which memory an ``Assign`` writes into, which
ufunc an ``Apply`` calls); the printer only prints it.

* :class:`Assign` -- ``A1 = <value>``;
* :class:`Update` -- ``A1 *= <value>`` (numpy computes it in place);
* :class:`Apply` -- ``np.tanh(A1, out=A1)``, ``np.subtract(1, t0, out=t0)`` (a ufunc in place);
* :class:`Comment` -- ``# A1[n, j] = sigmoid(Z1[n, j])`` above a statement that takes several steps;
* :class:`Prologue` -- the common dtype, the inputs and parameters cast to it, the sizes read and checked
  (:data:`DIRECTIONS`: the leading axes of many directions, ``directions = V_W1.shape[:-2]``);
* :class:`SmallArrays` -- the statements as plain expressions, taken for a few entries per array;
* :class:`Return`, :class:`FunctionDef`, :class:`Module`.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import sympy

from .array_printer import ArrayPrinter
from .printing import EQUAL_PRINTS_ALIKE, helpers  # noqa: F401 (nodes.EQUAL_PRINTS_ALIKE is read elsewhere)
from .shapes import shape_error
from .workspace import dense_from_products, workspace_buffer




def text(expr: sympy.Basic) -> str:
    """``sympy.sstr(expr)``, printed once per expression where SymPy's equality allows (comments and
    docstrings repeat the same equations in every function and at every width of a structure)."""
    return _text(expr) if EQUAL_PRINTS_ALIKE else sympy.sstr(expr)


@lru_cache(maxsize=4096)
def _text(expr: sympy.Basic) -> str:
    return sympy.sstr(expr)


def entries(expr: sympy.Basic) -> frozenset:
    """The array entries (``Indexed``) of ``expr``: the keys of :func:`entry_counts`."""
    return frozenset(entry_counts(expr))


@lru_cache(maxsize=8192)
def entry_counts(expr: sympy.Basic) -> Counter:
    """How many times ``expr`` holds each array entry (``Indexed``), found once per expression: the planner
    asks again and again, and the same values recur in every function of a module."""
    return Counter(node for node in sympy.preorder_traversal(expr) if isinstance(node, sympy.Indexed))


def module_helpers() -> dict:
    """Functions a generated module may carry, by the name its code calls them."""
    return {**helpers(), "workspace_buffer": workspace_buffer, "dense_from_products": dense_from_products,
            "shape_error": shape_error}

class DirectionAxes(sympy.Symbol):
    """The extent of the direction axis v in a shape: the leading axes of ``V``'s arrays, ``()`` for one direction.

    The prologue reads them from the first direction (``directions = V_W1.shape[:-2]``);
    a shape prints them spread: ``(*directions, N, 10)``.
    """


#: The direction axes' extent in the shapes of a product's arrays (``V_W1``: ``(DIRECTIONS, n_1, n_0)``).
DIRECTIONS = DirectionAxes("directions")

#: A statement's target: an entry ``A1[n, j]`` (an array) or a symbol (a scalar).
Target = sympy.Indexed | sympy.Symbol


def target_name(target: Target) -> str:
    """The name a statement assigns: ``A1`` for ``A1[n, j]``, ``E`` for ``E``."""
    return target.base.name if isinstance(target, sympy.Indexed) else target.name


@dataclass(frozen=True)
class Assign:
    """``target = value``: a new array, or written into existing memory.

    ``out`` is an array no longer read; ``kept`` (the target's shape) asks for
    the array kept in the caller's workspace (:mod:`derive.codegen.workspace`).
    Either is set only for a value that prints as a matrix product or
    ``einsum`` (:func:`~derive.codegen.array_printer.contraction`), which then
    writes its result there.
    """

    target: Target
    value: sympy.Expr
    out: Target | None = None
    kept: tuple | None = None


@dataclass(frozen=True)
class Update:
    """``target <operator>= value`` in place; ``operator`` is one of ``+ - * /``."""

    target: Target
    operator: str
    value: sympy.Expr


@dataclass(frozen=True)
class Apply:
    """``np.<ufunc>(*arguments, out=target)``: a ufunc written into ``target``'s memory.

    ``arguments`` default to ``(target,)``: ``np.tanh(A1, out=A1)``.
    """

    ufunc: str
    target: Target
    arguments: tuple = ()
    helper: bool = False  # a derive/numeric.py helper taking ``out=`` instead of a numpy ufunc


@dataclass(frozen=True)
class Comment:
    """``# target = value``: the SymPy statement that the steps after it compute."""

    target: Target
    value: sympy.Expr


@dataclass(frozen=True)
class Prologue:
    """Cast the input arrays and the parameters to their common dtype; read the sizes and check the shapes.

    The common dtype is that of the inputs X and the parameters (integers count
    as float64, float32 stays float32, complex128 runs the complex step); the
    targets T are cast to it.  When every array already is a numpy array of
    one floating or complex dtype (the common case in a training loop), the
    cast is skipped by one test.  The sizes (``N``, and in a width-generic
    module ``n_0``, ``n_1``, ...) are read from the first array that has them
    (:attr:`shapes` order), and every shape is checked in one comparison;
    a mismatch calls :func:`~derive.codegen.shapes.shape_error`.

    Attributes:
        arrays: Argument names of data arrays (``("X", "T")``); the first sets the dtype.
        params: Parameter keys to read from the ``params`` dict (``("W1", "b1")``).
        directions: Keys to read from the direction ``V`` (a dict shaped like ``params``) as ``V_W1``, ...
        shapes: ``(local name, expected shape)`` of every array read, in the order sizes are read
            from them; an extent is a number or a size symbol (``N``, ``n_1``).
    """

    arrays: tuple[str, ...]
    params: tuple[str, ...]
    directions: tuple[str, ...] = ()
    shapes: tuple = ()


#: Most entries a computed array may have for :class:`SmallArrays` to take its branch.
SMALL_ENTRIES = 256


@dataclass(frozen=True)
class SmallArrays:
    """``if workspace is None and N * max(n_1, ..., n_L) <= 256:`` the function's statements, one numpy expression each.

    For a few entries per array, every numpy call costs its fixed overhead
    and nothing else, and a new array costs less than writing into an
    existing one (``out=``, ``*=``); so small arrays take the statements as
    printed, each a new array, and return.  Larger ones, or calls with a
    workspace, go on to the in-place statements after it.

    A product along many directions at once (``V`` with direction axes)
    always takes the in-place statements.

    Attributes:
        widths: The widths of the computed arrays (numbers or size symbols n_1..n_L).
        body: The statements (:class:`Assign`) and the :class:`Return`.
        directed: Whether the function reads directions (``V``) that may have direction axes.
    """

    widths: tuple
    body: tuple
    directed: bool = False

    @staticmethod
    def never(widths: tuple) -> bool:
        """Whether a width printed as a number already has more than :data:`SMALL_ENTRIES` entries per example."""
        return any(isinstance(width, int) and width > SMALL_ENTRIES for width in widths)


@dataclass(frozen=True)
class DenseFromProducts:
    """``return dense_from_products(product, params, X, T, keys, block_bytes, workspace)``: a matrix, by blocks of columns.

    The dense Hessian is its product with every unit direction, a block of
    them at a time, each block's arrays about ``block_bytes``
    (:func:`derive.codegen.workspace.dense_from_products`).
    """

    product: str
    keys: tuple[str, ...]
    block_bytes: int


@dataclass(frozen=True)
class Return:
    """``return value``, or ``return {key: value, ...}`` for a dict of targets."""

    value: Target | dict


@dataclass(frozen=True)
class FunctionDef:
    """``def name(arguments):`` with a docstring and a body of statements."""

    name: str
    arguments: tuple[str, ...]
    docstring: str
    body: tuple = field(default=())


@dataclass(frozen=True)
class Module:
    """A module: docstring, ``import numpy as np``, the helpers the printer used, the functions."""

    docstring: str
    functions: tuple[FunctionDef, ...]


#: Values already printed in this process (see :meth:`ModulePrinter.array`), oldest first, and how many are kept.
_PRINTED: dict = {}
PRINTED_KEPT = 16384


class ModulePrinter(ArrayPrinter):
    """The array printer, extended to statements, functions and modules.

    The module it prints imports numpy as ``np`` and carries the source of
    every :mod:`derive.model.numeric` helper its code called (``helpers_used``).
    """

    def __init__(self, settings=None):
        super().__init__(settings)
        self._helpers_key = frozenset((function, id(helper)) for function, helper in self._function_helpers.items())

    def print_module(self, module: Module) -> str:
        """The source of ``module``."""
        return self._print(module).rstrip("\n") + "\n"

    def array(self, expr: sympy.Expr, layout: tuple, out: str | None = None) -> str:
        """:meth:`ArrayPrinter.array`, printed once per process for each value, layout and ``out``.

        The same statements recur: every function of a module starts with the
        forward pass, a small array's plain statement is also the first half of
        the in-place one (``A1 = ... if workspace is None else ...``), and
        structures that share a layer share its statements.  The text and the
        helpers it calls are kept (:data:`_PRINTED`); a printer that meets the
        value again takes both.
        """
        if not EQUAL_PRINTS_ALIKE:
            return super().array(expr, layout, out)
        key = (expr, tuple(layout), out, self._helpers_key)
        found = _PRINTED.get(key)
        if found is None:
            kept, self.helpers_used = self.helpers_used, set()  # the helpers this value calls, all of them
            try:
                found = (super().array(expr, layout, out), frozenset(self.helpers_used))
            finally:
                self.helpers_used |= kept
            _PRINTED[key] = found
            if len(_PRINTED) > PRINTED_KEPT:
                _PRINTED.pop(next(iter(_PRINTED)))
        self.helpers_used |= found[1]
        return found[0]

    def _target(self, target: Target) -> tuple[str, tuple]:
        if isinstance(target, sympy.Indexed):
            return self._print(target.base.label), tuple(target.indices)
        return self._print(target), ()

    def _print_Assign(self, statement: Assign):
        name, layout = self._target(statement.target)
        out = None if statement.out is None else self._target(statement.out)[0]
        if statement.kept is not None:
            extents = [self._print(extent) for extent in statement.kept]
            shape = "(%s,)" % extents[0] if len(extents) == 1 else "(%s)" % ", ".join(extents)
            self.helpers_used.add("workspace_buffer")
            kept = 'workspace_buffer(workspace, "%s", %s, dtype)' % (name, shape)
            # Without a workspace, numpy's own allocation is cheaper than passing out= (small networks).
            return "%s = %s if workspace is None else %s" % (
                name, self.array(statement.value, layout), self.array(statement.value, layout, kept))
        return "%s = %s" % (name, self.array(statement.value, layout, out))

    def _print_Update(self, statement: Update):
        name, layout = self._target(statement.target)
        return "%s %s= %s" % (name, statement.operator, self.argument(statement.value, layout))

    def _print_Apply(self, statement: Apply):
        name, layout = self._target(statement.target)
        arguments = [self.argument(sympy.sympify(argument, strict=True), layout)
                     for argument in statement.arguments or (statement.target,)]
        if statement.helper:
            self.helpers_used.add(statement.ufunc)
            function = statement.ufunc
        else:
            function = self._module_format("numpy." + statement.ufunc)
        return "%s(%s, out=%s)" % (function, ", ".join(arguments), name)

    def _print_Comment(self, statement: Comment):
        return "# %s = %s" % (text(statement.target), text(statement.value))

    def _print_DirectionAxes(self, expr):
        return "*%s" % expr.name

    def _print_Prologue(self, statement: Prologue):
        locals_ = list(statement.arrays) + list(statement.params) + ["V_" + key for key in statement.directions]
        lines = ['%s = params["%s"]' % (key, key) for key in statement.params]
        lines += ['V_%s = V["%s"]' % (key, key) for key in statement.directions]
        types = ["type(%s)" % name for name in locals_] + [self._module_format("numpy.ndarray")]
        condition = '%s\nand (dtype := %s.dtype).kind in "fc"' % (_wrap(types, " is "), locals_[0])
        if len(locals_) > 1:
            condition += "\nand %s" % _wrap(["dtype"] + ["%s.dtype" % name for name in locals_[1:]], " is ")
        lines.append("if not (%s):" % condition.replace("\n", "\n        "))
        common = [name for name in locals_ if name != "T"] + ["1.0"]
        lines.append("    dtype = %s(%s)" % (self._module_format("numpy.result_type"),
                                             _wrap(common, ", ").replace("\n", "\n" + " " * 26)))
        asarray = self._module_format("numpy.asarray")
        lines += ["    %s = %s(%s, dtype)" % (name, asarray, name) for name in locals_]
        return "\n".join(lines + self._shape_check(statement.shapes))

    def _shape_check(self, shapes: tuple) -> list[str]:
        """Bind each size to the first axis that has it, then compare every shape at once (see :mod:`.shapes`)."""
        bound: dict = {}
        leading = []
        for name, extents in shapes:
            if extents and extents[0] == DIRECTIONS and not leading:
                leading.append("%s = %s.shape[:%d]" % (DIRECTIONS.name, name, 1 - len(extents)))
            for axis, extent in enumerate(extents):
                if isinstance(extent, sympy.Symbol) and extent not in bound and extent != DIRECTIONS:
                    bound[extent] = "%s.shape[%d]" % (name, axis)
        if not shapes:
            return []
        self.helpers_used.add("shape_error")
        sizes = [self._print(size) for size in bound]
        lines = leading + ["try:"] + ["    %s = %s" % (size, axis) for size, axis in zip(sizes, bound.values())]
        lines += ["except IndexError:", "    %s = -1" % " = ".join(sizes)] if sizes else []
        actual = ["%s.shape" % name for name, _ in shapes]
        expected = [_tuple([self._print(extent) for extent in extents]) for _, extents in shapes]
        labels = ['"V[\'%s\']"' % name[2:] if name.startswith("V_") else '"%s"' % name for name, _ in shapes]
        patterns = [_tuple([str(extent) if isinstance(extent, int) else self._print(extent) if extent == DIRECTIONS
                            else '"%s"' % extent for extent in extents]) for _, extents in shapes]
        indent = "\n" + " " * 17
        return lines + ["if (%s" % _tuple(actual, indent="\n         "), "        != %s):" % _tuple(expected, indent="\n            "),
                        "    shape_error(%s," % _tuple(labels, indent=indent),
                        "                %s," % _tuple(actual, indent=indent),
                        "                %s)" % _tuple(patterns, indent=indent)]

    def _print_SmallArrays(self, statement: SmallArrays):
        numbers = [width for width in statement.widths if isinstance(width, int)]
        if len(numbers) == len(statement.widths):
            condition = "N <= %d" % (SMALL_ENTRIES // max(numbers))
        elif len(statement.widths) == 1:
            condition = "N * %s <= %d" % (self._print(statement.widths[0]), SMALL_ENTRIES)
        else:
            condition = "N * max(%s) <= %d" % (", ".join(self._print(width) for width in statement.widths), SMALL_ENTRIES)
        body = "\n".join(self._print(inner) for inner in statement.body).splitlines()
        condition = "not %s and %s" % (DIRECTIONS.name, condition) if statement.directed else condition
        return "\n".join(["if workspace is None and %s:" % condition] + ["    " + line for line in body])

    def _print_DenseFromProducts(self, statement: DenseFromProducts):
        self.helpers_used.add("dense_from_products")
        return "return dense_from_products(%s, params, X, T, %r, %d, workspace)" % (
            statement.product, tuple(statement.keys), statement.block_bytes)

    def _print_Return(self, statement: Return):
        if isinstance(statement.value, dict):
            items = ", ".join('"%s": %s' % (key, self._target(value)[0]) for key, value in statement.value.items())
            return "return {%s}" % items
        return "return %s" % self._target(statement.value)[0]

    def _print_FunctionDef(self, function: FunctionDef):
        body = [_docstring(function.docstring)] + [self._print(statement) for statement in function.body]
        lines = "\n".join(body).splitlines()
        return "def %s(%s):\n%s\n" % (function.name, ", ".join(function.arguments),
                                      "\n".join("    " + line if line else "" for line in lines))

    def _print_Module(self, module: Module):
        functions = [self._print(function) for function in module.functions]
        helpers = [_helper_source(module_helpers()[name]) for name in sorted(self.helpers_used)]
        return "\n\n".join([_docstring(module.docstring), "import numpy as np\n"] + helpers + functions)


@lru_cache(maxsize=None)
def _helper_source(helper) -> str:
    """The source of a helper a module carries, read once per process."""
    return inspect.getsource(helper).rstrip("\n") + "\n"


def _wrap(items: list, separator: str, width: int = 88) -> str:
    """``items`` joined by ``separator``, a line break after a separator wherever a line would pass ``width``."""
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(separator) + len(item) > width:
            lines.append(line + separator.rstrip())
            line = item
        else:
            line = item if not line else line + separator + item
    return "\n".join(lines + [line])


def _tuple(items: list, indent: str = "\n") -> str:
    """``(a, b)`` or ``(a,)``; long ones continue on lines starting with ``indent``."""
    text = _wrap(items, ", ").replace("\n", indent)
    return "(%s,)" % text if len(items) == 1 else "(%s)" % text


def _docstring(text: str) -> str:
    if '"""' in text or "\\" in text:
        raise ValueError("a generated docstring cannot contain triple quotes or backslashes")
    return '"""%s"""' % text if "\n" not in text else '"""%s\n"""' % text
