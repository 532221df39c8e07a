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

import sympy
from sympy import Indexed, IndexedBase, Sum

from derive.symbolic.derivation import SymbolicDerivation
from derive.symbolic.indices import free_indices
from derive.symbolic.symbols import E, N, activations, deltas, i, j, n

from . import nodes
from .inplace import Lowering
from .nodes import target_name
from .stable_forms import stabilize

Statement = tuple  # (target, value): target an Indexed entry or a Symbol, value a SymPy expression


class Program:
    """The statements of the three generated functions, planned from a derivation."""

    def __init__(self, derivation: SymbolicDerivation):
        self.derivation = derivation
        self.network = network = derivation.network
        self.depth = network.depth
        self.equations = [(eq.lhs, eq.rhs) for eq in derivation.forward_equations]
        self.forward_statements = [(target, stabilize(value)) for target, value in self.equations]
        self.parameters = tuple(network.param_shapes())
        self.shapes = {"X": (N, network.sizes[0]), "T": (N, network.sizes[-1]), **network.param_shapes()}
        output = activations(self.depth)
        definitions = {target.base: (target, value) for target, value in self.forward_statements}
        self.backward_statements = []
        for layer in range(self.depth, 0, -1):
            delta = self.reuse(stabilize(derivation.delta(layer)))
            self.backward_statements.append((deltas(layer)[n, j], delta))
            for name in ("W%d" % layer, "b%d" % layer):
                if name in self.parameters:
                    self.backward_statements.append((gradient_entry(name), stabilize(derivation.gradient(name))))
        self.loss_value = stabilize(_through_definition(derivation.loss, definitions[output]))

    def reuse(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with each forward definition replaced by the array it defines."""
        for target, value in self.forward_statements:
            wilds = {index: sympy.Wild("w_%s" % index, properties=[lambda e: isinstance(e, sympy.Symbol)])
                     for index in target.indices}
            expr = expr.replace(value.xreplace(wilds), target.base[tuple(wilds.values())])
        return expr

    # --- the three functions -------------------------------------------------------------

    def forward(self) -> nodes.FunctionDef:
        output = activations(self.depth)[n, j]
        return function("forward", ("params", "X", "workspace=None"), self.shapes, self.forward_statements, output,
                         "The network's output A%d, shape (N, %d), for inputs X of shape (N, %d)."
                         % (self.depth, self.network.sizes[-1], self.network.sizes[0]))

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
        lines = ["Loss and gradients of the network %s." % network.describe(), "",
                 "Printed from its SymPy derivation by backprop (derive.codegen); do not edit.",
                 "It imports only numpy.  W_l[j, i] is the weight from unit i of layer l-1 to",
                 "unit j of layer l; params = {%s}." % ", ".join('"%s": %s' % item for item in network.param_shapes().items()),
                 "X is (N, %d), T is (N, %d); n is the example, j the unit." % (network.sizes[0], network.sizes[-1]),
                 "", "Loss (%s):" % network.loss.name, "    E = %s" % sympy.sstr(self.derivation.loss),
                 "", "Forward pass:"]
        lines += ["    %s = %s" % (sympy.sstr(target), sympy.sstr(value)) for target, value in self.equations]
        lines += ["", "Backward pass (delta_l[n, j] = dE/dZ_l[n, j]) and gradients:"]
        lines += ["    %s = %s" % (_gradient_name(target), sympy.sstr(value))
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


def gradient_entry(name: str) -> Indexed:
    """The array a parameter's gradient is computed in: ``grad_W1[j, i]``, ``grad_b1[j]``."""
    base = IndexedBase("grad_" + name, real=True)
    return base[j, i] if name.startswith("W") else base[j]


def _gradient_name(target) -> str:
    name = sympy.sstr(target)
    return "dE/d" + name[len("grad_"):] if name.startswith("grad_") else name


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
    statements = _share(_needed_statements(statements, returns))
    outputs = {target_name(target) for target in (returns.values() if isinstance(returns, dict) else [returns])}
    body = Lowering(statements, outputs, shapes).statements()
    symbols = set().union(*(_symbols_outside_limits(value) for _, value in statements),
                          *(step.kept for step in body if isinstance(step, nodes.Assign) and step.kept))
    used = {str(symbol) for value in (v for _, v in statements) for symbol in value.atoms(IndexedBase)}
    prologue = nodes.Prologue(tuple(a for a in arguments if a in used | {"X"}),
                              tuple(p for p in parameters if p in used), "N" if N in symbols else None,
                              tuple(d for d in directions if "V_" + d in used))
    return nodes.FunctionDef(name, arguments, docstring, (prologue, *body, nodes.Return(returns)))


def _needed_statements(statements: list, returns) -> list:
    """The statements the returned targets depend on, in their order (the others are left out)."""
    wanted = {target_name(target) for target in (returns.values() if isinstance(returns, dict) else [returns])}
    kept = []
    for target, value in reversed(statements):
        if target_name(target) in wanted:
            kept.append((target, value))
            wanted |= {str(base) for base in value.atoms(IndexedBase)}
    return kept[::-1]


def _symbols_outside_limits(expr: sympy.Basic) -> set:
    """The symbols ``expr`` computes with (a sum's range is the axis length, not a number it uses)."""
    if isinstance(expr, Sum):
        return _symbols_outside_limits(expr.function)
    if isinstance(expr, sympy.Symbol):
        return {expr}
    return set().union(*(_symbols_outside_limits(arg) for arg in expr.args))


def _share(statements: list) -> list:
    """The statements with their common subexpressions computed once, as named arrays, before first use."""
    lasts: dict = {}
    values = [_opaque_ranges(value, lasts) for _, value in statements]
    targets = set().union(*(free_indices(target) for target, _ in statements if isinstance(target, Indexed)))
    bound = {limit[0] for value in values for total in value.atoms(Sum) for limit in total.limits} - targets
    replacements, reduced = sympy.cse(values, symbols=sympy.numbered_symbols("_cse"), ignore=tuple(bound | {N}))
    back = {last: value for value, last in lasts.items()}
    replacements = [(temp, value.xreplace(back)) for temp, value in replacements]
    reduced = [value.xreplace(back) for value in reduced]
    replacements, reduced = _inline_conditions(replacements, reduced)
    temps = dict(replacements)
    first_use: dict = {}
    for position, value in enumerate(reduced):
        for temp in _needed(value, temps):
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
    for (target, _), value in zip(statements, reduced):
        for temp in _needed(value, temps):
            if temp not in emitted and renames[temp] is not target:
                shared.append((renames[temp], temps[temp].xreplace(renames)))
                emitted.add(temp)
        merged = temps[value] if value in temps and renames[value] is target else value
        shared.append((target, merged.xreplace(renames)))
    return shared


def _opaque_ranges(expr: sympy.Expr, lasts: dict) -> sympy.Expr:
    """``expr`` with each sum's last index (``n_1 - 1``) as one symbol, so that cse can share a whole sum
    (``Sum(W2[k, j]*delta2[n, k])``, needed by delta1 and Rdelta1) but never an axis length.  A summand is
    never shared on its own (the bound indices are ignored): it would be an array with the summed axis too."""
    def opaque(total: Sum) -> Sum:
        limits = [(index, low, lasts.setdefault(high, sympy.Symbol("_last%d" % len(lasts))))
                  for index, low, high in total.limits]
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


def _needed(expr: sympy.Expr, temps: dict) -> list:
    """The cse symbols ``expr`` needs, transitively, dependencies first."""
    order: list = []
    for symbol in sorted(expr.free_symbols & set(temps), key=lambda s: int(s.name[4:])):
        for dependency in _needed(temps[symbol], temps) + [symbol]:
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
    return IndexedBase(name, real=True)[tuple(layout)] if layout else sympy.Symbol(name, real=True)
