"""The dense Hessian printed directly from the derivation's Hessian blocks: the alternative ``hessian`` is measured against.

``derive(network).hessian_block(first, second)`` is ``d^2E / d first[j, i]
d second[p, q]`` as an index expression (the R-operator's passes written out
for a unit direction, Kronecker deltas summed out).  Printed as it is, each
block is one statement of a generated function (the same planner and array
printer as every generated function: shared subexpressions, einsums,
``out=``), whose remaining ``KroneckerDelta(j, p)`` factors read an identity
array ``I1[j, p]`` passed in with the parameters.  :func:`blocks_hessian`
assembles the matrix from the blocks above the diagonal and their transposes.

The generated ``hessian`` instead runs ``hvp`` on blocks of unit directions
(a leading direction axis).  ``bench/hvp.py`` times both against
``torch.func.hessian``; the products were faster on every network measured,
so ``hessian`` uses them, and this module stays a benchmark.
"""

from __future__ import annotations

import numpy as np
import sympy
from sympy import IndexedBase, KroneckerDelta

from derive import Network, derive
from derive.codegen import nodes
from derive.codegen.module_printer import ModulePrinter
from derive.codegen.module import Program, function
from derive.codegen.source import compile_module
from derive.codegen.stable_forms import stabilize
from derive.symbolic.second_order import p, q
from derive.symbolic.symbols import i, j


def blocks_module(network: Network):
    """A module whose ``hessian_blocks(params, X, T)`` returns every block above the diagonal, keyed ``"W1,b2"``.

    ``params`` must also hold the identity matrices ``I0``, ``I1``, ... that
    :func:`identities` makes.
    """
    derivation = derive(network)
    program = Program(derivation)
    names, shapes = list(program.parameters), dict(program.shapes)
    statements, returns = [], {}
    for position, first in enumerate(names):
        for second in names[position:]:
            def identity(delta: KroneckerDelta, first=first, second=second) -> sympy.Indexed:
                a, b = delta.args
                name = first if a in (j, i) else second
                width = int(name[1:]) - (0 if a in (j, p) else 1)  # j, p run over layer l; i, q over layer l - 1
                shapes["I%d" % width] = (program.sizes[width],) * 2
                return IndexedBase("I%d" % width, real=True)[a, b]
            block = derivation.hessian_block(first, second).replace(lambda e: isinstance(e, KroneckerDelta), identity)
            labels = ((j, i) if first.startswith("W") else (j,)) + ((p, q) if second.startswith("W") else (p,))
            target = IndexedBase("H_%s_%s" % (first, second), real=True)[labels]
            statements.append((target, program.reuse(stabilize(block))))
            returns["%s,%s" % (first, second)] = target
    first_order = program.forward_statements + [
        (target, value) for target, value in program.backward_statements if str(target.base).startswith("delta")]
    made = function("hessian_blocks", ("params", "X", "T", "workspace=None"), shapes, first_order + statements,
                    returns, "The Hessian's blocks above the diagonal, printed from hessian_block.")
    source = ModulePrinter().print_module(nodes.Module("Hessian blocks of %s." % network.describe(), (made,)))
    return compile_module(source, "hessian_blocks", network.describe())


def identities(network: Network) -> dict:
    """``{"I0": eye(n_0), "I1": eye(n_1), ...}``: what the blocks' Kronecker deltas read."""
    return {"I%d" % layer: np.eye(width) for layer, width in enumerate(network.sizes)}


def blocks_hessian(module, network: Network, params: dict, X, T) -> np.ndarray:
    """The dense Hessian (the generated ``hessian``'s order) from ``module``'s blocks."""
    blocks = module.hessian_blocks({**params, **identities(network)}, X, T)
    keys = list(params)
    offsets = np.cumsum([0] + [params[key].size for key in keys])
    dense = np.empty((offsets[-1], offsets[-1]))
    for a, first in enumerate(keys):
        for b in range(a, len(keys)):
            block = blocks["%s,%s" % (first, keys[b])].reshape(offsets[a + 1] - offsets[a], offsets[b + 1] - offsets[b])
            dense[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]] = block
            dense[offsets[b]:offsets[b + 1], offsets[a]:offsets[a + 1]] = block.T
    return dense
