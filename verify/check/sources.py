"""Gradient sources a user hands in: loading them, naming them, reading their calling form.

A *gradient function* maps ``(params, X, T)`` to a dict with one array per
parameter, shaped like the parameters, everywhere the toolkit takes one
(``backprop check`` and ``backprop proptest --grad``, :func:`verify.check_gradients`,
the pytest fixture)::

    def my_gradients(params, X, T):
        ...
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

Two variations, detected from the function itself:

* a parameter named ``network`` receives the :class:`derive.Network` (by
  keyword), for a function that handles many architectures:
  ``def my_gradients(params, X, T, network)``;
* the **list form** takes and returns the arrays in layer order
  ``[W1, b1, W2, b2]`` (``[W1, W2]`` without biases): annotate the first
  parameter as a list (``def my_gradients(params: list, X, T)``) or decorate
  the function with :func:`list_form`.

On the command line a function is named ``MODULE:FUNCTION`` (an importable
module, found from the current directory too) or ``path/to/file.py:FUNCTION``.

Other layouts (weights stored (in, out), examples as columns, ``dW1`` keys,
one call per example, an update instead of a gradient) are
:class:`~verify.check.layouts.Layout` objects; the function is called, its output
captured and its result read back by :mod:`verify.check.candidates`.  When
the function raises, the message shows where in the user's code
(:func:`user_frame`).  Loading a module runs its code, which is what the user
asked for; no user text is ever passed to eval or exec.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

import derive
from derive import InputError

GradientFn = Callable[..., dict]
_LIST_ANNOTATIONS = ("list", "tuple", "Sequence", "List", "Tuple")


def load_function(spec: str, option: str = "--grad") -> Callable:
    """Import ``MODULE:FUNCTION`` or ``path/to/file.py:FUNCTION`` and return the function.

    Args:
        spec: The text the user gave.
        option: How the user gave it, for error messages.

    Raises:
        InputError: malformed spec, missing file or module, import failure,
            missing or non-callable attribute.
    """
    target, colon, attribute = str(spec).rpartition(":")
    path = attribute.split(".")
    if not colon or not target or not all(part.isidentifier() for part in path) or len(path) > 2:
        raise InputError("%s %r is not MODULE:FUNCTION or path/to/file.py:FUNCTION" % (option, spec))
    module = _import_file(target, spec, option) if target.endswith(".py") else _import_module(target, spec, option)
    function = getattr(module, path[0], None)
    if len(path) == 2 and inspect.isclass(function):
        function = _method(function, path[1], spec, option)
    elif len(path) == 2:
        classes = sorted(name for name, value in vars(module).items() if inspect.isclass(value)
                         and getattr(value, "__module__", None) == module.__name__)
        raise InputError("%s %s: %s has no class %r; it defines: %s" % (
            option, spec, target, path[0], ", ".join(classes) or "no classes"))
    if inspect.isclass(function) and option != "--torch":  # a torch.nn.Module subclass is a model to make
        methods = sorted(name for name, value in vars(function).items()
                         if callable(value) and not name.startswith("_"))
        raise InputError("%s %s: %s is a class; name the method to check, as %s:%s.METHOD (it defines: %s)"
                         % (option, spec, attribute, target, attribute, ", ".join(methods) or "no public methods"))
    if function is None:
        available = sorted(name for name, value in vars(module).items() if callable(value) and not name.startswith("_"))
        raise InputError("%s %s: %s has no function %r; it defines: %s"
                         % (option, spec, target, attribute, ", ".join(available) or "no public functions"))
    if not callable(function):
        raise InputError("%s %s: %s.%s is a %s, not a function" % (option, spec, target, attribute, type(function).__name__))
    return function


class InstanceMethod:
    """Method ``name`` of class ``cls``, to be called on an instance: ``instance``, or one that
    :func:`verify.check.classes.bind` makes for the network checked."""

    def __init__(self, cls: type, name: str, instance=None):
        self.cls, self.name, self.instance = cls, name, instance
        self.__module__, self.__qualname__, self.__name__ = cls.__module__, "%s.%s" % (cls.__qualname__, name), name

    def __call__(self, *args, **kwargs):
        raise TypeError("%s needs an instance: verify.check.classes.bind makes one" % self.__qualname__)


def _method(cls: type, name: str, spec: str, option: str) -> Callable:
    """``Class.name``: a static or class method as it is; a method that needs an instance as an
    :class:`InstanceMethod`, which the check calls on an instance it makes."""
    if name not in dir(cls):
        raise InputError("%s %s: class %s has no attribute %r" % (option, spec, cls.__name__, name))
    value = inspect.getattr_static(cls, name)
    if isinstance(value, (staticmethod, classmethod)) or not inspect.isfunction(value):
        return getattr(cls, name)
    return InstanceMethod(cls, name)


def _import_module(name: str, spec: str, option: str):
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except BaseException as exc:  # the user's module may raise anything while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError("%s %s: cannot import module %r: %s" % (option, spec, name, one_line(exc))) from None


def _import_file(path: str, spec: str, option: str):
    file = Path(path)
    if not file.is_file():
        raise InputError("%s %s: file %s does not exist" % (option, spec, path))
    name = "_backprop_user_%s" % abs(hash(str(file.resolve())))
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.path.insert(0, str(file.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise InputError("%s %s: cannot import %s: %s" % (option, spec, path, one_line(exc))) from None
    sys.modules[name] = module
    return module


def one_line(exc: BaseException) -> str:
    """``ValueError: the message`` on one line (:func:`clean_text`: no control characters, whitespace collapsed)."""
    text = clean_text(str(exc))
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


#: Terminal escape sequences (colours, bold: ``\x1b[1m``) and other control characters.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Third-party text made fit for one line of a terminal: escape sequences and control characters
    removed, whitespace (newlines, tabs) collapsed to single spaces; never cut."""
    return " ".join(_CONTROL.sub("", str(text)).split())


def function_name(function: Callable) -> str:
    """``module:qualname`` of a function (of the wrapped one, for a ``functools.partial``), for messages."""
    while isinstance(function, functools.partial):
        function = function.func
    module = getattr(function, "__module__", None) or "?"
    if module.startswith("_backprop_user_"):
        module = Path(getattr(sys.modules.get(module), "__file__", module)).name
    return "%s:%s" % (module, getattr(function, "__qualname__", repr(function)))


def list_form(function: Callable) -> Callable:
    """Mark ``function`` as taking and returning the arrays in layer order (``[W1, b1, W2, b2]``).

    Returns:
        ``function`` itself.
    """
    function.backprop_form = "list"
    return function


class CallingForm(NamedTuple):
    """How to call a gradient function: with ``network=`` or not, with a list of arrays or a dict."""

    network: bool
    lists: bool


def calling_form(function: Callable) -> CallingForm:
    """Read the calling form from ``function``'s signature (and the :func:`list_form` mark)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin or an object without a signature: the plain form
        return CallingForm(False, getattr(function, "backprop_form", None) == "list")
    network = any(p.name == "network" and p.kind != p.VAR_POSITIONAL for p in parameters)
    first = next((p for p in parameters if p.name != "network" and p.kind in (p.POSITIONAL_ONLY,
                                                                              p.POSITIONAL_OR_KEYWORD)), None)
    return CallingForm(network, getattr(function, "backprop_form", None) == "list" or _is_list_annotation(
        None if first is None else first.annotation))


def named_parameters(function: Callable, names) -> dict[str, str] | None:
    """``{"W1": "w1", ...}``: the parameter of ``function``'s signature that takes each of ``names``, when it has one
    for every name: a blog's ``backprop(X, y, W1, b1, W2, b2)`` takes each array as its own argument.

    A name matches a parameter spelled the same but for case and underscores (``W1``, ``w1``, ``W_1``); None unless
    every name has its own parameter (then the function takes its parameters in one dict or list).
    """
    found = _arguments_named(function, names)
    if not found or None in found.values() or len(set(found.values())) != len(found):
        return None
    return found


def partly_named_hint(function: Callable, names: dict, network_text: str, beyond: list) -> str:
    """A hint when ``function`` has arguments for some of the parameters ``names`` (toolkit's -> user's) but not all,
    or for the parameters ``beyond`` of a layer the network does not have, else "": code without biases checked on
    a network with them, or a layer more or less than the code has."""
    found = _arguments_named(function, names.values())
    given = [user for user, argument in found.items() if argument is not None]
    missing = [key for key, user in names.items() if found.get(user) is None]
    more = [name for name, argument in _arguments_named(function, beyond).items() if argument is not None]
    if given and more:
        return ("; its arguments take %s too, a layer more than %s has: give the network the layers the code has"
                % (", ".join(more), network_text))
    if not given or not missing:
        return ""
    text = "; its arguments take %s but none takes %s, which %s has" % (", ".join(given), ", ".join(
        names[key] for key in missing), network_text)
    if all(key.startswith("b") for key in missing):
        return text + ": if the code has no biases, check it with --no-bias (Network(..., bias=False) in Python)"
    return text + ": give the network the layers the code has, or pass the parameters in one dict, f(params, X, T)"


def _arguments_named(function: Callable, names) -> dict:
    """Each of ``names`` -> the argument of ``function`` spelled the same but for case and underscores, or None."""
    try:
        parameters = [p.name for p in inspect.signature(function).parameters.values()
                      if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    except (TypeError, ValueError):
        return {}
    return spelled_alike(names, parameters)


def spelled_alike(names, candidates) -> dict:
    """Each of ``names`` -> the first of ``candidates`` (strings) spelled the same but for case and underscores
    (``W1``: ``w1``, ``W_1``), or None: how a user's arguments, attributes and dict keys are matched to names."""
    spelled = {}
    for candidate in candidates:
        if isinstance(candidate, str):
            spelled.setdefault(candidate.lower().replace("_", ""), candidate)
    return {name: spelled.get(name.lower().replace("_", "")) for name in names}


def _is_list_annotation(annotation) -> bool:
    if annotation is None or annotation is inspect.Parameter.empty:
        return False
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    text = str(text).replace("typing.", "").replace("collections.abc.", "").strip()
    return text.split("[", 1)[0] in _LIST_ANNOTATIONS


def user_frame(exc: BaseException, fallback: bool = True) -> str:
    """``, at my_backprop.py line 12 in gradients: dW1 = X @ delta1``: the innermost frame of the user's code.

    The user's code is every file outside backprop, the standard library and
    installed packages (numpy, torch); the frame is the last such frame of the
    traceback, or (``fallback``) the first one called from backprop when all are installed.
    """
    custom = custom_backward_text(exc)
    if custom:
        return custom
    frames = traceback.extract_tb(exc.__traceback__)
    ours = (str(Path(derive.__file__).resolve().parent), str(Path(__file__).resolve().parent.parent))
    installed = tuple({sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")})

    def belongs(frame, places) -> bool:
        return str(Path(frame.filename).resolve()).startswith(places)

    outside = [f for f in frames if not f.filename.startswith("<") and not belongs(f, ours)]
    users = [f for f in outside if not belongs(f, installed)]
    frame = users[-1] if users else (outside[0] if outside and fallback else None)
    if frame is None:
        return ""
    return user_frame_text(frame.filename, frame.lineno, frame.name, frame.line)


#: Names people give the data, and the parameters, in a gradient function's signature.
DATA_NAMES = {"x", "xs", "inputs", "input", "data", "features", "x_batch", "x_train"}
PARAMETER_NAMES = {"params", "parameters", "weights", "theta", "param", "p", "net", "model", "network_params"}


def call_order_hint(function) -> str:
    """A hint when ``function``'s own parameter names say it takes its arguments in another order, else ""."""
    try:
        names = [p.name for p in inspect.signature(function).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return ""
    where = next((k for k, name in enumerate(names) if name.lower() in PARAMETER_NAMES), None)
    if len(names) < 3 or names[0].lower() not in DATA_NAMES or where is None:
        return ""
    order = [names[where]] + [name for k, name in enumerate(names[:3]) if k != where]
    return ("; it is called as f(params, X, T), the parameters first, but its own signature is (%s): take them in "
            "that order, or check lambda %s: %s(%s)" % (", ".join(names), ", ".join(order[:3]),
                                                         getattr(function, "__name__", "f"), ", ".join(names[:3])))


#: Keys under which a returned dict may hold the loss (a number) beside the gradients.
LOSS_KEYS = ("loss", "cost", "j", "e", "error")


def is_number(value) -> bool:
    """A real number: a Python or numpy scalar, or an array or tensor of one entry (a cost of shape (1, 1))."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    shape = getattr(value, "shape", None)
    if shape is None or not hasattr(value, "item") or int(np.prod(tuple(shape))) != 1:
        return False
    try:
        item = value.item()
    except (TypeError, ValueError, RuntimeError):
        return False
    return isinstance(item, (int, float)) and not isinstance(item, bool)


#: PyTorch's two complaints about what a custom ``autograd.Function``'s backward returned.
_BAD_BACKWARD = re.compile(r"[Ff]unction (?P<name>\w+?)Backward returned an (?:invalid gradient at index (?P<index>\d+) "
                           r"- got \[(?P<got>[\d, ]*)\] but expected shape compatible with \[(?P<expected>[\d, ]*)\]"
                           r"|incorrect number of gradients \(expected (?P<wanted>\d+), got (?P<count>\d+)\))")


def custom_backward_text(exc: BaseException) -> str:
    """Where and why, when PyTorch refused what a custom ``autograd.Function``'s backward returned; else "".

    PyTorch raises it from its engine, so the traceback never reaches the user's backward; the class is found
    among ``torch.autograd.Function``'s subclasses by the name in the message, and its ``backward`` located:
    ``, in the backward of LinearFunction at model.py line 12: it returns one gradient per input of forward, in
    forward's order (input, weight, bias); at index 0 it returned one of shape (2, 4) where input's is (8, 4):
    returned in another order?``
    """
    found = _BAD_BACKWARD.search(str(exc))
    torch = sys.modules.get("torch")
    if not found or torch is None:
        return ""
    classes, seen = [torch.autograd.Function], []
    while classes:
        cls = classes.pop()
        seen.append(cls)
        classes += [sub for sub in cls.__subclasses__() if sub not in seen]
    function = next((cls for cls in reversed(seen) if cls.__name__ == found.group("name")
                     and cls.backward is not torch.autograd.Function.backward), None)
    if function is None:
        return ""
    backward = inspect.unwrap(getattr(function.backward, "__func__", function.backward))
    try:
        lines, first = inspect.getsourcelines(backward)
        first += next((k for k, line in enumerate(lines) if line.lstrip().startswith("def ")), 0)  # past decorators
        where = " at %s line %d" % (_shown_path(inspect.getsourcefile(backward), os.getcwd()), first)
        inputs = list(inspect.signature(function.forward).parameters)[1:]
    except (OSError, TypeError, ValueError):
        return ""
    text = ", in the backward of %s%s: it returns one gradient per input of forward, in forward's order (%s), None " \
           "for an input that needs none" % (function.__name__, where, ", ".join(inputs))
    if found.group("index") is not None:
        index = int(found.group("index"))
        name = inputs[index] if index < len(inputs) else "input %d" % index
        text += "; at index %d it returned one of shape (%s) where %s's is (%s): returned in another order?" % (
            index, found.group("got"), name, found.group("expected"))
    else:
        text += "; it returned %s for %s inputs" % (found.group("count"), found.group("wanted"))
    return text


def user_frame_text(filename: str, lineno: int, function: str, code: str | None) -> str:
    """``, at my_backprop.py line 12 in gradients: dW1 = X @ delta1`` (the path relative to the working directory)."""
    line = " ".join((code or "").split())
    return ", at %s line %d in %s%s" % (_shown_path(filename, os.getcwd()), lineno, function, ": " + line if line else "")


@functools.lru_cache(maxsize=256)
def _shown_path(filename: str, directory: str) -> str:
    """``filename`` relative to ``directory`` when it is inside it."""
    try:
        return str(Path(filename).resolve().relative_to(directory))
    except ValueError:
        return filename
