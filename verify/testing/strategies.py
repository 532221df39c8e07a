"""Hypothesis strategies for networks, their parameters and their data.

Public as ``verify.strategies``::

    from hypothesis import given, strategies as st
    from verify import strategies as bst

    @given(bst.cases(bst.networks(activations=["sigmoid", "tanh"], losses=["sse"])))
    def test_my_backprop(case):
        assert_gradients_match(case.network, case.params, case.X, case.T, my_gradients)

* :func:`networks` draws valid :class:`derive.Network` objects over every
  registered activation and every compatible loss (softmax only on the output
  layer; a loss that requires an output activation gets it).
* :func:`params` and :func:`data` draw parameters and data for a network;
  :func:`cases` draws all four at once.
* :func:`network_pool` is a deterministic list of distinct networks covering
  every activation and loss: ``st.sampled_from(network_pool(300))`` keeps the
  number of architectures (each derived once) small while parameters and data
  are drawn afresh for every example.  Shrinking moves toward its first, and
  smallest, networks.

Options are keyword-only and validated when the strategy is built, as
``hypothesis.extra.numpy`` does: a bad one raises ``InvalidArgument`` naming it.

Values are drawn by Hypothesis, bounded by ``scale``, so they shrink to simple
numbers (0, 1, 0.5) in a counterexample; a value below ``1e-6 * scale`` in
magnitude becomes 0 (such values exercise underflow, not gradients).  Simple numbers put ReLU units exactly
on their kink (``z = 0``) more often than random floats would: the gradient
check handles that through its kink logic (:mod:`verify.check.kinks_and_saturation`), flagging
the finite differences that straddle a kink instead of failing them.

The settings profiles (:mod:`verify.testing.profiles`) are importable from
here too: ``strategies.settings_from_environment()``, :func:`profile_name`,
:func:`profile_settings`, :data:`PROFILES`.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

from derive import ACTIVATIONS, LOSSES, InputError, Network, get_activation, get_loss
from derive.model.activations import Activation, target_range

from .profiles import PROFILE_PREFIX, PROFILE_VARIABLE, PROFILES, profile_name, profile_settings  # noqa: F401
from .profiles import settings_from_environment  # noqa: F401

#: L2 coefficients drawn for networks with decay; L1 coefficients (0: none) drawn with them.
WEIGHT_DECAYS = (0.01, 0.1)
L1_COEFFICIENTS = (0.0, 0.01)
#: Drawn values smaller than this fraction of their bound in magnitude become 0.
TINY = 1e-6
#: Arrays with at most this many entries draw every entry independently.  A larger array draws a fill value and
#: some entries (within what Hypothesis draws for one example); for small networks that makes every parameter
#: and input equal too often (a saturated or vanishing network whose gradients are all tiny).
DENSE_ENTRIES = 256


class Case(NamedTuple):
    """One drawn example: a network, its parameters and a batch of data."""

    network: Network
    params: dict
    X: np.ndarray
    T: np.ndarray


# --- option validation ----------------------------------------------------------------


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidArgument("%s=%r must be an integer >= %d" % (name, value, low))
    return int(value)


def _check_range(low_name: str, low, high_name: str, high, minimum: int) -> tuple[int, int]:
    low, high = _check_int(low_name, low, minimum), _check_int(high_name, high, minimum)
    if low > high:
        raise InvalidArgument("%s=%d is greater than %s=%d" % (low_name, low, high_name, high))
    return low, high


def _check_flag(name: str, value) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument("%s=%r must be True, False or None (either)" % (name, value))
    return value


def _check_scale(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise InvalidArgument("%s=%r must be a finite number > 0" % (name, value))
    return float(value)


def _check_dtype(dtype) -> np.dtype:
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InvalidArgument("dtype=%r is not a numpy dtype; use float64 or float32" % (dtype,)) from None
    if dtype not in (np.float64, np.float32):
        raise InvalidArgument("dtype=%s is not supported; use float64 or float32" % dtype)
    return dtype


def _resolve(name: str, specs, lookup, registry) -> tuple:
    if specs is None:
        return tuple(lookup(key) for key in registry)
    if isinstance(specs, str) or not isinstance(specs, Sequence) or not specs:
        raise InvalidArgument("%s=%r must be a non-empty list of names" % (name, specs))
    try:
        return tuple(lookup(spec) for spec in specs)
    except InputError as exc:
        raise InvalidArgument("%s: %s" % (name, exc)) from None


class NetworkSpace:
    """The validated options of :func:`networks`: which networks may be drawn.

    Raises:
        InvalidArgument: an option is malformed, or no valid network fits them.
    """

    def __init__(self, *, min_depth: int = 1, max_depth: int = 3, min_width: int = 1, max_width: int = 4,
                 activations: Sequence[str] | None = None, losses: Sequence[str] | None = None,
                 bias: bool | None = None, decay: bool | None = None, reduction: str | None = None):
        self.min_depth, self.max_depth = _check_range("min_depth", min_depth, "max_depth", max_depth, 1)
        self.min_width, self.max_width = _check_range("min_width", min_width, "max_width", max_width, 1)
        self.activations: tuple[Activation, ...] = _resolve("activations", activations, get_activation, ACTIVATIONS)
        self.losses = _resolve("losses", losses, get_loss, LOSSES)
        self.bias, self.decay = _check_flag("bias", bias), _check_flag("decay", decay)
        if reduction not in (None, "sum", "mean"):
            raise InvalidArgument("reduction=%r must be 'sum', 'mean' or None (either)" % (reduction,))
        self.reductions = ("sum", "mean") if reduction is None else (reduction,)
        self.hidden = tuple(a for a in self.activations if not a.output_only)
        self.pairs = tuple((act, loss) for loss in self.losses for act in self.activations
                           if loss.requires_output is None or act.name in loss.requires_output)
        self.outputs = {loss: tuple(act for act, l in self.pairs if l is loss) for loss in self.losses}
        self.outputs = {loss: acts for loss, acts in self.outputs.items() if acts}
        if not self.pairs:
            raise InvalidArgument("no loss in losses=%s accepts an output activation in activations=%s (%s)" % (
                [l.name for l in self.losses], [a.name for a in self.activations],
                "; ".join("%s needs %s" % (l.name, " or ".join(l.requires_output)) for l in self.losses)))
        if not self.hidden and self.min_depth > 1:
            raise InvalidArgument("min_depth=%d needs a hidden activation, but every one of activations=%s is "
                                  "output-only" % (self.min_depth, [a.name for a in self.activations]))
        if not self.hidden:
            self.max_depth = 1

    def build(self, choose, pair=None, hidden: Activation | None = None, shallowest: bool = False) -> Network:
        """A network from ``choose(options) -> one of them``, called once per decision.

        ``pair`` (output activation, loss) and ``hidden`` (the first hidden
        layer's activation, which forces depth >= 2) pin those decisions;
        ``shallowest`` pins the depth to the smallest allowed.
        """
        low = max(self.min_depth, 2) if hidden is not None else self.min_depth
        depth = low if shallowest else choose(range(low, max(low, self.max_depth) + 1))
        sizes = [choose(range(self.min_width, self.max_width + 1)) for _ in range(depth + 1)]
        if pair is None:
            loss = choose(tuple(self.outputs))
            pair = (choose(self.outputs[loss]), loss)
        output, loss = pair
        layers = [hidden if hidden is not None and layer == 0 else choose(self.hidden) for layer in range(depth - 1)]
        bias = choose((True, False)) if self.bias is None else self.bias
        decay = self.decay if self.decay is not None else choose((False, True))
        weight_decay = choose(WEIGHT_DECAYS) if decay else 0.0
        l1 = choose(L1_COEFFICIENTS) if decay else 0.0
        return Network(sizes, activation=layers + [output], loss=loss, bias=bias, weight_decay=weight_decay, l1=l1,
                       reduction=choose(self.reductions))


# --- strategies ------------------------------------------------------------------------------


def networks(*, min_depth: int = 1, max_depth: int = 3, min_width: int = 1, max_width: int = 4,
             activations: Sequence[str] | None = None, losses: Sequence[str] | None = None,
             bias: bool | None = None, decay: bool | None = None,
             reduction: str | None = None) -> st.SearchStrategy[Network]:
    """Valid networks: depth (layers with weights), widths, activations, loss, bias, decay.

    Args:
        min_depth, max_depth: Bounds on the number of weight layers L.
        min_width, max_width: Bounds on every width n_0..n_L.
        activations: Activation specs to draw from (default: every registered one);
            output-only ones (softmax) go on the output layer only.
        losses: Loss names to draw from (default: every registered one); each is
            paired only with output activations it accepts.
        bias: Layers with biases (True), without (False), or either (None).
        decay: Weight decay (L2, and sometimes L1) always (True), never (False), or either (None).
        reduction: ``"sum"``, ``"mean"`` or either (None).

    Raises:
        InvalidArgument: a bad option, named.
    """
    space = NetworkSpace(min_depth=min_depth, max_depth=max_depth, min_width=min_width, max_width=max_width,
                         activations=activations, losses=losses, bias=bias, decay=decay, reduction=reduction)
    return _networks(space)


@st.composite
def _networks(draw: st.DrawFn, space: NetworkSpace) -> Network:
    return space.build(lambda options: draw(st.sampled_from(options)))


#: How many width vectors :func:`network_pool` gives each structure (the derivation is shared by them).
WIDTHS_PER_STRUCTURE = 3


def network_pool(count: int = 300, *, seed: int = 0, **options) -> list[Network]:
    """``count`` distinct networks, deterministic for ``seed``, smallest first.

    Every (output activation, loss) pair appears alone (in the shallowest
    network allowed), and every hidden activation under every output
    activation (a hidden delta does not depend on the loss), so the pool may
    exceed ``count`` when the space has more such combinations; the rest are drawn at
    random from the space of :func:`networks`, which takes the same keyword
    ``options``.

    The networks come in groups of up to :data:`WIDTHS_PER_STRUCTURE` that share
    a structure (:attr:`derive.Network.structure`) and differ in their widths:
    a property run derives each structure once and checks it at several widths.
    """
    count = _check_int("count", count, 1)
    space = NetworkSpace(**options)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731
    groups: dict[Network, dict[Network, None]] = {}  # structure -> its networks
    total = lambda: sum(len(group) for group in groups.values())  # noqa: E731

    def add(network: Network) -> None:
        groups.setdefault(network.structure, {}).setdefault(network)

    def grow(enough) -> None:  # random networks, each of its own structure unless drawn twice
        for _ in range(50 * count):
            if enough():
                return
            add(space.build(pick))

    under = {}  # each hidden activation under each output activation once, with one of that output's losses
    for pair in space.pairs:
        add(space.build(pick, pair=pair, shallowest=True))
        for hidden in space.hidden if space.max_depth > 1 else ():
            under.setdefault((pair[0].name, hidden.name), (pair, hidden))
    for pair, hidden in under.values():
        add(space.build(pick, pair=pair, hidden=hidden))
    grow(lambda: len(groups) >= -(-count // WIDTHS_PER_STRUCTURE))
    for _ in range(WIDTHS_PER_STRUCTURE - 1):
        for structure, group in groups.items():
            for _ in range(10) if total() < count else ():  # a structure may have few width vectors
                network = structure.replace(sizes=[pick(range(space.min_width, space.max_width + 1))
                                                   for _ in structure.sizes])
                if network not in group:
                    group[network] = None
                    break
    grow(lambda: total() >= count)  # structures with few width vectors: more structures
    pool = [network for group in groups.values() for network in group]
    return sorted(pool, key=lambda n: (n.depth, sum(n.sizes), n.sizes, repr(n)))


def _bounded(shape, dtype: np.dtype, low: float, high: float) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` with entries in [low, high] whose magnitude is 0 or at least :data:`TINY` of the range.

    Values like 1e-279 only exercise underflow (their squares vanish), not
    gradients; they become 0, by one numpy call per array.  Arrays of up to
    :data:`DENSE_ENTRIES` entries draw every entry; larger ones draw a fill
    value and some entries, so that a 784-100-10 network's arrays stay within
    what Hypothesis draws for one example.
    """
    bound = TINY * max(abs(low), abs(high))
    floats = st.floats(low, high, width=32 if dtype == np.float32 else 64, allow_subnormal=False)
    dense = math.prod(shape if isinstance(shape, tuple) else (shape,)) <= DENSE_ENTRIES
    return hnp.arrays(dtype, shape, elements=floats, fill=st.nothing() if dense else None).map(
        lambda a: np.where(np.abs(a) < bound, dtype.type(0), a))


def params(network: Network, *, scale: float = 1.0, dtype=np.float64,
           elements: st.SearchStrategy[float] | None = None) -> st.SearchStrategy[dict]:
    """Parameter dicts for ``network``: every entry in [-scale, scale].

    Args:
        network: Gives the keys and shapes.
        scale: Bound on every entry.
        dtype: float64 or float32.
        elements: A strategy for the entries, replacing the bounded floats.

    Raises:
        InvalidArgument: a bad option, named.
    """
    if not isinstance(network, Network):
        raise InvalidArgument("network=%r must be a derive.Network" % (network,))
    scale, dtype = _check_scale("scale", scale), _check_dtype(dtype)
    return st.fixed_dictionaries({name: hnp.arrays(dtype, shape, elements=elements) if elements is not None
                                  else _bounded(shape, dtype, -scale, scale)
                                  for name, shape in network.param_shapes().items()})


def data(network: Network, *, batch: int | tuple[int, int] = (1, 4), scale: float = 1.0,
         dtype=np.float64) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """``(X, T)`` for ``network``: N examples, inputs in [-scale, scale], targets the output can reach.

    Targets: probability rows for a softmax output (one-hot or soft); otherwise
    values in the output activation's range clipped to [-1, 1] (sigmoid and
    relu [0, 1], tanh and linear [-1, 1]).

    Args:
        network: Gives the widths n_0 and n_L.
        batch: N, or ``(min, max)`` bounds on it.
        scale: Bound on every input.
        dtype: float64 or float32.

    Raises:
        InvalidArgument: a bad option, named.
    """
    if not isinstance(network, Network):
        raise InvalidArgument("network=%r must be a derive.Network" % (network,))
    arrays = _Arrays(network, _check_scale("scale", scale), _check_dtype(dtype))
    return st.integers(*_check_batch(batch)).flatmap(arrays.data)


def _check_batch(batch) -> tuple[int, int]:
    if isinstance(batch, tuple) and len(batch) != 2:
        raise InvalidArgument("batch=%r must be an integer or a (min, max) pair" % (batch,))
    low, high = batch if isinstance(batch, tuple) else (batch, batch)
    return _check_range("batch (min)", low, "batch (max)", high, 1)


class _Arrays:
    """The strategies of one network's arrays for each batch size N, built when N is first drawn and kept."""

    def __init__(self, network: Network, scale: float, dtype: np.dtype):
        self.network, self.scale, self.dtype = network, scale, dtype

    def targets(self, n: int) -> st.SearchStrategy[np.ndarray]:
        """T for N = ``n``: probability rows (one-hot or soft) for softmax, else values the output can take."""
        width, dtype, output = self.network.sizes[-1], self.dtype, self.network.activations[-1]
        if output.elementwise:  # values the output can take, within [-1, 1]
            return _bounded((n, width), dtype, *target_range(output))
        classes = hnp.arrays(np.int64, n, elements=st.integers(0, width - 1)).map(
            lambda labels: np.eye(width, dtype=dtype)[labels])
        soft = _bounded((n, width), dtype, 0.01, 1.0).map(
            lambda raw: (raw / raw.sum(axis=1, keepdims=True)).astype(dtype))
        return st.one_of(classes, soft)

    @functools.lru_cache(maxsize=None)
    def data(self, n: int) -> st.SearchStrategy[tuple]:
        """``(X, T)`` for N = ``n``."""
        return st.tuples(_bounded((n, self.network.sizes[0]), self.dtype, -self.scale, self.scale), self.targets(n))

    @functools.lru_cache(maxsize=None)
    def case(self, n: int) -> st.SearchStrategy[tuple]:
        """``(params, X, T)`` for N = ``n``: the parameters and X as one array (one draw), then T."""
        shapes = self.network.param_shapes()
        ends = np.cumsum([math.prod(shape) for shape in shapes.values()])

        def split(flat: np.ndarray) -> tuple[dict, np.ndarray]:
            parts = np.split(flat, ends)
            params = {name: part.reshape(shape) for (name, shape), part in zip(shapes.items(), parts)}
            return params, parts[-1].reshape(n, self.network.sizes[0])

        together = _bounded(self.network.n_params + n * self.network.sizes[0], self.dtype, -self.scale, self.scale)
        return st.tuples(together.map(split), self.targets(n)).map(lambda drawn: (*drawn[0], drawn[1]))


def cases(networks_strategy: st.SearchStrategy[Network] | None = None, *, scale: float = 1.0,
          batch: int | tuple[int, int] = (1, 4), dtype=np.float64) -> st.SearchStrategy[Case]:
    """A network (from ``networks_strategy``, default :func:`networks`) with parameters and data.

    Parameters and inputs are in [-scale, scale]; targets as :func:`data`
    draws them.  The parameters and inputs of an example are drawn as one
    array (one draw, however many parameters the network has).

    Raises:
        InvalidArgument: a bad option, named.
    """
    if networks_strategy is not None and not isinstance(networks_strategy, st.SearchStrategy):
        raise InvalidArgument("networks_strategy=%r must be a hypothesis strategy of networks" % (networks_strategy,))
    return _cases(networks_strategy if networks_strategy is not None else networks(), _check_scale("scale", scale),
                  _check_batch(batch), _check_dtype(dtype))


@st.composite
def _cases(draw: st.DrawFn, networks_strategy, scale: float, batch: tuple[int, int], dtype: np.dtype) -> Case:
    network = draw(networks_strategy)
    return Case(network, *draw(_case_arrays(network, scale, batch, dtype)))


@functools.lru_cache(maxsize=1024)
def _case_arrays(network: Network, scale: float, batch: tuple[int, int], dtype: np.dtype) -> st.SearchStrategy:
    """``(params, X, T)`` of ``network``: N first, then the arrays of that N (:meth:`_Arrays.case`)."""
    return st.integers(*batch).flatmap(_Arrays(network, scale, dtype).case)
