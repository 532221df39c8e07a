"""A model's forward as a ``torch.fx`` graph: what it computes, in order, custom ``autograd.Function``\\ s kept whole.

:func:`trace` runs ``forward`` on proxies (:func:`torch.fx.symbolic_trace`'s
way) and returns the graph of operations: ``placeholder`` (the input),
``get_attr`` (parameters and buffers), ``call_module`` (PyTorch's own layers,
kept whole as fx does), ``call_function`` and ``call_method`` (everything
else), ``output``.  Two things differ from fx's default tracer:

* an ``autograd.Function``'s ``apply`` becomes one ``call_function`` node
  whose target is the application itself (:class:`FunctionApplication`),
  instead of the operations of its ``forward``: its hand-written backward is
  what the check tests, so the reader must see it as one step;
* each node keeps the file, line and function of the user's code that made
  it (fx's own ``record_stack_traces`` costs about 50 times the tracing; a
  walk up the frames to the first one outside torch costs next to nothing),
  so that :func:`locate` can say where a step is in ``forward``.

A forward fx cannot trace (Python control flow on a tensor's value, a
conversion to a Python number or numpy array) is one :class:`derive.InputError`
line saying why and where.
"""

from __future__ import annotations

import linecache
import sys
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

import derive
from derive import InputError

from ..sources import one_line, user_frame, user_frame_text
from .failures import users_failure

#: ``Function.apply`` as torch defines it (a classmethod), restored after each trace.
_APPLY = torch.autograd.Function.__dict__["apply"]
_TORCH = str(Path(torch.__file__).resolve().parent)
_HERE = str(Path(__file__).resolve())
_OURS = (str(Path(__file__).resolve().parents[2]), str(Path(derive.__file__).resolve().parent))
#: File name -> "torch" (torch and this module), "ours" (backprop) or "user".
_PLACES: dict[str, str] = {}


class FunctionApplication:
    """``Function.apply`` of one ``autograd.Function``: the target of its node in the graph."""

    def __init__(self, function: type):
        self.function = function
        self.__name__ = self.__qualname__ = "%s.apply" % function.__name__

    def __call__(self, *args, **kwargs):
        return _APPLY.__get__(None, self.function)(*args, **kwargs)

    def __repr__(self) -> str:
        return self.__name__


class _Tracer(fx.Tracer):
    """fx's tracer, which keeps torch.nn's own layers as leaves (``call_module``) and traces into the user's;
    each node remembers the line of the user's code that made it (``node.meta["user_frame"]``)."""

    def create_proxy(self, *args, **kwargs):
        proxy = super().create_proxy(*args, **kwargs)
        proxy.node.meta["user_frame"] = _user_frame(sys._getframe(1))
        return proxy


def _user_frame(frame) -> tuple[str, int, str] | None:
    """(file, line, function) of the innermost frame of the user's code inside ``forward``, or None."""
    while frame is not None:
        where = _PLACES.get(frame.f_code.co_filename)
        if where is None:
            path = str(Path(frame.f_code.co_filename).resolve())
            where = _PLACES[frame.f_code.co_filename] = (
                "torch" if path.startswith(_TORCH) or path == _HERE else "ours" if path.startswith(_OURS) else "user")
        if where == "user":
            return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name
        if where == "ours":
            return None  # left forward: the model is torch's own layers only
        frame = frame.f_back
    return None


@contextmanager
def _functions_kept_whole():
    """While tracing, ``SomeFunction.apply(proxy, ...)`` records one node instead of running ``forward`` on proxies."""

    def apply(cls, *args, **kwargs):
        proxies = [a for a in _leaves((args, kwargs)) if isinstance(a, fx.Proxy)]
        if not proxies:
            return _APPLY.__get__(None, cls)(*args, **kwargs)
        return proxies[0].tracer.create_proxy("call_function", FunctionApplication(cls), args, kwargs)

    torch.autograd.Function.apply = classmethod(apply)
    try:
        yield
    finally:
        torch.autograd.Function.apply = _APPLY


def _leaves(value) -> list:
    """The items of nested tuples, lists and dicts (a Function's arguments)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def trace(model: nn.Module, reuse: bool = False) -> tuple[fx.Graph, bool]:
    """The graph of ``model.forward``, and whether it is one traced before for a model of the same structure.

    Each graph traced is kept for the model's :func:`structure_key` (the last
    :data:`GRAPHS_KEPT`); with ``reuse``, one kept is given again: tracing costs
    far more than the rest of the reading.  A caller that finds the graph does not fit the model
    (something the key cannot see changed, such as a global flag ``forward``
    reads) traces again with ``reuse=False``.

    Raises:
        InputError: fx cannot trace it (one line: why, and where in the user's code).
    """
    key = structure_key(model)
    if reuse and key is not None and key in _GRAPHS:
        _GRAPHS.move_to_end(key)
        return _GRAPHS[key], True
    graph = _traced(model)
    if key is not None:
        _GRAPHS[key] = graph
        while len(_GRAPHS) > GRAPHS_KEPT:
            _GRAPHS.popitem(last=False)
    return graph, False


def was_traced(model: nn.Module) -> bool:
    """Whether :func:`trace` keeps a graph for a model of ``model``'s structure."""
    key = structure_key(model) if isinstance(model, nn.Module) else None
    return key is not None and key in _GRAPHS


#: How many traced graphs :func:`trace` keeps.
GRAPHS_KEPT = 64
_GRAPHS: OrderedDict = OrderedDict()
_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def structure_key(model: nn.Module) -> tuple | None:
    """What the graph of ``forward`` depends on: each module's class and ``forward`` code, its attributes other
    than tensors (flags and sizes by value, functions and other objects by identity), the parameters' and
    buffers' names, shapes and dtypes; None when an attribute cannot be keyed."""
    parts = []
    try:
        for name, module in model.named_modules():
            attributes = tuple((key, value if isinstance(value, _PLAIN) else _short_repr(value))
                               for key, value in vars(module).items() if not key.startswith("_"))
            parts.append((name, type(module), getattr(type(module).forward, "__code__", None), attributes))
        parts.append(tuple((name, tuple(t.shape), t.dtype, str(t.device)) for name, t in model.named_parameters()))
        parts.append(tuple((name, tuple(t.shape), t.dtype) for name, t in model.named_buffers()))
        hash(tuple(parts))
    except Exception:  # an attribute that cannot be read or hashed: trace every time
        return None
    return tuple(parts)


def _short_repr(value) -> str | int:
    """A small container of plain values by its text; anything else by its identity."""
    if isinstance(value, (tuple, list)) and len(value) <= 16 and all(isinstance(item, _PLAIN) for item in value):
        return repr(value)
    return id(value)


def _traced(model: nn.Module) -> fx.Graph:
    tracer = _Tracer(autowrap_modules=())  # fx's wrapping of math functions costs 2/3 of a trace; MLPs need none
    try:
        with _functions_kept_whole():
            return tracer.trace(model)
    except BaseException as exc:
        if not users_failure(exc):
            raise
        raise InputError(_untraceable(model, exc)) from None


def _untraceable(model: nn.Module, exc: BaseException) -> str:
    where = user_frame(exc)
    text = one_line(exc)
    name = model_name(model)
    if "control flow" in text or "bool" in text and "Proxy" in text:
        return ("cannot read %s: its forward decides what to compute from a tensor's value (Python if/while/and "
                "on data)%s, which torch.fx cannot trace; backprop reads a forward that applies the same operations "
                "to every input" % (name, where))
    if isinstance(exc, fx.proxy.TraceError) or "Proxy" in text:
        return ("cannot read %s: torch.fx cannot trace its forward (%s)%s; backprop reads a forward that passes the "
                "input through tensor operations only" % (name, text, where))
    return "cannot read %s: its forward raised %s%s (while torch.fx traced it)" % (name, text, where)


def locate(node: fx.Node) -> str:
    """Where ``node`` is in the user's ``forward``: ``", at model.py line 12 in forward: h = x @ self.W.T"``.

    Empty when no frame is the user's (an ``nn.Sequential`` of torch's own layers).
    """
    frame = node.meta.get("user_frame")
    if frame is None:
        return ""
    filename, lineno, function = frame
    return user_frame_text(filename, lineno, function, linecache.getline(filename, lineno))


def position(node: fx.Node) -> str:
    """`` at model.py line 12`` (the short form of :func:`locate`), or empty."""
    frame = node.meta.get("user_frame")
    return " at %s" % locate(node)[len(", at "):].split(" in ", 1)[0] if frame else ""


def model_name(model: nn.Module) -> str:
    """The model's class name (the forward function's name for raw tensors), for messages."""
    return getattr(model, "display_name", type(model).__name__)


def describe(model: nn.Module, node: fx.Node) -> str:
    """How ``node`` is written: ``self.head (nn.Linear)``, ``F.linear``, ``torch.tanh``, ``.clamp``, ``LinearFunction.apply``."""
    if node.op == "call_module":
        module = model.get_submodule(node.target)
        kind = type(module)
        prefix = "nn." if kind.__module__.startswith("torch.nn") else ""
        return "%s (%s%s)" % (module_path(node.target), prefix, kind.__name__)
    text = ".%s()" % node.target if node.op == "call_method" else function_name(node.target) \
        if node.op == "call_function" else "self.%s" % node.target if node.op == "get_attr" else node.name
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path, (_, kind) = next(reversed(stack.items()))
        text += " in %s (%s)" % (module_path(path), kind.__name__)
    return text


def function_name(target) -> str:
    """``torch.tanh``, ``F.linear``, ``operator.matmul`` as users write them (``@``), ``Legendre.apply``."""
    operators = {"matmul": "@", "add": "+", "sub": "-", "mul": "*", "truediv": "/", "pow": "**", "neg": "unary -",
                 "getitem": "[...]"}
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", repr(target))
    if module in ("_operator", "operator") and name in operators:
        return operators[name]
    if getattr(F, name, None) is target:
        return "F.%s" % name
    if module.startswith("torch") or isinstance(target, type(torch.tanh)):
        return "torch.%s" % name
    return name


def module_path(target: str) -> str:
    """``self.layers[0]`` for the fx target ``layers.0``; a Sequential model's own children are ``module 0``."""
    parts = target.split(".")
    if parts[0].isdigit():
        return "model[%s]%s" % (parts[0], "".join("[%s]" % p if p.isdigit() else ".%s" % p for p in parts[1:]))
    return "self." + "".join("[%s]" % p if p.isdigit() else ".%s" % p for p in parts)[1:]
