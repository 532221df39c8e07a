"""Plausible wrong derivations: this network's derivation with one step done the way a common backprop bug does it.

A hand-written gradient that disagrees with the reference is usually wrong in a
way a student would recognise: the activation's derivative left out of a δ,
``a(1 - a)`` evaluated at the net input ``z``, δ sent back through a weight
matrix without its transpose, the weight-decay term forgotten.  Each
:class:`Variant` is the network's own derivation with one such step changed,
rebuilt from the factors the chain rule kept
(:attr:`~derive.symbolic.chain_rule.ChainRule.pieces`, ``data_terms``,
``penalty_terms``) by the same :meth:`~derive.symbolic.chain_rule.ChainRule.combine`
that built the right one: no formula of a particular activation is written
here.  A variant reads like a derivation (``network``, ``forward_equations``,
``loss``, ``delta(l)``, ``gradient(name)``), so the code generator prints it
(:meth:`derive.Derivation.variant_module`); :mod:`verify.check.diagnosis`
compares a user's numbers with the printed variants.

Kinds, for layer l:

``missing_derivative``
    ``delta_l = dE/dA_l``: the factor ``dA_l/dZ_l`` (the activation's
    derivative) left out.
``derivative_at_preactivation``
    ``dA_l/dZ_l`` written in ``A_l`` (``A(1 - A)``, ``1 - A**2``) but
    evaluated at ``Z_l`` (``Z(1 - Z)``).
``derivative_of_activation``
    ``g'`` as ``sympy.diff`` gives it, in ``Z_l`` (``sigmoid(Z)(1 - sigmoid(Z))``),
    applied to ``A_l`` instead.
``untransposed_weights``
    the error sent back through ``W_{l+1}[j, k]`` instead of ``W_{l+1}[k, j]``
    (only where ``n_l = n_{l+1}``: otherwise the shapes do not fit and the
    user's code would have failed).
``wrong_layer_weights``
    the error sent back through ``W_l`` instead of ``W_{l+1}`` (only where
    ``n_{l-1} = n_l = n_{l+1}``).
``penalty_missing``, ``penalty_doubled``
    every weight gradient without its penalty term (``lambda W``,
    ``mu sign(W)``), or with it twice.
``jacobian_diagonal``
    a vector activation's (softmax's) derivative taken elementwise: only the
    diagonal ``dA_l[n, j]/dZ_l[n, j]`` of its Jacobian, the off-diagonal
    terms (each output depends on every net input) left out.
``derivative_at_other_layer``
    ``dA_l/dZ_l`` evaluated at a neighbouring layer's values ``A_m``, ``Z_m``
    (m = l - 1 or l + 1; the inputs X for m = 0): an index off by one in a loop
    over layers (only where ``n_l = n_m``).
``matched_output_delta``
    the output delta of the loss made for the output activation (softmax with
    cross-entropy, a sigmoid with binary cross-entropy: ``A - T``) used with
    another loss, derived by the same chain rule for that loss.

A variant of ``delta_l`` changes only that delta: the deltas below it are
written in terms of ``delta_l``, so the printed code carries the change down to
every layer under l, as the user's code would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy
from sympy import Indexed, KroneckerDelta

from .chain_rule import ChainRule, Pieces
from .indices import readable_index, rename_bound
from derive.model.registry import LOSSES

from .symbols import activations, j, k, m, n, preactivations, weights

KINDS = ("missing_derivative", "derivative_at_preactivation", "derivative_of_activation", "jacobian_diagonal",
         "derivative_at_other_layer", "matched_output_delta", "untransposed_weights", "wrong_layer_weights",
         "penalty_missing", "penalty_doubled")


@dataclass(frozen=True, eq=False)
class Variant:
    """The derivation of :attr:`base` with one step changed.

    Attributes:
        kind: One of :data:`KINDS`.
        layer: The layer whose delta changed (None for the penalty kinds).
        base: The right derivation.
        deltas: The changed deltas, by layer (the others are the base's).
        gradients: The changed gradients, by parameter name.
        derived: The piece as derived (the factor ``A2*(1 - A2)``, the propagation
            sum, the penalty term), for explanations.
        used: What the variant uses instead (None when the piece is left out).
        equal_sizes: Layers whose widths must be equal for the variant to exist.
        other: What the variant uses that belongs elsewhere: the layer whose values
            ``derivative_at_other_layer`` reads, the loss whose delta ``matched_output_delta`` uses.
    """

    kind: str
    layer: int | None
    base: object = field(repr=False)
    deltas: dict = field(default_factory=dict, repr=False)
    gradients: dict = field(default_factory=dict, repr=False)
    derived: sympy.Expr | None = None
    used: sympy.Expr | None = None
    equal_sizes: tuple[int, ...] = ()
    other: object = None

    @property
    def network(self):
        return self.base.network

    @property
    def forward_equations(self):
        return self.base.forward_equations

    @property
    def loss(self):
        return self.base.loss

    @property
    def depth(self) -> int:
        return self.base.depth

    def delta(self, layer: int) -> sympy.Expr:
        """delta_l of this variant."""
        return self.deltas[layer] if layer in self.deltas else self.base.delta(layer)

    def gradient(self, name: str) -> sympy.Expr:
        """dE/d(name) of this variant."""
        return self.gradients[name] if name in self.gradients else self.base.gradient(name)

    def applies(self, sizes) -> bool:
        """Whether the variant's arrays have compatible shapes at these concrete widths."""
        return len({sizes[layer] for layer in self.equal_sizes}) <= 1

    @property
    def key(self) -> str:
        """``missing_derivative@2``: kind and layer (and what else it uses: ``derivative_at_other_layer@2:3``)."""
        key = self.kind if self.layer is None else "%s@%d" % (self.kind, self.layer)
        if isinstance(self.other, tuple) and self.other[1] == 0:  # one slip in every (hidden) layer
            return "%s:%s" % (key, self.other[0].replace(" ", "-"))
        if isinstance(self.other, tuple):  # every hidden layer's derivative at a neighbour's values
            return "%s:all%+d" % (key, self.other[1])
        return key if self.other is None else "%s:%s" % (key, self.other)


def variants(derivation) -> tuple[Variant, ...]:
    """Every variant of ``derivation`` (a :class:`~derive.symbolic.symbolic_derivation.SymbolicDerivation`), output layer first.

    A variant whose changed piece comes out identical to the derived one (the
    linear activation has no derivative to leave out) is not listed.
    """
    rule, network = derivation.chain_rule, derivation.network
    found: list[Variant] = []
    for layer in range(network.depth, 0, -1):
        pieces = rule.pieces[layer]
        elementwise = network.activations[layer - 1].elementwise
        derived = _factor(pieces.jacobian, pieces, elementwise)
        if derived != 1:
            found.append(Variant("missing_derivative", layer, derivation, {layer: _renamed(pieces.upstream)},
                                 derived=derived))
        at_z = _rebased(pieces.jacobian, activations(layer), preactivations(layer))
        if at_z != pieces.jacobian:
            found.append(_recombined(rule, derivation, "derivative_at_preactivation", layer, pieces, at_z, elementwise))
        of_a = _rebased(pieces.raw, preactivations(layer), activations(layer))
        if elementwise and of_a != pieces.raw:
            found.append(_recombined(rule, derivation, "derivative_of_activation", layer, pieces, of_a, elementwise,
                                     derived=_factor(pieces.raw, pieces, elementwise)))
        if not elementwise:
            diagonal = pieces.jacobian.xreplace({pieces.unit: j}) * KroneckerDelta(pieces.unit, j)
            found.append(_recombined(rule, derivation, "jacobian_diagonal", layer, pieces, diagonal, elementwise))
        found += _other_layer_variants(rule, derivation, layer, pieces, elementwise)
        if layer == network.depth:
            found += _matched_output_delta(derivation, pieces)
        if layer < network.depth:
            found += _propagation_variants(derivation, layer)
    found += _loop_variants(rule, derivation) + _every_layer_variants(derivation, found)
    found = _distinct(found)
    penalised = {name: term for name, term in rule.penalty_terms.items() if term != 0}
    if penalised:
        term = next(iter(penalised.values()))
        for kind, times in (("penalty_missing", 0), ("penalty_doubled", 2)):
            changed = {name: rule.data_terms[name] + times * penalty for name, penalty in penalised.items()}
            found.append(Variant(kind, None, derivation, gradients=changed, derived=term, used=times * term))
        if network.weight_decay and network.l1:  # one of two penalties left out or doubled: each on its own
            for which, is_l1 in (("l1", True), ("weight_decay", False)):
                part = {name: sympy.Add(*[a for a in sympy.Add.make_args(penalty) if a.has(sympy.sign) == is_l1])
                        for name, penalty in penalised.items()}
                for kind, times in (("penalty_missing", 0), ("penalty_doubled", 2)):
                    changed = {name: rule.data_terms[name] + penalised[name] + (times - 1) * part[name]
                               for name in penalised}
                    found.append(Variant(kind, None, derivation, gradients=changed, derived=part[next(iter(part))],
                                         used=times * part[next(iter(part))], other=which))
    return tuple(found)


def _distinct(found: list[Variant]) -> list[Variant]:
    """The variants whose changed deltas differ from every earlier one's (the first kind listed names them)."""
    seen, kept = set(), []
    for variant in found:
        key = tuple(sorted((layer, sympy.srepr(delta)) for layer, delta in variant.deltas.items()))
        if key not in seen:
            seen.add(key)
            kept.append(variant)
    return kept


def _recombined(rule, derivation, kind: str, layer: int, pieces: Pieces, jacobian: sympy.Expr, elementwise: bool,
                derived: sympy.Expr | None = None) -> Variant:
    _, _, delta = rule.combine(layer, pieces.upstream, jacobian, pieces.example, pieces.unit)
    derived = _factor(pieces.jacobian, pieces, elementwise) if derived is None else derived
    return Variant(kind, layer, derivation, {layer: delta}, derived=derived, used=_factor(jacobian, pieces, elementwise))


def _other_layer_variants(rule, derivation, layer: int, pieces: Pieces, elementwise: bool) -> list[Variant]:
    """dA_l/dZ_l evaluated at layer l - 1's or l + 1's values (the inputs X for layer 0) instead of layer l's."""
    if not elementwise:
        return []
    found = []
    for other in (layer - 1, layer + 1):
        if other > derivation.network.depth or other == 0 and pieces.jacobian.has(preactivations(layer)):
            continue
        moved = _rebased(pieces.jacobian, activations(layer), activations(other))
        if other > 0:
            moved = _rebased(moved, preactivations(layer), preactivations(other))
        if moved != pieces.jacobian:
            variant = _recombined(rule, derivation, "derivative_at_other_layer", layer, pieces, moved, elementwise)
            found.append(Variant(variant.kind, layer, derivation, variant.deltas, derived=variant.derived,
                                 used=variant.used, equal_sizes=(layer, other), other=other))
    return found


def _loop_variants(rule, derivation) -> list[Variant]:
    """Every hidden layer's derivative at the layer above's (or below's) values: one slip in a loop over layers."""
    network, found = derivation.network, []
    for shift in (1, -1):
        deltas, equal, derived, used = {}, set(), None, None
        for layer in range(network.depth - 1, 0, -1):
            pieces = rule.pieces[layer]
            elementwise = network.activations[layer - 1].elementwise
            other = layer + shift
            if not elementwise or other == 0 and pieces.jacobian.has(preactivations(layer)):
                continue
            moved = _rebased(pieces.jacobian, activations(layer), activations(other))
            if other > 0:
                moved = _rebased(moved, preactivations(layer), preactivations(other))
            if moved == pieces.jacobian:
                continue
            deltas[layer] = rule.combine(layer, pieces.upstream, moved, pieces.example, pieces.unit)[2]
            equal |= {layer, other}
            if derived is None:
                derived, used = _factor(pieces.jacobian, pieces, True), _factor(moved, pieces, True)
        if len(deltas) >= 2:
            found.append(Variant("derivative_at_other_layer", max(deltas), derivation, deltas, derived=derived,
                                 used=used, equal_sizes=tuple(sorted(equal)), other=("every hidden layer", shift)))
    return found


#: The slips a loop over the layers repeats in every layer it visits (see :func:`_every_layer_variants`).
EVERY_LAYER_KINDS = ("missing_derivative", "derivative_at_preactivation", "derivative_of_activation")


def _every_layer_variants(derivation, found: list[Variant]) -> list[Variant]:
    """One slip made in every layer at once: the activation derivative left out, evaluated at Z where it is
    written for A, or applied to A where it takes Z (``sigmoid_prime(a)`` in a loop over the layers).

    Each layer's changed delta reads the delta above it as a symbol, so the single-layer variants' deltas
    combine into one derivation where every layer has the slip.
    """
    combined, depth = [], derivation.network.depth
    for kind in EVERY_LAYER_KINDS:
        single = [v for v in found if v.kind == kind and v.other is None and len(v.deltas) == 1]
        for which, layers in (("every layer", single), ("every hidden layer", [v for v in single if v.layer < depth])):
            if len(layers) >= 2 and (which == "every layer" or len(layers) < len(single)):
                top = max(layers, key=lambda v: v.layer)
                deltas = {layer: delta for v in layers for layer, delta in v.deltas.items()}
                combined.append(Variant(kind, top.layer, derivation, deltas, derived=top.derived, used=top.used,
                                        other=(which, 0)))
    return combined


def _matched_output_delta(derivation, pieces: Pieces) -> list[Variant]:
    """The output delta of the loss made for this output activation, where the network has another loss."""
    network = derivation.network
    output = network.activations[-1]
    matched = [loss for loss in LOSSES.values() if loss.requires_output and output.name in loss.requires_output]
    found = []
    for loss in matched:
        if loss.name == network.loss.name:
            continue
        other = network.replace(loss=loss, reduction=network.reduction)
        delta = ChainRule(other).deltas[network.depth]
        if delta != derivation.delta(network.depth):
            found.append(Variant("matched_output_delta", network.depth, derivation, {network.depth: delta},
                                 derived=derivation.delta(network.depth), used=delta, other=loss.name))
    return found


def _propagation_variants(derivation, layer: int) -> list[Variant]:
    """delta_l sent back through ``W_{l+1}`` untransposed, or through ``W_l``."""
    above, delta = weights(layer + 1), derivation.delta(layer)
    swaps: list[tuple[str, Callable[[Indexed], Indexed], tuple[int, ...]]] = [
        ("untransposed_weights", lambda entry: above[entry.indices[::-1]], (layer, layer + 1)),
        ("wrong_layer_weights", lambda entry: weights(layer)[entry.indices], (layer - 1, layer, layer + 1)),
    ]
    derived = next(s for s in delta.atoms(sympy.Sum) if s.has(above))
    found = []
    for kind, swap, equal in swaps:
        changed = delta.replace(lambda e: isinstance(e, Indexed) and e.base == above, swap)
        used = derived.replace(lambda e: isinstance(e, Indexed) and e.base == above, swap)
        found.append(Variant(kind, layer, derivation, {layer: changed}, derived=derived, used=used,
                             equal_sizes=equal))
    return found


def _rebased(expr: sympy.Expr, old: sympy.IndexedBase, new: sympy.IndexedBase) -> sympy.Expr:
    """``expr`` with every entry of ``old`` read from ``new`` at the same indices."""
    return expr.replace(lambda e: isinstance(e, Indexed) and e.base == old, lambda e: new[e.indices])


def _factor(jacobian: sympy.Expr, pieces: Pieces, elementwise: bool) -> sympy.Expr:
    """The Jacobian as a reader sees the factor: at example n, unit j (unit k of a softmax row)."""
    if elementwise:
        return jacobian.xreplace({pieces.example: n, pieces.unit: j}).replace(
            lambda e: isinstance(e, KroneckerDelta), lambda e: sympy.S.One)
    return jacobian.xreplace({pieces.example: n, pieces.unit: k})


def _renamed(expr: sympy.Expr) -> sympy.Expr:
    return rename_bound(expr, readable_index(k, m))
