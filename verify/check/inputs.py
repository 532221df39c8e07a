"""What a gradient check runs on: parameters and data from files, or seeded random ones of the right shapes.

Parameter files (:func:`read_param_file`), by suffix:

``.npz``
    ``numpy.savez`` archive, read with ``allow_pickle=False``;
``.json``
    an object of nested lists, ``{"W1": [[...]], "b1": [...]}``;
``.pt``, ``.pth``, ``.bin``
    a PyTorch ``state_dict`` (``torch.save(model.state_dict(), path)``), read
    with ``torch.load(..., weights_only=True)``, which refuses anything but
    tensors and plain containers.

Pickles (``.pkl``, a whole pickled model) are refused: unpickling runs code.
Arrays are keyed ``W1, b1, ...`` or, in a ``state_dict``, by the model's own
names (``0.weight``, ``0.bias``, ...), matched to the layers in order
(:func:`params_from_arrays`).  Data files are those of :func:`verify.load_data`
(``.npz`` with ``X`` and ``T`` or ``y``, or ``.csv``).

Without files, :func:`random_params` draws PyTorch's default ``nn.Linear``
initialisation (uniform in ±1/sqrt(n_{l-1}), which keeps pre-activations of
every layer of the same size, so no unit is saturated and every derivative
factor matters) and :func:`random_data` draws inputs uniform in [-1, 1] and
targets the output can reach, both from a seed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from derive import InputError, Network, check_params, init_params
from derive.files import check_readable
from derive.limits import check_memory
from derive.model.activations import target_range
from derive.model.params import read_json_params, read_npz
from verify.engine.data import load_data

from .layouts import Layout, from_user_array, user_names
from .sources import clean_text

TORCH_SUFFIXES = (".pt", ".pth", ".bin")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill")
ACCEPTED = ".npz (numpy.savez), .json, or a PyTorch state_dict (.pt, .pth, .bin)"


def read_param_file(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a parameter file, by its key in the file.

    Raises:
        InputError: a missing file, a pickle, an unknown suffix, or a file that is not what its suffix says.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        raise InputError("refusing to read %s: a pickle can run code when loaded; save the arrays with numpy.savez "
                         "(.npz), as JSON, or a PyTorch state_dict with torch.save(model.state_dict(), 'params.pt')"
                         % path)
    if suffix not in (".npz", ".json") + TORCH_SUFFIXES:
        raise InputError("parameter file %s: unknown type %r; use %s" % (path, suffix or "(no suffix)", ACCEPTED))
    check_readable(path, "parameter")
    if suffix == ".npz":
        return read_npz(path, "parameter", "an .npz file written by numpy.savez")
    if suffix == ".json":
        return read_json_params(path)
    return _read_state_dict(path)


def _read_state_dict(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch  # optional: only a state_dict needs it
    except ImportError:
        raise InputError("reading the PyTorch file %s needs torch: pip install 'backprop[torch]'" % path) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError("cannot read %s as a PyTorch state_dict (torch.load with weights_only=True: %s); save "
                         "model.state_dict(), not the model" % (path, _load_failure(exc))) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError("%s holds a %s, not a state_dict of tensors; save it with torch.save(model.state_dict(), "
                         "path)" % (path, type(state).__name__))
    return {str(key): _tensor_array(path, str(key), value, torch) for key, value in state.items()}


def _load_failure(exc: Exception) -> str:
    """Why ``torch.load`` refused a file: its unpickler's own sentence when it gives one, else all it said."""
    text = clean_text(str(exc))
    found = re.search(r"WeightsUnpickler error: (.*?\.)(?: |$)", text)
    return found.group(1) if found else text


def _tensor_array(path: Path, key: str, tensor, torch) -> np.ndarray:
    """A state_dict's tensor as a numpy array, or one line saying why it has none (``torch``: the module)."""
    if tensor.is_meta:
        raise InputError("%s: %s is on the meta device: it has a shape %s but no values (saved before the weights "
                         "were loaded or initialised); save the state_dict of a model that holds its weights"
                         % (path, key, tuple(tensor.shape)))
    if tensor.layout != torch.strided:
        raise InputError("%s: %s is a sparse tensor (%s); save it dense: {k: v.to_dense() for k, v in "
                         "state.items()}" % (path, key, str(tensor.layout).replace("torch.", "")))
    if tensor.dtype in (torch.float16, torch.bfloat16):
        raise InputError("%s: %s is %s: with 8 to 11 bits of mantissa its values are too coarse for a gradient "
                         "check, and numpy has no bfloat16; save a float32 copy: {k: v.float() for k, v in "
                         "state.items()}" % (path, key, str(tensor.dtype).replace("torch.", "")))
    try:
        return tensor.detach().cpu().resolve_conj().resolve_neg().numpy()
    except (TypeError, RuntimeError) as exc:
        raise InputError("%s: %s (%s) cannot be read as a numpy array: %s"
                         % (path, key, str(tensor.dtype).replace("torch.", ""), clean_text(str(exc)))) from None


def load_parameters(path: str | Path, network: Network, names: dict[str, str] | None = None,
                    what: str = "parameter file") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The network's parameters from a file in any format :func:`read_param_file` reads (``.npz``, ``.json``, a
    PyTorch ``state_dict``): the one loader of ``check``, ``report`` and ``train``.

    Returns:
        ``(params, names)``: the parameters keyed ``W1, b1, ...``, and the file's own name of each where it had
        one (a ``state_dict``'s ``0.weight``).

    Raises:
        InputError: the file cannot be read, or its arrays do not fit ``network`` (see :func:`params_from_arrays`).
    """
    return params_from_arrays(network, read_param_file(path), "%s %s" % (what, path), names=names)


def arrays_from_user(network: Network, layout: Layout, arrays: dict, where: str = "parameter file") -> dict:
    """A parameter file's arrays saved from the user's own code, keyed and shaped as the toolkit's.

    Keys in the user's names (``w1`` under ``--names 'w{l},b{l}'``) become ``W1``; weights stored (in, out) under
    ``--weights in-out`` are transposed, biases saved as (1, n) or (n, 1) flattened.  Arrays in the toolkit's
    own names and layout pass as they are.  A file in the user's names and another layout than the toolkit's is
    refused in the user's terms (a missing name, a shape as their layout stores it, a key that is none of
    theirs); anything else is left for the parameter reader to refuse.

    Raises:
        InputError: a file in the user's names and layout whose keys or shapes do not fit the network.
    """
    expected, theirs = network.param_shapes(), {name: key for key, name in user_names(network, layout).items()}
    if not layout.default:
        _refuse_in_user_terms(network, layout, arrays, theirs, where)
    if not set(arrays) <= set(theirs) | set(expected):
        return arrays
    result = {}
    for name, value in arrays.items():
        key = theirs.get(name, name)
        value = np.asarray(value)
        ours = value.shape == expected.get(key) and value.shape != value.shape[::-1]  # unambiguous (out, in), (n,)
        result[key] = from_user_array(network, layout, key, value) if key in expected and not ours else value
    return result


def _refuse_in_user_terms(network: Network, layout: Layout, arrays: dict, theirs: dict, where: str) -> None:
    """Refuse, in the user's names and shapes, a file written in them whose keys or shapes do not fit."""
    if not set(arrays) & set(theirs):
        return  # not in the user's names (a state_dict, the toolkit's names): the toolkit's own reader says what is wrong
    said = "as --weights in-out stores it" if layout.weights == "in-out" else "as the network has it"
    missing = [name for name in theirs if name not in arrays]
    extra = [key for key in arrays if key not in theirs]
    if missing or extra:
        raise InputError("%s: %s; expected the keys %s (your names for %s)" % (
            where, "missing %s" % ", ".join(missing) if missing else "an unexpected key %r" % extra[0],
            ", ".join(theirs), ", ".join(theirs.values())))
    for name, key in theirs.items():
        shape, value = network.param_shapes()[key], np.shape(arrays[name])
        accepted = [shape[::-1], shape] if key.startswith("W") else [shape, (1,) + shape, shape + (1,)]
        if layout.weights != "in-out" and key.startswith("W"):
            accepted = [shape]
        if value not in accepted:
            raise InputError("%s: %s has shape %s; expected %s (%s, %s)" % (
                where, name, value, accepted[0], "(in, out)" if key.startswith("W") and layout.weights == "in-out"
                else "(out, in)" if key.startswith("W") else "or %s or %s" % tuple(accepted[1:]), said))


def params_from_arrays(network: Network, arrays: dict[str, np.ndarray], where: str,
                       names: dict[str, str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The network's parameters from a file's arrays, and the file's name of each where it had its own.

    Keys ``W1, b1, ...`` are used as they are; other keys (a ``state_dict``'s
    ``0.weight``) are matched through ``names`` (toolkit name -> model name)
    when given, else in file order: 2-D arrays are the weights, 1-D the biases.

    Raises:
        InputError: keys, shapes or values that do not fit ``network``, named.
    """
    expected = network.param_shapes()
    if set(arrays) == set(expected) or all(re.fullmatch(r"[Wb]\d+", key) for key in arrays):
        return check_params(network, arrays, where=where), {}  # the toolkit's names: a missing or extra one, named
    if names and set(arrays) >= set(names.values()):
        renamed = {key: arrays[names[key]] for key in expected}
        return check_params(network, renamed, where=where), dict(names)
    weights = [key for key, value in arrays.items() if np.ndim(value) == 2]
    biases = [key for key, value in arrays.items() if np.ndim(value) == 1]
    wanted_w = [k for k in expected if k.startswith("W")]
    wanted_b = [k for k in expected if k.startswith("b")]
    if len(weights) != len(wanted_w) or len(biases) != len(wanted_b) or len(weights) + len(biases) != len(arrays):
        found = ", ".join("%s %s" % (key, np.shape(value)) for key, value in arrays.items()) or "no arrays"
        raise InputError("%s has %s; expected the keys %s or, as a state_dict, %d weight matrices and %d bias "
                         "vectors in layer order" % (where, found, ", ".join(expected), len(wanted_w), len(wanted_b)))
    mapping = dict(zip(wanted_w, weights)) | dict(zip(wanted_b, biases))
    params = check_params(network, {key: arrays[mapping[key]] for key in expected}, where=where)
    return params, {key: mapping[key] for key in expected}


def random_params(network: Network, seed: int, dtype=np.float64) -> dict[str, np.ndarray]:
    """Uniform in ±1/sqrt(n_{l-1}) per layer (PyTorch's ``nn.Linear`` default), seeded.

    Raises:
        InputError: the network is too large for this machine's memory.
    """
    check_memory(3 * 8 * network.n_params, "random parameters for %s" % "-".join(map(str, network.sizes)),
                 "give smaller sizes")
    return init_params(network, seed=seed, scale="fan_in", dtype=dtype)


def random_data(network: Network, batch: int, seed: int, dtype=np.float64,
                labels: bool = False, soft: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``batch`` examples: inputs uniform in [-1, 1]; targets in the output's range, for softmax probability rows
    (``soft``) or one-hot rows (what classification code that takes ``T.argmax(1)`` as the class assumes); with
    ``labels``, integer class labels (N,) instead (0..n_L-1, or 0 and 1 for one output unit).

    Raises:
        InputError: the data would not fit in memory.
    """
    check_memory(2 * 8 * batch * (network.sizes[0] + network.sizes[-1] + max(network.sizes)),
                 "%d random examples for %s" % (batch, "-".join(map(str, network.sizes))), "use a smaller --batch")
    rng = np.random.default_rng([seed, 1])
    X = rng.uniform(-1.0, 1.0, (batch, network.sizes[0]))
    output = network.activations[-1]
    if labels:
        return X.astype(dtype), rng.integers(0, max(2, network.sizes[-1]), batch)
    if output.elementwise:
        T = rng.uniform(*target_range(output), (batch, network.sizes[-1]))
    elif soft:
        T = rng.dirichlet(np.ones(network.sizes[-1]), batch)
    else:
        T = np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], batch)]
    return X.astype(dtype), T.astype(dtype)


def read_data(path: str, network: Network) -> tuple[np.ndarray, np.ndarray]:
    """``(X, T)`` from a data file (:func:`verify.load_data`: ``.npz`` or ``.csv``); an ``.npz`` with integer labels
    ``y`` gives ``(X, y)``, the labels as they are (the check makes exact one-hot rows of them)."""
    dataset = load_data(path, network)
    if str(path).lower().endswith(".npz"):
        arrays = read_npz(Path(path), "data", "an .npz file from numpy.savez with arrays X and T, or X and y")
        if "y" in arrays:
            return dataset.X, dataset.labels
    return dataset.X, dataset.T
