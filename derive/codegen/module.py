"""Generated numeric code: a :class:`~derive.derivation.Derivation` printed as a standalone numpy module.

:func:`numpy_source` turns the derived index-level equations into the source
of a module with ``forward(params, X)``, ``loss(params, X, T)`` and
``gradients(params, X, T)``, vectorized over the batch, that imports nothing
but numpy.  No formula is written here: this module only decides *which*
SymPy expressions become *which* statements, and
:class:`~derive.codegen.nodes.ModulePrinter` prints every one of them.

The plan, for each function:

1. **Stable forms**, once, here and nowhere else.  The loss reads ``log`` of
   the output through its definition in ``Z_L``, so
   :func:`~derive.codegen.stable_forms.stabilize` can turn ``log(softmax)``
   into ``log_softmax(Z)`` and ``log(sigmoid)`` into softplus: no ``log(0)``
   at |z| = 1e3.  Every value is stable before anything else sees it.
2. **Reuse.**  The forward pass defines ``Z_l`` and ``A_l`` once; wherever a
   later expression contains a forward definition (``sigmoid(Z1[n, m])``), it
   reads the array instead (``A1[n, m]``).  The derivation writes each delta
   in terms of the next one, so each layer's delta is computed once.
3. **Common subexpressions.**  ``sympy.cse`` over all the function's
   right-hand sides finds what is still shared (for ``x*sigmoid(x)`` the
   sigmoid of Z1 is needed by the forward pass and by delta1); each becomes a
   named array, computed just before its first use.
4. **In place** (:mod:`derive.codegen.inplace`).  Each right-hand side is
   evaluated along its *spine*, the operand that already has the full shape (a
   matrix product, or an array no later statement reads); the other operations
   become ``+=``, ``*=``, ``np.tanh(A, out=A)``, and matrix products write into
   the memory of arrays that are no longer read (``out=``), so the elementwise
   work of backprop costs no temporary arrays.

The derivation's results carry no ``Dummy`` index (see
:mod:`derive.symbolic.indices`), so the same network gives the same source,
byte for byte, in every process.

Every function casts the inputs and parameters to their common dtype first
(float32 stays float32; complex128 runs the complex-step path).
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import sympy
from sympy import Indexed, IndexedBase, Sum
from sympy.simplify import cse_main
from sympy.simplify.cse_main import opt_cse
from sympy.utilities.iterables import iterable

from derive.symbolic.symbolic_derivation import SymbolicDerivation
from derive.symbolic.indices import free_indices
from derive.symbolic.second_order import v as DIRECTION
from derive.symbolic.symbols import E, N, activations, deltas, i, j, n, size

from . import nodes
from .inplace import Lowering
from .nodes import entries, target_name
from .stable_forms import stabilize

Statement = tuple  # (target, value): target an Indexed entry or a Symbol, value a SymPy expression
#: What ``tree_cse`` walks into: expressions, and the unevaluated rewrites of ``opt_cse`` (SymPy >= 1.12).
_CSE_NODES = tuple(kind for kind in (sympy.Basic, getattr(cse_main, "Unevaluated", None)) if kind is not None)


class Program:
    """The statements of the three generated functions, planned from a derivation."""

    def __init__(self, derivation: SymbolicDerivation, any_width: bool = False):
        self.derivation = derivation
        self.network = network = derivation.network
        self.any_width = any_width
        self.depth = network.depth
        self.equations = [(eq.lhs, eq.rhs) for eq in derivation.forward_equations]
        self.forward_statements = [(target, stabilize(value)) for target, value in self.equations]
        self.parameters = tuple(network.param_shapes())
        self.sizes = tuple(size(layer) for layer in range(self.depth + 1)) if any_width else network.sizes
        self.param_shapes = {name: tuple(self.sizes[layer] for layer in _layers(name))
                             for name in self.parameters}
        self.shapes = {"X": (N, self.sizes[0]), **self.param_shapes, "T": (N, self.sizes[-1])}
        output = activations(self.depth)
        definitions = {target.base: (target, value) for target, value in self.forward_statements}
        self.backward_statements = []
        for layer in range(self.depth, 0, -1):
            delta = self.reuse(stabilize(derivation.delta(layer)))
            self.backward_statements.append((deltas(layer)[n, j], delta))
            for name in ("W%d" % layer, "b%d" % layer):
                if name in self.parameters:
                    self.backward_statements.append((gradient_entry(name), stabilize(derivation.gradient(name))))
        self.loss_value = self.widths(stabilize(_through_definition(derivation.loss, definitions[output])))

    def reuse(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with each forward definition replaced by the array it defines.

        A definition can occur at other indices than its own (``sigmoid(Z1[n, k])``
        for ``A1[n, j]``).  Where it occurs, each array it reads occurs with the
        same renaming (``Z1[n, k]``), so the indices ``expr`` gives those arrays
        at those positions are the only candidates for each of its own indices.
        The definition is written out at every choice among them, and one
        ``xreplace`` (a dictionary lookup per node) swaps each occurrence for its
        array: the result of pattern matching with a ``Wild`` per index, without
        trying a match at every node.
        """
        seen_at = {}
        for entry in entries(expr):
            seen_at.setdefault(entry.base, []).append(entry.indices)
        anywhere = {index for seen in seen_at.values() for indices in seen for index in indices
                    if isinstance(index, sympy.Symbol)}
        for target, value in self.forward_statements:
            choices = []
            for own in target.indices:
                found = None
                for base, position in _positions(value, own):
                    here = {indices[position] for indices in seen_at.get(base, ())
                            if isinstance(indices[position], sympy.Symbol)}
                    found = here if found is None else found & here
                choices.append(sorted(anywhere if found is None else found, key=str))
            replacements = {}
            for chosen in itertools.product(*choices):
                replacements[value.xreplace(dict(zip(target.indices, chosen)))] = target.base[chosen]
            if replacements:
                expr = expr.xreplace(replacements)
        return self.widths(expr)

    def widths(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with the widths that stand as factors (the 1/n_L of ``mse``) as numbers in a width-specific
        module; a width-generic one reads them from the arrays.  Sum limits keep their symbols (the printer reads
        an axis from them)."""
        if self.any_width or not expr.has(*(size(layer) for layer in range(self.depth + 1))):
            return expr
        sums = {total: sympy.Dummy() for total in expr.atoms(Sum)}
        numbers = {size(layer): sympy.Integer(width) for layer, width in enumerate(self.sizes)}
        return expr.xreplace(sums).xreplace(numbers).xreplace({v: k for k, v in sums.items()})

    # --- the three functions -------------------------------------------------------------

    def forward(self) -> nodes.FunctionDef:
        output = activations(self.depth)[n, j]
        return function("forward", ("params", "X", "workspace=None"), self.shapes, self.forward_statements, output,
                         "The network's output A%d, shape (N, %s), for inputs X of shape (N, %s)."
                         % (self.depth, self.sizes[-1], self.sizes[0]))

    def loss(self) -> nodes.FunctionDef:
        statements = self.forward_statements + [(E, self.loss_value)]
        return function("loss", ("params", "X", "T", "workspace=None"), self.shapes, statements, E,
                         "The loss E (a scalar of the common dtype) for inputs X and targets T.")

    def gradients(self) -> nodes.FunctionDef:
        returns = {name: gradient_entry(name) for name in self.parameters}
        return function("gradients", ("params", "X", "T", "workspace=None"), self.shapes,
                         self.forward_statements + self.backward_statements, returns,
                         "dE/dp for every parameter p: a dict with the keys and shapes of params.")

    def docstring(self) -> str:
        network = self.network
        shapes = ", ".join('"%s": %s' % (name, _tuple_text(shape)) for name, shape in self.param_shapes.items())
        if self.any_width:
            lines = ["Loss and gradients of every network %s." % network.describe(any_width=True), "",
                     "One module for every width: it reads N and the widths n_0..n_%d from the" % self.depth,
                     "arrays it is given (N and n_0 from X, n_l from W_l) and raises ValueError",
                     "when they do not fit together."]
        else:
            lines = ["Loss and gradients of the network %s." % network.describe()]
        lines += ["", "Printed from its SymPy derivation by backprop (derive.codegen); do not edit.",
                  "It imports only numpy.  W_l[j, i] is the weight from unit i of layer l-1 to",
                  "unit j of layer l; params = {%s}." % shapes,
                  "X is (N, %s), T is (N, %s); n is the example, j the unit." % (self.sizes[0], self.sizes[-1]),
                  "", "Loss (%s):" % network.loss.name, "    E = %s" % nodes.text(self.derivation.loss),
                  "", "Forward pass:"]
        lines += ["    %s = %s" % (nodes.text(target), nodes.text(value)) for target, value in self.equations]
        lines += ["", "Backward pass (delta_l[n, j] = dE/dZ_l[n, j]) and gradients:"]
        lines += ["    %s = %s" % (_gradient_name(target), nodes.text(value))
                  for target, value in self._derived_backward()]
        return "\n".join(lines)

    def _derived_backward(self) -> list:
        derivation = self.derivation
        statements = []
        for layer in range(self.depth, 0, -1):
            statements.append((deltas(layer)[n, j], derivation.delta(layer)))
            statements += [(gradient_entry(name), derivation.gradient(name))
                           for name in ("W%d" % layer, "b%d" % layer) if name in self.parameters]
        return statements


def _layers(name: str) -> tuple[int, ...]:
    """The layers whose widths give a parameter's shape: W2 is (n_2, n_1), b2 is (n_2,)."""
    layer = int(name[1:])
    return (layer, layer - 1) if name.startswith("W") else (layer,)


def _tuple_text(shape: tuple) -> str:
    return "(%s,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))


@lru_cache(maxsize=None)
def gradient_entry(name: str) -> Indexed:
    """The array a parameter's gradient is computed in: ``grad_W1[j, i]``, ``grad_b1[j]``."""
    base = IndexedBase("grad_" + name, real=True)
    return base[j, i] if name.startswith("W") else base[j]


def _gradient_name(target) -> str:
    name = nodes.text(target)
    return "dE/d" + name[len("grad_"):] if name.startswith("grad_") else name


def _positions(value: sympy.Expr, index: sympy.Symbol) -> set:
    """Where ``index`` occurs in ``value``'s arrays: ``(base, position)`` pairs (``(Z1, 1)`` for ``j`` in ``Z1[n, j]``)."""
    return {(entry.base, position) for entry in entries(value)
            for position, own in enumerate(entry.indices) if own == index}


def _through_definition(expr: sympy.Expr, definition: Statement) -> sympy.Expr:
    """``expr`` with each entry of ``definition``'s array inside a ``log`` replaced by its definition."""
    target, value = definition

    def defined(entry: Indexed) -> sympy.Expr:
        return value.xreplace(dict(zip(target.indices, entry.indices)))

    def inside(logarithm: sympy.log) -> sympy.Expr:
        return logarithm.replace(lambda e: isinstance(e, Indexed) and e.base == target.base, defined)

    return expr.replace(lambda e: isinstance(e, sympy.log) and e.has(target.base), inside)


# --- one function: shared subexpressions, then statements computed in place -----------------


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
