"""A PyTorch model read into a :class:`derive.Network`: the pipeline trace -> layers -> network.

:func:`read_model` takes an ``nn.Module`` of any shape of code (``nn.Sequential``,
a subclass with its own ``forward``, custom layers and ``autograd.Function``\\ s)
or a forward written on raw tensors (:class:`TensorModel`), and returns a
:class:`TorchNetwork`: the network it computes, its parameters in the
network's convention (``W_l`` is (out, in); a weight the model uses as
(in, out) is transposed on the way in and its gradient on the way out), the
model's name of each, and what was read, layer by layer, for the report.

Where the model lives is settled first (:func:`on_cpu`): a model on a GPU (or
any device but the CPU) is checked on a CPU float64 copy, which the notes say;
float32 models are checked as they are, at float32 tolerances; float16 and
bfloat16 are refused with the reason, as are parameters on the meta device.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from derive import Activation, InputError, Network, get_activation
from derive.model.network import split_activation_list

from .graph import Evaluator, ForwardFailed, refuse_what_is_not_an_mlp, split_layers
from .layer_reading import ReadLayer, read_layer
from .model_loss import ModelLoss
from .tracing import trace
from .vocabulary import LOG_SOFTMAX

#: Examples in the probe input the forward is first run on.
PROBE_ROWS = 8


@dataclass
class TorchNetwork:
    """A model read by :func:`read_model`.

    Attributes:
        network: The network it computes, with the loss.
        params: Its parameters ``{"W1": ..., "b1": ...}`` as numpy arrays of the model's dtype.
        names: The model's name of each parameter (``{"W1": "fc1.weight"}``), for ``functional_call``.
        shown: How the report names each (``"fc1.weight"``, ``"w1.T"``, ``"params[0].T"``).
        transposed: The network's keys whose model tensor is (in, out), the transpose of ``W_l``.
        loss: The loss, and what it takes of the model's output.
        model: The module to call: the model, its CPU copy, or a :class:`TensorModel`.
        layers: What was read of each layer.
        notes: What the reading decided that a user should know (layer by layer, a CPU copy, logits).
        reused: The graph was one traced before for a model of the same structure.
    """

    network: Network
    params: dict[str, np.ndarray]
    names: dict[str, str]
    shown: dict[str, str]
    transposed: frozenset[str]
    loss: ModelLoss
    model: nn.Module
    layers: list[ReadLayer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reused: bool = False

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64 if next(iter(self.params.values())).dtype == np.float64 else torch.float32

    @property
    def logits(self) -> bool:
        return self.loss.takes == "logits"

    def model_arrays(self, params: dict) -> dict[str, np.ndarray]:
        """``params`` (network keys, network layout) keyed and laid out as the model's tensors."""
        return {self.names[key]: np.asarray(value).T if key in self.transposed else np.asarray(value)
                for key, value in params.items()}

    def network_arrays(self, arrays: dict) -> dict[str, np.ndarray]:
        """Arrays keyed and laid out as the model's (a state_dict) in the network's keys and layout."""
        return {key: np.asarray(arrays[name]).T if key in self.transposed else np.asarray(arrays[name])
                for key, name in self.names.items()}


class TensorModel(nn.Module):
    """A forward written on raw tensors, ``forward(X, params)``, holding ``params`` (a dict or a list) as parameters.

    The tensors become the module's parameters (sharing their storage), so the
    reader traces ``forward`` and ``torch.func.functional_call`` replaces them as
    for any module; ``forward`` receives them in the container it was given.
    """

    def __init__(self, forward, params):
        super().__init__()
        self.function = forward
        self.keys = list(params) if isinstance(params, dict) else list(range(len(params)))
        self.container = dict if isinstance(params, dict) else type(params)
        self.attributes, self.shown = [], {}
        for position, key in enumerate(self.keys):
            attribute = key if isinstance(key, str) and key.isidentifier() and not hasattr(nn.Module, key) \
                else "param_%d" % position
            self.register_parameter(attribute, nn.Parameter(params[key].detach()))
            self.attributes.append(attribute)
            self.shown[attribute] = key if isinstance(params, dict) else "params[%d]" % key
        self.display_name = getattr(forward, "__name__", "forward")

    def forward(self, x):
        values = [getattr(self, attribute) for attribute in self.attributes]
        if self.container is dict:
            return self.function(x, dict(zip(self.keys, values)))
        return self.function(x, self.container(values))


def tensor_model(found, where: str) -> TensorModel:
    """The model of a ``(forward, params)`` pair, checked.

    Raises:
        InputError: not a callable and a dict or list of floating tensors.
    """
    forward, params = found
    if not callable(forward):
        raise InputError("%s gave (forward, params) whose forward is a %s; expected a function forward(X, params)"
                         % (where, type(forward).__name__))
    if not isinstance(params, (dict, list, tuple)) or not params:
        raise InputError("%s gave (forward, params) whose params is a %s; expected a dict or list of tensors"
                         % (where, type(params).__name__ if params is not None else "None"))
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise InputError("%s gave params[%r] as a %s; expected floating-point torch tensors (as torch.randn(..., "
                             "requires_grad=True))" % (where, key, getattr(value, "dtype", type(value).__name__)))
    return TensorModel(forward, params)


def on_cpu(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """The model to check, and a note when it is a copy: CPU and float32/float64, or a CPU float64 copy.

    Raises:
        InputError: meta tensors, float16/bfloat16, mixed or non-float dtypes.
    """
    tensors = dict(model.named_parameters())
    meta = [name for name, t in tensors.items() if t.is_meta]
    if meta:
        raise InputError("the model's parameters (%s) are on the meta device: they have shapes but no values (the "
                         "model was built under torch.device('meta') or not yet loaded); load its weights first, "
                         "e.g. model.to_empty(device='cpu') and model.load_state_dict(...)" % ", ".join(meta[:3]))
    dtypes = {t.dtype for t in tensors.values()}
    half = sorted(str(d) for d in dtypes & {torch.float16, torch.bfloat16})
    if half:
        raise InputError("the model's parameters are %s: with 8 to 11 bits of mantissa its gradients are rounding "
                         "noise at the scale a per-entry check compares; check a copy in float32 or float64 "
                         "(copy.deepcopy(model).double())" % " and ".join(half))
    if len(dtypes) > 1 or not dtypes <= {torch.float32, torch.float64}:
        raise InputError("the model's parameters must all be float32 or all float64, got %s"
                         % ", ".join(sorted(str(d) for d in dtypes)))
    devices = devices_of(model)
    if not devices:
        return model, []
    return copy.deepcopy(model).to(device="cpu", dtype=torch.float64), [
        "the model is on %s; it is checked on a CPU float64 copy (the model itself is left as it is)"
        % ", ".join(devices)]


def devices_of(model: nn.Module) -> list[str]:
    """The devices other than the CPU that hold the model's parameters or buffers (``["cuda:0"]``)."""
    return sorted({str(t.device) for t in list(model.parameters()) + list(model.buffers())} - {"cpu"})


def read_model(model: nn.Module, loss: ModelLoss, activation=None, width: int | None = None,
               reuse: bool = False) -> TorchNetwork:
    """Read ``model`` (module docstring).

    Args:
        model: An ``nn.Module`` (a :class:`TensorModel` for raw tensors).
        loss: The loss (:func:`.model_loss.model_loss`); its output layer is decided here.
        activation: Each layer's activation, as ``--activation`` gives them (text or a list of
            names/expressions/records); None recognises them.
        width: The input width n_0 when known (from the data); else read from the first layer's weight.
        reuse: Take the graph traced before for a model of the same structure (:func:`.tracing.trace`);
            ``TorchNetwork.reused`` says when it was.

    Raises:
        InputError: one line: what cannot be read, and where in ``forward``.
    """
    if not isinstance(model, nn.Module):
        raise InputError("expected a torch.nn.Module or a pair (forward, params), got %s" % type(model).__name__)
    model, notes = on_cpu(model)
    graph, reused = trace(model, reuse)
    parameters = dict(model.named_parameters())
    dtype = next(iter(parameters.values())).dtype if parameters else torch.float64
    split = _split(model, graph, parameters, dtype, width)
    given = _activations(activation, len(split.layers))
    evaluator = Evaluator(model, graph)
    layers = [read_layer(model, evaluator, split, layer, parameters, given[layer.number - 1] if given else None)
              for layer in split.layers]
    read = _network(model, layers, parameters, loss, notes)
    read.reused = reused
    return read


def _split(model, graph, parameters, dtype, width):
    """The layers, from a probe input of the width given or, tried in turn, each width the first weight allows."""
    refuse_what_is_not_an_mlp(model, graph)
    first = None
    for candidate in [width] if width else _widths(graph, model, parameters):
        generator = torch.Generator().manual_seed(0)
        X = (torch.rand((PROBE_ROWS, candidate), generator=generator, dtype=torch.float64) * 2 - 1).to(dtype)
        try:
            return split_layers(model, graph, X, parameters)
        except ForwardFailed as exc:
            first = first or exc
    raise first


def _widths(graph, model, parameters) -> list[int]:
    """Input widths to try: ``nn.Linear``'s ``in_features``, else each dimension of each weight, in graph order."""
    widths = []
    for node in graph.nodes:
        module = model.get_submodule(node.target) if node.op == "call_module" else None
        if isinstance(module, nn.Linear):
            widths.append(module.in_features)
        elif module is not None:
            widths += [size for p in module.parameters() if p.dim() == 2 for size in (p.shape[1], p.shape[0])]
        elif node.op == "get_attr" and node.target in parameters and parameters[node.target].dim() == 2:
            widths += [parameters[node.target].shape[1], parameters[node.target].shape[0]]
    return list(dict.fromkeys(widths)) or [1]


def _activations(activation, depth: int) -> list[Activation] | None:
    if activation is None:
        return None
    names = split_activation_list(activation) if isinstance(activation, str) else activation
    names = [names] * depth if isinstance(names, (str, Activation)) else list(names)
    if len(names) != depth:
        raise InputError("--activation names %d activations, but the model has %d layers; give one per layer (the "
                         "last is what the model's forward applies: linear for logits)" % (len(names), depth))
    return [get_activation(name, "layer %d" % layer) for layer, name in enumerate(names, start=1)]


def _network(model, layers: list[ReadLayer], parameters: dict, loss: ModelLoss, notes: list) -> TorchNetwork:
    biases = {layer.bias is not None for layer in layers}
    if len(biases) != 1:
        raise InputError("some layers have a bias and some do not (%s); backprop's networks have biases in every "
                         "layer or in none" % ", ".join("layer %d: %s" % (n, "bias" if layer.bias else "no bias")
                                                        for n, layer in enumerate(layers, start=1)))
    for number, layer in enumerate(layers[:-1], start=1):
        if layer.activation == LOG_SOFTMAX:
            raise InputError("layer %d ends in log_softmax (%s); log-probabilities are for the output layer, before "
                             "nn.NLLLoss" % (number, layer.activation_text))
    output = loss.output_layer(layers[-1].activation, layers[-1].activation_text)
    hidden = [layer.activation or "linear" for layer in layers[:-1]]
    sizes = [layers[0].sizes[0]] + [layer.sizes[1] for layer in layers]
    network = Network(sizes, activation=hidden + [output], loss=loss.record, reduction=loss.reduction,
                      bias=biases.pop())
    shown_names = getattr(model, "shown", {})
    params, names, shown, transposed, lines = {}, {}, {}, set(), []
    for number, layer in enumerate(layers, start=1):
        pieces = []
        for key, name in (("W%d" % number, layer.weight), ("b%d" % number, layer.bias)):
            if name is None:
                continue
            value = parameters[name].detach().numpy()
            flip = key.startswith("W") and layer.transposed
            params[key], names[key] = (value.T if flip else value).copy(), name
            shown[key] = shown_names.get(name, name) + (".T" if flip else "")
            transposed |= {key} if flip else set()
            pieces.append("%s = %s" % (key, shown[key]))
        lines.append("layer %d: %s: %s; %s" % (number, layer.affine_text, ", ".join(pieces), layer.activation_text))
    if loss.takes == "logits":
        lines[-1] += "; the model outputs logits and %s applies %s, so the network's output layer is %s" % (
            loss, output.name, output.name)
    elif loss.takes == "log_probabilities":
        lines[-1] += "; the model outputs log-probabilities for %s, so the network's output layer is softmax" % loss
    read = TorchNetwork(network, params, names, shown, frozenset(transposed), loss, model, layers, notes)
    read.notes = ["read from forward: " + lines[0]] + lines[1:] + notes
    return read
