"""The network as index-level SymPy expressions, with symbolic sizes.

Everything here is written once for any widths: the sizes are the symbols
``n_0..n_L`` and ``N`` of :mod:`derive.symbolic.symbols`, so a 2-2-1 network and a
784-1000-10 network with the same activations, loss and options have the
same expressions.  For layer l (1..L), example n and unit j:

* net input    ``Z_l[n, j] = Sum(W_l[j, i] * A_{l-1}[n, i], (i, 0, n_{l-1} - 1)) + b_l[j]``;
* activation   ``A_l[n, j] = g_l(Z_l[n, j])``, or for softmax
  ``exp(Z_L[n, j]) / Sum(exp(Z_L[n, m]), (m, 0, n_L - 1))``;
* loss         ``E = Sum(l(A_L[n, k], T[n, k]), (k, 0, n_L - 1), (n, 0, N - 1))``
  (times ``1/N`` for reduction ``"mean"``, and ``1/n_L`` for a loss that averages over the
  output units), plus the penalty
  ``lambda/2 * Sum(W_l[j, i]**2) + mu * Sum(Abs(W_l[j, i]))`` over layers.

These are the layer-local expressions the chain rule differentiates
(:mod:`derive.symbolic.chain_rule`): each is a function of the previous layer's array
only, so ``A_{l-1}`` is a symbol of ``Z_l``, not the whole forward pass.
Their summation indices are the readable ``i``, ``k``, ``m``, ``n``;
the chain rule renames them to fresh ``Dummy`` indices before differentiating
(:func:`derive.symbolic.indices.rename_bound`), so that a summation index can
never be confused with a free index of the same name.
"""

from __future__ import annotations

import sympy
from sympy import Sum

from derive.model.network import Network
from .symbols import N, T, activations, biases, i, j, k, m, n, preactivations, size, weights


def coefficient(value: float) -> sympy.Rational:
    """A float coefficient as the exact rational it was written as (``0.01 -> 1/100``)."""
    return sympy.nsimplify(value, rational=True)


def net_input(network: Network, layer: int, example: sympy.Expr, unit: sympy.Expr) -> sympy.Expr:
    """``Z_l[example, unit]`` written out: the weighted sum of the previous layer plus the bias."""
    total = Sum(weights(layer)[unit, i] * activations(layer - 1)[example, i], (i, 0, size(layer - 1) - 1))
    return total + biases(layer)[unit] if network.bias else total


def layer_output(network: Network, layer: int, example: sympy.Expr, unit: sympy.Expr) -> sympy.Expr:
    """``A_l[example, unit]`` written out as the activation of ``Z_l``.

    Softmax's normalising sum runs over ``m`` (the activation registry names
    its index with a fresh ``Dummy``; it is renamed so that the same
    expression is built every time).
    """
    activation = network.activations[layer - 1]
    value = activation.vector_definition(preactivations(layer), example, unit, size(layer))
    bound = {limit[0]: m for total in value.atoms(Sum) for limit in total.limits}
    return value.xreplace(bound)


def data_loss(network: Network) -> sympy.Expr:
    """The loss summed over output units and examples (times 1/N for ``"mean"``, 1/n_L for ``mse``)."""
    output = activations(network.depth)
    per_unit = network.loss.sympy(output[n, k], T[n, k])
    total = Sum(per_unit, (k, 0, size(network.depth) - 1), (n, 0, N - 1))
    if network.loss.averages_outputs:
        total = total / size(network.depth)
    return total / N if network.reduction == "mean" else total


def penalty(network: Network, weight_decay: sympy.Expr | None = None, l1: sympy.Expr | None = None) -> sympy.Expr:
    """The weight-decay terms: ``lambda/2 * sum W**2 + mu * sum |W|`` over every layer's weights.

    ``weight_decay`` and ``l1``, when given, stand for the network's coefficients (a report keeps them as the
    symbols λ and μ); a penalty the network does not have stays out either way.
    """
    l2 = (weight_decay if weight_decay is not None else coefficient(network.weight_decay)) if network.weight_decay else 0
    l1 = (l1 if l1 is not None else coefficient(network.l1)) if network.l1 else 0
    terms = []
    for layer in range(1, network.depth + 1):
        limits = ((i, 0, size(layer - 1) - 1), (j, 0, size(layer) - 1))
        entry = weights(layer)[j, i]
        if l2:
            terms.append(l2 / 2 * Sum(entry**2, *limits))
        if l1:
            terms.append(l1 * Sum(sympy.Abs(entry), *limits))
    return sympy.Add(*terms)


def loss_expression(network: Network) -> sympy.Expr:
    """E: the data loss plus the penalty."""
    return data_loss(network) + penalty(network)


def forward_equations(network: Network) -> list[sympy.Eq]:
    """The forward pass, in order: ``Z_1``, ``A_1``, ..., ``Z_L``, ``A_L`` at example n, unit j."""
    equations = []
    for layer in range(1, network.depth + 1):
        equations.append(sympy.Eq(preactivations(layer)[n, j], net_input(network, layer, n, j), evaluate=False))
        equations.append(sympy.Eq(activations(layer)[n, j], layer_output(network, layer, n, j), evaluate=False))
    return equations


def back_substitute(expr: sympy.Expr, network: Network, layer: int) -> sympy.Expr:
    """Write ``g_l(Z_l[a, b])`` as ``A_l[a, b]`` wherever the forward value appears in ``expr``.

    ``sympy.diff`` of sigmoid gives ``sigmoid(Z)*(1 - sigmoid(Z))``; the forward
    pass has already computed ``sigmoid(Z)`` as ``A``, so the lecture writes
    ``o(1 - o)``.  The substitution is the definition of ``A_l`` read
    backwards, valid for any activation; where g' does not contain g (relu's
    ``Heaviside(Z)``), ``Z_l`` stays.
    """
    Z, A = preactivations(layer), activations(layer)
    entries = sorted({e for e in expr.atoms(sympy.Indexed) if e.base == Z}, key=sympy.default_sort_key)
    for entry in entries:
        value = layer_output(network, layer, *entry.indices)
        if value != entry:
            expr = expr.subs(value, A[entry.indices])
    return expr
