"""Checking a method of the user's own class: an instance made for the network, its parameters set from the check's.

Much backprop is written as a class: CS231n's ``TwoLayerNet(input_size,
hidden_size, output_size)`` keeps a ``params`` dict and its ``loss(X, y)``
returns ``(loss, grads)``; Nielsen's ``Network(sizes)`` keeps lists
``weights`` and ``biases`` and its ``backprop(x, y)`` takes one example; a
blog's ``NeuralNetwork`` keeps ``self.W1``, ``self.b1`` and its ``backward(X,
y)`` reads what ``forward(X)`` cached.  ``--grad file.py:Class.method`` (or,
in Python, ``Class.method`` or a bound ``net.backward``) is checked as it is:

* :func:`method_of` recognises a method that needs an instance;
* :func:`bind` makes the instance (``Class(sizes)`` or ``Class(*sizes)``, by
  its ``__init__``'s required arguments; a bound method's own instance),
  finds where it keeps its parameters (a dict with their names, attributes of
  their names, or a list of weights and one of biases), and returns a function
  ``f(params, X, T)`` that puts the check's arrays there and calls the method:
  ``method(X, T)``; ``forward(X)`` first when the method reads what the
  forward pass keeps (it raises ``AttributeError`` without, or takes ``(y)``
  or ``(X, y, output)``); gradients it keeps instead of returning (``self.grads``,
  ``self.dW1``) are read from the instance.

Anything else is refused in one line that says what the check looked for.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from typing import Callable

import numpy as np

from derive import InputError, Network

from .layouts import Layout, user_names
from .sources import DATA_NAMES, PARAMETER_NAMES, InstanceMethod, is_number as _is_number

__all__ = ["FORWARD_NAMES", "InstanceMethod", "bind", "method_of"]

#: Names of the forward pass a backward method may need run first, in the order they are looked for.
FORWARD_NAMES = ("forward", "feedforward", "forward_propagation", "forward_pass", "predict")
#: Attributes a method may leave its gradients in, instead of returning them.
GRADIENT_ATTRIBUTES = ("grads", "gradients", "grad")


def method_of(function) -> InstanceMethod | None:
    """``function`` as an :class:`InstanceMethod` when it is a method that needs an instance, else None.

    That is a bound method (``net.backward``: its own instance), or a function defined in a class whose first
    argument is ``self`` (``TwoLayerNet.loss``, the class found from its module and qualified name).
    """
    if isinstance(function, InstanceMethod):
        return function
    if inspect.ismethod(function) and not inspect.isclass(function.__self__):
        if _takes_parameters(function):
            return None  # net.gradients(params, X, T): a gradient function like any other
        return InstanceMethod(type(function.__self__), function.__name__, function.__self__)
    qualname = getattr(function, "__qualname__", "")
    if not inspect.isfunction(function) or "." not in qualname or "<locals>" in qualname:
        return None
    arguments = list(inspect.signature(function).parameters)
    if not arguments or arguments[0] != "self":
        return None
    owner = sys.modules.get(function.__module__)
    for part in qualname.split(".")[:-1]:
        owner = getattr(owner, part, None)
    return InstanceMethod(owner, function.__name__) if inspect.isclass(owner) else None


def _takes_parameters(function) -> bool:
    """Whether a method takes the parameters as an argument itself, ``(params, X, T)``: a first argument named
    like a parameter dict, or three required ones (besides ``self``) of which the first is not named like the data
    (``backward(X, y, output)`` takes the data first)."""
    arguments = [p for p in inspect.signature(function).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]
    if not arguments:
        return False
    first = arguments[0].name.lower()
    required = [p for p in arguments if p.default is p.empty]
    return first in PARAMETER_NAMES or len(required) >= 3 and first not in DATA_NAMES


def bind(method: InstanceMethod, network: Network, layout: Layout, who: str) -> Callable:
    """A function ``f(params, X, T, *rest)`` (``params`` in the user's layout and names) that sets ``method``'s
    instance's parameters and calls it; its ``described()`` says how, for the check's ``read:`` line.

    Raises:
        InputError: the class cannot be made for ``network``, keeps its parameters where they cannot be found,
            or stores its weights the other way round from ``layout``.
    """
    if method.instance is not None:  # a copy, so that the check leaves the user's own network as it was
        try:
            instance = copy.deepcopy(method.instance)
        except Exception:  # an instance that cannot be copied (an open file, a lock) is used as it is
            instance = method.instance
        made = "a copy of its own instance"
    else:
        instance, made = _construct(method.cls, network, who)
    bound = getattr(instance, method.name)
    if _takes_parameters(bound):  # Class.gradients(self, params, X, T): the instance is all it needs
        @functools.wraps(bound)
        def direct(*arguments, **keywords):
            return bound(*arguments, **keywords)
        direct.described = lambda: "called as %s.%s on %s" % (method.cls.__name__, method.name, made)
        return direct
    storage = _storage(instance, network, layout, who)
    required = [p for p in inspect.signature(bound).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    forward = next((name for name in FORWARD_NAMES if name != method.name and callable(getattr(instance, name, None))),
                   None)
    state = {"forward first": len(required) in (1, 3) and forward is not None}

    def call(params: dict, X, T, *rest):
        storage.put(params)
        output = getattr(instance, forward)(X) if state["forward first"] else None
        try:
            if len(required) == 1 and state["forward first"]:
                result = bound(T)
            elif len(required) == 3 and state["forward first"] and not rest:
                result = bound(X, T, output)
            else:
                result = bound(X, T, *rest)
        except AttributeError:  # it reads what the forward pass keeps (on itself or its layers): run that first
            if state["forward first"] or forward is None:
                raise
            state["forward first"] = True
            return call(params, X, T, *rest)
        if layout.update is None:
            if result is not None:
                return result
            kept = _kept_gradients(instance, storage, network, layout)
            state["kept"] = ", its gradients read from it" if kept is not None else ""
            return kept
        if result is None or _is_number(result):
            # a training step: the parameters after it, as the instance now holds them (rebound or changed in
            # place), copied into the arrays it was given, which the check reads as "updated in place"
            after = storage.take()
            if any(np.shape(after[name]) != np.shape(params[name]) for name in params):
                return after  # refused by name, shape by shape
            for name, value in after.items():
                if value is not params[name]:
                    np.copyto(params[name], value)
        return result

    call.__module__, call.__qualname__, call.__name__ = method.__module__, method.__qualname__, method.name
    call.described = lambda: "called as %s.%s on %s with %s set%s%s" % (
        method.cls.__name__, method.name, made, storage.described,
        ", %s(X) first" % forward if state["forward first"] else "", state.get("kept", ""))
    return call


def _construct(cls: type, network: Network, who: str) -> tuple[object, str]:
    """An instance of ``cls`` for ``network`` (``cls()``, ``cls(sizes)`` or ``cls(*sizes)``, by the required
    arguments of its ``__init__``), and how it was made (``TwoLayerNet(4, 6, 3)``)."""
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    required = [p for p in parameters if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    sizes = list(network.sizes)
    forms = {0: (), 1: (sizes,), len(sizes): tuple(sizes)}
    if len(required) not in forms:
        raise InputError("%s: cannot make a %s for %s: its __init__ takes (%s), and the check makes one as %s(), "
                         "%s(sizes) or %s(*sizes); write a function f(params, X, T) that makes one and calls it "
                         "(docs/other-conventions.md, Nielsen's Network)"
                         % (who, cls.__name__, network.describe(), ", ".join(p.name for p in required),
                            cls.__name__, cls.__name__, cls.__name__))
    arguments = forms[len(required)]
    made = "%s(%s)" % (cls.__name__, ", ".join(map(repr, arguments)))
    try:
        return cls(*arguments), made
    except Exception as exc:
        raise InputError("%s: making %s for %s raised %s: %s" % (who, made, network.describe(), type(exc).__name__,
                                                                  exc)) from None


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


def _storage(instance, network: Network, layout: Layout, who: str):
    """Where ``instance`` keeps its parameters (``put`` the user's arrays there, ``take`` them back, ``described``).

    Looked for in this order: a dict holding every parameter's name (``self.params["W1"]``), attributes of
    their names (``self.W1``), a list of the weights and a list of the biases, one per layer
    (``self.weights[0]``, ``self.biases[0]``), a list of layer objects each with its weight and bias
    (``self.layers[0].W``, ``.b``).  Names match in any case.
    """
    names = list(user_names(network, layout).values())
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    found = None
    for attribute, value in fields.items():
        keys = _spelled(names, value) if isinstance(value, dict) else None
        if keys:
            found = _Slots({name: (value, keys[name]) for name in names}, "its %s dict" % attribute)
            break
    if found is None and _spelled(names, fields):
        keys = _spelled(names, fields)
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
                           and np.size(own[key]) == sizes[layer] * sizes[layer - 1]), None)
            bias = next((key for key in own if key.lower() in LAYER_BIASES and np.size(own[key]) == sizes[layer]), None)
            if weight is None or (network.bias and bias is None):
                break
            slots[names[(layer - 1) * (2 if network.bias else 1)]] = (item, weight)
            if network.bias:
                slots[names[2 * layer - 1]] = (item, bias)
        if len(slots) == len(names):
            return _Slots(slots, "the weights and biases of its %s" % attribute)
    return None


def _spelled(names: list, mapping) -> dict | None:
    """Each of ``names`` -> the key of ``mapping`` spelled the same in any case, if every name has one; else None."""
    keys = {str(key).lower(): key for key in mapping if isinstance(key, str)}
    found = {name: keys.get(name.lower()) for name in names}
    return found if None not in found.values() else None


def _layer_lists(fields: dict, network: Network) -> tuple[str, str | None] | None:
    """The attributes holding a list of the weights and (with biases) a list of the biases, layer by layer."""
    sizes = network.sizes

    def holds(value, sizes_of) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == network.depth
                and all(np.size(array) == sizes_of(l) and np.ndim(array) >= 1 for l, array in enumerate(value, 1)))

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


def _kept_gradients(instance, storage, network: Network, layout: Layout) -> dict | None:
    """The gradients a method left on its instance instead of returning them: a ``grads`` dict, attributes
    ``dW1``, ``grad_W1``, ``W1_grad`` (any case), or each layer object's ``dW``, ``db`` beside its ``W``, ``b``;
    None if it left none."""
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    for attribute in GRADIENT_ATTRIBUTES:
        if isinstance(fields.get(attribute), dict):
            return fields[attribute]
    places = storage.slots if isinstance(storage, _Slots) else {name: (instance, name) for name in storage.names}
    kept = {}
    for name, (holder, key) in places.items():
        layer_object = holder is not instance and not isinstance(holder, dict) and hasattr(holder, "__dict__")
        value = _gradient_beside(vars(holder), key) if layer_object else _gradient_beside(fields, name)
        if value is None:
            return None
        kept[name] = value
    return kept


def _gradient_beside(fields: dict, name: str):
    """``fields``' ``dW1`` (or ``grad_W1``, ``W1_grad``, ``d_W1``, any case) for parameter ``name``; else None."""
    for pattern in ("d%s", "grad_%s", "%s_grad", "d_%s"):
        keys = _spelled([pattern % name], fields)
        if keys:
            return fields[keys[pattern % name]]
    return None
