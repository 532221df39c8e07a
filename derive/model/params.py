"""Parameters: the dict ``{"W1": (n_1, n_0), "b1": (n_1,), ...}`` and its files.

``W_l[j, i]`` is the weight from unit i of layer l-1 to unit j of layer l (the
lecture's w_ji); ``b_l[j]`` is unit j's bias (the lecture's w_j0, the weight
from a constant input 1).  Files are ``.npz`` archives with one array per key,
read with ``allow_pickle=False`` so a parameter file cannot run code, or JSON
objects of nested lists.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from derive.errors import InputError
from derive.files import atomic_write, check_readable
from .network import Network

INIT_SCALE = 0.05


def init_params(network: Network, seed: int = 0, scale: float | str = INIT_SCALE, dtype=np.float64) -> dict[str, np.ndarray]:
    """Draw every parameter uniformly from (-scale, scale), the lecture's initialisation.

    Args:
        network: What to initialise.
        seed: Seed of the random generator; the same seed gives the same parameters.
        scale: Half-width of the interval (0.05 in the lecture), or ``"fan_in"``:
            1/sqrt(n_{l-1}) for layer l's weights and bias, PyTorch's default for
            ``nn.Linear``, which keeps every layer's pre-activations of the same size.
        dtype: Floating dtype of the arrays.
    """
    rng = np.random.default_rng(seed)
    widths = {name: network.sizes[int(name[1:]) - 1] for name in network.param_shapes()}
    return {name: rng.uniform(-_half_width(scale, widths[name]), _half_width(scale, widths[name]),
                              size=shape).astype(dtype)
            for name, shape in network.param_shapes().items()}


def _half_width(scale: float | str, fan_in: int) -> float:
    if scale == "fan_in":
        return 1 / np.sqrt(fan_in)
    if isinstance(scale, str):
        raise InputError("init scale %r is not a number or 'fan_in'" % scale)
    return scale


def check_params(network: Network, params, where: str = "parameters") -> dict[str, np.ndarray]:
    """Check keys, shapes, dtypes and finiteness; return the dict of arrays.

    Raises:
        InputError: a missing or extra key, a wrong shape, a non-numeric dtype,
            or a NaN/inf entry; the message names the parameter.
    """
    if not isinstance(params, dict):
        raise InputError("%s must be a dict of arrays keyed %s, got %s"
                         % (where, ", ".join(network.param_shapes()), type(params).__name__))
    expected = network.param_shapes()
    missing = [k for k in expected if k not in params]
    extra = sorted(str(k) for k in params if k not in expected)
    if missing or extra:
        problem = "missing %s" % ", ".join(missing) if missing else "unexpected %s" % ", ".join(extra)
        raise InputError("%s: %s; expected exactly the keys %s for %s"
                         % (where, problem, ", ".join(expected), "-".join(map(str, network.sizes))))
    checked = {}
    for name, shape in expected.items():
        value = np.asarray(params[name])
        if value.dtype.kind not in "fc":
            raise InputError("%s: %s has dtype %s; expected floating point" % (where, name, value.dtype))
        if value.shape != shape:
            raise InputError("%s: %s has shape %s; expected %s" % (where, name, value.shape, shape))
        if not np.all(np.isfinite(value)):
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
            raise InputError("%s: %s%s is %s; every parameter must be finite" % (where, name, list(index), value[index]))
        checked[name] = value
    return checked


def save_params(path: str | Path, params: dict[str, np.ndarray]) -> None:
    """Write parameters to an ``.npz`` file atomically (no half-written file on failure).

    Raises:
        InputError: the path cannot be written (see :func:`derive.files.check_writable`).
    """
    atomic_write(path, lambda stream: np.savez(stream, **params))


def read_npz(path: str | Path, kind: str, expected: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read with ``allow_pickle=False``.

    Args:
        path: The file.
        kind: What the file is, for messages (``"parameter"``, ``"data"``).
        expected: What a good file holds, for messages.

    Raises:
        InputError: the file is missing, unreadable, or not an archive of arrays.
    """
    check_readable(path, kind)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise InputError("cannot read %s file %s: no such file" % (kind, path)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        reason = "not an .npz archive of arrays" if isinstance(exc, ValueError) else str(exc).split("\n")[0]
        raise InputError("cannot read %s file %s: %s; expected %s" % (kind, path, reason, expected)) from None


def read_json_params(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a JSON parameter file ``{"W1": [[...], ...], "b1": [...], ...}`` (numbers only).

    Raises:
        InputError: the file is missing, not JSON, not an object of numeric arrays.
    """
    check_readable(path, "parameter")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("cannot read parameter file %s: no such file" % path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("cannot read parameter file %s: %s; expected a JSON object of arrays such as "
                         "{\"W1\": [[0.1, 0.2]], \"b1\": [0.0]}" % (path, str(exc).split("\n")[0])) from None
    if not isinstance(data, dict):
        raise InputError("parameter file %s holds a JSON %s; expected an object keyed W1, b1, ..."
                         % (path, type(data).__name__))
    arrays = {}
    for name, value in data.items():
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("parameter file %s: %s is not a rectangular array of numbers" % (path, name)) from None
        arrays[str(name)] = array
    return arrays


def load_params(path: str | Path, network: Network) -> dict[str, np.ndarray]:
    """Read and check an ``.npz`` or ``.json`` parameter file for ``network`` (never unpickles)."""
    if str(path).lower().endswith(".json"):
        params = read_json_params(path)
    else:
        params = read_npz(path, "parameter", "an .npz file written by numpy.savez or backprop train --output")
    return check_params(network, params, where="parameter file %s" % path)
