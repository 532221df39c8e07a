"""The symbols of one derivation, read from its own equations (so a report never rebuilds them by name).

:class:`Notation` finds, in a derivation's forward equations, loss and
results, the objects a report talks about: the entries ``Z_l[n, j]`` and
``A_l[n, j]``, the error terms ``delta_l[n, j]``, the loss symbol E, the generic
entry of each parameter (``W1[j, i]``), the inputs ``X[n, i]`` and targets
``T[n, k]``, the example and unit indices, and the sizes ``N``, ``n_0..n_L``.
"""

from __future__ import annotations

import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation


class Notation:
    """The symbols of ``derivation``: see the module docstring."""

    def __init__(self, derivation: SymbolicDerivation):
        self.depth = depth = derivation.depth
        forward = derivation.forward_equations
        self._Z = {layer: forward[2 * layer - 2].lhs for layer in range(1, depth + 1)}
        self._A = {layer: forward[2 * layer - 1].lhs for layer in range(1, depth + 1)}
        results = derivation.equations()
        self._delta = {depth - position: equation.lhs for position, equation in enumerate(results[:depth])}
        self.E = results[depth].lhs.expr
        self._entries = {name: results[depth + position].lhs.variables[0]
                         for position, name in enumerate(derivation.parameters)}
        self.n, self.j = self._Z[1].indices
        parameters = {entry.base for entry in self._entries.values()}
        first = forward[0].rhs.atoms(sympy.Indexed)
        self.X = next(e for e in sorted(first, key=sympy.default_sort_key) if e.base not in parameters)
        self.i = self.X.indices[1]
        outputs = {self._A[depth].base} | parameters
        self.T = next(e for e in sorted(derivation.loss.atoms(sympy.Indexed), key=sympy.default_sort_key)
                      if e.base not in outputs)
        self.k = self.T.indices[1]
        self.N = _upper(derivation.loss, self.T.indices[0])
        #: n_0..n_L: each layer's input width from its net input's sum, the output width from the loss's sum.
        self.sizes = tuple(_upper(forward[2 * layer - 2].rhs, self.i) for layer in range(1, depth + 1)) + (
            _upper(derivation.loss, self.T.indices[1]),)

    def Z(self, layer: int) -> sympy.Indexed:
        """``Z_l[n, j]``, the net input of unit j of layer l."""
        return self._Z[layer]

    def A(self, layer: int) -> sympy.Indexed:
        """``A_l[n, j]`` (``X[n, i]`` for layer 0)."""
        return self.X if layer == 0 else self._A[layer]

    def delta(self, layer: int) -> sympy.Indexed:
        """``delta_l[n, j]`` = ∂E/∂Z_l[n, j]."""
        return self._delta[layer]

    def entry(self, name: str) -> sympy.Indexed:
        """The generic entry of a parameter: ``W1[j, i]``, ``b1[j]``."""
        return self._entries[name]

    def base(self, name: str) -> sympy.IndexedBase:
        """A parameter's array: ``W1``."""
        return self._entries[name].base

    def at(self, base: sympy.IndexedBase, *index: int) -> sympy.Indexed:
        """One concrete entry: ``at(W1, 0, 1)`` is ``W1[0, 1]``."""
        return base[index]


def _upper(expr: sympy.Expr, index: sympy.Symbol) -> sympy.Expr:
    """The size an index runs over in ``expr``: ``n_0`` for ``Sum(..., (i, 0, n_0 - 1))``."""
    for total in sorted(expr.atoms(sympy.Sum), key=sympy.default_sort_key):
        for limit in total.limits:
            if limit[0] == index:
                return limit[2] + 1
    raise ValueError("no sum over %s in %s" % (index, expr))
