"""Reading what a user's function returned: which array is which parameter, and whether each fits its parameter.

Backprop written by hand returns its gradients in many orders: layer order
(``dW1, db1, dW2, db2``), the order the backward pass computes them, last layer
first (``dW2, db2, dW1, db1``), the weights before the biases, or Nielsen's
pair of lists ``(nabla_b, nabla_w)``.  :func:`returned_orders` finds the common
orders a list's shapes fit; where more than one fits (layers of equal width),
:func:`nearest` takes the reading nearest the reference gradient, so that
correct code passes and wrong code is diagnosed where it is wrong.
:func:`check_gradient_result` then takes each array in its parameter's shape
(:func:`realign`: transposed, one row per example, one number) or refuses it
in one line, and :class:`Returned` is what the check compares.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from derive import InputError, Network

from . import layouts
from .layouts import Layout, user_names
from .sources import one_line

__all__ = ["GRADIENT_DTYPES", "Returned", "check_gradient_result", "distance", "fitting_orders", "nearest",
           "nielsen_pair", "order_text", "orders_text", "realign", "returned_orders"]

#: Gradient dtypes accepted, whatever the parameters' dtype.
GRADIENT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class Returned(NamedTuple):
    """A gradient function's result, checked and in the toolkit's layout.

    Attributes:
        gradients: One array per parameter, in the parameter's shape (realigned where needed).
        shapes: The shape each realigned parameter was returned in.
        raw: The arrays as returned, for the realigned parameters.
        uncertainty: Extra absolute error each entry may carry from the way it was read (an update's rounding).
        output: What the function printed while it ran.
        read: What was read, when it is not the toolkit's own layout (``read: weights (in, out), ...``).
        loss: The loss the function returned beside its gradient, if it did.
        changed: The parameters the function changed in place (not asked to: no update layout), by the user's names.
    """

    gradients: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]
    raw: dict[str, np.ndarray]
    uncertainty: dict[str, np.ndarray] = {}
    output: str = ""
    read: str = ""
    loss: float | None = None
    changed: tuple[str, ...] = ()


def nielsen_pair(network: Network, result) -> tuple[dict, bool] | None:
    """Nielsen's ``(nabla_b, nabla_w)`` (either order) as a dict by parameter, and whether the biases came first,
    when ``result`` is such a pair."""
    if not network.bias or not isinstance(result, (tuple, list)) or len(result) != 2:
        return None
    if not all(isinstance(part, (list, tuple)) and len(part) == network.depth for part in result):
        return None
    shapes = network.param_shapes()

    def biases(part) -> bool:  # (n,), (n, 1) or (1, n)
        return all(np.ndim(b) in (1, 2) and np.size(b) == shapes["b%d" % layer][0] and
                   (np.ndim(b) == 1 or 1 in np.shape(b)) for layer, b in enumerate(part, start=1))

    def weights(part) -> bool:  # (out, in) or (in, out)
        return all(np.ndim(w) == 2 and sorted(np.shape(w)) == sorted(shapes["W%d" % layer])
                   for layer, w in enumerate(part, start=1))

    for b, w in (result, result[::-1]):
        if biases(b) and weights(w):
            return {**{"W%d" % layer: value for layer, value in enumerate(w, start=1)},
                    **{"b%d" % layer: value for layer, value in enumerate(b, start=1)}}, b is result[0]
    return None


def returned_orders(network: Network, layout: Layout, result) -> list[list[str]]:
    """The common orders of the parameters that a returned list's shapes fit, layer order first if it fits.

    Backprop written by hand often returns its gradients in the order it computed them, the last layer first
    (``dW2, db2, dW1, db1``), or the weights before the biases (``dW1, dW2, db1, db2``).  Each order here is one of
    those whose every array has its parameter's shape in ``layout``; with layers of different widths one order
    fits, with equal widths several may.
    """
    keys = list(network.param_shapes())
    if len(result) != len(keys):
        return []

    def fits(key: str, value) -> bool:
        shape, given = network.param_shapes()[key], np.shape(value)
        if key.startswith("b"):
            return given in (shape, shape + (1,), (1,) + shape) or given == () and shape == (1,)
        return given == (shape[::-1] if layout.weights == "in-out" else shape)

    orders = [keys, keys[::-1]]
    if network.bias:
        weights, biases = keys[0::2], keys[1::2]
        layers = [keys[k:k + 2] for k in range(0, len(keys), 2)]
        orders[1:] = [sum(layers[::-1], []), weights + biases, weights[::-1] + biases[::-1], biases + weights,
                      sum((pair[::-1] for pair in layers), []), sum((pair[::-1] for pair in layers[::-1]), [])]
    fitting = []
    for order in orders:
        if order not in fitting and all(fits(key, value) for key, value in zip(order, result)):
            fitting.append(order)
    if fitting and keys not in fitting and all(fits(key, value) or np.shape(value)[::-1] == (
            network.param_shapes()[key][::-1] if layout.weights == "in-out" else network.param_shapes()[key])
            for key, value in zip(keys, result)):
        fitting.append(keys)  # layer order with a weight gradient transposed: a reading to weigh against the others
    return fitting


def fitting_orders(network: Network, layout: Layout, result, who: str) -> list[tuple]:
    """:func:`returned_orders` of a returned list, or layer order alone when none fits (a shape is then refused
    by name); ``who`` names the function for the one line refusing a list of another length."""
    keys = list(network.param_shapes())
    if len(result) != len(keys) or not all(hasattr(value, "__array__") or isinstance(value, (list, float))
                                           for value in result):
        pair = len(result) == 2 and all(isinstance(part, (list, tuple)) and len(part) == network.depth
                                        for part in result)
        hint = (": it returned a pair of lists of %d arrays, but with shapes %s for the biases, not the "
                "parameters' shapes%s" % (network.depth, ", ".join(str(np.shape(b)) for b in result[0]),
                                          "" if layout.per_example else "; if it takes one example per "
                                          "call (as Nielsen's backprop(x, y) does), add --per-example")
                if pair else "")
        raise InputError("%s returned %d arrays; expected %d, in layer order %s (or a pair of lists "
                         "(nabla_b, nabla_w))%s" % (who, len(result), len(keys), ", ".join(keys), hint))
    return [tuple(order) for order in returned_orders(network, layout, result)] or [tuple(keys)]


def distance(reading: dict, expected: dict) -> float:
    """The squared distance of a reading of a result from ``expected``, over the parameters whose shapes agree
    (a weight gradient transposed is compared transposed back, as the check realigns it)."""
    def aligned(key):
        value = np.asarray(reading[key], np.float64)
        return value.T if value.ndim == 2 and value.shape != expected[key].shape else value

    return sum(float(np.sum(np.abs(aligned(key) - expected[key]) ** 2))
               for key in expected if key in reading and np.shape(aligned(key)) == np.shape(expected[key]))


def nearest(readings: dict, expected: dict):
    """The key of the reading nearest ``expected`` (the first of equals: the reading as first made)."""
    return min(readings, key=lambda key: distance(readings[key], expected))


def order_text(network: Network, layout: Layout, order) -> str:
    """``W2, b2, W1, b1``: an order of the parameters, in the user's names."""
    names = user_names(network, layout)
    return ", ".join(names[key] for key in order)


def orders_text(network: Network, layout: Layout, orders) -> str:
    """``layer order or W2, b2, W1, b1``: other orders a returned list's shapes fit."""
    layer = tuple(network.param_shapes())
    return " or ".join("layer order" if tuple(order) == layer else order_text(network, layout, order)
                       for order in orders)


def check_gradient_result(network: Network, result, name: str, batch: int | None = None,
                          what: str = "gradient function", layout: Layout | None = None) -> Returned:
    """Check that ``result`` is a params-keyed dict of finite float32/float64 arrays in the parameters' shapes.

    A shape that :func:`realign` recognises is accepted and realigned.

    Raises:
        InputError: one line naming the function, the parameter and what was expected.
    """
    expected = network.param_shapes()
    gradients, shapes, raw = {}, {}, {}
    for key, shape in expected.items():
        try:
            value = np.asarray(result[key])
        except Exception as exc:
            raise InputError("%s %s: %s is not an array (%s)" % (what, name, key, one_line(exc))) from None
        if value.dtype not in GRADIENT_DTYPES:
            raise InputError("%s %s: %s has dtype %s; expected float64 or float32"
                             % (what, name, key, value.dtype))
        aligned = value if value.shape == shape else realign(network, key, value, batch)
        if aligned is None:
            hint = "; drop the extra axis of length 1" if value.shape in ((1,) + shape, shape + (1,)) else ""
            raise InputError("%s %s: %s has shape %s; expected %s%s" % (what, name, key, value.shape,
                                                                        layouts.accepted_shapes(key, shape, layout), hint))
        bad = ~np.isfinite(value)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError("%s %s: %s[%s] is %s; every gradient entry must be finite"
                             % (what, name, key, ", ".join(map(str, index)), value[index]))
        gradients[key] = aligned
        if aligned is not value:
            shapes[key], raw[key] = value.shape, value
    return Returned(gradients, shapes, raw)


def realign(network: Network, name: str, value: np.ndarray, batch: int | None) -> np.ndarray | None:
    """``value`` in parameter ``name``'s shape, when it came back transposed or with one row per example; else None.

    A weight gradient of shape ``(n_{l-1}, n_l)`` is transposed back (a square
    one cannot be told from a right one by its shape: the check's diagnosis
    finds it by its values); a bias gradient of shape ``(N, n_l)`` is summed
    over the examples (when there are several: with one, ``(1, n_l)`` is
    only an extra axis, and refused as a shape error); a bias gradient of one
    number where a layer has several units (``np.sum(delta)``, summed over the
    units too) stands for each of them, so that the check fails and says so.
    """
    expected = network.param_shapes()[name]
    if name.startswith("W") and value.shape == expected[::-1] and expected[0] != expected[1]:
        return value.T
    if name.startswith("b") and batch is not None and batch > 1 and value.shape == (batch,) + expected:
        return value.sum(axis=0)
    if name.startswith("b") and value.size == 1 and value.ndim <= 2 and expected[0] > 1:
        return np.full(expected, value.reshape(()), dtype=value.dtype)
    return None
