"""Gradient sources a user hands in: loading them, calling them, checking what they return.

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

Arrays may be float64 or float32: float32 gradients are checked at float32
tolerances, whatever the parameters' dtype.  A weight gradient returned
transposed (shape ``(n_{l-1}, n_l)``) or a bias gradient with one row per
example (``(N, n_l)``) is *realigned* (:func:`realign`) so that the check can
diagnose it, and counts as wrong.  Anything else that goes wrong (the function
raises, returns a tuple, misses a key, has another shape or dtype, or a NaN) is
one :class:`derive.InputError` line naming the function, the parameter and
what was expected; when the function raises, the line shows where in the
user's code (:func:`user_frame`).  Loading a module runs its code, which is what
the user asked for; no user text is ever passed to eval or exec.
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
from derive import InputError, Network

GradientFn = Callable[..., dict]
#: Gradient dtypes accepted, whatever the parameters' dtype.
GRADIENT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
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
    if not colon or not target or not attribute.isidentifier():
        raise InputError("%s %r is not MODULE:FUNCTION or path/to/file.py:FUNCTION" % (option, spec))
    module = _import_file(target, spec, option) if target.endswith(".py") else _import_module(target, spec, option)
    function = getattr(module, attribute, None)
    if function is None:
        available = sorted(name for name, value in vars(module).items() if callable(value) and not name.startswith("_"))
        raise InputError("%s %s: %s has no function %r; it defines: %s"
                         % (option, spec, target, attribute, ", ".join(available) or "no public functions"))
    if not callable(function):
        raise InputError("%s %s: %s.%s is a %s, not a function" % (option, spec, target, attribute, type(function).__name__))
    return function


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


def _is_list_annotation(annotation) -> bool:
    if annotation is None or annotation is inspect.Parameter.empty:
        return False
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", None) or str(annotation)
    text = str(text).replace("typing.", "").replace("collections.abc.", "").strip()
    return text.split("[", 1)[0] in _LIST_ANNOTATIONS


class Returned(NamedTuple):
    """A gradient function's result, checked.

    Attributes:
        gradients: One array per parameter, in the parameter's shape (realigned where needed).
        shapes: The shape each realigned parameter was returned in.
        raw: The arrays as returned, for the realigned parameters.
    """

    gradients: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]
    raw: dict[str, np.ndarray]


def call_gradient_function(function: GradientFn, network: Network, params: dict, X: np.ndarray, T: np.ndarray,
                           name: str | None = None, direction: dict | None = None,
                           what: str = "gradient function") -> Returned:
    """Call a user's gradient function in its :func:`calling_form` and check its result.

    Args:
        direction: For a product function (``hvp(params, X, T, V)``): the
            direction V, passed after T (as a list in the list form).
        what: How messages name the function (``"hvp function"``).

    Raises:
        InputError: the function raised (the message shows the user's frame),
            or its result is not a valid gradient (see :func:`check_gradient_result`).
    """
    name = name or function_name(function)
    form = calling_form(function)
    keys = list(network.param_shapes())
    arguments = (params, X, T) if direction is None else (params, X, T, direction)
    if form.lists:
        arguments = tuple([value[key] for key in keys] if isinstance(value, dict) else value for value in arguments)
    try:
        result = _with_network(function, arguments, network) if form.network else function(*arguments)
    except (InputError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # SystemExit too: a user's sys.exit() must not end the check as a pass
        raise InputError("%s %s raised %s%s (called for %s with X %s, T %s)"
                         % (what, name, one_line(exc), user_frame(exc), network.describe(), np.shape(X),
                            np.shape(T))) from None
    if form.lists:
        result = _from_list(result, keys, name, what)
    return check_gradient_result(network, result, name, len(X), what)


def _with_network(function: Callable, arguments: tuple, network: Network):
    """Call ``function`` with ``arguments`` in its other positional slots and the network in the one named ``network``."""
    positional, rest, by_keyword = [], list(arguments), True
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            if parameter.name == "network":
                positional.append(network)
                by_keyword = False
            elif rest:
                positional.append(rest.pop(0))
    return function(*positional, *rest, **({"network": network} if by_keyword else {}))


def _from_list(result, keys: list[str], name: str, what: str) -> dict:
    if not isinstance(result, (list, tuple)):
        raise InputError("%s %s takes the list form, so it must return a list of arrays in layer order "
                         "%s; it returned a %s" % (what, name, ", ".join(keys), type(result).__name__))
    if len(result) != len(keys):
        raise InputError("%s %s returned %d arrays; expected %d, in layer order %s"
                         % (what, name, len(result), len(keys), ", ".join(keys)))
    return dict(zip(keys, result))


def user_frame(exc: BaseException, fallback: bool = True) -> str:
    """``, at my_backprop.py line 12 in gradients: dW1 = X @ delta1``: the innermost frame of the user's code.

    The user's code is every file outside backprop, the standard library and
    installed packages (numpy, torch); the frame is the last such frame of the
    traceback, or (``fallback``) the first one called from backprop when all are installed.
    """
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


def check_gradient_result(network: Network, result, name: str, batch: int | None = None,
                          what: str = "gradient function") -> Returned:
    """Check that ``result`` is a params-keyed dict of finite float32/float64 arrays in the parameters' shapes.

    A shape that :func:`realign` recognises is accepted and realigned.

    Raises:
        InputError: one line naming the function, the parameter and what was expected.
    """
    expected = network.param_shapes()
    if not isinstance(result, dict):
        hint = "; for the list form, annotate the first parameter as a list" if isinstance(result, (list, tuple)) else ""
        raise InputError("%s %s returned a %s; expected a dict of arrays keyed %s%s"
                         % (what, name, type(result).__name__, ", ".join(expected), hint))
    for key in expected:
        if key not in result:
            raise InputError("%s %s returned no %r; expected one array per parameter: %s"
                             % (what, name, key, ", ".join(expected)))
    for key in result:
        if key not in expected:
            raise InputError("%s %s returned an unexpected key %r; expected exactly the keys %s"
                             % (what, name, key, ", ".join(expected)))
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
            raise InputError("%s %s: %s has shape %s; expected %s, the shape of parameter %s%s"
                             % (what, name, key, value.shape, shape, key, hint))
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
    only an extra axis, and refused as a shape error).
    """
    expected = network.param_shapes()[name]
    if name.startswith("W") and value.shape == expected[::-1] and expected[0] != expected[1]:
        return value.T
    if name.startswith("b") and batch is not None and batch > 1 and value.shape == (batch,) + expected:
        return value.sum(axis=0)
    return None
