"""Where an instance of a user's class keeps its parameters, and the gradients its methods leave on it.

:func:`find_storage` finds, on an instance :mod:`verify.check.classes` made
(or copied), where its parameters live, so that the check can put its own
arrays there before each call and read them back after a training step: a
dict holding every parameter's name (CS231n's ``self.params``), attributes of
their names (``self.W1``), Nielsen's lists ``self.weights`` and
``self.biases``, or a list of layer objects each with its ``W`` and ``b``.
:func:`kept_gradients` reads the gradients a method leaves instead of
returning them (``self.grads``, ``self.dW1``, a layer's ``dW``).
"""

from __future__ import annotations

import numpy as np

from derive import InputError, Network

from .layouts import Layout, user_names
from .sources import spelled_alike

__all__ = ["GRADIENT_ATTRIBUTES", "LAYER_BIASES", "LAYER_WEIGHTS", "find_storage", "kept_gradients"]

#: Attributes a method may leave its gradients in, instead of returning them.
GRADIENT_ATTRIBUTES = ("grads", "gradients", "grad")


class _Slots:
    """Where an instance keeps each parameter: ``slots[name] = (holder, key)``, read and written by ``get``/``set``
    (a dict's item, or an attribute of the instance or of one of its layer objects), and how to say so."""

    def __init__(self, slots: dict, described: str):
        self.slots, self.described = slots, described

    def put(self, params: dict) -> None:
        for name, array in params.items():
            holder, key = self.slots[name]
            if isinstance(holder, dict):
                holder[key] = array
            else:
                setattr(holder, key, array)

    def take(self) -> dict:
        return {name: holder[key] if isinstance(holder, dict) else getattr(holder, key)
                for name, (holder, key) in self.slots.items()}


class _Lists:
    """Nielsen's form: the weights in one list attribute, the biases in another, layer by layer."""

    def __init__(self, instance, names: list, weights: str, biases: str | None):
        self.instance, self.names, self.weights, self.biases = instance, names, weights, biases
        self.described = "its lists %s" % " and ".join(name for name in (weights, biases) if name)
        self.step = 2 if biases is not None else 1

    def put(self, params: dict) -> None:
        arrays = [params[name] for name in self.names]
        setattr(self.instance, self.weights, list(arrays[0::self.step]))
        if self.biases is not None:
            setattr(self.instance, self.biases, list(arrays[1::2]))

    def take(self) -> dict:
        arrays = [None] * len(self.names)
        arrays[0::self.step] = getattr(self.instance, self.weights)
        if self.biases is not None:
            arrays[1::2] = getattr(self.instance, self.biases)
        return dict(zip(self.names, arrays))


#: Attribute names a layer object gives its weight and its bias.
LAYER_WEIGHTS, LAYER_BIASES = ("w", "weight", "weights", "kernel"), ("b", "bias", "biases")


def find_storage(instance, network: Network, layout: Layout, who: str):
    """Where ``instance`` keeps its parameters (``put`` the user's arrays there, ``take`` them back, ``described``).

    Looked for in this order: a dict holding every parameter's name (``self.params["W1"]``), attributes of
    their names (``self.W1``), a list of the weights and a list of the biases, one per layer
    (``self.weights[0]``, ``self.biases[0]``), a list of layer objects each with its weight and bias
    (``self.layers[0].W``, ``.b``).  Names match in any case.
    """
    names = list(user_names(network, layout).values())
    sizes = {user: int(np.prod(shape)) for user, shape in zip(names, network.param_shapes().values())}
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    found = None
    for attribute, value in fields.items():  # a dict of the parameters, not one of gradients named like them
        keys = _spelled(names, value) if isinstance(value, dict) and not _gradient_name(attribute) else None
        if keys and all(_size(value[keys[name]]) == sizes[name] for name in names):
            found = _Slots({name: (value, keys[name]) for name in names}, "its %s dict" % attribute)
            break
    keys = _spelled(names, fields) if found is None else None
    if keys and all(fields[keys[name]] is None or _size(fields[keys[name]]) == sizes[name] for name in names):
        found = _Slots({name: (instance, keys[name]) for name in names},
                       "its attributes %s" % ", ".join(keys[name] for name in names))
    if found is None and _layer_lists(fields, network) is not None:
        found = _Lists(instance, names, *_layer_lists(fields, network))
    if found is None:
        found = _layer_objects(fields, network, names)
    if found is None:
        raise InputError("%s: a %s made for %s keeps its parameters where the check cannot find them: it looks for a "
                         "dict holding %s, attributes of those names, a list of weights and one of biases, or a list "
                         "of layers each with its weight and bias (W, b); write a function f(params, X, T) that sets "
                         "them and calls it (docs/other-conventions.md, Nielsen's Network)"
                         % (who, type(instance).__name__, network.describe(), ", ".join(names)))
    _orientation(network, layout, found.take(), who)
    return found


def _layer_objects(fields: dict, network: Network, names: list) -> _Slots | None:
    """``self.layers = [Dense(...), ...]``: a list of one object per layer, each with a weight and a bias attribute."""
    sizes = network.sizes
    for attribute, value in fields.items():
        if not isinstance(value, (list, tuple)) or len(value) != network.depth:
            continue
        slots = {}
        for layer, item in enumerate(value, 1):
            own = vars(item) if hasattr(item, "__dict__") else {}
            weight = next((key for key in own if key.lower() in LAYER_WEIGHTS
                           and _size(own[key]) == sizes[layer] * sizes[layer - 1]), None)
            bias = next((key for key in own if key.lower() in LAYER_BIASES and _size(own[key]) == sizes[layer]), None)
            if weight is None or (network.bias and bias is None):
                break
            slots[names[(layer - 1) * (2 if network.bias else 1)]] = (item, weight)
            if network.bias:
                slots[names[2 * layer - 1]] = (item, bias)
        if len(slots) == len(names):
            return _Slots(slots, "the weights and biases of its %s" % attribute)
    return None


def _spelled(names: list, mapping) -> dict | None:
    """Each of ``names`` -> the key of ``mapping`` spelled alike (:func:`~verify.check.sources.spelled_alike`), if
    every name has one; else None."""
    found = spelled_alike(names, mapping)
    return found if None not in found.values() else None


def _layer_lists(fields: dict, network: Network) -> tuple[str, str | None] | None:
    """The attributes holding a list of the weights and (with biases) a list of the biases, layer by layer."""
    sizes = network.sizes

    def holds(value, sizes_of) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == network.depth
                and all(_size(array) == sizes_of(l) and np.ndim(array) >= 1 for l, array in enumerate(value, 1)))

    weights = next((name for name, value in fields.items()
                    if holds(value, lambda l: sizes[l] * sizes[l - 1]) and all(np.ndim(w) == 2 for w in value)), None)
    biases = next((name for name, value in fields.items() if name != weights and holds(value, lambda l: sizes[l])),
                  None)
    if weights is None or (network.bias and biases is None):
        return None
    return weights, biases if network.bias else None


def _orientation(network: Network, layout: Layout, weights: dict, who: str) -> None:
    """Refuse, with the option that fits, weights the instance stores the other way round from ``layout``."""
    shapes = network.param_shapes()
    for name, array in weights.items():
        key = next(key for key, user in user_names(network, layout).items() if user == name)
        shape = shapes[key]
        if not key.startswith("W") or shape[0] == shape[1] or np.ndim(array) != 2:
            continue
        theirs = "in-out" if np.shape(array) == shape[::-1] else "out-in" if np.shape(array) == shape else None
        if theirs is not None and theirs != layout.weights:
            raise InputError("%s: its instance stores %s as %s, (%s), for %s; check it with --weights %s "
                             "(layout=Layout(weights=%r) in Python)"
                             % (who, name, np.shape(array), "in, out" if theirs == "in-out" else "out, in",
                                "X @ W" if theirs == "in-out" else "W @ x", theirs, theirs))


def kept_gradients(instance, storage) -> dict | None:
    """The gradients a method left on its instance instead of returning them: a ``grads`` dict, attributes
    ``dW1``, ``grad_W1``, ``W1_grad`` (any case), or each layer object's ``dW``, ``db`` beside its ``W``, ``b``;
    copies (a method that fills the same arrays on every call must not change what an earlier call left);
    None if it left none."""
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    for attribute in GRADIENT_ATTRIBUTES:
        if isinstance(fields.get(attribute), dict):
            return {key: np.array(value) if hasattr(value, "__array__") else value
                    for key, value in fields[attribute].items()}
    places = storage.slots if isinstance(storage, _Slots) else {name: (instance, name) for name in storage.names}
    kept = {}
    for name, (holder, key) in places.items():
        layer_object = holder is not instance and not isinstance(holder, dict) and hasattr(holder, "__dict__")
        value = _gradient_beside(vars(holder), key) if layer_object else _gradient_beside(fields, name)
        if value is None:
            return None
        kept[name] = np.array(value)
    return kept


def _size(value) -> int:
    """The number of entries of an array-like; -1 for anything that is not one (a ragged list, a string)."""
    if isinstance(value, np.ndarray):
        return value.size
    try:
        return np.asarray(value, dtype=float).size
    except (TypeError, ValueError):
        return -1


def _gradient_name(attribute: str) -> bool:
    """An attribute named like a method's gradients (``grads``, ``gradients``, ``dparams``): not its parameters."""
    lower = attribute.lower()
    return lower in GRADIENT_ATTRIBUTES or lower.startswith("grad") or lower.startswith("d_")


def _gradient_beside(fields: dict, name: str):
    """``fields``' ``dW1`` (or ``grad_W1``, ``W1_grad``, ``d_W1``, any case) for parameter ``name``; else None."""
    for pattern in ("d%s", "grad%s", "%s_grad"):
        keys = _spelled([pattern % name], fields)
        if keys:
            return fields[keys[pattern % name]]
    return None
