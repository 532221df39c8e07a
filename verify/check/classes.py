"""Checking a method of the user's own class: an instance made for the network, its parameters set from the check's.

Much backprop is written as a class: CS231n's ``TwoLayerNet(input_size,
hidden_size, output_size)`` keeps a ``params`` dict and its ``loss(X, y)``
returns ``(loss, grads)``; Nielsen's ``Network(sizes)`` keeps lists
``weights`` and ``biases`` and its ``backprop(x, y)`` takes one example; a
blog's ``NeuralNetwork`` keeps ``self.W1``, ``self.b1`` and its ``backward(X,
y)`` reads what ``forward(X)`` cached.  ``--grad file.py:Class.method`` (or,
in Python, ``Class.method`` or a bound ``net.backward``) is checked as it is:

* :func:`method_of` recognises a method that needs an instance;
* :func:`bind` takes the instance (one made for the network, ``Class(sizes)``
  or ``Class(*sizes)`` by its ``__init__``'s required arguments, or a copy of
  a bound method's own), finds where it keeps its parameters
  (:mod:`verify.check.instance_storage`), and returns a function ``f(params,
  X, T)`` that puts the check's arrays there, runs the forward pass first
  (``forward(X)``, ``feedforward``, ...: a cache is then of this call's data)
  and calls the method with ``(X, T)``, ``(T)``, ``(X, T, output)`` or ``(X,
  T, lr)``; gradients it keeps instead of returning (``self.grads``,
  ``self.dW1``) are read from the instance, and a training step's parameters
  read back from it.

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

from .instance_storage import find_storage, kept_gradients
from .layouts import Layout
from .sources import DATA_NAMES, PARAMETER_NAMES, InstanceMethod, is_number as _is_number

__all__ = ["FORWARD_NAMES", "InstanceMethod", "bind", "method_of"]

#: Names of the forward pass a backward method may need run first, in the order they are looked for.
FORWARD_NAMES = ("forward", "feedforward", "forward_propagation", "forward_pass", "predict")
#: Names of a method's argument that takes a learning rate (a training step's): given --update's.
LEARNING_RATE_NAMES = ("lr", "learning_rate", "eta", "alpha", "step_size", "rate")


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
    if not inspect.isfunction(function) or "." not in qualname:
        return None
    arguments = list(inspect.signature(function).parameters)
    if not arguments or arguments[0] != "self":
        return None
    if "<locals>" in qualname:
        raise InputError("%s is a method of a class defined inside a function, which the check cannot make: pass "
                         "it bound to an instance (net.%s), which the check calls on a copy"
                         % (qualname.replace(".<locals>", ""), function.__name__))
    owner = sys.modules.get(function.__module__)
    for part in qualname.split(".")[:-1]:
        owner = getattr(owner, part, None)
    return InstanceMethod(owner, function.__name__) if inspect.isclass(owner) else None


def _takes_parameters(function) -> bool:
    """Whether a method takes the parameters as an argument itself, ``(params, X, T)``: a first argument named
    like a parameter dict, or three required ones (besides ``self``) of which the first is not named like the data
    (``backward(X, y, output)`` and ``backward(batch_x, batch_y, out)`` take the data first)."""
    arguments = _positional(function)
    if not arguments:
        return False
    first = arguments[0].name.lower()
    required = [p for p in arguments if p.default is p.empty]
    return first in PARAMETER_NAMES or "param" in first or (len(required) >= 3 and not _data_like(first))


def _positional(function) -> list:
    return [p for p in inspect.signature(function).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"]


def _data_like(name: str) -> bool:
    """An argument named like the inputs: ``X``, ``x_batch``, ``batch_x``, ``inputs``, ``a0``."""
    lower = name.lower()
    return lower in DATA_NAMES or lower.startswith("x") or lower.endswith("_x") or "input" in lower or lower in (
        "a0", "a_prev", "a", "data", "features")


def bind(method: InstanceMethod, network: Network, layout: Layout, who: str) -> Callable:
    """A function ``f(params, X, T, *rest)`` (``params`` in the user's layout and names) that sets ``method``'s
    instance's parameters and calls it; its ``described()`` says how, for the check's ``read:`` line.

    The method is called on an instance of its own: a copy of a bound method's instance (the user's network is
    left as it was; one that cannot be copied is replaced by one made for the network), or one made for the
    network.  Its forward pass, when it has one taking the inputs, runs first on every call, so that what the
    method reads from the forward pass's cache is of this call's data.  Then the method gets ``(X, T)``; ``(T)``
    if it takes one argument not named like the inputs; ``(X, T, output)`` if a third, the forward pass's
    output, or ``(X, T, LR)`` if that third is a learning rate (``lr``) and the check was given ``--update LR``.

    Raises:
        InputError: the class cannot be made for ``network``, keeps its parameters where they cannot be found,
            stores its weights the other way round from ``layout``, or takes a learning rate without --update.
    """
    instance, made = _instance(method, network, who)
    bound = getattr(instance, method.name)
    if _takes_parameters(bound):  # Class.gradients(self, params, X, T): the instance is all it needs
        @functools.wraps(bound)
        def direct(*arguments, **keywords):
            return bound(*arguments, **keywords)
        direct.described = lambda: "called as %s.%s on %s" % (method.cls.__name__, method.name, made)
        return direct
    storage = find_storage(instance, network, layout, who)
    required = [p for p in _positional(bound) if p.default is p.empty]
    forward = next((name for name in FORWARD_NAMES if name != method.name and _takes_inputs(instance, name)), None)
    rate = len(required) == 3 and required[2].name.lower() in LEARNING_RATE_NAMES
    if rate and layout.update is None:
        raise InputError("%s: its argument %s is a learning rate: a training step is checked with --update LR (the "
                         "rate it is given), which recovers the gradient from the step" % (who, required[2].name))
    state = {"kept": ""}

    def call(params: dict, X, T, *rest):
        storage.put(params)
        output = getattr(instance, forward)(X) if forward else None
        if rest:
            result = bound(X, T, *rest)
        elif len(required) == 1 and not _data_like(required[0].name):
            result = bound(T)
        elif len(required) == 3:
            result = bound(X, T, layout.update if rate else output)
        else:
            result = bound(X, T)
        if layout.update is None:
            if result is not None:
                return result
            kept = kept_gradients(instance, storage)
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
        method.cls.__name__, method.name, made, storage.described, ", %s(X) first" % forward if forward else "",
        state["kept"])
    return call


def _takes_inputs(instance, name: str) -> bool:
    """Whether ``instance.name`` is a method that can be called with the inputs alone, ``forward(X)``."""
    function = getattr(instance, name, None)
    if not callable(function):
        return False
    try:
        arguments = _positional(function)
    except (TypeError, ValueError):
        return False
    return bool(arguments) and len([p for p in arguments if p.default is p.empty]) <= 1


def _instance(method: InstanceMethod, network: Network, who: str) -> tuple[object, str]:
    """The instance to call ``method`` on, and how it was made: a copy of the bound method's own (the check leaves
    the user's network as it was), or, for a class or an instance that cannot be copied, one made for ``network``."""
    if method.instance is None:
        return _construct(method.cls, network, who)
    try:
        return copy.deepcopy(method.instance), "a copy of its own instance"
    except Exception as exc:  # an open file, a lock: the user's own must not be changed, so make another
        try:
            instance, made = _construct(method.cls, network, who)
        except InputError as refused:
            raise InputError("%s: its own network cannot be copied (%s), and the check will not change it; %s"
                             % (who, type(exc).__name__, str(refused).split(": ", 1)[1])) from None
        return instance, "%s (its own cannot be copied: %s)" % (made, type(exc).__name__)


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
    except (Exception, SystemExit) as exc:  # the user's __init__ may raise anything, or exit
        raise InputError("%s: making %s for %s raised %s: %s" % (who, made, network.describe(), type(exc).__name__,
                                                                  exc)) from None
