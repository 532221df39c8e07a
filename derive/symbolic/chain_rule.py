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

from derive.model.network import Network

from .indices import fresh_index, readable_index, rename_bound
from .layers import back_substitute, data_loss, net_input, penalty
from .local_derivatives import clear_factors, definition_key, derived_jacobian, derived_once, dummies, shortest
from .sums import collapse_deltas
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

    Each piece of the chain rule (the output delta, a hidden delta, a layer's
    gradients) is derived once per process for what it depends on, at the
    layer numbers of a small stand-in network, and renumbered to its layer
    here (:func:`_piece`): the output delta of a tanh/sse network is the same
    derivation at depth 1, 2 or 3.

    Args:
        network: The network to derive.
    """

    def __init__(self, network: Network):
        self.network = network
        self._taken: list[tuple[_Derived, Relabeling]] = []
        self.deltas: dict[int, sympy.Expr] = {}
        self.gradients: dict[str, sympy.Expr] = {}
        self.pieces: dict[int, Pieces] = {}
        self.data_terms: dict[str, sympy.Expr] = {}
        self.penalty_terms: dict[str, sympy.Expr] = {}
        depth = network.depth
        self.deltas[depth], self.pieces[depth] = self._take(_output_delta_piece(network), {1: depth})
        for layer in range(depth, 0, -1):
            gradients, data_terms, penalty_terms = self._take(_gradients_piece(network), {0: layer - 1, 1: layer})
            self.gradients.update(gradients)
            self.data_terms.update(data_terms)
            self.penalty_terms.update(penalty_terms)
            if layer > 1:
                self.deltas[layer - 1], self.pieces[layer - 1] = self._take(
                    _hidden_delta_piece(network.activations[layer - 2]), {1: layer - 1, 2: layer})

    def _take(self, piece: "_Derived", layers: dict[int, int]):
        """A piece's value renumbered to ``layers`` (stand-in layer -> this network's); its steps kept for
        :attr:`steps`.

        Renumbered once per piece and layers in this process: many networks
        have the same piece at the same layer.
        """
        relabel = Relabeling(layers)
        self._taken.append((piece, relabel))
        key = (piece.key, tuple(sorted(layers.items())))
        if key not in _RENUMBERED:
            _RENUMBERED[key] = relabel.value(piece.value)
            while len(_RENUMBERED) > PIECES_KEPT:
                _RENUMBERED.pop(next(iter(_RENUMBERED)))
        return _RENUMBERED[key]

    @cached_property
    def steps(self) -> tuple[Step, ...]:
        """The labelled steps, in order, renumbered when first read (generated code needs only the results)."""
        return tuple(Step(label.format(*relabel.numbers), relabel(equation), relabel.numbers[layer])
                     for piece, relabel in self._taken for label, equation, layer in piece.steps)

    def combine(self, layer: int, upstream: sympy.Expr, jacobian: sympy.Expr, example: Dummy,
                unit: Dummy) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
        """delta_l from its two factors: ``(chain, collapsed, delta)``, the chain-rule sum, summed out, simplified.

        Args:
            layer: l.
            upstream: dE/dA_l[n, j].
            jacobian: dA_l[example, unit]/dZ_l[n, j].
            example, unit: The Jacobian's summation indices.
        """
        return combine(self.network, layer, upstream, jacobian, example, unit)


def combine(network: Network, layer: int, upstream: sympy.Expr, jacobian: sympy.Expr, example: Dummy,
            unit: Dummy) -> tuple[sympy.Expr, sympy.Expr, sympy.Expr]:
    """:meth:`ChainRule.combine` for layer ``layer`` of ``network``."""
    chain = Sum(upstream.xreplace({n: example, j: unit}) * jacobian, (unit, 0, size(layer) - 1),
                (example, 0, N - 1))
    collapsed = collapse_deltas(chain)
    if layer == network.depth:
        delta = rename_bound(shortest(back_substitute(collapsed, network, layer)), readable_index(m, k, i))
    else:
        delta = rename_bound(back_substitute(collapsed, network, layer), readable_index(k, m, i))
    return chain, collapsed, delta


class _Derived(NamedTuple):
    """A piece as derived on its stand-in network: ``steps`` as ``(label, equation, layer)`` with the labels'
    layer numbers as format fields (``"dE/dA{1}"``), its ``value``, and the ``key`` it is kept under."""

    steps: tuple
    value: object
    key: tuple


class Relabeling:
    """Renumbers the layers of a piece: every array and width of layer c becomes that of layer ``layers[c]``.

    A renaming of symbols (``A1`` -> ``A3``, ``n_1`` -> ``n_3``), done by one
    ``xreplace``; the derivation itself is SymPy's, on the stand-in.
    """

    def __init__(self, layers: dict[int, int]):
        self.numbers = [layers.get(c, c) for c in range(max(layers) + 1)]
        self.symbols = {}
        for old, new in layers.items():
            if old != new:
                self.symbols.update({of(old): of(new) for of in (activations, preactivations, weights, biases,
                                                                  deltas, size)})

    def __call__(self, expr):
        return expr.xreplace(self.symbols) if self.symbols else expr

    def value(self, value):
        """A piece's value renumbered: expressions, and the keys of dicts by parameter name (``W1`` -> ``W3``)."""
        if isinstance(value, sympy.Basic):
            return self(value)
        if isinstance(value, dict):
            return {self.name(key): self.value(item) for key, item in value.items()}
        if isinstance(value, Pieces):
            return value._replace(upstream=self(value.upstream), jacobian=self(value.jacobian), raw=self(value.raw))
        return type(value)(self.value(item) for item in value)

    def name(self, parameter: str) -> str:
        return "%s%d" % (parameter[0], self.numbers[int(parameter[1:])])


def _output_delta_piece(network: Network) -> _Derived:
    """delta_L depends on the output activation, the loss and the reduction: derived at depth 1."""
    output, loss = network.activations[-1], network.loss
    return _piece(("output delta", definition_key(output), (loss.name, loss.expression), network.reduction),
                  lambda: Network((1, 1), activation=[output], loss=loss, reduction=network.reduction, bias=False),
                  lambda recorder: recorder.output_delta())


def _hidden_delta_piece(activation) -> _Derived:
    """A hidden delta depends on its layer's activation only: derived for layer 1 of a depth-2 network."""
    return _piece(("hidden delta", definition_key(activation)),
                  lambda: Network((1, 1, 1), activation=[activation, "linear"], bias=False),
                  lambda recorder: recorder.hidden_delta(1))


def _gradients_piece(network: Network) -> _Derived:
    """A layer's gradients depend on the bias and the penalties only: derived for layer 1."""
    return _piece(("gradients", network.bias, network.weight_decay, network.l1),
                  lambda: Network((1, 1), activation="linear", bias=network.bias,
                                  weight_decay=network.weight_decay, l1=network.l1),
                  lambda recorder: recorder.parameter_gradients(1))


def _piece(key: tuple, stand_in: Callable[[], Network], build: Callable) -> _Derived:
    """``build(recorder)`` on the stand-in network, done once per ``key`` in this process.

    Each piece of the chain rule depends on a few facts of the network only
    (the key): the output delta on the output activation, the loss and the
    reduction; a hidden delta on its activation; a layer's gradients on the
    bias and the penalties.  Networks that share a piece, at any depth and
    layer, share its SymPy work; its recorded steps are replayed in order.
    """
    found = _PIECES.get(key)
    if found is None:
        recorder = _Recorder(stand_in())
        value = build(recorder)
        found = _PIECES[key] = _Derived(tuple(recorder.records), value, key)
        while len(_PIECES) > PIECES_KEPT:
            _PIECES.popitem(last=False)
    else:
        _PIECES.move_to_end(key)
    return found


class _Recorder:
    """The chain rule's steps on one (stand-in) network, each recorded with its label's layers as format fields."""

    def __init__(self, network: Network):
        self.network = network
        self.records: list[tuple[str, sympy.Eq, int]] = []

    @cached_property
    def _data_loss(self) -> sympy.Expr:
        """The data term of E, summation indices fresh: all of E that depends on A_L."""
        return rename_bound(data_loss(self.network), fresh_index)

    @cached_property
    def _penalty(self) -> sympy.Expr:
        """The weight-decay term of E, summation indices fresh: all of E that depends on the weights directly."""
        return rename_bound(penalty(self.network), fresh_index)

    def _record(self, layer: int, label: str, lhs: sympy.Expr, rhs: sympy.Expr) -> None:
        self.records.append((label, Eq(lhs, rename_bound(rhs, readable_index()), evaluate=False), layer))

    def output_delta(self) -> tuple[sympy.Expr, Pieces]:
        """delta_L = dE/dZ_L: the loss derivative through the output activation."""
        L = self.network.depth
        A, Z = activations(L), preactivations(L)
        example, unit = dummies("n k")
        dE_dA = derived_once(("loss derivative", self.network.loss.name, self.network.loss.expression, self.network.reduction,
                         L), lambda: collapse_deltas(sympy.diff(self._data_loss, A[n, j])))
        self._record(L, "dE/dA{%d}: derivative of the loss (dE/do)" % L, Derivative(E, A[n, j]), dE_dA)
        raw, dA_dZ = derived_jacobian(self.network, L, example, unit)
        self._record(L, "dA{%d}/dZ{%d}: derivative of the activation (do/dnet)" % (L, L),
                     Derivative(A[n, k], Z[n, j]), dA_dZ.xreplace({example: n, unit: k}))
        chain, collapsed, simplified = combine(self.network, L, dE_dA, dA_dZ, example, unit)
        self._record(L, "delta{%d} = dE/dZ{%d} by the chain rule" % (L, L), deltas(L)[n, j], chain)
        self._record(L, "delta{%d} with the deltas summed out" % L, deltas(L)[n, j], collapsed)
        if simplified != rename_bound(collapsed, readable_index()):
            self._record(L, "delta{%d} simplified" % L, deltas(L)[n, j], simplified)
        return simplified, Pieces(dE_dA, dA_dZ, raw, example, unit)

    def parameter_gradients(self, layer: int) -> tuple[dict, dict, dict]:
        """dE/dW_l[j, i] and dE/db_l[j] from delta_l and the net input's derivatives; with their two terms each."""
        gradients, data_terms, penalty_terms = {}, {}, {}
        parameters = [("W", weights(layer)[j, i])]
        if self.network.bias:
            parameters.append(("b", biases(layer)[j]))
        example, unit = dummies("n k")
        net = rename_bound(net_input(self.network, layer, example, unit), fresh_index)
        for letter, entry in parameters:
            name, label = "%s%d" % (letter, layer), "%s{%d}" % (letter, layer)
            dZ = collapse_deltas(sympy.diff(net, entry))
            self._record(layer, "dZ{%d}/d%s: derivative of the net input (dnet/d%s)" % (layer, label, letter.lower()),
                         Derivative(preactivations(layer)[n, k], entry), dZ.xreplace({example: n, unit: k}))
            direct = collapse_deltas(sympy.diff(self._penalty, entry))
            through_delta = Sum(deltas(layer)[example, unit] * dZ, (unit, 0, size(layer) - 1), (example, 0, N - 1))
            chain = through_delta + direct
            self._record(layer, "dE/d%s by the chain rule" % label, Derivative(E, entry), chain)
            gradient = rename_bound(collapse_deltas(chain), readable_index(n, k, m))
            self._record(layer, "dE/d%s" % label, Derivative(E, entry), gradient)
            gradients[name] = gradient
            data_terms[name] = rename_bound(collapse_deltas(through_delta), readable_index(n, k, m))
            penalty_terms[name] = direct
        return gradients, data_terms, penalty_terms

    def hidden_delta(self, layer: int) -> tuple[sympy.Expr, Pieces]:
        """delta_l from delta_{l+1}: back through the next layer's weights, then through g_l."""
        above = layer + 1
        A = activations(layer)
        example, unit, inner = dummies("n k j")
        net = rename_bound(net_input(self.network, above, example, unit), fresh_index)
        dZ_dA = collapse_deltas(sympy.diff(net, A[n, j]))
        self._record(above, "dZ{%d}/dA{%d}: how the next layer's net input depends on this output" % (above, layer),
                     Derivative(preactivations(above)[n, k], A[n, j]), dZ_dA.xreplace({example: n, unit: k}))
        dE_dA = collapse_deltas(Sum(deltas(above)[example, unit] * dZ_dA,
                                    (unit, 0, size(above) - 1), (example, 0, N - 1)))
        self._record(layer, "dE/dA{%d}: error arriving from layer {%d}" % (layer, above), Derivative(E, A[n, j]),
                     dE_dA)
        raw, dA_dZ = derived_jacobian(self.network, layer, example, inner)
        self._record(layer, "dA{%d}/dZ{%d}: derivative of the activation" % (layer, layer),
                     Derivative(A[n, k], preactivations(layer)[n, j]), dA_dZ.xreplace({example: n, inner: k}))
        chain, _, delta = combine(self.network, layer, dE_dA, dA_dZ, example, inner)
        self._record(layer, "delta{%d} = dE/dZ{%d} by the chain rule" % (layer, layer), deltas(layer)[n, j], chain)
        self._record(layer, "delta{%d}" % layer, deltas(layer)[n, j], delta)
        return delta, Pieces(dE_dA, dA_dZ, raw, example, inner)


#: Pieces already derived in this process (see :func:`_piece`), least recently used first, and their values
#: renumbered to other layers (see :meth:`ChainRule._take`).
_PIECES: OrderedDict = OrderedDict()
_RENUMBERED: dict = {}
PIECES_KEPT = 4096


def clear_pieces() -> None:
    """Forget the pieces derived so far (see :func:`_piece`)."""
    _PIECES.clear()
    _RENUMBERED.clear()
    clear_factors()
