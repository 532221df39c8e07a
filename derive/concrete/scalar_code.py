"""Scalar code: every scalar partial of a small network as one function, printed by ``sympy.lambdify``.

:meth:`derive.Derivation.partials` gives, at concrete sizes, each partial as a
compact expression in named entries (``X[0, 1]*delta1[0, 0]``) plus the
definition of every named entry (``delta1[0, 0] = ...``, ``A1[0, 0] = ...``).
:func:`scalar_gradients` hands both to ``sympy.lambdify`` with common
subexpression elimination: the definitions become the first, named
subexpressions (in evaluation order: forward pass, then the deltas from the
output back), ``sympy.cse`` finds what else is shared, and the printer writes
one straight-line function of scalars.  It is the lecture's computation, unit
by unit, and an independent check on the vectorized module of
:mod:`derive.codegen` (the two are printed from different expressions: the
scalar partials versus the index-level equations).

Its size grows with the number of units and examples, so it is meant for small
networks (a 2-2-1 network with a few examples), not 784-100-10.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import sympy

from derive.symbolic.symbolic_derivation import SymbolicDerivation
from sympy import Indexed

from derive.codegen.printing import BackpropNumPyPrinter, helpers

from .scalar import ScalarPartials, check_concrete


def scalar_gradients(derivation: SymbolicDerivation, sizes=None, batch: int = 1) -> Callable:
    """The scalar partials at concrete sizes as a function ``(params, X, T) -> dict``.

    Args:
        derivation: The derivation of a network.
        sizes: Concrete widths n_0..n_L (same depth); the network's by default.
        batch: The number of examples; ``X`` and ``T`` must have this many rows.

    Returns:
        A function returning ``{"W1": array, ...}`` with the parameter shapes,
        evaluated entry by entry from the printed scalar code.

    Raises:
        InputError: bad sizes or batch.
    """
    partials = ScalarPartials(derivation, *check_concrete(derivation.network, sizes, batch))
    partials.build()
    keys = list(partials)
    definitions = partials.definitions()
    entries = sorted({entry for key in keys for entry in partials[key].atoms(Indexed)}
                     | {entry for pair in definitions for entry in pair[1].atoms(Indexed)}
                     | {entry for entry, _ in definitions}, key=sympy.default_sort_key)
    symbols = {entry: sympy.Symbol("%s_%s" % (entry.base, "_".join(map(str, entry.indices))), real=True)
               for entry in entries}
    defined = {entry for entry, _ in definitions}
    inputs = [entry for entry in entries if entry not in defined]
    named = [(symbols[entry], value.xreplace(symbols)) for entry, value in definitions]

    def cse_after_definitions(expressions):
        replacements, reduced = sympy.cse(expressions, symbols=sympy.numbered_symbols("_x"))
        return named + replacements, reduced

    printer = BackpropNumPyPrinter({"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": False})
    function = sympy.lambdify([symbols[entry] for entry in inputs], [partials[key].xreplace(symbols) for key in keys],
                              modules=[helpers(), "numpy"], printer=printer, cse=cse_after_definitions,
                              docstring_limit=0)
    shapes = partials.shapes

    def gradients(params: dict, X: np.ndarray, T: np.ndarray) -> dict:
        arrays = {"X": np.asarray(X), "T": np.asarray(T), **{name: np.asarray(value) for name, value in params.items()}}
        values = function(*(arrays[str(entry.base)][tuple(int(i) for i in entry.indices)] for entry in inputs))
        flat = dict(zip(keys, values))
        return {name: np.array([flat[(name, *index)] for index in np.ndindex(*shape)]).reshape(shape)
                for name, shape in shapes.items()}

    gradients.__doc__ = "Scalar partials of %s at sizes %s, %d example(s), printed by sympy.lambdify." % (
        derivation.network.describe(), "-".join(map(str, partials.sizes)), batch)
    return gradients
