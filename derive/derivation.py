"""``derive(network)``: the gradient of every parameter, derived by ``sympy.diff`` for any widths.

>>> from derive import Network, derive
>>> d = derive(Network([2, 2, 1], activation="sigmoid", loss="sse"))
>>> d.delta(2)                       # the lecture's output error term, up to its sign
(1 - A2[n, j])*(A2[n, j] - T[n, j])*A2[n, j]
>>> d.gradient("W1")
Sum(X[n, i]*delta1[n, j], (n, 0, N - 1))
>>> d.partial("W1", 0, 1)            # one example, concrete sizes: delta_j x_i
X[0, 1]*delta1[0, 0]

A :class:`Derivation` is the symbolic derivation
(:class:`~derive.symbolic.symbolic_derivation.SymbolicDerivation`: forward equations,
loss, error terms, gradients and the chain-rule steps, with symbolic sizes)
plus what is built from it:

* the scalar partials at concrete sizes (:mod:`derive.concrete`):
  :meth:`~Derivation.partial` and :meth:`~Derivation.partials`;
* the generated numpy module (:mod:`derive.codegen`):
  :meth:`~Derivation.numpy_source` and :meth:`~Derivation.numpy_module`, for
  this network's widths or (``any_width=True``) for every width of its
  structure, printed once per structure (:func:`structure_module`);
* second derivatives by the R-operator (:mod:`derive.symbolic.second_order`):
  :attr:`~Derivation.second_order`, :attr:`~Derivation.hvp_steps`,
  :meth:`~Derivation.hessian_block`, :meth:`~Derivation.hessian_diagonal`;
* its display in Jupyter (``_repr_html_``, ``_repr_markdown_``,
  ``_repr_latex_``: :mod:`derive.report.display`);
* plausible wrong derivations, each with one step done the way a common bug
  does it (:mod:`derive.symbolic.variants`), printed the same way:
  :meth:`~Derivation.variants` and :meth:`~Derivation.variant_module`.

This module sits above the three sub-packages it combines, so none of them
imports another's caller: ``symbolic`` knows nothing of concrete sizes or
code, ``concrete`` and ``codegen`` read a symbolic derivation.
"""

from __future__ import annotations

import types
from functools import lru_cache
from pathlib import Path

import sympy

from derive import codegen
from derive.codegen import cache
from derive.codegen.source import compile_module
from derive.concrete.scalar import ScalarPartials, check_concrete
from derive.errors import InputError
from derive.model.network import Network
from derive.report import display
from derive.symbolic import chain_rule
from derive.symbolic.chain_rule import Step
from derive.symbolic.symbolic_derivation import Derived, SymbolicDerivation, derive_structure, parameter_entry
from derive.symbolic.second_order import SecondOrder, p, q, second_order
from derive.symbolic.symbols import i, j
from derive.symbolic.variants import Variant, variants

__all__ = ["Derivation", "clear_caches", "derive", "parameter_entry", "structure_module"]

#: How many concrete-size contexts :meth:`Derivation.partial` keeps.
_CONTEXTS_KEPT = 4


class Derivation(SymbolicDerivation):
    """The derived gradients of one network.  Build it with :func:`derive`.

    Everything of :class:`~derive.symbolic.symbolic_derivation.SymbolicDerivation`
    (``network``, ``forward_equations``, ``loss``, ``steps``, ``delta(l)``,
    ``gradient(name)``, ``equations()``), plus scalar partials at concrete
    sizes and the generated numpy module.
    """

    def __init__(self, network: Network, derived: Derived | None = None):
        super().__init__(network, derived)
        self._contexts: dict[tuple, ScalarPartials] = {}
        self._numpy_sources: dict[int, str] = {}
        self._variants: tuple[Variant, ...] | None = None
        self._variant_modules: dict[str, types.ModuleType] = {}

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
        partials = ScalarPartials(self, *check_concrete(self.network, sizes, batch))
        if build:
            partials.build(progress=progress)
        return partials

    @property
    def second_order(self) -> SecondOrder:
        """The R-operator passes: Hessian- and Gauss-Newton-vector products (:mod:`derive.symbolic.second_order`).

        Raises:
            InputError: an activation whose second derivative SymPy cannot give.
        """
        return second_order(self)

    @property
    def hvp_steps(self) -> tuple[Step, ...]:
        """The labelled steps of the second-order derivation: forward along V, then H V and G V from the output back."""
        return tuple(self.second_order.steps)

    def hessian_block(self, first: str, second: str) -> sympy.Expr:
        """``d^2E / d first[j, i] d second[p, q]`` as an index expression with symbolic sizes.

        Free indices: ``j, i`` (or ``j``) for ``first``, ``p, q`` (or ``p``) for ``second``.

        Raises:
            InputError: an unknown parameter name.
        """
        return self.second_order.hessian_block(first, second)

    def hessian_diagonal(self, name: str) -> sympy.Expr:
        """``d^2E / d name[j, i]^2``: the Hessian block of ``name`` with itself at equal entries (free j, i)."""
        block = self.hessian_block(name, name)
        return block.xreplace({p: j, q: i})

    def numpy_source(self, order: int = 1, any_width: bool = False) -> str:
        """The source of a standalone numpy module with ``forward``, ``loss`` and ``gradients``.

        Printed from these equations by :mod:`derive.codegen`; byte-identical for
        the same network.

        Args:
            order: 2 also prints ``hvp``, ``gnvp`` and ``hessian`` from the
                second-order passes (:attr:`second_order`).
            any_width: One module for every width of this network's structure
                (depth, activations, loss, reduction, bias, penalties): it
                reads N and n_0..n_L from the arrays it is given and raises
                ``ValueError`` when they do not fit together.  Printed once per
                structure: 3-4-2 and 784-100-10 get the same source.  Without
                it, the widths are printed as numbers and checked exactly.

        Raises:
            InputError: ``order`` is not 1 or 2, or a second derivative SymPy cannot give.
            NotImplementedError: an expression has a node the printer cannot print (named in the message).
        """
        _check_order(order)
        if any_width:
            return _structure_source(self.network.structure, _definitions(self.network), order)
        if order not in self._numpy_sources:
            self._numpy_sources[order] = codegen.numpy_source(self, order)
        return self._numpy_sources[order]

    def numpy_module(self, order: int = 1, any_width: bool = False) -> types.ModuleType:
        """:meth:`numpy_source` compiled into a module: ``derive(net).numpy_module().gradients(params, X, T)``.

        With ``any_width`` it is :func:`structure_module`: one module per
        structure and process, shared by every width (do not modify it).
        """
        if any_width:
            return structure_module(self.network, order)
        return codegen.numpy_module(self, source=self.numpy_source(order))

    def variants(self) -> tuple[Variant, ...]:
        """This derivation with one step done wrong, each way a common backprop bug does it.

        See :mod:`derive.symbolic.variants` for the kinds; built on first use.
        """
        if self._variants is None:
            self._variants = variants(self)
        return self._variants

    def variant_module(self, variant: Variant) -> types.ModuleType:
        """The numpy module printed from ``variant`` (one of :meth:`variants`), as :meth:`numpy_module` is."""
        if variant.key not in self._variant_modules:
            self._variant_modules[variant.key] = codegen.numpy_module(variant, name="backprop_variant_%s" % variant.kind)
        return self._variant_modules[variant.key]

    # --- Jupyter: the forward pass, loss, error terms and gradients as formulas (derive.report.display) ---

    def _repr_html_(self) -> str:
        return display.derivation_html(self)

    def _repr_markdown_(self) -> str:
        return display.derivation_markdown(self)

    def _repr_latex_(self) -> str:
        return display.derivation_latex(self)

    def _context(self, sizes, batch: int) -> ScalarPartials:
        key = check_concrete(self.network, sizes, batch)
        if key not in self._contexts:
            if len(self._contexts) >= _CONTEXTS_KEPT:
                self._contexts.pop(next(iter(self._contexts)))
            self._contexts[key] = ScalarPartials(self, *key)
        return self._contexts[key]


def derive(network: Network | str | Path) -> Derivation:
    """Derive the gradient of every parameter of ``network`` with ``sympy.diff``.

    The derivation uses symbolic sizes, so its cost does not depend on the
    widths, and it is done once per network *structure*
    (:attr:`Network.structure`): 784-100-10 and 3-4-2 with the same
    activations, loss and options share one symbolic derivation.

    Args:
        network: A :class:`~derive.Network`, or a spec string/file (``"2-2-1"``).

    Returns:
        The :class:`Derivation`.

    Raises:
        InputError: ``network`` is not a network or a valid spec.
    """
    network = _network(network)
    return _derive(network, _definitions(network))


def _network(network) -> Network:
    if isinstance(network, (str, Path)):
        network = Network.from_spec(network)
    if not isinstance(network, Network):
        raise InputError("derive() needs a Network or a spec such as '2-2-1', got %s" % type(network).__name__)
    return network


def structure_module(network: Network | str | Path, order: int = 1) -> types.ModuleType:
    """The width-generic generated module of ``network``'s structure, printed once per process.

    Every network with the same structure (:attr:`Network.structure`: depth,
    activations, loss, reduction, bias, penalties) gets the same module
    object, whatever its widths: ``structure_module(net).gradients(params, X, T)``
    reads N and n_0..n_L from ``X`` and ``params``.  It is
    ``derive(network).numpy_module(order, any_width=True)``, and the stable way
    for other code (property runs, checks) to share one module per structure.

    Args:
        network: A :class:`~derive.Network`, or a spec string/file.
        order: 1 for ``forward``, ``loss``, ``gradients``; 2 also ``hvp``, ``gnvp``, ``hessian``.

    Raises:
        InputError: a bad network or ``order``.
        NotImplementedError: an expression the printer cannot print.
    """
    network = _network(network)
    _check_order(order)
    return _structure_module(network.structure, _definitions(network), order)


@lru_cache(maxsize=1024)
def _structure_source(structure: Network, definitions: tuple, order: int) -> str:
    # Kept on disk too (derive.codegen.cache): a hit there skips deriving and printing altogether.
    return cache.cached_source(cache.structure_key(structure, order),
                               lambda: codegen.numpy_source(_derive(structure, definitions), order, any_width=True))


@lru_cache(maxsize=1024)
def _structure_module(structure: Network, definitions: tuple, order: int) -> types.ModuleType:
    return compile_module(_structure_source(structure, definitions, order), "backprop_any_width",
                          structure.describe(any_width=True))


def _check_order(order) -> None:
    if order not in (1, 2):
        raise InputError("order must be 1 (gradients) or 2 (also Hessian- and Gauss-Newton-vector products), "
                         "got %r" % (order,))


def _definitions(network: Network) -> tuple:
    """What the derivation depends on beyond the names: two activations may share a name."""
    activations = tuple(a.expression if a.elementwise else a.name for a in network.activations)
    return activations, network.loss.expression


@lru_cache(maxsize=64)
def _derive(network: Network, definitions: tuple) -> Derivation:
    return Derivation(network, _derived(network.structure, definitions))


@lru_cache(maxsize=256)
def _derived(structure: Network, definitions: tuple) -> Derived:
    return derive_structure(structure)


def clear_caches() -> None:
    """Forget every derivation done in this process (after changing how SymPy differentiates a function).

    Modules printed by other processes and kept on disk (:mod:`derive.codegen.cache`) are not used again in
    this process either: their key cannot see a rule changed at run time.
    """
    _derive.cache_clear()
    _derived.cache_clear()
    _structure_source.cache_clear()
    _structure_module.cache_clear()
    cache.distrust()  # the rules may have changed at run time, which the disk cache's key cannot see
    chain_rule.clear_pieces()
    sympy.core.cache.clear_cache()
