"""The box "Backpropagation in four equations": BP1–BP4 in matrix form, with ⊙ and every shape.

Nielsen's four equations of backpropagation, for a batch of N examples as
matrices whose rows are the examples (A^(0) = X):

* BP1 ``δ^(L) = ∂E/∂A^(L) ⊙ g′^(L)(Z^(L))``, N × n_L (for an output activation that is not
  elementwise, softmax, the sum over the outputs, or A^(L) − T where that is what it gives);
* BP2 ``δ^(l) = (δ^(l+1) W^(l+1)) ⊙ g′^(l)(Z^(l))``, N × n_l, for l = L − 1, …, 1;
* BP3 ``∂E/∂W^(l) = δ^(l)ᵀ A^(l−1)`` (plus the penalty's derivative), n_l × n_{l−1};
* BP4 ``∂E/∂b^(l) = 𝟏ᵀ δ^(l)``, 1 × n_l.

The equations are SymPy matrix expressions (``MatrixSymbol``,
``HadamardProduct``, ``Transpose``), so their shapes are checked by SymPy
as they are built; what the box says about this network (∂E/∂A^(L) and each
layer's g′ entry by entry) comes from ``sympy.diff`` of its records.  A
report shows the box near the top and again at the end.
"""

from __future__ import annotations

import sympy
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from derive.symbolic.symbolic_derivation import SymbolicDerivation

from .document import Box, EquationRow, Equations, Section, paragraph
from .lecture import in_output, kink_note, output_delta
from .notation import Notation
from .quantities import LAMBDA, Shape, layer_matrix, layer_size
from .sections import activation_layers, layer_list

N = sympy.Symbol("N", integer=True, positive=True)


def _applied(name: str, layer, argument: sympy.MatrixExpr) -> ElementwiseApplyFunction:
    """``name`` of layer ``layer`` applied to every entry of ``argument`` (g′^(l)(Z^(l)))."""
    x = sympy.Dummy("x")
    return ElementwiseApplyFunction(sympy.Lambda(x, sympy.Function("%s(%s)" % (name, layer))(x)), argument)


def _gradient(layer) -> sympy.MatrixSymbol:
    """∂E/∂A^(layer) as a matrix (the printers write it as the derivative)."""
    return sympy.MatrixSymbol("dE/dA(%s)" % layer, N, layer_size(layer))


def four_equations(derivation: SymbolicDerivation) -> list[EquationRow]:
    """BP1–BP4 for this network, as equation rows tagged with their shapes."""
    network = derivation.network
    depth = network.depth
    L, l, up, down = (depth, "l", "l+1", "l-1")
    n_L, n_l, n_up, n_down = layer_size(L), layer_size(l), layer_size(up), layer_size(down)
    delta_L = layer_matrix("delta", L, N, n_L)
    output = network.activations[-1]
    if output.elementwise:
        bp1 = sympy.HadamardProduct(_gradient(L), _applied("g'", L, layer_matrix("Z", L, N, n_L)))
        rows = [EquationRow(delta_L, (bp1,), "BP1: the output layer's error term", tag=Shape(N, n_L))]
    else:
        value = _softmax_delta(network, L, n_L)
        lhs = delta_L if isinstance(value, sympy.MatrixExpr) else sympy.IndexedBase("delta%d" % L)[
            sympy.symbols("n j", integer=True)]
        rows = [EquationRow(lhs, (value,), "BP1: the output layer's error term (%s is not elementwise: see the "
                            "output error term)%s" % (output.name, "" if lhs is delta_L else ", entry by entry"),
                            tag=Shape(N, n_L))]
    if depth > 1:
        bp2 = sympy.HadamardProduct(layer_matrix("delta", up, N, n_up) * layer_matrix("W", up, n_up, n_l),
                                    _applied("g'", l, layer_matrix("Z", l, N, n_l)))
        rows.append(EquationRow(layer_matrix("delta", l, N, n_l), (bp2,), "BP2: a hidden layer's error term from "
                                "the layer above, for layer %s" % ("1" if depth == 2 else "l = %d, …, 1" % (depth - 1)),
                                tag=Shape(N, n_l)))
    weights = layer_matrix("W", l, n_l, n_down)
    bp3 = layer_matrix("delta", l, N, n_l).T * layer_matrix("A", down, N, n_down)
    if network.weight_decay:
        bp3 = sympy.MatAdd(bp3, LAMBDA * weights, evaluate=False)  # the data term first, as in the gradients
    penalty = " plus the L2 penalty's λW^(l)" if network.weight_decay else ""
    rows.append(EquationRow(sympy.Derivative(sympy.Symbol("E"), weights), (bp3,),
                            "BP3: the weights' gradients, for layers l = 1, …, %d%s%s" % (
                                depth, penalty, ", plus μ sign(W^(l)) for the L1 penalty" if network.l1 else ""),
                            tag=Shape(n_l, n_down)))
    if network.bias:
        bp4 = sympy.OneMatrix(N, 1).T * layer_matrix("delta", l, N, n_l)
        rows.append(EquationRow(sympy.Derivative(sympy.Symbol("E"), layer_matrix("b", l, 1, n_l)), (bp4,),
                                "BP4: the biases' gradients, the column sums of the error terms", tag=Shape(1, n_l)))
    return rows


def _softmax_delta(network, L: int, n_L: sympy.Symbol) -> sympy.Expr:
    """δ^(L) for a softmax output: A − T where the output error term reduces to it, else entry by entry
    δ_{n,j} = A_{n,j} (∂E/∂A_{n,j} − Σ_k A_{n,k} ∂E/∂A_{n,k}) (each output depends on every net input)."""
    A, T = layer_matrix("A", L, N, n_L), sympy.MatrixSymbol("T", N, n_L)
    if output_delta(network.activations[-1], network.loss).matched:
        return A - T
    entries = sympy.IndexedBase("A%d" % L)
    n, j, k = sympy.symbols("n j k", integer=True)
    E = sympy.Symbol("E")
    return entries[n, j] * (sympy.Derivative(E, entries[n, j]) - sympy.Sum(
        entries[n, k] * sympy.Derivative(E, entries[n, k]), (k, 0, n_L - 1)))


def this_network(derivation: SymbolicDerivation, notation: Notation) -> list:
    """What ∂E/∂A^(L) and each g′ are in this network, entry by entry (``sympy.diff`` of its records)."""
    network = derivation.network
    depth = network.depth
    rows, found = [], output_delta(network.activations[-1], network.loss)
    if network.activations[-1].elementwise:
        upstream = derivation.chain_rule.pieces[depth].upstream
        rows.append(EquationRow(sympy.Derivative(notation.E, notation.A(depth)), (upstream,)))
    for layer, activation in enumerate(network.activations, start=1):
        if activation.elementwise:
            Z, A = notation.Z(layer), notation.A(layer)
            rows.append(EquationRow(sympy.Function("g'(%d)" % layer)(Z), (in_output(activation, Z, A),)))
    sizes = [sympy.Eq(size, width, evaluate=False) for size, width in zip(notation.sizes, network.sizes)]
    parts = ["In this network, L = %d and " % depth]
    for position, size in enumerate(sizes):
        parts += [", " if position else "", size]
    names = ", ".join("%s in %s" % (a.name if len(a.name) <= 16 else "a custom activation", layer_list(layers))
                      for a, layers in activation_layers(network).items())
    parts.append("; the activations are %s, and entry by entry (n an example, j a unit):" % names)
    blocks = [paragraph(*parts), Equations(tuple(rows))]
    for activation, layers in activation_layers(network).items():  # where a g′ above has a kink, say so here too
        note = kink_note(activation, notation.Z(layers[0]))
        blocks += [note] if note else []
    if found.assumption is not None:
        blocks.append(paragraph("BP1 reads A − T because the rows of T sum to one (one-hot labels or "
                                "probabilities).", note=True))
    return blocks


def four_equations_box(derivation: SymbolicDerivation, notation: Notation) -> Box:
    """The box: the four equations with their shapes, and what they are in this network."""
    Z = layer_matrix("Z", "l", N, layer_size("l"))
    intro = paragraph(
        "For a batch of N examples as matrices whose rows are the examples (", sympy.Eq(
            layer_matrix("A", 0, N, layer_size(0)), sympy.MatrixSymbol("X", N, layer_size(0)), evaluate=False),
        "): ⊙ multiplies entry by entry, ", sympy.OneMatrix(N, 1), " is a column of N ones, ", _applied("g'", "l", Z),
        " is the derivative of layer l's activation at every entry of ", Z, ", and the shape of each result is at its "
        "right.")
    return Box("Backpropagation in four equations (BP1–BP4)", (intro, Equations(tuple(four_equations(
        derivation)))) + tuple(this_network(derivation, notation)))


def box_section(derivation: SymbolicDerivation, notation: Notation, again: bool = False) -> Section:
    """The box as a section: near the top, or (``again``) at the end."""
    if again:
        return Section("four-equations-again", "Summary: the four equations", [
            paragraph("Everything above in four lines: the same box as at the start."),
            four_equations_box(derivation, notation)])
    return Section("four-equations", "Backpropagation in four equations", [
        paragraph("The whole algorithm, for this network: first the error term of the output layer (BP1), then "
                  "each layer's from the one above (BP2), then every gradient from its layer's error term (BP3, "
                  "BP4). The sections below derive each line, first as the lecture does, with scalars, then for "
                  "whole arrays."),
        four_equations_box(derivation, notation)])
