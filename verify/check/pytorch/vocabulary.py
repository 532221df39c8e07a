"""What the reader knows of PyTorch by name: activations however they are spelled, steps that change nothing,
and the layers that make a model something other than an MLP.

The reader recognises what a model computes by its values (:mod:`.layer_reading`);
names serve three purposes only: reading an activation's parameter
(``nn.LeakyReLU(0.2)``, ``F.elu(x, alpha=0.5)``), telling spellings apart whose
mathematics differs (``nn.GELU()`` is the erf form ``gelu_erf``,
``approximate='tanh'`` the registry's ``gelu``), refusing one that mixes
examples (``softmax(dim=0)``) with the reason, and naming what is not an MLP (a
convolution, a normalisation layer, attention) in one line.
"""

from __future__ import annotations

from typing import Callable

import torch.fx as fx
from torch import nn
from torch.nn.modules import batchnorm, conv, instancenorm, pooling

from derive import ACTIVATIONS, Activation, InputError

#: Marks a log-softmax output: log-probabilities, for ``nn.NLLLoss`` (the network's output layer is softmax).
LOG_SOFTMAX = "log_softmax"


def _per_example(dim, what: str) -> None:
    if dim not in (-1, 1):
        raise InputError("%s(dim=%s) normalises across %s; backprop's softmax is per example: dim=-1"
                         % (what, dim, "examples" if dim == 0 else "an unspecified dimension"))


def _softplus(beta) -> Activation:
    if beta != 1:
        raise InputError("softplus with beta=%s: only beta=1 is log(1 + e^z)" % beta)
    return ACTIVATIONS["softplus"]


def _gelu(approximate) -> Activation:
    """``nn.GELU()``/``F.gelu`` is the exact z Phi(z) (``gelu_erf``); ``approximate='tanh'`` is the registry's gelu."""
    if approximate not in ("none", "tanh"):
        raise InputError("GELU with approximate=%r: PyTorch takes 'none' (z Phi(z)) or 'tanh'" % (approximate,))
    return ACTIVATIONS["gelu" if approximate == "tanh" else "gelu_erf"]


def _softmax(dim, what: str = "softmax"):
    _per_example(dim, what)
    return LOG_SOFTMAX if what == LOG_SOFTMAX else ACTIVATIONS["softmax"]


#: PyTorch activation modules and the activation each is (None: a step that changes nothing).
MODULE_ACTIVATIONS: dict[type, Callable[[nn.Module], Activation | str | None]] = {
    nn.Sigmoid: lambda m: ACTIVATIONS["sigmoid"],
    nn.Tanh: lambda m: ACTIVATIONS["tanh"],
    nn.ReLU: lambda m: ACTIVATIONS["relu"],
    nn.LeakyReLU: lambda m: ACTIVATIONS["leaky_relu"].with_parameter(m.negative_slope),
    nn.ELU: lambda m: ACTIVATIONS["elu"].with_parameter(m.alpha),
    nn.Softplus: lambda m: _softplus(m.beta),
    nn.SiLU: lambda m: ACTIVATIONS["silu"],
    nn.GELU: lambda m: _gelu(m.approximate),
    nn.Softmax: lambda m: _softmax(m.dim, "nn.Softmax"),
    nn.LogSoftmax: lambda m: _softmax(m.dim, LOG_SOFTMAX),
    nn.Identity: lambda m: None,
}

#: Functions and methods (``torch.tanh``, ``F.relu``, ``x.sigmoid()``) by name: argument reader -> activation.
FUNCTION_ACTIVATIONS: dict[str, Callable[[Callable], Activation | str | None]] = {
    "tanh": lambda arg: ACTIVATIONS["tanh"],
    "sigmoid": lambda arg: ACTIVATIONS["sigmoid"],
    "relu": lambda arg: ACTIVATIONS["relu"],
    "silu": lambda arg: ACTIVATIONS["silu"],
    "leaky_relu": lambda arg: ACTIVATIONS["leaky_relu"].with_parameter(arg(0, "negative_slope", 0.01)),
    "elu": lambda arg: ACTIVATIONS["elu"].with_parameter(arg(0, "alpha", 1.0)),
    "softplus": lambda arg: _softplus(arg(0, "beta", 1.0)),
    "gelu": lambda arg: _gelu(arg(0, "approximate", "none")),
    "softmax": lambda arg: _softmax(arg(0, "dim", None)),
    "log_softmax": lambda arg: _softmax(arg(0, "dim", None), LOG_SOFTMAX),
    "clamp": lambda arg: _clamp(arg(0, "min", None), arg(1, "max", None)),
    "clip": lambda arg: _clamp(arg(0, "min", None), arg(1, "max", None)),
    "clamp_min": lambda arg: _clamp(arg(0, "min", None), None),
}

#: Modules, functions and methods that change nothing the reader sees (on a 2-D input, in eval mode).
IDENTITY_MODULES = (nn.Identity, nn.Flatten, nn.Dropout, nn.AlphaDropout)
IDENTITY_FUNCTIONS = frozenset({"contiguous", "view", "reshape", "flatten", "dropout", "alpha_dropout", "clone",
                                "identity", "squeeze", "type_as"})

#: What is not an MLP: module classes and function names -> what they are.
NOT_MLP_MODULES = (
    (conv._ConvNd, "a convolution"), (batchnorm._NormBase, "a normalisation layer"),
    (instancenorm._InstanceNorm, "a normalisation layer"), (nn.LayerNorm, "a normalisation layer"),
    (nn.GroupNorm, "a normalisation layer"), (nn.RMSNorm, "a normalisation layer"),
    (nn.LocalResponseNorm, "a normalisation layer"), (nn.MultiheadAttention, "attention"),
    (nn.Transformer, "a transformer"), (nn.TransformerEncoderLayer, "a transformer layer"),
    (nn.TransformerDecoderLayer, "a transformer layer"), (nn.RNNBase, "a recurrent layer"),
    (nn.RNNCellBase, "a recurrent layer"), (nn.Embedding, "an embedding"), (nn.EmbeddingBag, "an embedding"),
    (pooling._MaxPoolNd, "pooling"), (pooling._AvgPoolNd, "pooling"), (pooling._AdaptiveAvgPoolNd, "pooling"),
    (pooling._AdaptiveMaxPoolNd, "pooling"), (nn.Bilinear, "a bilinear layer"),
)
NOT_MLP_FUNCTIONS = {
    **dict.fromkeys(("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"),
                    "a convolution"),
    **dict.fromkeys(("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "local_response_norm",
                     "normalize"), "a normalisation"),
    **dict.fromkeys(("scaled_dot_product_attention", "multi_head_attention_forward"), "attention"),
    **dict.fromkeys(("embedding", "embedding_bag"), "an embedding"),
    **dict.fromkeys(("max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
                     "adaptive_max_pool1d"), "pooling"),
    **dict.fromkeys(("cat", "concat", "stack", "hstack", "vstack"), "a concatenation"),
    **dict.fromkeys(("bmm", "baddbmm", "einsum", "bilinear"), "a product of two tensors"),
}


def _clamp(low, high) -> Activation | None:
    if low == 0 and high is None:
        return ACTIVATIONS["relu"]
    raise InputError("clamp(min=%s, max=%s) is no registered activation (clamp(min=0) is relu); name it with "
                     "--activation" % (low, high))


def op_name(node: fx.Node) -> str:
    """The name a function or method node calls (``"tanh"`` for ``torch.tanh``, ``F.tanh`` and ``x.tanh()``)."""
    if node.op == "call_method":
        return str(node.target).rstrip("_")
    return str(getattr(node.target, "__name__", "")).rstrip("_")


def named_activation(model: nn.Module, node: fx.Node) -> tuple[bool, Activation | str | None]:
    """``(known, activation)`` for a node that is one activation by name (``activation`` None: the identity).

    Raises:
        InputError: a known spelling whose mathematics is not the registry's (the reason, one line).
    """
    if node.op == "call_module":
        module = model.get_submodule(node.target)
        builder = MODULE_ACTIVATIONS.get(type(module))
        return (True, builder(module)) if builder else (False, None)
    builder = FUNCTION_ACTIVATIONS.get(op_name(node)) if node.op in ("call_function", "call_method") else None
    if builder is None:
        return False, None

    def argument(index: int, keyword: str, default):
        rest = node.args[1:]
        value = rest[index] if len(rest) > index else node.kwargs.get(keyword, default)
        if isinstance(value, fx.Node):
            raise InputError("%s takes its %s from the data; backprop reads constant activation parameters"
                             % (op_name(node), keyword))
        return value

    return True, builder(argument)


def is_identity(model: nn.Module, node: fx.Node) -> bool:
    """Whether ``node`` is a step that changes nothing (a flatten of 2-D data, dropout in eval mode, a view)."""
    if node.op == "call_module":
        return isinstance(model.get_submodule(node.target), IDENTITY_MODULES)
    return node.op in ("call_function", "call_method") and op_name(node) in IDENTITY_FUNCTIONS


def not_an_mlp(model: nn.Module, node: fx.Node) -> str | None:
    """What ``node`` is when it makes the model something other than an MLP (``"a convolution"``), else None."""
    if node.op == "call_module":
        module = model.get_submodule(node.target)
        return next((what for kind, what in NOT_MLP_MODULES if isinstance(module, kind)), None)
    if node.op in ("call_function", "call_method"):
        return NOT_MLP_FUNCTIONS.get(op_name(node))
    return None


def dropout_in_training(model: nn.Module, node: fx.Node) -> bool:
    """Whether ``node`` is a dropout that drops (training mode, p > 0): its output is random."""
    if node.op == "call_module":
        module = model.get_submodule(node.target)
        return isinstance(module, (nn.Dropout, nn.AlphaDropout)) and module.training and module.p > 0
    if op_name(node) in ("dropout", "alpha_dropout") and node.op == "call_function":
        rest = node.args[1:]
        p = rest[0] if rest else node.kwargs.get("p", 0.5)
        training = rest[1] if len(rest) > 1 else node.kwargs.get("training", True)
        return bool(training) and p > 0
    return False
