"""Generated numeric code: a :class:`~derive.derivation.Derivation` printed as a standalone numpy module.

:func:`numpy_source` turns the derived index-level equations into the source
of a module with ``forward(params, X)``, ``loss(params, X, T)`` and
``gradients(params, X, T)``, vectorized over the batch, that imports nothing
but numpy.  No formula is written here: this module only decides *which*
SymPy expressions become *which* statements, and
:class:`~derive.codegen.module_printer.ModulePrinter` prints every one of them.

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

Steps 3 and 4 are done for each function by
:func:`derive.codegen.generated_function.function`.

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

from derive.symbolic.symbolic_derivation import SymbolicDerivation
from derive.symbolic.symbols import E, N, activations, deltas, i, j, n, size

from . import nodes
from .generated_function import function
from .nodes import entries
from .stable_forms import stabilize

Statement = tuple  # (target, value): target an Indexed entry or a Symbol, value a SymPy expression


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
                  "It needs numpy and nothing else outside Python's standard library.  W_l[j, i] is",
                  "the weight from unit i of layer l-1 to unit j of layer l; params = {%s}." % shapes,
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
