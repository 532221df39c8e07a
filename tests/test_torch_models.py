"""PyTorch models: read into networks, their autograd checked entry by entry, wrong backwards caught and named.

Plain ``nn.Sequential`` models built from random networks must pass (no false
alarm, float64 and float32); models whose custom ``autograd.Function`` has a
wrong backward (``tests/buggy/torch_models.py``) must fail with the right
diagnosis; a layer that cannot be mapped is one line naming it.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from buggy import torch_models as buggy  # noqa: E402
from derive import InputError, Network  # noqa: E402
from verify import check_torch_module, strategies  # noqa: E402
from verify.check.torch_models import read_module  # noqa: E402

#: The PyTorch module for each registered activation (None: no module, a linear layer).
MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01),
           "linear": None, "elu": nn.ELU, "softplus": nn.Softplus, "silu": nn.SiLU,
           "gelu": lambda: nn.GELU(approximate="tanh"), "softmax": lambda: nn.Softmax(dim=-1)}


def sequential(network: Network, params: dict, logits: bool = False, dtype=torch.float64) -> nn.Sequential:
    """The model that computes ``network`` at ``params`` (without its final softmax/sigmoid when ``logits``)."""
    layers = []
    for layer, name in enumerate(network.activation_names, start=1):
        linear = nn.Linear(network.sizes[layer - 1], network.sizes[layer], bias=network.bias)
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(params["W%d" % layer]))
            if network.bias:
                linear.bias.copy_(torch.as_tensor(params["b%d" % layer]))
        layers.append(linear)
        last = layer == network.depth
        if MODULES[name] is not None and not (last and logits):
            layers.append(MODULES[name]())
    return nn.Sequential(*layers).to(dtype)


def data(network: Network, seed: int = 0, batch: int = 6):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (batch, network.sizes[0]))
    T = rng.dirichlet(np.ones(network.sizes[-1]), batch) if network.activations[-1].name == "softmax" else \
        rng.uniform(0, 1, (batch, network.sizes[-1]))
    return X, T


POOL = strategies.network_pool(60, decay=False)


@settings(max_examples=40, deadline=None, database=None)
@given(case=strategies.cases(st.sampled_from(POOL)), logits=st.booleans())
def test_plain_torch_models_pass_on_random_networks(case, logits):
    network = case.network
    logits = logits and network.loss.name in ("cross_entropy", "binary_cross_entropy")
    model = sequential(network, case.params, logits=logits)
    report = check_torch_module(model, case.X, case.T, loss=network.loss.name, reduction=network.reduction)
    assert report.ok, str(report)
    assert read_module(model, network.loss.name, network.reduction).network == network


def test_a_float32_model_is_checked_at_float32_tolerances():
    network = Network((5, 7, 3), activation=["tanh", "softmax"], loss="cross_entropy")
    params = {k: np.random.default_rng(1).uniform(-1, 1, s) for k, s in network.param_shapes().items()}
    report = check_torch_module(sequential(network, params, dtype=torch.float32), *data(network),
                                loss="cross_entropy")
    assert report.ok and report.dtype == "float32"
    assert report.tolerance["ulps"] == "float32"
    assert report.agreements[0].max_rel_error > 1e-9  # float32 rounding, which float64 tolerances would fail


def test_report_names_each_parameter_both_ways():
    network = Network((3, 4, 2), activation=["relu", "linear"])
    params = {k: np.random.default_rng(2).uniform(-1, 1, s) for k, s in network.param_shapes().items()}
    report = check_torch_module(sequential(network, params), *data(network))
    assert report.parameter_names == {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}
    assert re.search(r"^W1 \(0\.weight\)\s+4x3 ", str(report), re.M)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("bug", sorted(buggy.BUGS))
def test_a_wrong_custom_backward_is_caught_and_named(bug, dtype):
    where, kind, spoiled = buggy.BUGS[bug]
    model = buggy.model(bug, at=where, dtype=dtype)
    network = read_module(model).network
    report = check_torch_module(model, *data(network, seed=3))
    assert not report.ok and report.culprit == "candidate"
    assert "computes sigmoid (recognised by its forward values); its backward is what is checked" in report.notes[0]
    found = {name for d in report.diagnosis if d.kind != "right" for name in d.parameters}
    assert found == set(spoiled)
    kinds = [d.kind for d in report.diagnosis if d.kind != "right"]
    if kind is None:
        assert kinds == ["no_fit"]
        assert "The error terms delta1 of hidden unit 1 are wrong, and only those: W1's rows and b1's entries for it " \
               "(every other entry of both is right)" in report.diagnosis[0].text
    else:
        assert kinds == [kind]


def test_the_right_custom_backward_passes():
    for where in ("hidden", "output"):
        model = buggy.model(None, at=where)
        report = check_torch_module(model, *data(read_module(model).network, seed=4))
        assert report.ok, str(report)


class Squared(nn.Module):
    def forward(self, z):
        return z * z


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.second(torch.tanh(self.first(x))) + x


class Raises(nn.Module):
    def forward(self, z):
        raise RuntimeError("not written yet")


UNMAPPABLE = [
    ("conv", lambda: nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)),
     r"cannot read layer 1 \(Conv1d\): it has parameters; supported layers: Linear, Sigmoid, Tanh, ReLU"),
    ("gelu-erf", lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU()),
     r"cannot read layer 1 \(GELU\(approximate='none'\)\): backprop's gelu is the tanh approximation"),
    ("softmax-dim-0", lambda: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), "only dim=-1 is per example"),
    ("dropout-training", lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)), r"call model.eval\(\)"),
    ("two-activations", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.ReLU()),
     r"cannot read layer 2 \(ReLU\) right after another activation"),
    ("activation-first", lambda: nn.Sequential(nn.Tanh(), nn.Linear(3, 4)), "before any Linear layer"),
    ("mixed-bias", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False)),
     "some Linear layers have a bias and some do not"),
    ("unknown-forward", lambda: nn.Sequential(nn.Linear(3, 4), Squared()),
     r"cannot read layer 1 \(Squared\): its forward values on \[-4, 4\] were compared with every registered "
     r"activation .* and matches none of them"),
    ("not-in-order", Residual, "the model's output differs from its layers applied in order"),
    ("raises", lambda: nn.Sequential(nn.Linear(3, 4), Raises()),
     r"RuntimeError: not written yet, at tests/test_torch_models.py line \d+ in forward"),
    ("not-a-module", lambda: np.zeros(3), "expected a torch.nn.Module, got ndarray"),
]


@pytest.mark.parametrize("build, message", [case[1:] for case in UNMAPPABLE], ids=[case[0] for case in UNMAPPABLE])
def test_a_model_that_cannot_be_read_is_one_line_naming_the_layer(build, message, monkeypatch):
    monkeypatch.chdir(__file__.rsplit("/tests/", 1)[0])
    X, T = np.zeros((2, 3)), np.zeros((2, 3))
    with pytest.raises(InputError, match=message) as caught:
        check_torch_module(build(), X, T)
    assert "\n" not in str(caught.value)
