"""``derive(network)``: the gradient of every parameter, derived by ``sympy.diff`` for any widths.

>>> from derive import Network, derive
>>> d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
>>> d.delta(2)                       # the lecture's output error term, up to its sign
(1 - A2[n, j])*(A2[n, j] - T[n, j])*A2[n, j]
>>> d.gradient("W1")
Sum(X[n, i]*delta1[n, j], (n, 0, N - 1))
>>> d.partial("W1", 0, 1)            # one example, concrete sizes: delta_j x_i
X[0, 1]*delta1[0, 0]

A :class:`Derivation` holds:

* the network's expressions with symbolic sizes (:mod:`derive.layers`):
  :attr:`~Derivation.forward_equations` and the loss :attr:`~Derivation.loss`;
* what the chain rule derived from them (:mod:`derive.chain_rule`): the error
  terms :meth:`~Derivation.delta`, the gradients :meth:`~Derivation.gradient`
  in index form, and the labelled :attr:`~Derivation.steps` that got there;
* the scalar partials at concrete sizes (:mod:`derive.scalar`):
  :meth:`~Derivation.partial` and :meth:`~Derivation.partials`.

Conventions: ``delta_l[n, j]`` is dE/dZ_l[n, j] exactly (the lecture's δ with
the opposite sign: the lecture writes ``o(1 - o)(t - o)``); for reduction
``"mean"`` the ``1/N`` sits in ``delta_L`` and so in every gradient;
``g_l(Z_l)`` inside a δ is written ``A_l`` wherever it appears.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import types

import sympy

from . import codegen
from .chain_rule import E, ChainRule, Step
from .errors import InputError
from .layers import forward_equations, loss_expression
from .network import Network
from .scalar import ScalarPartials
from .symbols import biases, deltas, i, j, n, weights

#: How many concrete-size contexts :meth:`Derivation.partial` keeps.
_CONTEXTS_KEPT = 4


class Derivation:
    """The derived gradients of one network.  Build it with :func:`derive`.

    Attributes:
        network: The :class:`~derive.Network` derived.
        forward_equations: ``Eq(Z_l[n, j], ...)``, ``Eq(A_l[n, j], ...)`` for l = 1..L, in order.
        loss: E as a SymPy expression with symbolic sizes (data term plus penalty).
        steps: The chain-rule steps, in order, each a :class:`~derive.chain_rule.Step`
            ``(label, equation, layer)``.
    """

    def __init__(self, network: Network):
        self.network = network
        rule = ChainRule(network)
        self.forward_equations: tuple[sympy.Eq, ...] = tuple(forward_equations(network))
        self.loss: sympy.Expr = loss_expression(network)
        self.steps: tuple[Step, ...] = tuple(rule.steps)
        self._deltas = rule.deltas
        self._gradients = rule.gradients
        self._contexts: dict[tuple, ScalarPartials] = {}

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
        self._check_name(name)
        return self._gradients[name]

    def equations(self) -> list[sympy.Eq]:
        """The results as equations: every delta (output layer first), then every gradient."""
        results = [sympy.Eq(deltas(layer)[n, j], self._deltas[layer], evaluate=False)
                   for layer in range(self.depth, 0, -1)]
        for name in self.parameters:
            entry = parameter_entry(name)
            results.append(sympy.Eq(sympy.Derivative(E, entry), self._gradients[name], evaluate=False))
        return results

    def partial(self, name: str, *index: int, sizes=None, batch: int = 1, expand: bool = False) -> sympy.Expr:
        """One scalar partial derivative at concrete sizes.

        Args:
            name: Parameter name (``"W1"``, ``"b2"``).
            *index: Its entry: ``j, i`` for a weight, ``j`` for a bias.
            sizes: Concrete widths n_0..n_L (same depth); the network's by default.
            batch: Number of examples the loss sums over (default 1, the lecture's per-example view).
            expand: Substitute every named entry (deltas, activations, net inputs) by
                its definition, down to data and parameters.

        Returns:
            The partial, compact (``X[0, 1]*delta1[0, 0]``) or fully expanded.

        Raises:
            InputError: unknown name, wrong number of indices or out of range,
                bad sizes or batch, or too large to expand.
        """
        context = self._context(sizes, batch)
        value = context[(name, *index)]
        return context.expanded(value) if expand else value

    def partials(self, sizes=None, batch: int = 1, progress: bool = False, build: bool = True) -> ScalarPartials:
        """Every scalar partial at concrete sizes, as a mapping ``("W1", j, i) -> expression``.

        Args:
            sizes: Concrete widths n_0..n_L; the network's by default.
            batch: Number of examples (default 1).
            progress: Show a progress bar while building.
            build: Build every partial now; with ``False`` each is built when
                first looked up (useful for a few partials of a large network).

        Raises:
            InputError: bad sizes or batch.
        """
        partials = ScalarPartials(self, *self._check_concrete(sizes, batch))
        if build:
            partials.build(progress=progress)
        return partials

    def numpy_source(self) -> str:
        """The source of a standalone numpy module with ``forward``, ``loss`` and ``gradients``.

        Printed from these equations by :mod:`derive.codegen`; byte-identical for
        the same network.

        Raises:
            NotImplementedError: an expression has a node the printer cannot print (named in the message).
        """
        if getattr(self, "_numpy_source", None) is None:
            self._numpy_source = codegen.numpy_source(self)
        return self._numpy_source

    def numpy_module(self) -> types.ModuleType:
        """:meth:`numpy_source` compiled into a module: ``derive(net).numpy_module().gradients(params, X, T)``."""
        return codegen.numpy_module(self, source=self.numpy_source())

    # --- validation ---------------------------------------------------------------

    def _context(self, sizes, batch: int) -> ScalarPartials:
        key = self._check_concrete(sizes, batch)
        if key not in self._contexts:
            if len(self._contexts) >= _CONTEXTS_KEPT:
                self._contexts.pop(next(iter(self._contexts)))
            self._contexts[key] = ScalarPartials(self, *key)
        return self._contexts[key]

    def _check_concrete(self, sizes, batch) -> tuple[tuple[int, ...], int]:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InputError("batch must be a positive integer (the number of examples), got %r" % (batch,))
        if sizes is None:
            return self.network.sizes, batch
        if isinstance(sizes, str) or not hasattr(sizes, "__len__") or len(sizes) != self.depth + 1:
            raise InputError("sizes %r must be %d widths n_0..n_%d for this %d-layer network, e.g. %s"
                             % (sizes, self.depth + 1, self.depth, self.depth, list(self.network.sizes)))
        return self.network.replace(sizes=tuple(sizes)).sizes, batch

    def _check_name(self, name: str) -> None:
        if name not in self._gradients:
            hint = " (the network has no biases)" if isinstance(name, str) and name.startswith("b") and not self.network.bias else ""
            raise InputError("unknown parameter %r%s; this network has: %s" % (name, hint, ", ".join(self.parameters)))

    def _check_index(self, name: str, index: tuple, shapes: dict, sizes: tuple) -> tuple[int, ...]:
        """Validate one entry of a parameter; return the parameter's shape."""
        self._check_name(name)
        shape = shapes[name]
        names = ("j", "i")[: len(shape)]
        if len(index) != len(shape):
            raise InputError("%s takes %d index(es) (%s), got %d" % (name, len(shape), ", ".join(names), len(index)))
        for label, value, extent in zip(names, index, shape):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < extent:
                raise InputError("index %s=%r of %s is out of range 0..%d (%s has shape %s at sizes %s)" % (
                    label, value, name, extent - 1, name, shape, "-".join(map(str, sizes))))
        return shape

    def __repr__(self):
        return "<Derivation of %s: %d steps>" % (self.network.describe(), len(self.steps))


def parameter_entry(name: str) -> sympy.Indexed:
    """The generic entry of a parameter, by name: ``W2[j, i]``, ``b2[j]``."""
    layer = int(name[1:])
    return weights(layer)[j, i] if name.startswith("W") else biases(layer)[j]


def derive(network: Network | str | Path) -> Derivation:
    """Derive the gradient of every parameter of ``network`` with ``sympy.diff``.

    The derivation uses symbolic sizes, so its cost does not depend on the
    widths; results are cached per network.

    Args:
        network: A :class:`~derive.Network`, or a spec string/file (``"2-2-1"``).

    Returns:
        The :class:`Derivation`.

    Raises:
        InputError: ``network`` is not a network or a valid spec.
    """
    if isinstance(network, (str, Path)):
        network = Network.from_spec(network)
    if not isinstance(network, Network):
        raise InputError("derive() needs a Network or a spec such as '2-2-1', got %s" % type(network).__name__)
    return _derive(network, _definitions(network))


def _definitions(network: Network) -> tuple:
    """What the derivation depends on beyond the names: two activations may share a name."""
    activations = tuple(a.expression if a.elementwise else a.name for a in network.activations)
    return activations, network.loss.expression


@lru_cache(maxsize=64)
def _derive(network: Network, definitions: tuple) -> Derivation:
    return Derivation(network)
