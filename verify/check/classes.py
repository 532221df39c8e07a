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
from .sources import DATA_NAMES, PARAMETER_NAMES, InstanceMethod

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
    store, kept = _storage(instance, network, layout, who)
    required = [p for p in inspect.signature(bound).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    forward = next((name for name in FORWARD_NAMES if name != method.name and callable(getattr(instance, name, None))),
                   None)
    state = {"forward first": len(required) in (1, 3) and forward is not None}

    def call(params: dict, X, T, *rest):
        store(params)
        output = getattr(instance, forward)(X) if state["forward first"] else None
        try:
            if len(required) == 1 and state["forward first"]:
                result = bound(T)
            elif len(required) == 3 and state["forward first"] and not rest:
                result = bound(X, T, output)
            else:
                result = bound(X, T, *rest)
        except AttributeError as exc:  # it reads what the forward pass keeps: run that first, from now on
            if state["forward first"] or forward is None or getattr(exc, "obj", instance) is not instance:
                raise
            state["forward first"] = True
            return call(params, X, T, *rest)
        return _kept_gradients(instance, network, layout) if result is None and layout.update is None else result

    call.__module__, call.__qualname__, call.__name__ = method.__module__, method.__qualname__, method.name
    call.described = lambda: "called as %s.%s on %s with %s set%s" % (
        method.cls.__name__, method.name, made, kept, ", %s(X) first" % forward if state["forward first"] else "")
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


def _storage(instance, network: Network, layout: Layout, who: str) -> tuple[Callable, str]:
    """Where ``instance`` keeps its parameters: a function that puts the user's arrays there, and its description.

    Looked for in this order: a dict holding every parameter's name (``self.params["W1"]``), attributes of
    their names (``self.W1``), a list of the weights and a list of the biases, one per layer
    (``self.weights[0]``, ``self.biases[0]``).  Names match in any case.
    """
    names = list(user_names(network, layout).values())
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    for attribute, value in fields.items():
        if isinstance(value, dict) and _spelled(names, value):
            keys = _spelled(names, value)
            _orientation(network, layout, {name: value[keys[name]] for name in names}, who)

            def into_dict(params, store=value, keys=keys):
                store.update({keys[name]: array for name, array in params.items()})
            return into_dict, "its %s dict" % attribute
    keys = _spelled(names, fields)
    if keys:
        _orientation(network, layout, {name: fields[keys[name]] for name in names}, who)

        def into_attributes(params):
            for name, array in params.items():
                setattr(instance, keys[name], array)
        return into_attributes, "its attributes %s" % ", ".join(keys[name] for name in names)
    lists = _layer_lists(fields, network)
    if lists is not None:
        weights, biases = lists
        _orientation(network, layout, {names[2 * k if network.bias else k]: w
                                       for k, w in enumerate(fields[weights])}, who)
        per_layer = 2 if network.bias else 1

        def into_lists(params):
            arrays = [params[name] for name in names]
            setattr(instance, weights, list(arrays[0::per_layer]))
            if biases is not None:
                setattr(instance, biases, list(arrays[1::2]))
        return into_lists, "its lists %s" % " and ".join(name for name in (weights, biases) if name)
    raise InputError("%s: a %s made for %s keeps its parameters where the check cannot find them: it looks for a "
                     "dict holding %s, attributes of those names, or a list of weights and one of biases; write a "
                     "function f(params, X, T) that sets them and calls it (docs/other-conventions.md, Nielsen's "
                     "Network)" % (who, type(instance).__name__, network.describe(), ", ".join(names)))


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


def _kept_gradients(instance, network: Network, layout: Layout):
    """The gradients a method left on its instance instead of returning them: a ``grads`` dict, or attributes
    ``dW1``, ``grad_W1``, ``W1_grad`` (any case); None if it left none."""
    fields = vars(instance) if hasattr(instance, "__dict__") else {}
    for attribute in GRADIENT_ATTRIBUTES:
        if isinstance(fields.get(attribute), dict):
            return fields[attribute]
    names = list(user_names(network, layout).values())
    for pattern in ("d%s", "grad_%s", "%s_grad", "d_%s"):
        keys = _spelled([pattern % name for name in names], fields)
        if keys:
            return {key: fields[key] for key in keys.values()}
    return None
