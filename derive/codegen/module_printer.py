"""The printer of generated modules: the array printer, extended to the statements of :mod:`derive.codegen.nodes`.

Each node prints by its own ``_print_<Node>`` method (``_print_Assign``,
``_print_Update``, ...), as SymPy's printers print ``sympy.codegen.ast``
nodes; every decision is already in the nodes, and the printer only prints it.
"""

from __future__ import annotations

import inspect
from functools import lru_cache

import sympy

from .array_printer import ArrayPrinter
from .nodes import (DIRECTIONS, SMALL_ENTRIES, Apply, Assign, Comment, DenseFromProducts, FunctionDef, Module,
                    Prologue, Return, SmallArrays, Target, Update, module_helpers, text)
from .printing import EQUAL_PRINTS_ALIKE


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
        key = (expr, tuple(layout), out, self.small_arrays, self._helpers_key)
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
        if statement.shift is not None:
            arguments.append("shift=%s" % self.argument(statement.shift, layout))
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
        self.small_arrays = True
        try:
            body = "\n".join(self._print(inner) for inner in statement.body).splitlines()
        finally:
            self.small_arrays = False
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
