"""Every scalar partial derivative for concrete sizes, kept compact through named entries.

The lecture writes the gradient of one weight as ``dE/dw_ji = delta_j x_i``:
a product of two named quantities, each defined once (``delta_j`` by the δ
recursion, ``x_i`` by the data, ``h_j`` by the forward pass).  The scalar
partials here have that shape.  They are the index-level gradients of
:mod:`derive.symbolic.chain_rule` instantiated at concrete sizes (see
:mod:`derive.concrete.instantiate`), so dE/dW1[2, 0] of a 2-3-1 network is
``X[0, 0]*delta1[0, 2]``, and the named entries are ``Indexed`` objects with
number indices:

* ``Z1[n, j]``, ``A1[n, j]``: forward-pass values; ``X[n, i]``, ``T[n, k]``: the data;
* ``delta1[n, j]``: the error terms, defined by the instantiated δ recursion;
* ``W1[j, i]``, ``b1[j]``: the parameters (they appear with weight decay).

:meth:`ScalarPartials.definition` gives the definition of a named entry,
:meth:`ScalarPartials.definitions` all of them in evaluation order (forward
pass, then δ from the output back, the order ``sympy.cse`` would list
them), and :meth:`ScalarPartials.expanded` substitutes them until only data
and parameters remain: the fully expanded expression, equal to ``sympy.diff``
of the fully expanded loss.

**The batch.**  The index-level loss sums over N examples.  Concrete partials
take ``batch`` examples, default 1: the lecture's per-example view, where
dE/dW1[j, i] is one product ``delta1[0, j]*X[0, i]``; with ``batch=B`` it is the
sum over n < B (and ``delta_L`` carries the 1/B of reduction ``"mean"``).

**Limits of expansion.**  A fully expanded partial repeats the forward pass
inside every δ, so its size grows with the product of the widths.
:func:`expanded_size` estimates the number of symbol occurrences of the
expanded loss from the sizes alone, before anything is built; above
:data:`EXPAND_LIMIT` expansion is refused with an :class:`InputError` that
says so and points to the compact form.  A 32-32-1 sigmoid network (the
baseline of ``bench/derive.py``) is about 2,100 occurrences; 784-100-10 is
about 1.6 million.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from functools import cached_property
from typing import Callable, Iterator

import sympy
from sympy import Indexed
from tqdm import tqdm

from derive.errors import InputError
from derive.limits import human_bytes
from .instantiate import Instantiator
from derive.model.losses import OUTPUT, TARGET
from derive.model.expression import VARIABLE
from derive.symbolic.symbolic_derivation import SymbolicDerivation
from derive.symbolic.symbols import N, activations, deltas, i, j, n, preactivations, size

#: Largest estimated size (symbol occurrences in the fully expanded loss) that
#: ``expand=True`` accepts.
EXPAND_LIMIT = 20_000
#: Largest number of terms the error-term definitions at concrete sizes may have (about 10 s and 1 GB).
COMPACT_LIMIT = 5_000_000
#: Memory per term of an instantiated expression, measured (about 60 bytes) with a margin.
BYTES_PER_TERM = 200


class ScalarPartials(Mapping):
    """All scalar partials of a network at concrete sizes: a mapping ``("W1", j, i) -> expression``.

    Iterating yields the keys parameter by parameter, entries in row-major
    order; ``len`` is the number of scalar parameters.  Obtain one through
    :meth:`derive.Derivation.partials`.

    Attributes:
        sizes: The concrete widths n_0..n_L.
        batch: The number of examples the loss sums over.
        shapes: ``{"W1": (n_1, n_0), "b1": (n_1,), ...}``.
    """

    def __init__(self, derivation: SymbolicDerivation, sizes: tuple[int, ...], batch: int):
        check_compact(derivation.network, sizes, batch)
        self.derivation = derivation
        self.sizes = sizes
        self.batch = batch
        self.shapes = derivation.network.replace(sizes=sizes).param_shapes()
        values = {size(layer): width for layer, width in enumerate(sizes)}
        values[N] = batch
        self._instantiator = Instantiator(values)
        self._gradients: dict[str, Callable] = {}
        self._values: dict[str, list] = {}
        self._definitions: dict[Indexed, sympy.Expr] = {}
        self._expanded: dict[Indexed, sympy.Expr] = {}

    def build(self, progress: bool = False) -> None:
        """Instantiate every partial now (otherwise each is built when first looked up)."""
        rows = sum(shape[0] for name, shape in self.shapes.items() if name not in self._values)
        with tqdm(total=rows, desc="partials", unit="row", disable=not progress, leave=False) as bar:
            for name, shape in self.shapes.items():
                if name in self._values:
                    continue
                build, env, values = self._gradient(name), {}, []
                for row in range(shape[0]):
                    env[j] = row
                    if len(shape) == 1:
                        values.append(build(env))
                    else:
                        for column in range(shape[1]):
                            env[i] = column
                            values.append(build(env))
                    bar.update(1)
                self._values[name] = values

    def _gradient(self, name: str) -> Callable:
        """The compiled index-level gradient of one parameter."""
        if name not in self._gradients:
            free = (j, i)[: len(self.shapes[name])]
            self._gradients[name] = self._instantiator.compile(self.derivation.gradient(name), free)
        return self._gradients[name]

    # --- the mapping ---------------------------------------------------------------

    def __getitem__(self, key: tuple) -> sympy.Expr:
        if not isinstance(key, tuple) or not key:
            raise InputError("look a partial up as (name, *index), e.g. ('W1', 0, 1); got %r" % (key,))
        name, *index = key
        shape = self._check_index(name, tuple(index))
        if name in self._values:
            return self._values[name][index[0] * shape[1] + index[1] if len(shape) == 2 else index[0]]
        return self._gradient(name)(dict(zip((j, i), index)))

    def __iter__(self) -> Iterator[tuple]:
        for name, shape in self.shapes.items():
            for index in itertools.product(*map(range, shape)):
                yield (name, *index)

    def __len__(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes.values())

    def _check_index(self, name: str, index: tuple) -> tuple[int, ...]:
        """Validate one entry of a parameter; return the parameter's shape."""
        self.derivation.check_name(name)
        shape = self.shapes[name]
        names = ("j", "i")[: len(shape)]
        if len(index) != len(shape):
            raise InputError("%s takes %d index(es) (%s), got %d" % (name, len(shape), ", ".join(names), len(index)))
        for label, value, extent in zip(names, index, shape):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < extent:
                raise InputError("index %s=%r of %s is out of range 0..%d (%s has shape %s at sizes %s)" % (
                    label, value, name, extent - 1, name, shape, "-".join(map(str, self.sizes))))
        return shape

    def array(self, name: str) -> sympy.ImmutableDenseNDimArray:
        """The partials of one parameter as a SymPy array of its shape."""
        self.derivation.check_name(name)
        self.build()
        return sympy.ImmutableDenseNDimArray(self._values[name], self.shapes[name])

    # --- named entries ---------------------------------------------------------------

    def definition(self, entry: Indexed) -> sympy.Expr | None:
        """The definition of a named entry (``A1[0, 2]``, ``delta2[0, 0]``); ``None`` for data and parameters.

        Raises:
            InputError: ``entry`` is a Z, A or delta entry outside the batch or the layer's width.
        """
        if entry in self._definitions:
            return self._definitions[entry]
        template = self._templates.get(entry.base)
        if template is None:
            return None
        layer = self._layers[entry.base]
        example, unit = entry.indices
        if not (example.is_Integer and unit.is_Integer and 0 <= example < self.batch and 0 <= unit < self.sizes[layer]):
            raise InputError("%s is not an entry at sizes %s with %d example(s): it needs integer indices "
                             "0..%d, 0..%d" % (entry, "-".join(map(str, self.sizes)), self.batch, self.batch - 1,
                                               self.sizes[layer] - 1))
        value = self._definitions[entry] = template({n: int(example), j: int(unit)})
        return value

    @cached_property
    def _layers(self) -> dict:
        """The layer of each defined array (Z_l, A_l, delta_l)."""
        return {array(layer): layer for layer in range(1, self.derivation.depth + 1)
                for array in (preactivations, activations, deltas)}

    @cached_property
    def _templates(self) -> dict:
        """Compiled definitions of Z_l, A_l and delta_l, by array."""
        templates = {}
        for equation in self.derivation.forward_equations:
            templates[equation.lhs.base] = self._instantiator.compile(equation.rhs, (n, j))
        for layer in range(1, self.derivation.depth + 1):
            templates[deltas(layer)] = self._instantiator.compile(self.derivation.delta(layer), (n, j))
        return templates

    def definitions(self) -> list[tuple[Indexed, sympy.Expr]]:
        """Every named entry with its definition, in evaluation order (like ``sympy.cse``'s replacements).

        Forward pass first (``Z1``, ``A1``, ..., ``A_L``), then the error terms
        from the output back (``delta_L``, ..., ``delta1``).
        """
        depth = self.derivation.depth
        order = [(array(layer), layer) for layer in range(1, depth + 1) for array in (preactivations, activations)]
        order += [(deltas(layer), layer) for layer in range(depth, 0, -1)]
        entries = []
        for base, layer in order:
            for example in range(self.batch):
                for unit in range(self.sizes[layer]):
                    entry = self._instantiator.entry(base, (example, unit))
                    entries.append((entry, self.definition(entry)))
        return entries

    def dependencies(self, expr: sympy.Expr, bases: tuple | None = None) -> list[tuple[Indexed, sympy.Expr]]:
        """The definitions ``expr`` needs, transitively, in evaluation order.

        Args:
            expr: An expression in named entries (a compact partial).
            bases: Follow only entries of these arrays (e.g. the deltas); all named entries by default.
        """
        ordered: list = []
        seen: set = set()

        def visit(node):
            for entry in sorted(node.atoms(Indexed), key=sympy.default_sort_key):
                if entry in seen or (bases is not None and entry.base not in bases):
                    continue
                seen.add(entry)
                value = self.definition(entry)
                if value is not None:
                    visit(value)
                    ordered.append((entry, value))
        visit(expr)
        return ordered

    # --- expansion ---------------------------------------------------------------------

    def expanded(self, expr: sympy.Expr) -> sympy.Expr:
        """``expr`` with every named entry replaced by its definition, recursively.

        Raises:
            InputError: the expansion is too large (see :data:`EXPAND_LIMIT`).
        """
        check_expandable(self.derivation.network, self.sizes, self.batch)
        return self._expand(expr)

    def _expand(self, expr: sympy.Expr) -> sympy.Expr:
        replacements = {}
        for entry in expr.atoms(Indexed):
            if entry not in self._expanded:
                value = self.definition(entry)
                self._expanded[entry] = entry if value is None else self._expand(value)
            replacements[entry] = self._expanded[entry]
        return expr.xreplace(replacements)


def check_concrete(network, sizes, batch) -> tuple[tuple[int, ...], int]:
    """Validate concrete sizes (same depth as ``network``; its own by default) and a batch size.

    Raises:
        InputError: a batch that is not a positive integer, or sizes of the wrong depth or invalid widths.
    """
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InputError("batch must be a positive integer (the number of examples), got %r" % (batch,))
    if sizes is None:
        return network.sizes, batch
    if isinstance(sizes, str) or not hasattr(sizes, "__len__") or len(sizes) != network.depth + 1:
        raise InputError("sizes %r must be %d widths n_0..n_%d for this %d-layer network, e.g. %s"
                         % (sizes, network.depth + 1, network.depth, network.depth, list(network.sizes)))
    return network.replace(sizes=tuple(sizes)).sizes, batch


def compact_size(sizes: tuple[int, ...], batch: int) -> int:
    """Terms in the error-term definitions a compact partial may need: delta_l[n, j] sums n_{l+1} terms."""
    widths = list(sizes[1:]) + [1]
    return batch * sum(width * (above + 1) for width, above in zip(widths[:-1], widths[1:]))


def check_compact(network, sizes: tuple[int, ...], batch: int) -> None:
    """Refuse concrete sizes and a batch whose definitions would exceed :data:`COMPACT_LIMIT` terms.

    Raises:
        InputError: with the estimate in terms and memory, and the limit.
    """
    terms = compact_size(sizes, batch)
    if terms > COMPACT_LIMIT:
        raise InputError(
            "partials of %s with %s example(s) would write out about %s terms (about %s of memory), above the limit "
            "of %s terms; use a smaller batch (the lecture's view is one example)" % (
                "-".join(map(str, sizes)), format(batch, ","), format(terms, ","),
                human_bytes(terms * BYTES_PER_TERM), format(COMPACT_LIMIT, ",")))


def expanded_size(network, sizes: tuple[int, ...], batch: int) -> int:
    """Estimated symbol occurrences in the fully expanded loss, from the sizes alone.

    A net input ``Z_l`` writes out n_{l-1} products of a weight and the
    previous layer's expanded output (plus a bias); an activation repeats its
    argument as often as g(x) contains x (softmax: once per unit, plus once);
    the loss repeats each output as often as l(o, t) contains o.
    """
    output = 1
    for layer, activation in enumerate(network.activations, start=1):
        net = sizes[layer - 1] * (1 + output) + (1 if network.bias else 0)
        repeats = sizes[layer] + 1 if not activation.elementwise else max(1, activation.expression.count(VARIABLE))
        output = repeats * net
    loss = network.loss.expression
    per_unit = max(1, loss.count(OUTPUT)) * output + loss.count(TARGET)
    return batch * sizes[-1] * per_unit


def check_expandable(network, sizes: tuple[int, ...], batch: int) -> None:
    """Refuse an expansion that would exceed :data:`EXPAND_LIMIT`.

    Raises:
        InputError: with the estimate, the limit and what to use instead.
    """
    estimate = expanded_size(network, sizes, batch)
    if estimate > EXPAND_LIMIT:
        raise InputError(
            "expand=True refused: the fully expanded loss of %s with %d example(s) would have about %s symbol "
            "occurrences, above the limit of %s; use the compact partial (expand=False) with its definitions "
            "(ScalarPartials.dependencies), or smaller sizes" % (
                "-".join(map(str, sizes)), batch, format(estimate, ","), format(EXPAND_LIMIT, ",")))


__all__ = ["COMPACT_LIMIT", "EXPAND_LIMIT", "ScalarPartials", "check_compact", "check_concrete", "check_expandable",
           "compact_size", "expanded_size"]
