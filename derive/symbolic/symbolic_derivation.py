"""What the chain rule derived for one network, with symbolic sizes: the error terms and the gradients.

A :class:`SymbolicDerivation` holds

* the network's expressions with symbolic sizes (:mod:`derive.symbolic.layers`):
  :attr:`~SymbolicDerivation.forward_equations` and the loss :attr:`~SymbolicDerivation.loss`;
* what the chain rule derived from them (:mod:`derive.symbolic.chain_rule`):
  the error terms :meth:`~SymbolicDerivation.delta`, the gradients
  :meth:`~SymbolicDerivation.gradient` in index form, and the labelled
  :attr:`~SymbolicDerivation.steps` that got there.

It knows nothing of concrete sizes or numeric code: :class:`derive.Derivation`
adds those (scalar partials from :mod:`derive.concrete`, generated modules
from :mod:`derive.codegen`), which both read this class.

Conventions: ``delta_l[n, j]`` is dE/dZ_l[n, j] exactly (the lecture's δ with
the opposite sign: the lecture writes ``o(1 - o)(t - o)``); for reduction
``"mean"`` the ``1/N`` sits in ``delta_L`` and so in every gradient;
``g_l(Z_l)`` inside a δ is written ``A_l`` wherever it appears.
"""

from __future__ import annotations

from typing import NamedTuple

import sympy

from derive.errors import InputError
from derive.model.network import Network

from .chain_rule import ChainRule, Step
from .layers import forward_equations, loss_expression
from .symbols import E, biases, deltas, i, j, n, weights


class Derived(NamedTuple):
    """What the chain rule derives for a network's *structure*: the same for every choice of widths.

    The sizes are the symbols n_0..n_L and N throughout, so 3-4-2 and
    784-100-10 with the same depth, activations, loss, reduction, bias and
    penalties have the same ``Derived`` (:func:`derive_structure`).
    """

    forward_equations: tuple
    loss: sympy.Expr
    deltas: dict
    gradients: dict
    chain_rule: ChainRule


def derive_structure(network: Network) -> Derived:
    """Run the chain rule for ``network``'s structure (its widths are not used)."""
    rule = ChainRule(network)
    return Derived(tuple(forward_equations(network)), loss_expression(network), rule.deltas, rule.gradients, rule)


class SymbolicDerivation:
    """The derived gradients of one network, in index form with symbolic sizes.

    Args:
        network: The network.
        derived: The chain rule's results for its structure, if already derived
            (:func:`derive_structure`); derived here otherwise.

    Attributes:
        network: The :class:`~derive.Network` derived.
        forward_equations: ``Eq(Z_l[n, j], ...)``, ``Eq(A_l[n, j], ...)`` for l = 1..L, in order.
        loss: E as a SymPy expression with symbolic sizes (data term plus penalty).
        steps: The chain-rule steps, in order, each a :class:`~derive.symbolic.chain_rule.Step`
            ``(label, equation, layer)``.
        chain_rule: The :class:`~derive.symbolic.chain_rule.ChainRule` that ran, with the factors
            of every result (what :mod:`derive.symbolic.variants` rebuilds with one factor changed).
    """

    def __init__(self, network: Network, derived: Derived | None = None):
        self.network = network
        derived = derive_structure(network) if derived is None else derived
        self.forward_equations: tuple[sympy.Eq, ...] = derived.forward_equations
        self.loss: sympy.Expr = derived.loss
        self.chain_rule = derived.chain_rule
        self._deltas = derived.deltas
        self._gradients = derived.gradients

    @property
    def steps(self) -> tuple[Step, ...]:
        """The chain-rule steps, in order (see :class:`~derive.symbolic.chain_rule.ChainRule`)."""
        return self.chain_rule.steps

    @property
    def depth(self) -> int:
        """L, the number of layers with weights."""
        return self.network.depth

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameter names, in order: ``("W1", "b1", "W2", "b2")``."""
        return tuple(self.network.param_shapes())

    def delta(self, layer: int) -> sympy.Expr:
        """``delta_l[n, j]`` = dE/dZ_l[n, j], free indices n and j.

        For the output layer, in ``A_L``, ``Z_L`` and ``T``; for a hidden layer,
        the recursion ``g_l'(.) * Sum(W_{l+1}[k, j] * delta_{l+1}[n, k], (k, 0, n_{l+1} - 1))``.

        Raises:
            InputError: ``layer`` is not one of 1..L.
        """
        if isinstance(layer, bool) or not isinstance(layer, int) or layer not in self._deltas:
            raise InputError("layer %r has no delta; layers are 1..%d" % (layer, self.depth))
        return self._deltas[layer]

    def gradient(self, name: str) -> sympy.Expr:
        """dE/d(parameter) in index form: free indices j, i for ``"W2"``, j for ``"b2"``.

        Raises:
            InputError: unknown parameter name.
        """
        self.check_name(name)
        return self._gradients[name]

    def equations(self) -> list[sympy.Eq]:
        """The results as equations: every delta (output layer first), then every gradient."""
        results = [sympy.Eq(deltas(layer)[n, j], self._deltas[layer], evaluate=False)
                   for layer in range(self.depth, 0, -1)]
        for name in self.parameters:
            entry = parameter_entry(name)
            results.append(sympy.Eq(sympy.Derivative(E, entry), self._gradients[name], evaluate=False))
        return results

    def check_name(self, name: str) -> None:
        """Refuse a name that is not one of this network's parameters.

        Raises:
            InputError: naming the parameters the network has.
        """
        if name not in self._gradients:
            hint = " (the network has no biases)" if isinstance(name, str) and name.startswith("b") and not self.network.bias else ""
            raise InputError("unknown parameter %r%s; this network has: %s" % (name, hint, ", ".join(self.parameters)))

    def __repr__(self):
        return "<%s of %s: %d steps>" % (type(self).__name__, self.network.describe(), len(self.steps))


def parameter_entry(name: str) -> sympy.Indexed:
    """The generic entry of a parameter, by name: ``W2[j, i]``, ``b2[j]``."""
    layer = int(name[1:])
    return weights(layer)[j, i] if name.startswith("W") else biases(layer)[j]
