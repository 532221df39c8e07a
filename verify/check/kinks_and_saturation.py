"""Where gradients are not what finite differences can test: kinks and saturation.

Two situations make an honest comparison misleading, and the gradient check
reports both instead of failing on them or hiding them:

* **Kinks.**  ReLU-type activations (:attr:`derive.Activation.kinks`) and the
  L1 penalty ``mu |w|`` have a derivative that jumps.  A central difference
  whose step carries a pre-activation across the kink averages the two slopes,
  so it disagrees with any gradient; and a unit sitting *exactly* on the kink
  has a derivative that is only a convention (the subgradient), so two correct
  implementations may differ there.  :func:`straddled_kinks` finds the units a
  finite difference crosses; :func:`units_at_kinks` the units on a kink at the
  point itself; both are explained with their unit, example and the reference's
  subgradient convention.
* **Saturation.**  A sigmoid or tanh unit with a large ``|z|`` has a
  derivative near zero, and every error in a term multiplied by it shrinks
  with it: a wrong ``g'`` there passes any tolerance.  :func:`saturation_warnings`
  says which layers have many such units.

The pre-activations come from the engine's forward pass (:func:`preactivations`):
``Z_l = A_{l-1} W_l^T + b_l``, ``A_l = g_l(Z_l)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from derive import Network
from verify.engine.engine import Engine

#: A unit is saturated where |g'(z)| is below this fraction of g's steepest slope.
SATURATION = 1e-4
#: Warn about a layer when at least this fraction of its (example, unit) pairs is saturated.
SATURATED_FRACTION = 0.10
#: A pre-activation within this many rounding units of a kink is "on" it.
ROUNDING_UNITS = 64


@dataclass(frozen=True)
class KinkHit:
    """One unit, for one example, on or across a kink.

    Attributes:
        layer: Layer l (1..L) of the unit; 0 for an L1 kink of a weight.
        unit: Unit index j within the layer (for an L1 kink: the entry's label).
        example: Example index n (-1 for an L1 kink).
        z: The pre-activation (or the weight, for an L1 kink).
        activation: Name of the activation whose kink it is (``"l1"`` for the penalty).
        kink: The kink's location.
        crossed: Found by a finite difference crossing the kink (rather than on it, at the point).
    """

    layer: int
    unit: int | str
    example: int
    z: float
    activation: str
    kink: float
    crossed: bool = False

    def explain(self, network: Network) -> str:
        """One sentence: which unit, which example, and the subgradient convention."""
        if self.activation == "l1":
            return ("L1 penalty mu|w| has its kink at w = 0 and %s = %.3g is within the step; "
                    "the reference uses the subgradient sign(0) = 0" % (self.unit, self.z))
        act = network.activations[self.layer - 1]
        left, right, at = _slopes(network, self.layer, self.kink)
        where = "is within the finite-difference step of" if self.crossed else "lies on"
        return ("%s (layer %d, %s), example %d: z = %.3g %s the kink at %g (slope %g to the left, %g to the right); "
                "the reference uses the subgradient %s'(%g) = %g"
                % (unit_name(network, self.layer, self.unit), self.layer, act.name, self.example, self.z, where,
                   self.kink, left, right, act.name, self.kink, at))

    def to_dict(self) -> dict:
        """Plain data."""
        return {"layer": self.layer, "unit": self.unit, "example": self.example, "z": self.z,
                "activation": self.activation, "kink": self.kink, "crossed": self.crossed}


def _slopes(network: Network, layer: int, kink: float) -> tuple[float, float, float]:
    """g'(z) of layer ``layer`` just left of the kink, just right of it, and at it (the engine's rule)."""
    points = np.array([[kink - 1e-3, kink + 1e-3, kink]], dtype=np.float64)
    left, right, at = (float(np.real(v)) for v in _engine(network).local_derivative(layer, points)[0])
    return left, right, at


@lru_cache(maxsize=256)
def _engine(network: Network) -> Engine:
    return Engine(network)


def unit_name(network: Network, layer: int, unit: int) -> str:
    """``"input unit 3"``, ``"hidden unit 7"``, ``"output unit 2"`` (``"unit 7 of hidden layer 2"`` when deep)."""
    if layer == 0:
        return "input unit %d" % unit
    if layer == network.depth:
        return "output unit %d" % unit
    if network.depth > 2:
        return "unit %d of hidden layer %d" % (unit, layer)
    return "hidden unit %d" % unit


def describe_entry(network: Network, entry: tuple[str, tuple[int, ...]]) -> str:
    """Where an entry sits: ``"from hidden unit 7 to output unit 3"``, ``"bias of output unit 3"``."""
    name, index = entry
    layer = int(name[1:])
    if name.startswith("b"):
        return "bias of %s" % unit_name(network, layer, index[0])
    return "from %s to %s" % (unit_name(network, layer - 1, index[1]), unit_name(network, layer, index[0]))


def preactivations(network: Network, params: dict, X: np.ndarray) -> list[np.ndarray]:
    """``[Z_1, ..., Z_L]``, each ``(N, n_l)``, from the engine's forward pass."""
    return _engine(network).forward_layers(params, X, check=False)[0][1:]


def units_at_kinks(network: Network, params: dict, X: np.ndarray, Zs: list[np.ndarray] | None = None) -> list[KinkHit]:
    """Units lying on a kink, to rounding, at the point ``params`` itself."""
    if not any(act.kinks for act in network.activations):
        return []
    Zs = preactivations(network, params, X) if Zs is None else Zs
    engine = _engine(network)
    A, hits = np.abs(X), []
    for layer, (activation, Z) in enumerate(zip(network.activations, Zs), start=1):
        bound = A @ np.abs(params["W%d" % layer]).T + (np.abs(params["b%d" % layer]) if network.bias else 0)
        bound = ROUNDING_UNITS * np.finfo(np.float64).eps * bound
        for kink in activation.kinks:
            for example, unit in np.argwhere(np.abs(Z - kink) <= bound):
                hits.append(KinkHit(layer, int(unit), int(example), float(Z[example, unit]), activation.name, kink))
        A = np.abs(engine.forward_layers(params, X, check=False)[1][layer])
    return hits


def straddled_kinks(network: Network, params_up: dict, params_down: dict, X: np.ndarray) -> list[KinkHit]:
    """Units whose pre-activation lies on different sides of a kink at two points.

    A central difference between ``params_down`` and ``params_up`` is only a
    derivative if no unit changes side (and no penalised weight changes sign).
    """
    hits = []
    if any(act.kinks for act in network.activations):
        ups, downs = preactivations(network, params_up, X), preactivations(network, params_down, X)
        for layer, (activation, up, down) in enumerate(zip(network.activations, ups, downs), start=1):
            for kink in activation.kinks:
                crossed = np.sign(up - kink) != np.sign(down - kink)
                for example, unit in np.argwhere(crossed):
                    z = (up[example, unit] + down[example, unit]) / 2
                    hits.append(KinkHit(layer, int(unit), int(example), float(z), activation.name, kink, True))
    if network.l1:
        for name in params_up:
            if name.startswith("W"):
                crossed = np.sign(params_up[name]) != np.sign(params_down[name])
                for index in np.argwhere(crossed):
                    label = "%s[%s]" % (name, ", ".join(map(str, index)))
                    w = (params_up[name][tuple(index)] + params_down[name][tuple(index)]) / 2
                    hits.append(KinkHit(0, label, -1, float(w), "l1", 0.0, True))
    return hits


def kink_affected(network: Network, hits: list[KinkHit], inputs: list[np.ndarray] | None = None,
                  params: dict | None = None, Zs: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Boolean masks of the entries whose gradient involves a derivative taken on a kink.

    A unit j of layer l on a kink for example n contributes its subgradient to
    ``delta_l[n, j]``, which enters ``b_l[j]`` and ``W_l[j, i]`` times the
    layer's input ``A_{l-1}[n, i]``, and, through the delta recursion
    ``delta_{l-1}[n, i] = g'(Z_{l-1}[n, i]) sum_j W_l[j, i] delta_l[n, j]``, the
    parameters of the layers below.  With ``inputs`` (each layer's input
    ``[X, A_1, ..., A_{L-1}]``), a weight whose input from example n is
    exactly 0 is not affected: whatever the subgradient, its term there is 0.
    With ``params`` and ``Zs`` (the pre-activations) the recursion is followed
    unit by unit: a lower unit is affected only if a nonzero weight joins it to
    an affected unit and its own derivative there is not exactly 0 (a unit on a
    kink itself passes it on: its derivative is a convention too); otherwise
    every unit of the layers below is.
    """
    masks = {name: np.zeros(shape, dtype=bool) for name, shape in network.param_shapes().items()}
    exact = params is not None and Zs is not None and any(hit.activation != "l1" for hit in hits)
    if exact:  # what passes a delta on, per layer, example and unit: a derivative not 0, or one that is a convention
        passes = [_engine(network).local_derivative(layer, Z) != 0 for layer, Z in enumerate(Zs[:-1], start=1)]
        for hit in hits:
            if hit.activation != "l1" and hit.layer < network.depth:  # hidden layers: the output passes nothing down
                passes[hit.layer - 1][hit.example, hit.unit] = True
    for hit in hits:
        if hit.activation == "l1":
            name, _, rest = hit.unit.partition("[")
            masks[name][tuple(int(i) for i in rest.rstrip("]").split(","))] = True
            continue
        rows = np.zeros(network.sizes[hit.layer], dtype=bool)
        rows[hit.unit] = True
        for layer in range(hit.layer, 0, -1):
            columns = np.ones(network.sizes[layer - 1], dtype=bool) if inputs is None else (
                inputs[layer - 1][hit.example] != 0)
            masks["W%d" % layer][np.ix_(rows, columns)] = True
            if network.bias:
                masks["b%d" % layer][rows] = True
            if layer == 1:
                break
            if not exact:
                rows = np.ones(network.sizes[layer - 1], dtype=bool)
                continue
            rows = (np.abs(params["W%d" % layer][rows]).sum(axis=0) != 0) & passes[layer - 2][hit.example]
            if not rows.any():
                break
    return masks


def layer_inputs(network: Network, params: dict, X: np.ndarray) -> list[np.ndarray]:
    """``[X, A_1, ..., A_{L-1}]``, each layer's input, from the engine's forward pass."""
    return list(_engine(network).forward_layers(params, X, check=False)[1][:network.depth])


def saturation_warnings(network: Network, Zs: list[np.ndarray]) -> list[str]:
    """A line per layer where many smooth-activation units have a near-zero slope."""
    warnings, engine = [], _engine(network)
    for layer, (activation, Z) in enumerate(zip(network.activations, Zs), start=1):
        if not activation.elementwise or activation.kinks:
            continue
        peak = float(np.max(np.abs(engine.local_derivative(layer, np.linspace(-4.0, 4.0, 81)[None, :]))))
        if peak == 0:
            continue
        slope = np.abs(np.broadcast_to(engine.local_derivative(layer, Z), Z.shape))
        saturated = slope < SATURATION * peak
        fraction = float(saturated.mean())
        if fraction >= SATURATED_FRACTION:
            always = np.flatnonzero(saturated.all(axis=0))
            warnings.append(
                "layer %d (%s): %.0f%% of (example, unit) pairs are saturated (|g'(z)| < %g x max, max |z| = %.3g)%s; "
                "errors in terms multiplied by g'(z) shrink with it and can pass any tolerance"
                % (layer, activation.name, 100 * fraction, SATURATION, float(np.max(np.abs(Z))),
                   "; saturated for every example: %s" % ", ".join(unit_name(network, layer, int(u)) for u in always[:5])
                   if always.size else ""))
    return warnings
