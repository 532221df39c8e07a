"""Gradient sources a user hands in: loading them, calling them, checking what they return.

A *gradient function* maps ``(params, X, T)`` to a dict with one array per
parameter, shaped and typed like the parameters::

    def my_gradients(params, X, T):
        ...
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

``backprop proptest --grad SPEC`` names one as ``MODULE:FUNCTION`` (an
importable module, found from the current directory too) or
``path/to/file.py:FUNCTION``; since that command draws many networks, the
function named there also receives the network first:
``FUNCTION(network, params, X, T)``.

Whatever goes wrong with a user's function (it raises, returns a list, misses a
key, has a wrong shape, dtype, or a NaN) becomes one :class:`derive.InputError`
line naming the function, the parameter and what was expected.  Loading a
module runs its code, which is what the user asked for; no user text is ever
passed to eval or exec.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from derive import InputError, Network

GradientFn = Callable[[dict, np.ndarray, np.ndarray], dict]


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
        raise InputError("%s %s: cannot import module %r: %s" % (option, spec, name, _one_line(exc))) from None


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
        raise InputError("%s %s: cannot import %s: %s" % (option, spec, path, _one_line(exc))) from None
    sys.modules[name] = module
    return module


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__


def function_name(function: Callable) -> str:
    """``module:qualname`` of a function (of the wrapped one, for a ``functools.partial``), for messages."""
    while isinstance(function, functools.partial):
        function = function.func
    module = getattr(function, "__module__", None) or "?"
    if module.startswith("_backprop_user_"):
        module = Path(getattr(sys.modules.get(module), "__file__", module)).name
    return "%s:%s" % (module, getattr(function, "__qualname__", repr(function)))


def call_gradient_function(function: GradientFn, network: Network, params: dict, X: np.ndarray, T: np.ndarray,
                           name: str | None = None) -> dict[str, np.ndarray]:
    """Call a user's gradient function and check its result.

    Returns:
        The gradient dict, arrays as returned.

    Raises:
        InputError: the function raised, or its result is not a valid gradient
            (see :func:`check_gradient_result`).
    """
    name = name or function_name(function)
    try:
        result = function(params, X, T)
    except (InputError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # SystemExit too: a user's sys.exit() must not end the check as a pass
        raise InputError("gradient function %s raised %s (called for %s with X %s, T %s)"
                         % (name, _one_line(exc), network.describe(), np.shape(X), np.shape(T))) from None
    dtype = np.result_type(*params.values())
    return check_gradient_result(network, result, dtype, name)


def check_gradient_result(network: Network, result, dtype, name: str) -> dict[str, np.ndarray]:
    """Check that ``result`` is a params-shaped dict of finite arrays of ``dtype``.

    Raises:
        InputError: one line naming the function, the parameter and what was expected.
    """
    expected = network.param_shapes()
    if not isinstance(result, dict):
        raise InputError("gradient function %s returned a %s; expected a dict of arrays keyed %s"
                         % (name, type(result).__name__, ", ".join(expected)))
    for key in expected:
        if key not in result:
            raise InputError("gradient function %s returned no %r; expected one array per parameter: %s"
                             % (name, key, ", ".join(expected)))
    for key in result:
        if key not in expected:
            raise InputError("gradient function %s returned an unexpected key %r; expected exactly the keys %s"
                             % (name, key, ", ".join(expected)))
    checked = {}
    for key, shape in expected.items():
        try:
            value = np.asarray(result[key])
        except Exception as exc:
            raise InputError("gradient function %s: %s is not an array (%s)" % (name, key, _one_line(exc))) from None
        if value.shape != shape:
            raise InputError("gradient function %s: %s has shape %s; expected %s, the shape of parameter %s"
                             % (name, key, value.shape, shape, key))
        if value.dtype != dtype:
            raise InputError("gradient function %s: %s has dtype %s; expected %s, the dtype of the parameters"
                             % (name, key, value.dtype, np.dtype(dtype)))
        bad = ~np.isfinite(value)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError("gradient function %s: %s[%s] is %s; every gradient entry must be finite"
                             % (name, key, ", ".join(map(str, index)), value[index]))
        checked[key] = value
    return checked
