"""Each layer of a traced forward, recognised by what it computes: its affine map and its activation.

**The affine map.**  Whatever the steps are (``nn.Linear``, ``F.linear``,
``x @ W.T + b``, ``x.mm(w)``, ``torch.addmm``, a custom layer's own
``autograd.Function``), a layer reads one weight matrix and at most one bias
vector.  :func:`read_affine` runs the layer's steps with *random* values put in
them, R and r, on random inputs H, and compares the result with H R^T + r
(the weight used as (out, in), as ``nn.Linear`` stores it) and H R + r (used as
(in, out), as the tutorials' raw tensors are).  One of them must hold to
rounding: that is how the layout is read, and why a step that does anything
else with its parameters (``2 * W``, ``W ** 2``, a mask) is refused rather
than checked wrongly.  Random values keep a symmetric weight or a zero bias of
the model's own from hiding anything.

**The activation.**  The steps after the map, run on a grid of net inputs in
[-4, 4] (:func:`read_activation`), must give the values of one activation:
the one ``--activation`` names for the layer when given (a mismatch is an
error, never an assumption), else the one the step names when it is a single
known step (``torch.tanh``, ``nn.LeakyReLU(0.2)``, ``.clamp(min=0)``:
:mod:`.vocabulary`), else the one registered activation whose values they
reproduce (a custom ``autograd.Function``, a composition of steps).  Its
backward is what the check tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from derive import ACTIVATIONS, Activation, InputError
from derive.codegen.printing import activation_forward

from ..sources import one_line, user_frame
from .failures import users_failure
from .graph import Evaluator, Layer, Split
from .tracing import describe, position
from .vocabulary import LOG_SOFTMAX, is_identity, named_activation

#: Net inputs on which activations are compared: every unit sees values across [-4, 4].
PROBE_RANGE = 4.0


@dataclass
class ReadLayer:
    """One layer as read.

    Attributes:
        weight: The model's name of the weight (``"fc1.weight"``).
        bias: The model's name of the bias, or None.
        transposed: The model's weight is (in, out): the network's W_l is its transpose.
        activation: The activation (None: the identity; :data:`~.vocabulary.LOG_SOFTMAX`: log-softmax).
        affine_text: How the map is written (``self.fc1 (nn.Linear)``, ``F.linear at model.py line 9``).
        activation_text: How the activation is written, and how it was recognised.
        sizes: (n_in, n_out).
    """

    weight: str
    bias: str | None
    transposed: bool
    activation: Activation | str | None
    affine_text: str
    activation_text: str
    sizes: tuple[int, int]


def read_layer(model: nn.Module, evaluator: Evaluator, split: Split, layer: Layer, parameters: dict,
               given: Activation | None) -> ReadLayer:
    """Read one layer (module docstring); ``given``: the activation ``--activation`` names for it.

    Raises:
        InputError: the map is not affine in one weight and one bias, or the activation is not the one named or known.
    """
    weight, bias, transposed, sizes = read_affine(model, evaluator, split, layer, parameters)
    activation, text = read_activation(model, evaluator, split, layer, given)
    return ReadLayer(weight, bias, transposed, activation, _affine_text(model, layer), text, sizes)


def _affine_text(model: nn.Module, layer: Layer) -> str:
    return steps_text(model, [node for node in layer.affine_nodes if not is_identity(model, node)])


def steps_text(model: nn.Module, steps: list) -> str:
    """``@ and + at model.py line 9``, ``self.fc1 (nn.Linear)``: the steps as written, and where."""
    names = list(dict.fromkeys(describe(model, node) for node in steps))
    text = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    return text + (position(steps[0]) if steps else "")


def read_affine(model: nn.Module, evaluator: Evaluator, split: Split, layer: Layer,
                parameters: dict) -> tuple[str, str | None, bool, tuple[int, int]]:
    """(weight name, bias name, transposed, (n_in, n_out)) of an affine layer, its layout read from random probes."""
    where = "layer %d (%s)" % (layer.number, _affine_text(model, layer))
    weights = [name for name in layer.params if parameters[name].dim() == 2]
    biases = [name for name in layer.params if parameters[name].dim() == 1]
    if len(weights) != 1 or len(biases) > 1 or len(weights) + len(biases) != len(layer.params):
        found = ", ".join("%s %s" % (name, "x".join(map(str, parameters[name].shape)) or "scalar")
                          for name in layer.params)
        raise InputError("cannot read %s: it reads the parameters %s; an MLP layer reads one weight matrix and at "
                         "most one bias vector" % (where, found))
    entry, output = split.values[layer.entry], split.values[layer.affine]
    if entry.dim() != 2 or output.dim() != 2:
        raise InputError("cannot read %s: it maps values of shape %s to %s; backprop reads 2-D (examples, units) "
                         "values" % (where, tuple(entry.shape), tuple(output.shape)))
    n_in, n_out = entry.shape[1], output.shape[1]
    weight, bias = weights[0], (biases[0] if biases else None)
    shape = tuple(parameters[weight].shape)
    layouts = [transposed for transposed, fits in ((False, shape == (n_out, n_in)), (True, shape == (n_in, n_out)))
               if fits]
    if bias is not None and tuple(parameters[bias].shape) != (n_out,):
        layouts = []
    if layouts == [False] and _linear_by_definition(model, layer, weight, bias):
        return weight, bias, False, (n_in, n_out)
    generator = torch.Generator().manual_seed(layer.number)
    dtype = output.dtype
    R = torch.rand(shape, generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
    r = torch.rand((n_out,), generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
    H = torch.rand(tuple(entry.shape), generator=generator, dtype=torch.float64).to(dtype) * 2 - 1
    probes = {weight: R} | ({bias: r} if bias else {})
    try:
        with torch.no_grad():
            value = evaluator.run(layer.affine, {split.input: split.values[split.input], layer.entry: H}, probes)
    except BaseException as exc:
        if not users_failure(exc):
            raise
        raise InputError("cannot read %s: with random values in its parameters it raised %s%s"
                         % (where, one_line(exc), user_frame(exc, fallback=False))) from None
    tolerance = 1e-4 if dtype == torch.float32 else 1e-10
    for transposed in layouts:
        expected = H @ (R if transposed else R.T) + (r if bias else 0)
        if isinstance(value, torch.Tensor) and value.shape == expected.shape and torch.allclose(
                value.double(), expected.double(), rtol=tolerance, atol=tolerance * float(expected.abs().max())):
            return weight, bias, transposed, (n_in, n_out)
    raise InputError("cannot read %s: with random values in %s it does not compute h @ W.T%s of them (nor h @ W): "
                     "backprop reads affine layers, whose parameters are one weight matrix and at most one bias"
                     % (where, " and ".join(filter(None, (weight, bias))), " + b" if bias else ""))


def _linear_by_definition(model: nn.Module, layer: Layer, weight: str, bias: str | None) -> bool:
    """Whether the layer is one step whose mathematics torch defines as h W^T + b: ``nn.Linear`` itself, or
    ``F.linear`` of the parameters as they are (the probe of :func:`read_affine` is then not needed)."""
    if len(layer.affine_nodes) != 1:
        return False
    node = layer.affine_nodes[0]
    if node.op == "call_module":
        return type(model.get_submodule(node.target)) is nn.Linear
    arguments = list(node.args) + [node.kwargs.get(k) for k in ("weight", "bias") if k in node.kwargs]
    targets = [a.target if isinstance(a, fx.Node) and a.op == "get_attr" else a for a in arguments[1:]]
    return node.op == "call_function" and node.target is F.linear and targets == [weight, bias][:len(targets)] \
        and (bias is None or len(targets) == 2)


def read_activation(model: nn.Module, evaluator: Evaluator, split: Split, layer: Layer,
                    given: Activation | None) -> tuple[Activation | str | None, str]:
    """The activation of ``layer`` and how it was read (module docstring)."""
    steps = [node for node in layer.activation_nodes if not is_identity(model, node)]
    if not steps and given is None:
        return None, "no activation"
    Z = _grid(split.values[split.input].shape[0], split.values[layer.affine].shape[1]).clone()
    dtype = split.values[layer.affine].dtype
    where = steps_text(model, steps) or "no activation"
    try:
        with torch.no_grad():
            values = evaluator.run(layer.exit, {split.input: split.values[split.input], layer.affine: Z.to(dtype)})
        values = values.double().numpy() if isinstance(values, torch.Tensor) else None
    except BaseException as exc:
        if not users_failure(exc):
            raise
        raise InputError("cannot read layer %d's activation (%s): it raised %s%s on net inputs of shape %s"
                         % (layer.number, where, one_line(exc), user_frame(exc, fallback=False),
                            tuple(Z.shape))) from None
    Z = Z.numpy()
    if values is not None and values.shape == Z.shape[:1] and Z.shape[1:] == (1,):
        values = values[:, None]  # one unit squeezed to (N,) after its activation (.squeeze(-1)): the same values
    if values is None or values.shape != Z.shape:
        raise InputError("cannot read layer %d's activation (%s): it maps net inputs of shape %s to %s; an MLP's "
                         "activations keep one value per unit" % (layer.number, where, Z.shape,
                                                                  getattr(values, "shape", None)))
    loose = dtype == torch.float32
    if given is not None:
        _check_named(layer, where, given, Z, values, loose)
        return (None if given.name == "linear" else given), "%s (%s, as --activation names it; its forward " \
            "values agree)" % (given.name, where)
    if len(steps) == 1:
        try:
            known, activation = named_activation(model, steps[0])
        except InputError as exc:
            raise InputError("cannot read layer %d's activation (%s): %s" % (layer.number, where, exc)) from None
        if known and _agrees(activation, Z, values, loose):
            return activation, "%s (%s)" % (_name(activation), where)
    candidates = list(ACTIVATIONS.values()) + [LOG_SOFTMAX]
    screened = [a for a in candidates if _agrees(a, Z[:1], values[:1], loose)]  # one row rules most out
    matches = [a for a in screened if _agrees(a, Z, values, loose)]
    if len(matches) != 1:
        found = "matches %s" % " and ".join(map(_name, matches)) if matches else "matches none of them"
        raise InputError("cannot read layer %d's activation (%s): its forward values on [-4, 4] were compared with "
                         "every registered activation (%s) and it %s; name it with --activation (an expression in x, "
                         "one per layer: --activation \"0.5*(5*x**3-3*x),linear\")"
                         % (layer.number, where, ", ".join(ACTIVATIONS), found))
    return matches[0], "%s (%s, recognised by its forward values; its backward is what is checked)" % (
        _name(matches[0]), where)


@lru_cache(maxsize=64)
def _grid(rows: int, width: int) -> torch.Tensor:
    """Net inputs (rows, width) spread over [-4, 4], shuffled so that every unit sees the whole range."""
    grid = torch.linspace(-PROBE_RANGE, PROBE_RANGE, rows * width, dtype=torch.float64)
    return grid[torch.randperm(rows * width, generator=torch.Generator().manual_seed(width))].reshape(rows, width)


def _name(activation) -> str:
    return "linear" if activation is None else activation if isinstance(activation, str) else activation.name


def _values(activation, Z: np.ndarray) -> np.ndarray:
    if activation is None:
        return Z
    if activation == LOG_SOFTMAX:
        shifted = Z - Z.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return activation_forward(activation)(Z)


def _agrees(activation, Z: np.ndarray, values: np.ndarray, loose: bool) -> bool:
    """Whether ``values`` are the activation's on ``Z``, to the rounding of the model's dtype."""
    rtol, atol = (1e-5, 1e-6) if loose else (1e-6, 1e-9)
    with np.errstate(all="ignore"):
        expected = _values(activation, Z)
        return bool((np.abs(values - expected) <= atol + rtol * np.abs(expected)).all())


def _check_named(layer: Layer, where: str, given: Activation, Z: np.ndarray, values: np.ndarray, loose: bool) -> None:
    if _agrees(given, Z, values, loose):
        return
    expected = _values(given, Z)
    with np.errstate(all="ignore"):
        gap = np.where(np.isfinite(expected), np.abs(values - expected), np.inf)
    worst = np.unravel_index(int(np.argmax(gap)), gap.shape)
    raise InputError("--activation names %s for layer %d, but the model's activation there (%s) gives %.6g at net "
                     "input %.4g, where %s is %.6g" % (given.name, layer.number, where, values[worst], Z[worst],
                                                      given.name, expected[worst]))
