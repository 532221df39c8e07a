"""Backpropagation derived by ``sympy.diff``: the chain rule applied to layer-local expressions.

This is reverse-mode differentiation done symbolically, at the level of
indices, exactly as the lecture does it by hand.  Every factor is a
``sympy.diff`` of one layer-local expression of :mod:`derive.symbolic.layers` with
respect to one ``Indexed`` entry; the chain rule multiplies the factors and
sums over the entries in between; :func:`derive.symbolic.sums.collapse_deltas` sums out
the ``KroneckerDelta`` that each factor carries.  For a network of depth L:

1. output layer:  ``dE/dA_L[n, j] = diff(E, A_L[n, j])`` (the lecture's dE/do; of E only the data
   term depends on A_L, so that is what is differentiated),
   ``dA_L[n', k']/dZ_L[n, j] = diff(A_L[n', k'], Z_L[n, j])`` (do/dnet), and
   ``delta_L[n, j] = Sum_{n', k'} dE/dA_L[n', k'] * dA_L[n', k']/dZ_L[n, j]``;
2. each layer l, from L down:
   ``dE/dW_l[j, i] = Sum_{n', k'} delta_l[n', k'] * diff(Z_l[n', k'], W_l[j, i])``
   plus ``diff(E, W_l[j, i])`` (of E only the penalty depends on W_l directly: the data term is
   written in A_L),
   and the same for ``b_l[j]``;
3. the layer below:
   ``dE/dA_{l-1}[n, j] = Sum_{n', k'} delta_l[n', k'] * diff(Z_l[n', k'], A_{l-1}[n, j])``
   and ``delta_{l-1}[n, j] = Sum_{n', j'} dE/dA_{l-1}[n', j'] * diff(A_{l-1}[n', j'], Z_{l-1}[n, j])``.

Sums over the example n' collapse too: that examples do not interact is
derived (``diff(Z[n', k], A[n, j])`` carries ``KroneckerDelta(n, n')``), not
assumed.  The sizes stay symbols throughout, so the work does not depend on
the widths.  Each step is recorded as a labelled ``Eq`` (:class:`Step`).

Written forms (what code generators and readers can rely on):

* ``delta_L`` in ``A_L[n, .]``, ``Z_L[n, .]``, ``T[n, .]``: the forward value
  ``g(Z_L)`` is written ``A_L`` wherever it appears (``A(1 - A)`` for sigmoid),
  then the shortest of the collapsed form and its ``factor`` is kept; a sum
  that remains (softmax) runs over ``m``; reduction ``"mean"`` puts its ``1/N`` here;
* ``delta_l`` (l < L) = ``g_l'(.) * Sum(W_{l+1}[k, j] * delta_{l+1}[n, k], (k, 0, n_{l+1} - 1))``,
  g' as ``sympy.diff`` gives it, with ``g_l(Z_l)`` written ``A_l`` where it appears;
* ``dE/dW_l[j, i] = Sum(delta_l[n, j] * A_{l-1}[n, i], (n, 0, N - 1)) + lambda*W_l[j, i] + mu*sign(W_l[j, i])``;
  ``dE/db_l[j] = Sum(delta_l[n, j], (n, 0, N - 1))``.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property
from typing import Callable, NamedTuple

import sympy
from sympy import Derivative, Dummy, Eq, Sum

from .indices import fresh_index, readable_index, rename_bound
from .layers import back_substitute, data_loss, layer_output, net_input, penalty
from derive.model.network import Network
from .sums import collapse_deltas, factor_sums, pull_out_deltas
from .symbols import E, N, activations, biases, deltas, i, j, k, m, n, preactivations, size, weights


class Step(NamedTuple):
    """One step of the derivation: ``label`` says what ``equation`` is; ``layer`` is the layer it belongs to."""

    label: str
    equation: sympy.Eq
    layer: int


class Pieces(NamedTuple):
    """The factors layer l's delta was built from, kept so that variants can rebuild it with one changed.

    ``delta_l = Sum(upstream[example, unit] * jacobian, ...)`` collapsed, where
    ``upstream`` is dE/dA_l[n, j] (free n, j) and ``jacobian`` is
    dA_l[example, unit]/dZ_l[n, j] written in A_l where possible; ``raw`` is
    the same Jacobian as ``sympy.diff`` gave it, in Z_l.
    """

    upstream: sympy.Expr
    jacobian: sympy.Expr
    raw: sympy.Expr
    example: Dummy
    unit: Dummy


class ChainRule:
    """Runs the derivation for one network; results in :attr:`deltas`, :attr:`gradients`, :attr:`steps`.

    The factors of each result stay available for :mod:`derive.symbolic.variants`:
    :attr:`pieces` (per layer, what its delta was built from), :attr:`data_terms`
    and :attr:`penalty_terms` (per parameter, the two parts of its gradient).

    Args:
        network: The network to derive.
    """

    def __init__(self, network: Network):
        self.network = network
        self.steps: list[Step] = []
        self.deltas: dict[int, sympy.Expr] = {}
        self.gradients: dict[str, sympy.Expr] = {}
        self.pieces: dict[int, Pieces] = {}
        self.data_terms: dict[str, sympy.Expr] = {}
        self.penalty_terms: dict[str, sympy.Expr] = {}
        depth, loss = network.depth, network.loss
        self.deltas[depth], self.pieces[depth] = self._piece(
            ("output delta", depth, _definition(network.activations[-1]), (loss.name, loss.expression),
             network.reduction), self._output_delta)
        for layer in range(depth, 0, -1):
            gradients, data_terms, penalty_terms = self._piece(
                ("gradients", layer, network.bias, network.weight_decay, network.l1),
                lambda: self._parameter_gradients(layer))
            self.gradients.update(gradients)
            self.data_terms.update(data_terms)
            self.penalty_terms.update(penalty_terms)
            if layer > 1:
                self.deltas[layer - 1], self.pieces[layer - 1] = self._piece(
                    ("hidden delta", layer - 1, _definition(network.activations[layer - 2])),
                    lambda: self._hidden_delta(layer - 1))

    def _piece(self, key: tuple, build: Callable):
        """``build()`` (which records its steps and returns its results), done once per ``key`` in this process.

        Each piece of the chain rule depends on a few facts of the network
        only (the key): the output delta on the depth, the output activation,
        the loss and the reduction; a hidden delta on its layer and
        activation; a layer's gradients on its index, the bias and the
        penalties.  Networks that share a piece share its SymPy work; its
        recorded steps are replayed in order.
        """
        found = _PIECES.get(key)
        if found is None:
            first = len(self.steps)
            value = build()
            found = _PIECES[key] = (tuple(self.steps[first:]), value)
            while len(_PIECES) > PIECES_KEPT:
                _PIECES.popitem(last=False)
        else:
            _PIECES.move_to_end(key)
            self.steps.extend(found[0])
        return found[1]

    @cached_property
    def _data_loss(self) -> sympy.Expr:
        """The data term of E, summation indices fresh: all of E that depends on A_L."""
        return rename_bound(data_loss(self.network), fresh_index)

    @cached_property
    def _penalty(self) -> sympy.Expr:
        """The weight-decay term of E, summation indices fresh: all of E that depends on the weights directly."""
        return rename_bound(penalty(self.network), fresh_index)

    def _record(self, layer: int, label: str, lhs: sympy.Expr, rhs: sympy.Expr) -> None:
        self.steps.append(Step(label, Eq(lhs, rename_bound(rhs, readable_index()), evaluate=False), layer))

    def combine(self, layer: int, upstream: sympy.Expr, jacobian: sympy.Expr, example: Dummy,
                unit: Dummy) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
        """delta_l from its two factors: ``(chain, collapsed, delta)``, the chain-rule sum, summed out, simplified.

        Args:
            layer: l.
            upstream: dE/dA_l[n, j].
            jacobian: dA_l[example, unit]/dZ_l[n, j].
            example, unit: The Jacobian's summation indices.
        """
        chain = Sum(upstream.xreplace({n: example, j: unit}) * jacobian, (unit, 0, size(layer) - 1),
                    (example, 0, N - 1))
        collapsed = collapse_deltas(chain)
        if layer == self.network.depth:
            delta = rename_bound(shortest(back_substitute(collapsed, self.network, layer)), readable_index(m, k, i))
        else:
            delta = rename_bound(back_substitute(collapsed, self.network, layer), readable_index(k, m, i))
        return chain, collapsed, delta

    def _output_delta(self) -> tuple[sympy.Expr, Pieces]:
        """delta_L = dE/dZ_L: the loss derivative through the output activation."""
        L = self.network.depth
        A, Z = activations(L), preactivations(L)
        example, unit = _dummies("n k")
        dE_dA = collapse_deltas(sympy.diff(self._data_loss, A[n, j]))
        self._record(L, "dE/dA%d: derivative of the loss (dE/do)" % L, Derivative(E, A[n, j]), dE_dA)
        raw, dA_dZ = jacobian_factors(self.network, L, example, unit)
        self._record(L, "dA%d/dZ%d: derivative of the activation (do/dnet)" % (L, L),
                     Derivative(A[n, k], Z[n, j]), dA_dZ.xreplace({example: n, unit: k}))
        chain, collapsed, simplified = self.combine(L, dE_dA, dA_dZ, example, unit)
        self._record(L, "delta%d = dE/dZ%d by the chain rule" % (L, L), deltas(L)[n, j], chain)
        self._record(L, "delta%d with the deltas summed out" % L, deltas(L)[n, j], collapsed)
        if simplified != rename_bound(collapsed, readable_index()):
            self._record(L, "delta%d simplified" % L, deltas(L)[n, j], simplified)
        return simplified, Pieces(dE_dA, dA_dZ, raw, example, unit)

    def _parameter_gradients(self, layer: int) -> tuple[dict, dict, dict]:
        """dE/dW_l[j, i] and dE/db_l[j] from delta_l and the net input's derivatives; with their two terms each."""
        gradients, data_terms, penalty_terms = {}, {}, {}
        parameters = [("W%d" % layer, weights(layer)[j, i])]
        if self.network.bias:
            parameters.append(("b%d" % layer, biases(layer)[j]))
        example, unit = _dummies("n k")
        net = rename_bound(net_input(self.network, layer, example, unit), fresh_index)
        for name, entry in parameters:
            dZ = collapse_deltas(sympy.diff(net, entry))
            self._record(layer, "dZ%d/d%s: derivative of the net input (dnet/d%s)" % (layer, name, name[0].lower()),
                         Derivative(preactivations(layer)[n, k], entry), dZ.xreplace({example: n, unit: k}))
            direct = collapse_deltas(sympy.diff(self._penalty, entry))
            through_delta = Sum(deltas(layer)[example, unit] * dZ, (unit, 0, size(layer) - 1), (example, 0, N - 1))
            chain = through_delta + direct
            self._record(layer, "dE/d%s by the chain rule" % name, Derivative(E, entry), chain)
            gradient = rename_bound(collapse_deltas(chain), readable_index(n, k, m))
            self._record(layer, "dE/d%s" % name, Derivative(E, entry), gradient)
            gradients[name] = gradient
            data_terms[name] = rename_bound(collapse_deltas(through_delta), readable_index(n, k, m))
            penalty_terms[name] = direct
        return gradients, data_terms, penalty_terms

    def _hidden_delta(self, layer: int) -> tuple[sympy.Expr, Pieces]:
        """delta_l from delta_{l+1}: back through the next layer's weights, then through g_l."""
        above = layer + 1
        A = activations(layer)
        example, unit, inner = _dummies("n k j")
        net = rename_bound(net_input(self.network, above, example, unit), fresh_index)
        dZ_dA = collapse_deltas(sympy.diff(net, A[n, j]))
        self._record(above, "dZ%d/dA%d: how the next layer's net input depends on this output" % (above, layer),
                     Derivative(preactivations(above)[n, k], A[n, j]), dZ_dA.xreplace({example: n, unit: k}))
        dE_dA = collapse_deltas(Sum(deltas(above)[example, unit] * dZ_dA,
                                    (unit, 0, size(above) - 1), (example, 0, N - 1)))
        self._record(layer, "dE/dA%d: error arriving from layer %d" % (layer, above), Derivative(E, A[n, j]), dE_dA)
        raw, dA_dZ = jacobian_factors(self.network, layer, example, inner)
        self._record(layer, "dA%d/dZ%d: derivative of the activation" % (layer, layer),
                     Derivative(A[n, k], preactivations(layer)[n, j]), dA_dZ.xreplace({example: n, inner: k}))
        chain, _, delta = self.combine(layer, dE_dA, dA_dZ, example, inner)
        self._record(layer, "delta%d = dE/dZ%d by the chain rule" % (layer, layer), deltas(layer)[n, j], chain)
        self._record(layer, "delta%d" % layer, deltas(layer)[n, j], delta)
        return delta, Pieces(dE_dA, dA_dZ, raw, example, inner)


def jacobian_factors(network: Network, layer: int, example: Dummy, unit: Dummy) -> tuple[sympy.Expr, sympy.Expr]:
    """``diff(A_l[example, unit], Z_l[n, j])``, collapsed: as ``sympy.diff`` gave it, and in terms of A_l."""
    # Only softmax's normalising sum has a bound index (m), never a free index of the derivation.
    output = layer_output(network, layer, example, unit)
    derivative = pull_out_deltas(collapse_deltas(sympy.diff(output, preactivations(layer)[n, j])))
    return derivative, back_substitute(derivative, network, layer)


def jacobian(network: Network, layer: int, example: Dummy, unit: Dummy) -> sympy.Expr:
    """``diff(A_l[example, unit], Z_l[n, j])``, collapsed and in terms of A_l where possible."""
    return jacobian_factors(network, layer, example, unit)[1]


def output_chain(network: Network, upstream: sympy.Expr) -> sympy.Expr:
    """``Sum_{n', k'} upstream[n', k'] * dA_L[n', k']/dZ_L[n, j]``: a dE/dA_L (free n, j) carried back through g_L.

    The same chain rule as delta_L's, for any upstream: the Gauss-Newton
    product sends the loss's curvature back this way.
    """
    L = network.depth
    example, unit = _dummies("n k")
    chain = Sum(upstream.xreplace({n: example, j: unit}) * jacobian(network, L, example, unit),
                (unit, 0, size(L) - 1), (example, 0, N - 1))
    return rename_bound(shortest(back_substitute(collapse_deltas(chain), network, L)), readable_index(m, k, i))


#: Pieces already derived in this process (see :meth:`ChainRule._piece`), least recently used first.
_PIECES: OrderedDict = OrderedDict()
PIECES_KEPT = 4096


def clear_pieces() -> None:
    """Forget the pieces derived so far (see :meth:`ChainRule._piece`)."""
    _PIECES.clear()


def _definition(activation) -> tuple:
    """What an activation's derivative depends on: its name and SymPy definition (two may share a name)."""
    return (activation.name, activation.expression if activation.elementwise else None)


def _dummies(names: str) -> tuple[Dummy, ...]:
    return tuple(Dummy(name, integer=True, nonnegative=True) for name in names.split())


def shortest(expr: sympy.Expr) -> sympy.Expr:
    """The shortest (by operation count) of ``expr``, its sums factored, and its ``factor``."""
    candidates = [expr, factor_sums(expr)]
    try:
        candidates.append(sympy.factor(candidates[-1]))
    except sympy.PolynomialError:  # a custom activation SymPy cannot factor through: keep the others
        pass
    return min(candidates, key=sympy.count_ops)
