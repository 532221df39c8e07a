"""PyTorch models written the ways people write them, each with a switch that plants a bug in its backward.

Every factory returns a float64 model (or ``(forward, params)`` for raw tensors)
seeded with ``torch.manual_seed``; ``bug=None`` is the correct one.

* :func:`legendre_net`: ``nn.Linear`` layers around the PyTorch docs' ``LegendrePolynomial3``
  Function, P3(z) = (5z^3 - 3z)/2, which no registry holds (its backward as the docs write it);
* :func:`custom_linear_net`: the docs' ``LinearFunction`` inside a layer class named ``Linear``
  (weight (out, in), bias), with a tanh between;
* :func:`functional_net`: an ``nn.Module`` subclass with ``nn.Parameter``\\ s and ``F.linear``;
* :func:`matmul_net`: the same written ``x @ self.W1.T + self.b1``;
* :func:`tutorial_net`: the PyTorch tutorials' raw-tensor two-layer net, ``x.mm(w1).clamp(min=0).mm(w2)``,
  weights (in, out) and no biases, returned as ``(forward, params)``; with ``relu="function"`` its ReLU
  is the tutorials' ``MyReLU`` Function;
* :func:`classifier`: a 784-style classifier ``nn.Module`` ending in logits, for ``nn.CrossEntropyLoss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LegendrePolynomial3(torch.autograd.Function):
    """P3(z) = 0.5 (5 z^3 - 3 z), its derivative 1.5 (5 z^2 - 1); ``bug`` plants a wrong one."""

    bug = None

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @classmethod
    def backward(cls, ctx, grad_output):
        (input,) = ctx.saved_tensors
        if cls.bug == "forgets_constant":
            return grad_output * 1.5 * (5 * input ** 2)
        if cls.bug == "half":
            return grad_output * 0.75 * (5 * input ** 2 - 1)
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def legendre_function(bug: str | None = None) -> type:
    return type("LegendrePolynomial3", (LegendrePolynomial3,), {"bug": bug})


class LegendreNet(nn.Module):
    def __init__(self, bug=None):
        super().__init__()
        self.hidden = nn.Linear(3, 5)
        self.out = nn.Linear(5, 2)
        self.p3 = legendre_function(bug)

    def forward(self, x):
        return self.out(self.p3.apply(self.hidden(x)))


def legendre_net(bug: str | None = None) -> nn.Module:
    torch.manual_seed(0)
    return LegendreNet(bug).double()


class LinearFunction(torch.autograd.Function):
    """The PyTorch docs' linear Function: output = input W^T + b; ``bug`` plants a wrong backward."""

    bug = None

    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @classmethod
    def backward(cls, ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.mean(0) if cls.bug == "bias_mean" else grad_output.sum(0)
        if cls.bug == "weight_doubled":
            grad_weight = 2 * grad_weight
        if cls.bug == "wrong_order":
            return grad_weight, grad_input, grad_bias
        return grad_input, grad_weight, grad_bias


class Linear(nn.Module):
    """A layer of one's own, named like torch's, computing its output through :class:`LinearFunction`."""

    def __init__(self, input_features, output_features, bias=True, function=LinearFunction):
        super().__init__()
        self.function = function
        self.weight = nn.Parameter(torch.empty(output_features, input_features).uniform_(-0.5, 0.5))
        if bias:
            self.bias = nn.Parameter(torch.empty(output_features).uniform_(-0.5, 0.5))
        else:
            self.register_parameter("bias", None)

    def forward(self, input):
        return self.function.apply(input, self.weight, self.bias)


def custom_linear_net(bug: str | None = None, at: str = "first") -> nn.Module:
    """Linear(3, 4) -> tanh -> Linear(4, 2), the ``at`` layer's Function with ``bug``."""
    torch.manual_seed(0)
    buggy = type("LinearFunction", (LinearFunction,), {"bug": bug})
    return nn.Sequential(Linear(3, 4, function=buggy if at == "first" else LinearFunction), nn.Tanh(),
                         Linear(4, 2, function=buggy if at == "second" else LinearFunction)).double()


class FunctionalNet(nn.Module):
    def __init__(self, sizes=(3, 4, 2)):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(sizes[1], sizes[0]) / sizes[0] ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(sizes[1]).uniform_(-0.1, 0.1))
        self.W2 = nn.Parameter(torch.randn(sizes[2], sizes[1]) / sizes[1] ** 0.5)
        self.b2 = nn.Parameter(torch.zeros(sizes[2]).uniform_(-0.1, 0.1))

    def forward(self, x):
        h = torch.tanh(F.linear(x, self.W1, self.b1))
        return torch.sigmoid(F.linear(h, self.W2, self.b2))


def functional_net() -> nn.Module:
    torch.manual_seed(0)
    return FunctionalNet().double()


class MatmulNet(FunctionalNet):
    def forward(self, x):
        h = F.leaky_relu(x @ self.W1.T + self.b1, 0.2)
        return h @ self.W2.T + self.b2


def matmul_net() -> nn.Module:
    torch.manual_seed(0)
    return MatmulNet().double()


class MyReLU(torch.autograd.Function):
    """The tutorials' ReLU Function; ``bug`` plants a wrong backward."""

    bug = None

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @classmethod
    def backward(cls, ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        if cls.bug != "not_zeroed":
            grad_input[input < 0] = 0
        return grad_input


def tutorial_net(bug: str | None = None, relu: str = "clamp", D_in: int = 5, H: int = 7, D_out: int = 3):
    """The tutorials' two-layer net on raw tensors: ``(forward, {"w1": (D_in, H), "w2": (H, D_out)})``."""
    torch.manual_seed(0)
    w1 = torch.randn(D_in, H, dtype=torch.float64, requires_grad=True)
    w2 = torch.randn(H, D_out, dtype=torch.float64, requires_grad=True)
    my_relu = type("MyReLU", (MyReLU,), {"bug": bug})

    def forward(x, params):
        if relu == "function":
            return my_relu.apply(x.mm(params["w1"])).mm(params["w2"])
        return x.mm(params["w1"]).clamp(min=0).mm(params["w2"])

    return forward, {"w1": w1, "w2": w2}


class Classifier(nn.Module):
    def __init__(self, sizes=(784, 100, 10), activation=torch.sigmoid):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.activation = activation

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc2(self.activation(self.fc1(x)))


def classifier(sizes=(784, 100, 10)) -> nn.Module:
    torch.manual_seed(0)
    return Classifier(sizes).double()
