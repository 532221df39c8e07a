"""PyTorch models whose sigmoid is a custom ``torch.autograd.Function``, with the backward right or wrong.

``model(bug, at="hidden")`` is ``Linear(3, 4) -> CustomSigmoid(bug) -> Linear(4, 2)``;
``model(bug, at="output")`` is ``Linear(3, 4) -> CustomSigmoid() -> Linear(4, 2) -> CustomSigmoid(bug)``.
The forward is always the sigmoid, so the check recognises the module by its values, and only the
backward is wrong.  :data:`BUGS` maps
each wrong backward to the diagnosis it should get.
"""

from __future__ import annotations

import torch
from torch import nn


def sigmoid_function(bug: str | None = None, unit: int = 1) -> type:
    """A ``torch.autograd.Function`` computing the sigmoid, whose backward makes the mistake ``bug``.

    ``"one_entry"`` makes the backward's entry for example 0 and unit ``unit`` 1% too large.
    """

    class SigmoidFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            a = torch.sigmoid(z)
            ctx.save_for_backward(z, a)
            ctx.output = a.detach()  # kept on ctx detached: a constant to a second backward
            return a

        @staticmethod
        def backward(ctx, upstream):
            z, a = ctx.saved_tensors
            if bug == "output_on_ctx":  # right gradients, but double backward misses sigmoid''
                return upstream * ctx.output * (1 - ctx.output)
            if bug == "missing_derivative":
                return upstream
            if bug == "derivative_at_z":
                return upstream * z * (1 - z)
            if bug == "sign":
                return -upstream * a * (1 - a)
            if bug == "doubled":
                return 2 * upstream * a * (1 - a)
            grad = upstream * a * (1 - a)
            if bug == "one_entry":
                grad = grad.clone()
                grad[0, unit] *= 1.01
            return grad

    return SigmoidFunction


class CustomSigmoid(nn.Module):
    """A layer with no parameters that applies :func:`sigmoid_function`."""

    def __init__(self, bug: str | None = None, unit: int = 1):
        super().__init__()
        self.function = sigmoid_function(bug, unit)

    def forward(self, z):
        return self.function.apply(z)


def model(bug: str | None = None, at: str = "hidden", dtype=torch.float64) -> nn.Sequential:
    """The hidden layer's sigmoid (``at="hidden"``) or an added output sigmoid (``"output"``) makes the mistake."""
    torch.manual_seed(0)
    layers = [nn.Linear(3, 4), CustomSigmoid(bug if at == "hidden" else None), nn.Linear(4, 2)]
    if at == "output":
        layers.append(CustomSigmoid(bug))
    return nn.Sequential(*layers).to(dtype)


#: bug -> (where, diagnosis kind, parameters spoiled); kind None: no pattern fits.
BUGS = {
    "missing_derivative": ("hidden", "missing_derivative", ("W1", "b1")),
    "derivative_at_z": ("output", "derivative_at_preactivation", ("W1", "b1", "W2", "b2")),
    "sign": ("hidden", "scale", ("W1", "b1")),
    "doubled": ("output", "scale", ("W1", "b1", "W2", "b2")),
    "one_entry": ("hidden", None, ("W1", "b1")),
}
#: Bugs only a second-order check sees: bug -> (where, diagnosis kind of check_torch_hvp, parameters spoiled).
HVP_BUGS = {"output_on_ctx": ("hidden", "missing_curvature", ("W1", "b1"))}
