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

A variant of ``delta_l`` changes only that delta: the deltas below it are
written in terms of ``delta_l``, so the printed code carries the change down to
every layer under l, as the user's code would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy
from sympy import Indexed, KroneckerDelta

from .chain_rule import Pieces
from .indices import readable_index, rename_bound
from .symbols import activations, j, k, m, n, preactivations, weights

KINDS = ("missing_derivative", "derivative_at_preactivation", "derivative_of_activation", "untransposed_weights",
         "wrong_layer_weights", "penalty_missing", "penalty_doubled")


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
    """

    kind: str
    layer: int | None
    base: object = field(repr=False)
    deltas: dict = field(default_factory=dict, repr=False)
    gradients: dict = field(default_factory=dict, repr=False)
    derived: sympy.Expr | None = None
    used: sympy.Expr | None = None
    equal_sizes: tuple[int, ...] = ()

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
        """``missing_derivative@2``: kind and layer."""
        return self.kind if self.layer is None else "%s@%d" % (self.kind, self.layer)


def variants(derivation) -> tuple[Variant, ...]:
    """Every variant of ``derivation`` (a :class:`~derive.symbolic.derivation.SymbolicDerivation`), output layer first.

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
        if layer < network.depth:
            found += _propagation_variants(derivation, layer)
    penalised = {name: term for name, term in rule.penalty_terms.items() if term != 0}
    if penalised:
        term = next(iter(penalised.values()))
        for kind, times in (("penalty_missing", 0), ("penalty_doubled", 2)):
            changed = {name: rule.data_terms[name] + times * penalty for name, penalty in penalised.items()}
            found.append(Variant(kind, None, derivation, gradients=changed, derived=term, used=times * term))
    return tuple(found)


def _recombined(rule, derivation, kind: str, layer: int, pieces: Pieces, jacobian: sympy.Expr, elementwise: bool,
                derived: sympy.Expr | None = None) -> Variant:
    _, _, delta = rule.combine(layer, pieces.upstream, jacobian, pieces.example, pieces.unit)
    derived = _factor(pieces.jacobian, pieces, elementwise) if derived is None else derived
    return Variant(kind, layer, derivation, {layer: delta}, derived=derived, used=_factor(jacobian, pieces, elementwise))


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
