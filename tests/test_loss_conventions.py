"""The loss conventions other people's code uses, each against PyTorch's own loss as the oracle.

``squared_error`` is ``((y_pred - y)**2).sum()`` (the PyTorch tutorials), ``mse`` is ``nn.MSELoss()``
(the mean over every entry; Keras' "mse"), and cross-entropy takes integer class labels as
``nn.CrossEntropyLoss`` does.  The engine, the generated code and torch.autograd must agree on the
loss and on every gradient entry.
"""

import numpy as np
import pytest
import torch
from torch import nn

from derive import Network, derive
from verify import Engine, check_gradients


def torch_gradients(network, params, X, loss_of_output):
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    A = torch.tensor(X)
    for layer in range(1, network.depth + 1):
        Z = A @ tensors["W%d" % layer].T + tensors["b%d" % layer]
        A = torch.tanh(Z) if layer < network.depth else Z
    loss = loss_of_output(A)
    loss.backward()
    return float(loss.detach()), {k: t.grad.numpy() for k, t in tensors.items()}


def draw(network, batch, seed):
    rng = np.random.default_rng(seed)
    params = {k: rng.uniform(-1, 1, shape) for k, shape in network.param_shapes().items()}
    return params, rng.uniform(-1, 1, (batch, network.sizes[0])), rng.uniform(-1, 1, (batch, network.sizes[-1]))


@pytest.mark.parametrize("loss, reduction, torch_loss", [
    ("squared_error", "sum", lambda out, T: ((out - T) ** 2).sum()),
    ("squared_error", "sum", lambda out, T: nn.MSELoss(reduction="sum")(out, T)),
    ("mse", None, lambda out, T: nn.MSELoss()(out, T)),
    ("mse", "mean", lambda out, T: ((out - T) ** 2).mean()),
    ("mse", "sum", lambda out, T: ((out - T) ** 2).mean(dim=1).sum()),
    ("sse", "mean", lambda out, T: 0.5 * ((out - T) ** 2).sum() / len(out)),
], ids=["tutorial-sum", "MSELoss-sum", "MSELoss", "mean-of-all", "mean-per-example-summed", "sse-mean"])
@pytest.mark.parametrize("sizes", [(3, 5, 4), (2, 3, 1)], ids=["3-5-4", "2-3-1"])
def test_squared_error_conventions_match_torch(loss, reduction, torch_loss, sizes):
    network = Network(sizes, activation=["tanh", "linear"], loss=loss, reduction=reduction)
    params, X, T = draw(network, 7, seed=sum(sizes))
    expected_loss, expected = torch_gradients(network, params, X, lambda out: torch_loss(out, torch.tensor(T)))
    module = derive(network).numpy_module()
    for source in (Engine(network), module):
        assert source.loss(params, X, T) == pytest.approx(expected_loss, rel=1e-12)
        got = source.gradients(params, X, T)
        for name in params:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-13)
    assert check_gradients(network, params, X, T).ok


def test_mse_defaults_to_the_mean_over_examples_and_sse_to_the_sum():
    assert Network((2, 1), loss="mse").reduction == "mean"
    assert Network((2, 1), loss="sse").reduction == "sum"
    assert Network((2, 1), loss="mse", reduction="sum").command("check") == "backprop check 2-1 --loss mse --reduction sum"
    assert Network((2, 1), loss="mse").command("check") == "backprop check 2-1 --loss mse"


def test_cross_entropy_takes_integer_labels_as_torch_does():
    network = Network((4, 6, 3), activation=["tanh", "softmax"], loss="cross_entropy", reduction="mean")
    params, X, _ = draw(network, 9, seed=3)
    labels = np.array([0, 2, 1, 1, 0, 2, 2, 1, 0])
    expected_loss, expected = torch_gradients(
        network.replace(activation=["tanh", "linear"], loss="sse"), params, X,
        lambda logits: nn.CrossEntropyLoss()(logits, torch.tensor(labels)))
    engine = Engine(network)
    assert engine.loss(params, X, labels) == pytest.approx(expected_loss, rel=1e-12)
    got = engine.gradients(params, X, labels)
    for name in params:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-13)
    assert check_gradients(network, params, X, labels).ok
