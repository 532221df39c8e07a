"""The network description: what to derive, run, train and check.

A :class:`Network` is a fully connected feed-forward network (an MLP) given by

* ``sizes`` n_0..n_L: input width n_0, then the width of each of the L layers;
* an activation per layer (one name for all, or a list of L names), looked up
  in :mod:`derive.model.activations` (softmax only on the output layer);
* a loss from :mod:`derive.model.losses` and its reduction over examples
  (``"sum"``, the lecture's, or ``"mean"``);
* whether layers have biases;
* weight decay: L2 coefficient lambda (penalty lambda/2 * sum w^2, so the
  gradient gains lambda*w as in the lecture) and L1 coefficient mu (penalty
  mu * sum |w|).  Decay applies to weights, not biases.

It is built in Python, from a compact string, or from a YAML/JSON file::

    Network(sizes=(2, 2, 1), activation="sigmoid", loss="sse")
    Network.from_string("784-100-10", activation=["relu", "softmax"], loss="cross_entropy")
    Network.from_file("net.yaml")      # keys: sizes, activation, loss, bias, weight_decay, l1, reduction

Every CLI subcommand accepts the string or the path (:meth:`Network.from_spec`).
"""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path
from typing import Any, Sequence

import yaml

from derive.files import check_readable

from .activation_specs import get_activation
from .activations import Activation
from derive.errors import InputError, choices
from .losses import Loss, get_loss, get_reduction

#: Keys a spec file may have.
SPEC_KEYS = ("sizes", "activation", "loss", "bias", "weight_decay", "l1", "reduction")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
_SIZES = re.compile(r"^\s*[0-9]+(\s*-\s*[0-9]+)+\s*$", re.ASCII)


class Network:
    """An MLP description.  Immutable, hashable, comparable.

    Args:
        sizes: Layer widths n_0..n_L (L >= 1), positive integers.
        activation: One activation spec for every layer, or a list of L specs
            (see :func:`derive.get_activation`).
        loss: A registered loss name.
        bias: Whether each layer has a bias vector.
        weight_decay: L2 coefficient lambda >= 0 (penalty lambda/2 * sum w^2).
        l1: L1 coefficient mu >= 0 (penalty mu * sum |w|).
        reduction: ``"sum"`` or ``"mean"`` over examples (default: the loss's
            ``default_reduction``: ``"mean"`` for ``mse``, else ``"sum"``).

    Raises:
        InputError: any part is invalid; the message says which and what is accepted.
    """

    def __init__(self, sizes: Sequence[int], activation: str | Activation | Sequence = "sigmoid",
                 loss: str | Loss = "sse", bias: bool = True, weight_decay: float = 0.0,
                 l1: float = 0.0, reduction: str | None = None):
        self.sizes = _check_sizes(sizes)
        self.activations = _check_activations(activation, len(self.sizes) - 1)
        self.loss = get_loss(loss)
        self.reduction = get_reduction(self.loss.default_reduction if reduction is None else reduction)
        if not isinstance(bias, bool):
            raise InputError("bias must be true or false, got %r" % (bias,))
        self.bias = bias
        self.weight_decay = _check_coefficient("weight_decay", weight_decay)
        self.l1 = _check_coefficient("l1", l1)
        required = self.loss.requires_output
        if required is not None and self.activations[-1].name not in required:
            raise InputError("loss %r needs output activation %s, but layer %d is %r"
                             % (self.loss.name, " or ".join(required), self.depth, self.activations[-1].name))

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_string(cls, text: str, **options) -> "Network":
        """Build from ``"784-100-10"`` (sizes joined by dashes) plus keyword options."""
        if not isinstance(text, str) or not _SIZES.match(text):
            raise InputError("network spec %r is not sizes joined by dashes such as '784-100-10' "
                             "(at least an input and an output size), nor a .yaml/.json file" % (text,))
        return cls(sizes=[int(s) for s in text.split("-")], **options)

    @classmethod
    def from_dict(cls, data: Any, where: str = "spec", **overrides) -> "Network":
        """Build from a mapping with the keys of :data:`SPEC_KEYS` (``sizes`` required)."""
        if not isinstance(data, dict):
            raise InputError("%s must be a mapping with keys %s, got %s" % (where, ", ".join(SPEC_KEYS), type(data).__name__))
        unknown = set(data) - set(SPEC_KEYS)
        if unknown:
            raise InputError("%s has unknown key %r; accepted keys: %s" % (where, sorted(map(str, unknown))[0], ", ".join(SPEC_KEYS)))
        if "sizes" not in data:
            raise InputError("%s has no 'sizes' (a list of layer widths such as [2, 2, 1])" % where)
        fields = dict(data)
        if isinstance(fields["sizes"], str):
            if not _SIZES.match(fields["sizes"]):
                raise InputError("%s: sizes %r is not widths joined by dashes such as '2-2-1'" % (where, fields["sizes"]))
            fields["sizes"] = [int(s) for s in fields["sizes"].split("-")]
        fields.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**fields)
        except InputError as exc:
            raise InputError("%s: %s" % (where, exc)) from None

    @classmethod
    def from_file(cls, path: str | Path, **overrides) -> "Network":
        """Build from a YAML (``.yaml``/``.yml``) or JSON (``.json``) spec file."""
        path = Path(path)
        if path.suffix.lower() not in SPEC_SUFFIXES:
            raise InputError("spec file %s must end in %s" % (path, ", ".join(SPEC_SUFFIXES)))
        check_readable(path, "spec")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("cannot read spec file %s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
        try:
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            line = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
            raise InputError("spec file %s is not valid %s (line %s)" % (
                path, "JSON" if path.suffix.lower() == ".json" else "YAML", line or "?")) from None
        return cls.from_dict(data, where="spec file %s" % path, **overrides)

    @classmethod
    def from_spec(cls, spec: "str | Path | Network", **overrides) -> "Network":
        """Build from a compact string or a spec file path; ``None`` overrides are ignored."""
        if isinstance(spec, Network):
            return spec.replace(**overrides)
        if str(spec).lower().endswith(SPEC_SUFFIXES):
            return cls.from_file(spec, **overrides)
        return cls.from_string(str(spec), **{k: v for k, v in overrides.items() if v is not None})

    def replace(self, **changes) -> "Network":
        """A copy with some fields changed (``None`` means unchanged)."""
        fields = self.to_dict()
        fields["activation"] = list(self.activations)
        fields["loss"] = self.loss
        fields.update({k: v for k, v in changes.items() if v is not None})
        return Network(**fields)

    # --- description --------------------------------------------------------------

    @property
    def depth(self) -> int:
        """L, the number of layers with weights."""
        return len(self.sizes) - 1

    @property
    def activation_names(self) -> tuple[str, ...]:
        """The activation name of each layer 1..L."""
        return tuple(a.name for a in self.activations)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """``{"W1": (n_1, n_0), "b1": (n_1,), ...}``; W_l[j, i] is the weight from unit i to unit j."""
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(1, self.depth + 1):
            shapes["W%d" % layer] = (self.sizes[layer], self.sizes[layer - 1])
            if self.bias:
                shapes["b%d" % layer] = (self.sizes[layer],)
        return shapes

    def loss_scale(self, batch: int) -> float:
        """The factor in front of the sum of per-unit losses: 1/N for reduction ``"mean"``, times 1/n_L
        for a loss that averages over the output units (``mse``)."""
        scale = 1.0 / batch if self.reduction == "mean" else 1.0
        return scale / self.sizes[-1] if self.loss.averages_outputs else scale

    @property
    def n_params(self) -> int:
        """Total number of scalar parameters."""
        return sum(math.prod(s) for s in self.param_shapes().values())

    def to_dict(self) -> dict:
        """The spec as plain data (what a YAML/JSON spec file holds)."""
        names = self.activation_names
        return {
            "sizes": list(self.sizes),
            "activation": names[0] if len(set(names)) == 1 else list(names),
            "loss": self.loss.name,
            "bias": self.bias,
            "weight_decay": self.weight_decay,
            "l1": self.l1,
            "reduction": self.reduction,
        }

    def command_options(self) -> list[str]:
        """The ``backprop`` options that describe this network beyond its sizes (defaults left out), shell-quoted:
        ``["--activation", "tanh,sigmoid", "--loss", "cross_entropy"]``."""
        names = self.activation_names
        options = []
        if names != ("sigmoid",) * self.depth:
            options += ["--activation", shlex.quote(names[0] if len(set(names)) == 1 else ",".join(names))]
        if self.loss.name != "sse":
            options += ["--loss", self.loss.name]
        if self.reduction != self.loss.default_reduction:
            options += ["--reduction", self.reduction]
        if not self.bias:
            options.append("--no-bias")
        for flag, value in (("--weight-decay", self.weight_decay), ("--l1", self.l1)):
            if value:
                options += [flag, repr(value)]
        return options

    def command(self, subcommand: str) -> str:
        """``backprop SUBCOMMAND SIZES OPTIONS``: the command line that names exactly this network."""
        return " ".join(["backprop", subcommand, "-".join(map(str, self.sizes))] + self.command_options())

    def describe(self, any_width: bool = False) -> str:
        """One line: ``2-2-1, sigmoid, sse (sum), bias``; with ``any_width`` the structure, ``n_0-n_1-n_2, ...``."""
        names = self.activation_names
        widths = ["n_%d" % layer for layer in range(len(self.sizes))] if any_width else map(str, self.sizes)
        parts = ["-".join(widths), names[0] if len(set(names)) == 1 else "/".join(names),
                 "%s (%s)" % (self.loss.name, self.reduction), "bias" if self.bias else "no bias"]
        if self.weight_decay:
            parts.append("L2 %g" % self.weight_decay)
        if self.l1:
            parts.append("L1 %g" % self.l1)
        return ", ".join(parts)

    @property
    def structure(self) -> "Network":
        """The same network with every width 1: everything a derivation depends on.

        Two networks with equal ``structure`` (same depth, activations, loss,
        reduction, bias and penalties) have the same symbolic derivation and
        can share a width-generic generated module.
        """
        return self.replace(sizes=(1,) * len(self.sizes))

    def _key(self):
        # Activations by name and definition: two custom activations may share a name.
        definitions = tuple((a.name, a.expression if a.elementwise else None) for a in self.activations)
        return (self.sizes, definitions, self.loss.name, self.bias, self.weight_decay, self.l1, self.reduction)

    def __eq__(self, other):
        return isinstance(other, Network) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        d = self.to_dict()
        return "Network(%s)" % ", ".join("%s=%r" % (k, tuple(v) if k == "sizes" else v) for k, v in d.items())


def _check_sizes(sizes) -> tuple[int, ...]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise InputError("sizes must be a list of positive integers such as [2, 2, 1], got %r" % (sizes,))
    sizes = list(sizes)
    if len(sizes) < 2:
        raise InputError("sizes %r needs at least an input and an output width, e.g. [2, 1]" % (sizes,))
    for position, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InputError("size %r at position %d is not a positive integer; sizes are layer widths such as [2, 2, 1]"
                             % (size, position))
    return tuple(sizes)


def _check_activations(activation, depth: int) -> tuple[Activation, ...]:
    if isinstance(activation, (str, Activation)):
        specs = [activation] * depth
    elif isinstance(activation, (list, tuple)):
        specs = list(activation)
        if len(specs) != depth:
            raise InputError("%d activations given for %d layers; give one for all or one per layer" % (len(specs), depth))
    else:
        raise InputError("activation must be a name or a list of names, got %r" % (activation,))
    activations = tuple(get_activation(spec, "layer %d" % (i + 1)) for i, spec in enumerate(specs))
    for layer, act in enumerate(activations[:-1], start=1):
        if act.output_only:
            raise InputError("%s in layer %d: %s is allowed only on the output layer (layer %d)"
                             % (act.name, layer, act.name, depth))
    return activations


def _check_coefficient(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InputError("%s must be a finite number >= 0, got %r" % (name, value))
    return float(value)


def split_activation_list(text: str) -> list[str] | str:
    """Split ``"relu,softmax"`` on top-level commas; ``"leaky_relu(x, 0.1)"`` keeps its comma."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts[0] if len(parts) == 1 else parts
