"""PyTorch models as gradient sources: an ``nn.Module`` read into a :class:`derive.Network`, its autograd checked.

:func:`check_torch_module` checks the gradients PyTorch's autograd computes for
a model, entry by entry, against the symbolic reference and finite differences
(:func:`verify.check_gradients`); :func:`check_torch_hvp` checks the
Hessian-vector product of its double backward (:func:`verify.check_hvp`)::

    model = nn.Sequential(nn.Linear(784, 100), nn.Sigmoid(), nn.Linear(100, 10))
    report = check_torch_module(model, X, T, loss="cross_entropy")

:func:`read_module` reads the model: an ``nn.Sequential``, or any module whose
children run in order (nested containers are flattened), of ``nn.Linear``
layers, each followed by at most one activation of :data:`TORCH_ACTIVATIONS`
or by a module of your own with no parameters (typically one that calls a
custom ``torch.autograd.Function``).  Such a module is recognised by its
forward values, compared on a grid with every registered activation; its
backward is what the check then tests.  ``nn.Identity``, ``nn.Flatten`` at
the start and ``nn.Dropout`` in eval mode are skipped.  The model's output
is compared with the mapped network's, so a module whose ``forward`` does
something else is refused rather than checked wrongly.

The loss is PyTorch's own, on the model's output, summed over examples
(divided by N for reduction ``"mean"``): ``sse`` is ``mse_loss(..., "sum") / 2``;
``cross_entropy`` takes logits when the model ends in a ``Linear`` layer (the
network then ends in softmax) and probabilities after ``nn.Softmax``;
``binary_cross_entropy`` takes logits or probabilities after ``nn.Sigmoid``
the same way.  Gradients come from ``torch.autograd.grad`` on a
``torch.func.functional_call`` with the parameters being checked, so the
model itself is never modified.  A float32 model is checked at float32
tolerances.

PyTorch is an optional dependency (``pip install 'backprop[torch]'``); only
this module imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from derive import ACTIVATIONS, Activation, InputError, Network, check_params
from verify.engine.data import check_data

from .diagnostics import preactivations
from .gradient_check import check_gradients
from .modules import module_for
from .report import CheckReport
from .sources import load_function, one_line, user_frame

#: PyTorch activation modules and the registered activation each is (None: skipped, as the identity).
TORCH_ACTIVATIONS: dict[type, Callable[[nn.Module], Activation | None]] = {
    nn.Sigmoid: lambda m: ACTIVATIONS["sigmoid"],
    nn.Tanh: lambda m: ACTIVATIONS["tanh"],
    nn.ReLU: lambda m: ACTIVATIONS["relu"],
    nn.LeakyReLU: lambda m: ACTIVATIONS["leaky_relu"].with_parameter(m.negative_slope),
    nn.ELU: lambda m: ACTIVATIONS["elu"].with_parameter(m.alpha),
    nn.Softplus: lambda m: ACTIVATIONS["softplus"] if m.beta == 1 else _unmapped(m, "only beta=1 is log(1 + e^z)"),
    nn.SiLU: lambda m: ACTIVATIONS["silu"],
    nn.GELU: lambda m: ACTIVATIONS["gelu"] if m.approximate == "tanh" else _unmapped(
        m, "backprop's gelu is the tanh approximation: use nn.GELU(approximate='tanh')"),
    nn.Softmax: lambda m: ACTIVATIONS["softmax"] if m.dim in (-1, 1) else _unmapped(m, "only dim=-1 is per example"),
    nn.Identity: lambda m: None,
}
SUPPORTED = ("Linear, " + ", ".join(t.__name__ for t in TORCH_ACTIVATIONS) + ", Flatten (first), Dropout (eval "
             "mode), and parameter-free modules of your own whose forward is one of: " + ", ".join(ACTIVATIONS))
LOSSES = ("sse", "squared_error", "mse", "cross_entropy", "binary_cross_entropy")
#: The loss that takes logits when the model's last layer is Linear, and the activation it applies.
_LOGIT_LOSSES = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}
#: Grid on which an unknown module's forward values are compared with the registered activations.
_PROBE = np.linspace(-4.0, 4.0, 100).reshape(4, 25)


@dataclass
class TorchNetwork:
    """A model read by :func:`read_module`.

    Attributes:
        network: The network it computes, with the loss.
        params: Its parameters ``{"W1": ..., "b1": ...}`` as numpy arrays of the model's dtype.
        names: The model's name of each parameter (``{"W1": "0.weight"}``).
        logits: The model outputs logits; the loss applies the network's last activation.
        notes: What the reading decided that a user should know (a recognised custom module, logits).
    """

    network: Network
    params: dict[str, np.ndarray]
    names: dict[str, str]
    logits: bool = False
    notes: list[str] = field(default_factory=list)


def _unmapped(module: nn.Module, why: str):
    raise InputError(why)


def load_model(spec: str) -> nn.Module:
    """The model ``MODULE:OBJECT`` or ``path/to/file.py:FACTORY`` names: an ``nn.Module``, or a callable returning one.

    Raises:
        InputError: it cannot be imported, the factory raises (the message shows
            where in the user's code), or it is not a module.
    """
    found = load_function(spec, option="--torch")
    if isinstance(found, nn.Module):
        return found
    try:
        model = found()
    except Exception as exc:
        raise InputError("--torch %s: calling it raised %s%s" % (spec, one_line(exc), user_frame(exc))) from None
    if not isinstance(model, nn.Module):
        raise InputError("--torch %s: calling it returned a %s; expected a torch.nn.Module"
                         % (spec, type(model).__name__))
    return model


def read_module(model: nn.Module, loss: str = "sse", reduction: str = "sum") -> TorchNetwork:
    """Read ``model`` into a network and its parameters.

    Raises:
        InputError: ``model`` is not an ``nn.Module``, has a layer that cannot be
            mapped (named, with what is supported), layers in an unsupported order,
            mixed dtypes or biases, or an output activation the loss cannot take.
    """
    if not isinstance(model, nn.Module):
        raise InputError("expected a torch.nn.Module, got %s" % type(model).__name__)
    if loss not in LOSSES:
        raise InputError("unknown loss %r for a PyTorch model; choose one of: %s" % (loss, ", ".join(LOSSES)))
    names = {id(p): name for name, p in model.named_parameters()}
    linears, activations, notes = [], [], []
    for position, (path, module) in enumerate(_leaves(model)):
        if isinstance(module, nn.Linear):
            if len(activations) < len(linears):
                activations.append(ACTIVATIONS["linear"])
            linears.append(module)
            continue
        activation = _activation(model, path, module, position, notes)
        if activation is None:
            continue
        if len(activations) >= len(linears):
            where = "before any Linear layer" if not linears else "right after another activation"
            raise InputError("cannot read layer %s (%s) %s; expected Linear layers, each followed by at most one "
                             "activation" % (path, type(module).__name__, where))
        activations.append(activation)
    if not linears:
        raise InputError("model %s has no nn.Linear layer; supported layers: %s" % (type(model).__name__, SUPPORTED))
    logits = len(activations) < len(linears) and loss in _LOGIT_LOSSES
    if len(activations) < len(linears):
        activations.append(ACTIVATIONS[_LOGIT_LOSSES[loss]] if logits else ACTIVATIONS["linear"])
    if logits:
        notes.append("the model outputs logits; %s applies %s to them, so the network's output layer is %s"
                     % (loss, _LOGIT_LOSSES[loss], _LOGIT_LOSSES[loss]))
    return _network(linears, activations, names, loss, reduction, logits, notes)


def _leaves(module: nn.Module, path: str = "") -> list[tuple[str, nn.Module]]:
    children = list(module.named_children())
    if not children:
        return [(path or type(module).__name__, module)]
    return [leaf for name, child in children for leaf in _leaves(child, "%s.%s" % (path, name) if path else name)]


def _activation(model: nn.Module, path: str, module: nn.Module, position: int, notes: list) -> Activation | None:
    """The registered activation ``module`` computes (None for a layer that changes nothing)."""
    kind = type(module)
    if kind in TORCH_ACTIVATIONS:
        try:
            return TORCH_ACTIVATIONS[kind](module)
        except InputError as exc:
            raise InputError("cannot read layer %s (%s): %s" % (path, module, exc)) from None
    if isinstance(module, nn.Flatten) and position == 0:
        return None
    if isinstance(module, nn.Dropout):
        if module.training and module.p > 0:
            raise InputError("layer %s (%s) is in training mode, so its output is random; call model.eval() "
                             "before checking gradients" % (path, module))
        return None
    if any(True for _ in module.parameters()):
        raise InputError("cannot read layer %s (%s): it has parameters; supported layers: %s"
                         % (path, kind.__name__, SUPPORTED))
    return _recognised(path, module, notes)


def _recognised(path: str, module: nn.Module, notes: list) -> Activation:
    """The one registered activation whose forward values ``module`` reproduces on :data:`_PROBE`."""
    try:
        with torch.no_grad():
            values = module(torch.tensor(_PROBE, dtype=torch.float64)).double().numpy()
    except Exception as exc:
        raise InputError("cannot read layer %s (%s): calling it on a float64 tensor of shape %s raised %s%s"
                         % (path, type(module).__name__, _PROBE.shape, one_line(exc), user_frame(exc))) from None
    matches = [a for a in ACTIVATIONS.values()
               if np.shape(values) == _PROBE.shape and np.allclose(values, a.numpy(_PROBE), rtol=1e-6, atol=1e-9)]
    if len(matches) != 1:
        found = "matches %s" % " and ".join(a.name for a in matches) if matches else "matches none of them"
        raise InputError("cannot read layer %s (%s): its forward values on [-4, 4] were compared with every "
                         "registered activation (%s) and %s; supported layers: %s"
                         % (path, type(module).__name__, ", ".join(ACTIVATIONS), found, SUPPORTED))
    notes.append("layer %s (%s) computes %s (recognised by its forward values); its backward is what is checked"
                 % (path, type(module).__name__, matches[0].name))
    return matches[0]


def _network(linears, activations, names, loss, reduction, logits, notes) -> TorchNetwork:
    dtypes = {m.weight.dtype for m in linears} | {m.bias.dtype for m in linears if m.bias is not None}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (torch.float32, torch.float64):
        raise InputError("the model's Linear layers must all be float32 or all float64, got %s"
                         % ", ".join(sorted(str(d) for d in dtypes)))
    biases = {m.bias is not None for m in linears}
    if len(biases) != 1:
        raise InputError("some Linear layers have a bias and some do not (bias=False); backprop's networks have "
                         "biases in every layer or in none")
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    for before, after in zip(linears, linears[1:]):
        if after.in_features != before.out_features:
            raise InputError("Linear layers do not chain: %s has %d outputs but the next takes %d inputs"
                             % (before, before.out_features, after.in_features))
    network = Network(sizes, activation=activations, loss=loss, reduction=reduction, bias=biases.pop())
    params, torch_names = {}, {}
    for layer, module in enumerate(linears, start=1):
        for key, tensor in (("W%d" % layer, module.weight), ("b%d" % layer, module.bias)):
            if tensor is not None:
                params[key] = tensor.detach().cpu().numpy().copy()
                torch_names[key] = names[id(tensor)]
    return TorchNetwork(network, params, torch_names, logits, notes)


def torch_loss(name: str, output: torch.Tensor, T: torch.Tensor, logits: bool, reduction: str) -> torch.Tensor:
    """The loss PyTorch computes for ``output``, summed over examples (their mean for ``"mean"``)."""
    if name in ("sse", "squared_error", "mse"):
        total = F.mse_loss(output, T, reduction="sum") / (2 if name == "sse" else 1)
        if name == "mse":
            total = total / output.shape[-1]
    elif name == "cross_entropy":
        total = F.cross_entropy(output, T, reduction="sum") if logits else -(T * torch.log(output)).sum()
    else:
        bce = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
        total = bce(output, T, reduction="sum")
    return total / len(output) if reduction == "mean" else total


def gradient_function(model: nn.Module, read: TorchNetwork) -> Callable[[dict, np.ndarray, np.ndarray], dict]:
    """``fn(params, X, T)``: the model's autograd gradients at ``params`` (the model itself is left unchanged)."""
    network = read.network

    def gradients(params, X, T):
        output, tensors = _call(model, read, params, X, requires_grad=True)
        total = torch_loss(network.loss.name, output, torch.as_tensor(np.asarray(T), dtype=output.dtype),
                           read.logits, network.reduction)
        grads = torch.autograd.grad(total, list(tensors.values()), allow_unused=True)
        return {key: (g if g is not None else torch.zeros_like(t)).detach().cpu().numpy()
                for key, t, g in zip(params, tensors.values(), grads)}

    gradients.__qualname__ = "%s (autograd)" % type(model).__name__
    return gradients


def check_torch_module(model: nn.Module, X, T, loss: str = "sse", reduction: str = "sum", *,
                       params: dict | None = None, **options) -> CheckReport:
    """Check the gradients PyTorch's autograd computes for ``model`` against the symbolic reference.

    Args:
        model: An ``nn.Sequential`` (or a module whose children run in order) of
            ``nn.Linear`` layers and supported activations (see :func:`read_module`).
        X: Inputs ``(N, n_0)`` (numpy array or tensor).
        T: Targets ``(N, n_L)``.
        loss: ``"sse"``, ``"cross_entropy"`` or ``"binary_cross_entropy"``.
        reduction: ``"sum"`` or ``"mean"`` over examples.
        params: Parameters to check at, keyed ``W1, b1, ...`` (default: the model's own);
            cast to the model's dtype.
        **options: Passed to :func:`verify.check_gradients` (``rtol``, ``seed``, ...).

    Returns:
        The :class:`~verify.check.report.CheckReport`, naming each parameter
        both ways (``W1 (0.weight)``).

    Raises:
        InputError: the model cannot be read (one line naming the layer and what is
            supported), its output differs from the network read from it, bad data
            or parameters, or its forward or backward raises.
    """
    read, X, T = _prepared(model, X, T, loss, reduction, params)
    report = check_gradients(read.network, read.params, X, T, gradient_function(model, read),
                             candidate_name="torch model %s (autograd)" % type(model).__name__,
                             parameter_names=read.names, **options)
    report.notes = read.notes + report.notes
    report.warnings = _softplus_notes(model, read, X) + report.warnings
    return report


def check_torch_hvp(model: nn.Module, X, T, loss: str = "sse", reduction: str = "sum", *, params: dict | None = None,
                    V: dict | None = None, **options) -> CheckReport:
    """Check the Hessian-vector product PyTorch's double backward computes for ``model``'s loss.

    The product is ``torch.autograd.functional.hvp`` of :func:`torch_loss` as
    a function of the parameters; everything else is as in
    :func:`check_torch_module`, and the check is :func:`verify.check_hvp`.  A
    custom ``torch.autograd.Function`` whose backward uses its saved output
    as a constant loses the second-derivative term there, which the diagnosis names.

    Args:
        V: The direction, keyed ``W1, b1, ...`` (default: a seeded random one).
        **options: Passed to :func:`verify.check_hvp` (``rtol``, ``seed``, ``kind``...).
    """
    from .hvp_check import check_hvp  # the product check is not needed for gradients

    read, X, T = _prepared(model, X, T, loss, reduction, params)
    report = check_hvp(read.network, read.params, X, T, hvp_function(model, read), V,
                       candidate_name="torch model %s (double backward)" % type(model).__name__,
                       parameter_names=read.names, **options)
    report.notes = read.notes + report.notes
    return report


def _prepared(model: nn.Module, X, T, loss: str, reduction: str, params: dict | None) -> tuple:
    """The model read (at ``params`` if given, cast to its dtype), the data checked, its output compared."""
    read = read_module(model, loss, reduction)
    if params is not None:
        dtype = next(iter(read.params.values())).dtype
        read.params = {k: v.astype(dtype) for k, v in check_params(read.network, params).items()}
    X, T = (np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a) for a in (X, T))
    X, T = check_data(read.network, X, T)
    compare_outputs(model, read, X)
    return read, X, T


def hvp_function(model: nn.Module, read: TorchNetwork) -> Callable[[dict, np.ndarray, np.ndarray, dict], dict]:
    """``fn(params, X, T, V)``: ``torch.autograd.functional.hvp`` of the model's loss at ``params``, along V."""
    network = read.network

    def hvp(params, X, T, V):
        dtype, keys = _dtype(read), list(params)
        inputs = tuple(torch.tensor(np.asarray(params[key]), dtype=dtype) for key in keys)
        direction = tuple(torch.tensor(np.asarray(V[key]), dtype=dtype) for key in keys)
        X, T = (torch.as_tensor(np.asarray(a), dtype=dtype) for a in (X, T))

        def total(*tensors):
            output = torch.func.functional_call(model, {read.names[k]: t for k, t in zip(keys, tensors)}, (X,))
            return torch_loss(network.loss.name, output, T, read.logits, network.reduction)

        _, products = torch.autograd.functional.hvp(total, inputs, direction)
        return {key: product.detach().cpu().numpy() for key, product in zip(keys, products)}

    hvp.__qualname__ = "%s (double backward)" % type(model).__name__
    return hvp


def _call(model: nn.Module, read: TorchNetwork, params: dict, X, requires_grad: bool = False):
    """The model's output at ``params`` (not its own), through ``torch.func.functional_call``, and the tensors."""
    dtype = _dtype(read)
    tensors = {read.names[k]: torch.tensor(np.asarray(v), dtype=dtype, requires_grad=requires_grad)
               for k, v in params.items()}
    return torch.func.functional_call(model, tensors, (torch.as_tensor(np.asarray(X), dtype=dtype),)), tensors


def _dtype(read: TorchNetwork) -> torch.dtype:
    return torch.float64 if next(iter(read.params.values())).dtype == np.float64 else torch.float32


def compare_outputs(model: nn.Module, read: TorchNetwork, X: np.ndarray) -> None:
    """Refuse a model whose output is not the network's: its forward does more than run its layers in order.

    Raises:
        InputError: with the largest difference.
    """
    network = read.network
    try:
        with torch.no_grad():
            output = _call(model, read, read.params, X)[0].double().numpy()
    except Exception as exc:
        raise InputError("the model raised %s%s when called on X of shape %s"
                         % (one_line(exc), user_frame(exc), np.shape(X))) from None
    if read.logits:
        output = network.activations[-1].numpy(output)
    expected = module_for(network).forward({k: v.astype(np.float64) for k, v in read.params.items()},
                                                 np.asarray(X, dtype=np.float64))
    tolerance = 1e-4 if _dtype(read) == torch.float32 else 1e-10
    if np.shape(output) != np.shape(expected):
        raise InputError("the model's output has shape %s; %s gives %s: backprop reads nn.Sequential or a module "
                         "whose forward applies its children in order"
                         % (np.shape(output), network.describe(), np.shape(expected)))
    if not np.allclose(output, expected, rtol=tolerance, atol=tolerance):
        raise InputError("the model's output differs from its layers applied in order as %s (largest difference "
                         "%.3g): backprop reads nn.Sequential or a module whose forward applies its children in order"
                         % (network.describe(), float(np.max(np.abs(output - expected)))))


def _softplus_notes(model: nn.Module, read: TorchNetwork, X: np.ndarray) -> list[str]:
    """A note where torch's Softplus switches to the identity (above its threshold) on this data."""
    notes = []
    thresholds = [m.threshold for _, m in _leaves(model) if isinstance(m, nn.Softplus)]
    layers = [layer for layer, a in enumerate(read.network.activations, start=1) if a.name == "softplus"]
    Zs = preactivations(read.network, {k: v.astype(np.float64) for k, v in read.params.items()},
                        np.asarray(X, dtype=np.float64)) if layers else []
    for layer, threshold in zip(layers, thresholds):
        top = float(np.max(Zs[layer - 1]))
        if top > threshold:
            notes.append("layer %d: torch's Softplus returns z itself above its threshold %g (here z reaches %.3g), "
                         "where log(1 + e^z) differs by about e^-z" % (layer, threshold, top))
    return notes
