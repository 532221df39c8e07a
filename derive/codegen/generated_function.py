"""One generated function: the statements its result needs, their shared subexpressions, computed in place.

Steps 3 and 4 of the plan of :mod:`derive.codegen.module`, for each function
the planner asks for: ``sympy.cse`` over the function's right-hand sides names
what is still shared (each a named array, computed just before its first use),
and :class:`~derive.codegen.inplace.Lowering` turns the statements into
in-place numpy.  The result is a :class:`derive.codegen.nodes.FunctionDef`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Indexed, IndexedBase, Sum
from sympy.simplify import cse_main
from sympy.simplify.cse_main import opt_cse
from sympy.utilities.iterables import iterable

from derive.symbolic.indices import free_indices
from derive.symbolic.second_order import v as DIRECTION
from derive.symbolic.symbols import N, n

from . import nodes
from .inplace import Lowering
from .nodes import entries, target_name

#: What ``tree_cse`` walks into: expressions, and the unevaluated rewrites of ``opt_cse`` (SymPy >= 1.12).
_CSE_NODES = tuple(kind for kind in (sympy.Basic, getattr(cse_main, "Unevaluated", None)) if kind is not None)

def function(name: str, arguments: tuple, shapes: dict, statements: list, returns,
             docstring: str) -> nodes.FunctionDef:
    """One generated function: its statements (only those the result needs), shared subexpressions, in place.

    Args:
        name: The function's name.
        arguments: Its argument list (``("params", "X", "T", "workspace=None")``).
        shapes: Shapes of the input arrays: ``X``, ``T``, the parameters, and the directions ``V_W1`` ...
        statements: ``(target, value)`` pairs in evaluation order.
        returns: The target returned, or a dict of them by key.
        docstring: The function's docstring.
    """
    parameters = tuple(key for key in shapes if key not in ("X", "T") and not key.startswith("V_"))
    directions = tuple(key[len("V_"):] for key in shapes if key.startswith("V_"))
    needed = _needed_statements(statements, returns)
    statements = list(_shared(tuple(needed))) if nodes.EQUAL_PRINTS_ALIKE else _share(needed)
    outputs = {target_name(target) for target in (returns.values() if isinstance(returns, dict) else [returns])}
    body = Lowering(statements, outputs, shapes).statements()
    used = {entry.base.name for _, value in statements for entry in entries(value)}
    read = {"X"} | used
    prologue = nodes.Prologue(tuple(a for a in arguments if a in read), tuple(p for p in parameters if p in read),
                              tuple(d for d in directions if "V_" + d in read),
                              tuple((name, shape) for name, shape in shapes.items() if name in read))
    widths = tuple(dict.fromkeys(shape[0] for key, shape in shapes.items() if key.startswith("W")))
    small = () if nodes.SmallArrays.never(widths) else (nodes.SmallArrays(widths, (
        *(nodes.Assign(target, value) for target, value in statements), nodes.Return(returns)), bool(directions)),)
    return nodes.FunctionDef(name, arguments, docstring, (prologue, *small, *body, nodes.Return(returns)))


def _needed_statements(statements: list, returns) -> list:
    """The statements the returned targets depend on, in their order (the others are left out)."""
    wanted = {target_name(target) for target in (returns.values() if isinstance(returns, dict) else [returns])}
    kept = []
    for target, value in reversed(statements):
        if target_name(target) in wanted:
            kept.append((target, value))
            wanted |= {entry.base.name for entry in entries(value)}
    return kept[::-1]


@lru_cache(maxsize=256)
def _shared(statements: tuple) -> tuple:
    """:func:`_share`, once per list of statements: every width of a structure has the same statements."""
    return tuple(_share(list(statements)))


def _share(statements: list) -> list:
    """The statements with their common subexpressions computed once, as named arrays, before first use."""
    values = [_opaque_ranges(value) for _, value in statements]
    targets = set().union(*(free_indices(target) for target, _ in statements if isinstance(target, Indexed)))
    bound = {limit[0] for value in values for total in value.atoms(Sum) for limit in total.limits} - targets
    if _nothing_to_share(values, bound | {N}):  # most lists: the statements as they are
        return list(statements)
    # order="none": arguments in their own (canonical) order, not sorted again; the same in every process
    replacements, reduced = sympy.cse(values, symbols=sympy.numbered_symbols("_cse"), ignore=tuple(bound | {N}),
                                      order="none")
    back = {last: high for high, last in _LASTS.items()}
    replacements = [(temp, value.xreplace(back)) for temp, value in replacements]
    reduced = [value.xreplace(back) for value in reduced]
    replacements, reduced = _inline_conditions(replacements, reduced)
    temps = dict(replacements)
    first_use: dict = {}
    known: dict = {}
    needs = [_needed(value, temps, known) for value in reduced]
    for position, needed in enumerate(needs):
        for temp in needed:
            first_use.setdefault(temp, position)
    renames: dict = {}
    taken = {target_name(target) for target, _ in statements}
    for position, (target, value) in enumerate(zip((t for t, _ in statements), reduced)):
        if value in temps and first_use[value] == position:
            renames[value] = target
    for temp, value in replacements:
        if temp not in renames:
            renames[temp] = _temp_entry(value.xreplace(renames), taken)
            taken.add(target_name(renames[temp]))
    shared = []
    emitted = set()
    for (target, _), value, needed in zip(statements, reduced, needs):
        for temp in needed:
            if temp not in emitted and renames[temp] is not target:
                shared.append((renames[temp], temps[temp].xreplace(renames)))
                emitted.add(temp)
        merged = temps[value] if value in temps and renames[value] is target else value
        shared.append((target, merged.xreplace(renames)))
    return shared


#: The symbol standing for each last index of a sum (``n_1 - 1``) while cse runs (see :func:`_opaque_ranges`).
_LASTS: dict = {}


def _nothing_to_share(values: list, ignore: set) -> bool:
    """Whether ``sympy.cse(values, ignore=ignore, order="none")`` would share nothing.

    The first pass of SymPy's ``tree_cse`` (``sympy/simplify/cse_main.py``),
    on the same rewrites (``opt_cse``): a subexpression met twice, without an
    ignored symbol, is shared.  ``tree_cse`` then rebuilds every node of every
    value, even when nothing is shared, which is most of its time; most
    statement lists share nothing, and skip that.
    """
    rewrites = opt_cse(values, order="none")
    seen: set = set()

    def met_twice(expr) -> bool:
        if not isinstance(expr, _CSE_NODES) or isinstance(expr, sympy.RootOf):
            return False
        if isinstance(expr, sympy.Basic) and (expr.is_Atom or expr.is_Order):
            return False
        if iterable(expr):
            return any(met_twice(arg) for arg in expr)
        if expr in seen and not ignore & expr.free_symbols:
            return True
        seen.add(expr)
        return any(met_twice(arg) for arg in rewrites.get(expr, expr).args)

    return not any(met_twice(value) for value in values)


@lru_cache(maxsize=4096)
def _opaque_ranges(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with each sum's last index (``n_1 - 1``) as one symbol, so that cse can share a whole sum
    (``Sum(W2[k, j]*delta2[n, k])``, needed by delta1 and Rdelta1) but never an axis length.  A summand is
    never shared on its own (the bound indices are ignored): it would be an array with the summed axis too.
    Done once per value: the same values recur in every function of a module."""
    def opaque(total: Sum) -> Sum:
        limits = [(index, low, _LASTS.setdefault(high, sympy.Symbol("_last(%s)" % high))) for index, low, high in
                  total.limits]  # named by what it stands for: the same in every process
        return Sum(total.function, *limits)
    return expr.replace(lambda e: isinstance(e, Sum), opaque)


def _inline_conditions(replacements: list, reduced: list) -> tuple[list, list]:
    """Put back the shared subexpressions that are conditions (``Z1[n, j] > 0``): a Piecewise needs them in place."""
    conditions = {}
    kept = []
    for temp, value in replacements:
        value = value.xreplace(conditions)
        if isinstance(value, sympy.logic.boolalg.Boolean):
            conditions[temp] = value
        else:
            kept.append((temp, value))
    if not conditions:
        return replacements, reduced
    return kept, [value.xreplace(conditions) for value in reduced]


def _needed(expr: sympy.Expr, temps: dict, known: dict | None = None) -> list:
    """The cse symbols ``expr`` needs, transitively, dependencies first.

    ``known`` keeps each symbol's own answer between calls on one list of
    statements (the cse symbols are never summation indices, so the symbols of
    ``expr`` are its free ones).
    """
    known = {} if known is None else known
    order: list = []
    for symbol in sorted(expr.atoms(sympy.Symbol) & temps.keys(), key=lambda s: int(s.name[4:])):
        if symbol not in known:
            known[symbol] = _needed(temps[symbol], temps, known) + [symbol]
        for dependency in known[symbol]:
            if dependency not in order:
                order.append(dependency)
    return order


def _temp_entry(value: sympy.Expr, taken: set):
    """A named array for a shared subexpression: ``sigmoid_Z1[n, j]`` or ``t0[n, j]``."""
    if isinstance(value, sympy.Function) and len(value.args) == 1 and isinstance(value.args[0], Indexed):
        stem = "%s_%s" % (type(value).__name__, value.args[0].base)
    else:
        stem = "t"
    name, count = (stem, 0) if stem != "t" else ("t0", 0)
    while name in taken:
        count += 1
        name = "%s%d" % (stem, count)
    layout = []
    for entry in sympy.preorder_traversal(value):
        if isinstance(entry, Indexed):
            layout += [index for index in entry.indices if index in free_indices(value) and index not in layout]
    layout.sort(key=lambda index: (index != DIRECTION, index != n))  # as the arrays are: directions, examples, units
    return IndexedBase(name, real=True)[tuple(layout)] if layout else sympy.Symbol(name, real=True)
