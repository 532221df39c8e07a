"""The candidates of a PyTorch model's check: its autograd gradient and its double-backward Hessian-vector product.

Both are functions in the calling convention of :mod:`verify.check.sources`
(``fn(params, X, T)`` and ``fn(params, X, T, V)``, parameters keyed ``W1,
b1, ...`` in the network's layout).  Each call puts the parameters into fresh
tensors laid out as the model's (a weight the model uses as (in, out) is
transposed) and runs the model's own ``forward`` on them through
``torch.func.functional_call``, so the model is never modified and its custom
``autograd.Function`` backwards run exactly as in training; the results are
laid out back as the network's.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from .reading import TorchNetwork
from .tracing import model_name


def model_tensors(read: TorchNetwork, params: dict, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    """``params`` (network keys and layout) as new tensors of the model's names, layout and dtype."""
    return {name: torch.tensor(np.ascontiguousarray(value), dtype=read.dtype, requires_grad=requires_grad)
            for name, value in read.model_arrays(params).items()}


def call(read: TorchNetwork, tensors: dict[str, torch.Tensor], X) -> torch.Tensor:
    """The model's output on ``X`` with its parameters replaced by ``tensors``, as (N, n_L): a one-unit output that
    the forward squeezes to (N,) (``.squeeze(-1)``, as regression and binary classifiers often end) is the same
    numbers, taken as one column."""
    output = torch.func.functional_call(read.model, tensors, (torch.as_tensor(np.asarray(X), dtype=read.dtype),))
    return output.unsqueeze(-1) if output.ndim == 1 and read.network.sizes[-1] == 1 else output


def loss_of(read: TorchNetwork, tensors: dict[str, torch.Tensor], X, T) -> torch.Tensor:
    """The loss the model is trained with, at ``tensors``."""
    output = call(read, tensors, X)
    return read.loss.value(read.network, output, torch.as_tensor(np.asarray(T), dtype=output.dtype))


def _network_layout(read: TorchNetwork, keys: list[str], tensors: list) -> dict[str, np.ndarray]:
    return {key: (tensor.detach().cpu().numpy().T if key in read.transposed else tensor.detach().cpu().numpy()).copy()
            for key, tensor in zip(keys, tensors)}


def gradient_function(read: TorchNetwork) -> Callable[[dict, np.ndarray, np.ndarray], dict]:
    """``fn(params, X, T)``: the model's autograd gradient of its loss at ``params``."""

    def gradients(params, X, T):
        keys = list(params)
        tensors = model_tensors(read, params, requires_grad=True)
        total = loss_of(read, tensors, X, T)
        grads = torch.autograd.grad(total, list(tensors.values()), allow_unused=True)
        return _network_layout(read, keys, [g if g is not None else torch.zeros_like(t)
                                            for g, t in zip(grads, tensors.values())])

    gradients.__qualname__ = "%s (autograd)" % model_name(read.model)
    return gradients


def hvp_function(read: TorchNetwork) -> Callable[[dict, np.ndarray, np.ndarray, dict], dict]:
    """``fn(params, X, T, V)``: ``torch.autograd.functional.hvp`` of the model's loss at ``params``, along V."""

    def hvp(params, X, T, V):
        keys = list(params)
        names = [read.names[key] for key in keys]
        inputs = tuple(model_tensors(read, params).values())
        direction = tuple(model_tensors(read, {key: V[key] for key in keys}).values())

        def total(*tensors):
            return loss_of(read, dict(zip(names, tensors)), X, T)

        _, products = torch.autograd.functional.hvp(total, inputs, direction)
        return _network_layout(read, keys, products)

    hvp.__qualname__ = "%s (double backward)" % model_name(read.model)
    return hvp
