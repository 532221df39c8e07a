"""The layers of a traced forward: which steps are each layer's affine map, which its activation.

An MLP's forward is a chain: input -> affine map -> activation -> affine map
-> ... .  :func:`split_layers` finds that chain in the graph of
:mod:`.tracing`, whatever the steps are called, from the flow of values:

* a step that reads a parameter (a ``get_attr`` of one, or a layer holding
  one) is part of an affine map: it starts layer l + 1 when it reads the
  output of layer l's activation (or the input), and continues layer l's map
  when it reads that map's value (``+ b`` after ``x @ W.T``), unless it brings a
  second weight matrix (two ``nn.Linear`` in a row: a new layer);
* every other step on the data belongs to the activation of the layer whose
  values it reads; steps that change nothing (a view, ``Flatten`` of 2-D data,
  dropout in eval mode: :func:`~.vocabulary.is_identity` and the same values)
  belong to whatever they read;
* a step that reads values of two different layers (a residual addition), a
  layer whose map is read twice (branches), a parameter read by two layers,
  a layer that is not an MLP's (:func:`~.vocabulary.not_an_mlp`): one line
  naming the step and where it is in ``forward``.

:class:`Evaluator` runs any part of the graph on values of one's choosing
(the probes of :mod:`.layer_reading`), with parameters replaced where asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce

import torch
import torch.fx as fx
from torch import nn

from derive import InputError

from ..sources import one_line, user_frame
from .failures import users_failure
from .tracing import describe, locate, model_name
from .vocabulary import dropout_in_training, is_identity, not_an_mlp


class Evaluator:
    """Evaluates nodes of ``graph`` (of ``model``) from given values, parameters replaced by ``params``."""

    def __init__(self, model: nn.Module, graph: fx.Graph):
        self.model, self.graph = model, graph
        self.order = {node: position for position, node in enumerate(graph.nodes)}

    def run(self, wanted: fx.Node, given: dict, params: dict[str, torch.Tensor] | None = None) -> object:
        """The value of ``wanted`` when the nodes in ``given`` have the given values."""
        needed, stack = set(), [wanted]
        while stack:
            node = stack.pop()
            if node in needed or node in given:
                continue
            needed.add(node)
            stack.extend(node.all_input_nodes)
        env = dict(given)
        for node in sorted(needed, key=self.order.__getitem__):
            env[node] = self.value(node, env, params or {})
        return env[wanted]

    def value(self, node: fx.Node, env: dict, params: dict):
        args = fx.node.map_arg(node.args, env.__getitem__)
        kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
        if node.op == "get_attr":
            return params[node.target] if node.target in params else \
                reduce(getattr, node.target.split("."), self.model)
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.op == "call_module":
            module = self.model.get_submodule(node.target)
            prefix = node.target + "."
            local = {name[len(prefix):]: value for name, value in params.items() if name.startswith(prefix)}
            return torch.func.functional_call(module, local, args, kwargs) if local else module(*args, **kwargs)
        raise InputError("the graph needs a value for %s (%s), which was not given" % (node.name, node.op))


@dataclass
class Layer:
    """One layer's steps: the affine map (``entry`` -> ``affine``), then the activation (-> ``exit``)."""

    number: int
    affine_nodes: list = field(default_factory=list)
    activation_nodes: list = field(default_factory=list)
    params: dict = field(default_factory=dict)      # parameter name -> the node where it enters
    entry: fx.Node | None = None
    affine: fx.Node | None = None
    exit: fx.Node | None = None


@dataclass
class Split:
    """The layers of a forward, with the probe values every node took."""

    input: fx.Node
    output: fx.Node
    layers: list[Layer]
    values: dict


def probe_values(model: nn.Module, graph: fx.Graph, X: torch.Tensor) -> tuple[fx.Node, fx.Node, dict]:
    """(input node, output node, every node's value) for the input ``X``.

    Raises:
        InputError: forward takes more than one input, returns more than one tensor, or raises.
    """
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        raise InputError("cannot read %s: its forward takes %d inputs (%s); backprop checks models of one input X"
                         % (model_name(model), len(inputs), ", ".join(n.target for n in inputs)))
    (output,) = [n for n in graph.nodes if n.op == "output"]
    result = output.args[0]
    if not isinstance(result, fx.Node):
        raise InputError("cannot read %s: its forward returns a %s; backprop checks a forward that returns one "
                         "tensor" % (model_name(model), type(result).__name__))
    evaluator = Evaluator(model, graph)
    env = {inputs[0]: X}
    for node in graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        try:
            with torch.no_grad():
                env[node] = evaluator.value(node, env, {})
        except BaseException as exc:
            if not users_failure(exc):
                raise
            raise ForwardFailed("the model raised %s in %s%s when called on an input of shape %s"
                                % (one_line(exc), describe(model, node), user_frame(exc, fallback=False)
                                   or locate(node), tuple(X.shape))) from None
    return inputs[0], result, env


class ForwardFailed(InputError):
    """The model's forward raised on a probe input (of a width it may not take)."""


class DropoutInTraining(InputError):
    """A dropout that drops in the forward read: in training mode (the caller may read an eval copy), or always."""


def refuse_what_is_not_an_mlp(model: nn.Module, graph: fx.Graph) -> None:
    """Refuse, before running anything, a step that is not an MLP's (a convolution, a normalisation, attention)
    or whose output is random (dropout in training mode).

    Raises:
        InputError: naming the step and where it is in forward.
    """
    for node in graph.nodes:
        what = not_an_mlp(model, node)
        if what:
            raise InputError("cannot read %s: %s is %s%s; backprop reads MLPs: affine layers (nn.Linear, F.linear, "
                             "x @ W.T + b) each followed by an elementwise activation"
                             % (model_name(model), describe(model, node), what, locate(node)))
        if dropout_in_training(model, node):
            if model.training:
                raise DropoutInTraining("%s is in training mode, so its output is random; call model.eval() before "
                                        "checking gradients%s" % (describe(model, node), locate(node)))
            raise DropoutInTraining("%s drops whatever the model's mode (training=True, or F.dropout's default), so "
                                    "its output is random; pass training=self.training (or use nn.Dropout), which "
                                    "eval mode turns off%s" % (describe(model, node), locate(node)))


def split_layers(model: nn.Module, graph: fx.Graph, X: torch.Tensor, parameters: dict) -> Split:
    """The layers of ``model``'s forward on the probe input ``X`` (module docstring).

    Args:
        parameters: The model's parameters by name (the ``get_attr`` targets that count as parameters).

    Raises:
        InputError: the forward is not a chain of affine maps and activations (one line, where).
    """
    source, output, values = probe_values(model, graph, X)
    walk = _Walk(model, parameters, values)
    for node in graph.nodes:
        if node.op not in ("output",):
            walk.visit(node, source)
    layers = walk.finish(output)
    return Split(source, output, layers, values)


class _Walk:
    """Assigns each data node to (layer, part): part "input", "affine" or "activation"."""

    def __init__(self, model, parameters, values):
        self.model, self.parameters, self.values = model, parameters, values
        self.place: dict[fx.Node, tuple[int, str]] = {}
        self.reads: dict[fx.Node, set] = {}          # constant nodes -> the parameters they read
        self.layers: dict[int, Layer] = {}
        self.owner: dict[str, int] = {}
        self.sizes: set[fx.Node] = set()             # values computed from the data that are not tensors

    def visit(self, node: fx.Node, source: fx.Node) -> None:
        if node is source:
            self.place[node] = (0, "input")
            return
        data = [n for n in node.all_input_nodes if n in self.place]
        value = self.values.get(node)
        if (data or self.sizes.intersection(node.all_input_nodes)) and not isinstance(value, torch.Tensor):
            if isinstance(value, (tuple, list)) and any(isinstance(item, torch.Tensor) for item in value):
                self._refuse(node, "splits the data into %d tensors; an MLP passes one tensor from layer to layer"
                             % len(value))
            self.sizes.add(node)  # a size or shape of the data: x.size(0), x.shape
        if not data or not isinstance(value, torch.Tensor):
            self.reads[node] = self._constant_reads(node)
            return
        reads = set().union(*(self.reads.get(n, set()) for n in node.all_input_nodes))
        if node.op == "call_module":
            prefix = node.target + "."
            reads |= {name for name in self.parameters if name.startswith(prefix)}
        places = {self.place[n] for n in data}
        numbers = {number for number, _ in places}
        if len(numbers) > 1:
            self._refuse(node, "combines values of %s (a residual or skip connection)"
                         % " and ".join(self._what(n) for n in sorted(data, key=lambda n: self.place[n])))
        number = numbers.pop()
        if reads:
            self.place[node] = self._affine(node, number, places, reads, data)
        elif is_identity(self.model, node) and len(data) == 1 and _same(self.values[node], self.values[data[0]]):
            self.place[node] = self.place[data[0]]
        else:
            self.place[node] = (number, "activation")
        number, part = self.place[node]
        if number == 0 and part == "activation":
            self._refuse(node, "changes the input before the first layer; backprop reads forwards that start with "
                         "an affine layer: give the data transformed instead")
        if number:
            layer = self.layers.setdefault(number, Layer(number))
            (layer.affine_nodes if part == "affine" else layer.activation_nodes).append(node)

    def _constant_reads(self, node: fx.Node) -> set:
        reads = set().union(*(self.reads.get(n, set()) for n in node.all_input_nodes))
        if node.op == "get_attr" and node.target in self.parameters:
            reads.add(node.target)
        return reads

    def _affine(self, node, number, places, reads, data) -> tuple[int, str]:
        weights = {name for name in reads if self.parameters[name].dim() >= 2}
        current = self.layers.get(number)
        continues = places == {(number, "affine")} and not (weights and any(
            self.parameters[name].dim() >= 2 for name in current.params))
        if not continues and len(places) > 1:
            self._refuse(node, "reads parameters and values of both the affine map and the activation of layer %d"
                         % number)
        target = number if continues else number + 1
        if not continues and target in self.layers:
            self._refuse(node, "reads %s, which %s reads too: two affine maps of one value (a branch, as in "
                         "attention); an MLP passes each layer's output on to one next layer"
                         % (self._what(data[0]), describe(self.model, self.layers[target].affine_nodes[0])))
        for name in reads:
            if self.owner.setdefault(name, target) != target:
                self._refuse(node, "reads the parameter %s, which layer %d reads too; an MLP's layers each have "
                             "their own parameters" % (name, self.owner[name]))
            self.layers.setdefault(target, Layer(target)).params.setdefault(name, node)
        return target, "affine"

    def _what(self, node: fx.Node) -> str:
        number, part = self.place[node]
        return "the model's input" if number == 0 else "layer %d's %s" % (number, {
            "affine": "affine map", "activation": "activation"}[part])

    def _refuse(self, node: fx.Node, why: str):
        raise InputError("cannot read %s: %s %s%s" % (model_name(self.model), describe(self.model, node), why,
                                                       locate(node)))

    def finish(self, output: fx.Node) -> list[Layer]:
        """The layers 1..L with their entry, affine and exit nodes, checked to form a chain ending in ``output``."""
        if output not in self.place:
            raise InputError("cannot read %s: its output does not depend on its input" % model_name(self.model))
        if not self.layers:
            raise InputError("cannot read %s: its forward reads no parameters; backprop reads MLPs: affine layers "
                             "(nn.Linear, F.linear, x @ W.T + b) each followed by an elementwise activation"
                             % model_name(self.model))
        layers = [self.layers[number] for number in sorted(self.layers)]
        for layer in layers:
            inner = set(layer.affine_nodes)
            entries = self._read_from_outside(layer.affine_nodes, inner)
            if len(entries) != 1:
                self._refuse(layer.affine_nodes[0], "starts layer %d from %d values" % (layer.number, len(entries)))
            layer.entry = entries.pop()
            layer.affine = self._single_exit(layer, layer.affine_nodes, inner, "affine map")
            outer = inner | set(layer.activation_nodes)
            layer.exit = self._single_exit(layer, layer.activation_nodes, outer, "activation") \
                if layer.activation_nodes else layer.affine
        for before, after in zip(layers, layers[1:]):
            if after.entry is not before.exit:
                self._refuse(after.affine_nodes[0], "does not read the output of layer %d" % before.number)
        if self.place[output][0] != layers[-1].number or output is not layers[-1].exit:
            self._refuse(output, "is returned, but it is not the output of the last layer (%d)" % layers[-1].number)
        return layers

    def _read_from_outside(self, nodes: list, inside: set) -> set:
        return {n for node in nodes for n in node.all_input_nodes if n in self.place and n not in inside}

    def _single_exit(self, layer: Layer, nodes: list, inside: set, what: str) -> fx.Node:
        exits = [n for n in nodes if any(user.op == "output" or (user in self.place and user not in inside)
                                         for user in n.users)]
        if len(exits) != 1:
            self._refuse(nodes[-1], "leaves layer %d's %s with %d values where an MLP passes one on"
                         % (layer.number, what, len(exits)))
        return exits[0]


def _same(a, b) -> bool:
    return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
