"""PyTorch models in every style people write them, with PyTorch's own losses: read, checked, bugs caught and named.

The models (``tests/buggy/torch_styles.py``) are written as in PyTorch's docs and
tutorials: an ``nn.Module`` with ``F.linear`` and with ``x @ self.W.T + self.b``,
the tutorials' raw-tensor net (``x.mm(w1).clamp(min=0).mm(w2)``), the docs'
``LinearFunction`` inside a layer class named ``Linear``, the docs'
``LegendrePolynomial3`` Function as an activation no registry holds.  Correct
ones must pass (the symbolic reference, independent of torch, is the oracle),
each planted backward bug must fail with the diagnosis that names it, and each
PyTorch loss must map onto a record whose derived gradient is the one a
training step computes (torch's ``loss.backward()`` in the test itself, no code
of ours on the torch side).
"""

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from buggy import torch_styles as styles  # noqa: E402
from verify.check.modules import module_for  # noqa: E402
from verify.check.torch_models import check_torch_hvp, check_torch_module, read_module  # noqa: E402

LEGENDRE = "0.5*(5*x**3-3*x),linear"


def data(inputs: int, outputs: int, targets: str, seed: int = 0, batch: int = 6):
    """Inputs in [-1, 1]; targets as training gives them: class labels, 0/1, values in (0, 1), or any reals."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (batch, inputs))
    T = {"labels": lambda: rng.integers(0, outputs, batch),
         "binary": lambda: rng.integers(0, 2, (batch, outputs)).astype(float),
         "probabilities": lambda: rng.dirichlet(np.ones(outputs), batch),
         "values": lambda: rng.uniform(-1, 1, (batch, outputs))}[targets]()
    return X, T


#: id -> (model, inputs, outputs, targets, loss, activation, the network read, the names shown).
STYLES = {
    "functional-bce": (styles.functional_net, 3, 2, "binary", "BCELoss", None,
                       "3-4-2, tanh/sigmoid, mean_binary_cross_entropy (mean), bias",
                       {}),
    "functional-bce-sum": (styles.functional_net, 3, 2, "binary", "BCELoss(reduction='sum')", None,
                           "3-4-2, tanh/sigmoid, binary_cross_entropy (sum), bias", None),
    "matmul-bce-logits": (styles.matmul_net, 3, 2, "binary", nn.BCEWithLogitsLoss(), None,
                          "3-4-2, leaky_relu(0.2)/sigmoid, mean_binary_cross_entropy (mean), bias", None),
    "matmul-mse": (styles.matmul_net, 3, 2, "values", nn.MSELoss(), None,
                   "3-4-2, leaky_relu(0.2)/linear, mse (mean), bias", None),
    "tutorial-mse-sum": (styles.tutorial_net, 5, 3, "values", "MSELoss(reduction='sum')", None,
                         "5-7-3, relu/linear, squared_error (sum), no bias", {"W1": "w1.T", "W2": "w2.T"}),
    "tutorial-function": (lambda: styles.tutorial_net(relu="function"), 5, 3, "values", "MSELoss", None,
                          "5-7-3, relu/linear, mse (mean), no bias", None),
    "custom-linear-mse": (styles.custom_linear_net, 3, 2, "values", nn.MSELoss(reduction="sum"), None,
                          "3-4-2, tanh/linear, squared_error (sum), bias",
                          {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}),
    "legendre-ce-labels": (styles.legendre_net, 3, 2, "labels", nn.CrossEntropyLoss(), LEGENDRE,
                           "3-5-2, 0.5*(5*x**3-3*x)/softmax, cross_entropy (mean), bias", None),
    "legendre-ce-probabilities": (styles.legendre_net, 3, 2, "probabilities", "CrossEntropyLoss(reduction='sum')",
                                  LEGENDRE, "3-5-2, 0.5*(5*x**3-3*x)/softmax, cross_entropy (sum), bias", None),
    "classifier-ce": (lambda: styles.classifier((20, 8, 4)), 20, 4, "labels", nn.CrossEntropyLoss(), None,
                      "20-8-4, sigmoid/softmax, cross_entropy (mean), bias",
                      {"W1": "fc1.weight", "b1": "fc1.bias", "W2": "fc2.weight", "b2": "fc2.bias"}),
    "log-softmax-nll": (lambda: nn.Sequential(nn.Linear(3, 5), nn.ELU(0.5), nn.Linear(5, 4), nn.LogSoftmax(dim=1)),
                        3, 4, "labels", nn.NLLLoss(reduction="sum"), None,
                        "3-5-4, elu(0.5)/softmax, cross_entropy (sum), bias", None),
    "log-softmax-ce": (lambda: nn.Sequential(nn.Linear(3, 5), nn.SiLU(), nn.Linear(5, 4), nn.LogSoftmax(dim=-1)),
                       3, 4, "labels", "CrossEntropyLoss", None, "3-5-4, silu/softmax, cross_entropy (mean), bias",
                       None),
}


@pytest.mark.parametrize("case", STYLES.values(), ids=STYLES)
def test_a_correct_model_of_each_style_passes_with_its_loss(case):
    build, inputs, outputs, targets, loss, activation, described, shown = case
    torch.manual_seed(0)
    model = build()
    model = model.double() if isinstance(model, nn.Module) else model
    report = check_torch_module(model, *data(inputs, outputs, targets), loss=loss, activation=activation)
    assert report.ok, str(report)
    assert report.network == described
    if shown is not None:
        assert report.parameter_names == shown


#: id -> (model with a planted bug, inputs, outputs, targets, loss, activation, [(diagnosis kind, parameters)]).
BUGS = {
    "legendre-half": (lambda: styles.legendre_net("half"), 3, 2, "labels", nn.CrossEntropyLoss(), LEGENDRE,
                      [("scale", ("W1", "b1"))]),
    "legendre-constant": (lambda: styles.legendre_net("forgets_constant"), 3, 2, "labels", "CrossEntropyLoss",
                          LEGENDRE, [("no_fit", ("W1", "b1"))]),
    "linear-function-bias-mean": (lambda: styles.custom_linear_net("bias_mean"), 3, 2, "values", "MSELoss", None,
                                  [("scale", ("b1",))]),
    "linear-function-weight-doubled": (lambda: styles.custom_linear_net("weight_doubled", at="second"), 3, 2,
                                       "values", "MSELoss", None, [("scale", ("W2",))]),
    "tutorial-relu-not-zeroed": (lambda: styles.tutorial_net("not_zeroed", relu="function"), 5, 3, "values",
                                 "MSELoss(reduction='sum')", None, [("missing_derivative", ("W1",))]),
}


@pytest.mark.parametrize("case", BUGS.values(), ids=BUGS)
def test_a_bug_planted_in_each_kind_of_backward_is_caught_and_named(case):
    build, inputs, outputs, targets, loss, activation, expected = case
    report = check_torch_module(build(), *data(inputs, outputs, targets, seed=1), loss=loss, activation=activation)
    assert not report.ok and report.culprit == "candidate"
    assert [(d.kind, d.parameters) for d in report.diagnosis if d.kind != "right"] == expected
    wrong = {name for kind, names in expected for name in names}
    assert [d.parameters for d in report.diagnosis if d.kind == "right"] == [
        tuple(row.name for row in report.rows if row.name not in wrong)]


def test_gradients_returned_in_another_order_are_located_in_the_users_backward_not_in_torch():
    from derive import InputError

    source = (Path(styles.__file__).read_text()).splitlines()
    start = source.index("class LinearFunction(torch.autograd.Function):")
    line = next(k for k, text in enumerate(source[start:], start + 1) if "def backward(" in text)
    with pytest.raises(InputError) as raised:
        check_torch_module(styles.custom_linear_net("wrong_order", at="second"), *data(3, 2, "values"),
                           loss="MSELoss")
    message = str(raised.value)
    assert re.search(r"in the backward of LinearFunction at \S*torch_styles.py line %d: it returns one gradient per "
                     r"input of forward, in forward's order \(input, weight, bias\)" % line, message)
    assert "at index 0 it returned one of shape (2, 4) where input's is (6, 4): returned in another order?" in message
    assert "torch/autograd" not in message
    # In the first layer the input needs no gradient: torch drops what comes back in its place, W1's among them.
    report = check_torch_module(styles.custom_linear_net("wrong_order"), *data(3, 2, "values"), loss="MSELoss")
    (w1,) = [d.text for d in report.diagnosis if d.parameters == ("W1",)]
    assert w1.startswith("every entry of W1 is 0 where the reference is not: no gradient reached it (never computed, "
                         "or overwritten with zeros; from a custom autograd backward, None returned in its place, or "
                         "the gradients returned in another order)")


def test_the_diagnosis_names_the_parameter_the_factor_and_the_layer():
    report = check_torch_module(styles.custom_linear_net("bias_mean"), *data(3, 2, "values", seed=1), loss="MSELoss")
    assert "b1 (0.bias): every entry of b1 is 0.1667 x the reference (= 1/N, N the number of examples: divided by " \
           "N twice (once in the output delta, again in the gradient)?)" in str(report)  # MSELoss's mean divides once
    assert "W1 (0.weight), W2 (2.weight), b2 (2.bias): right at every entry" in str(report)
    report = check_torch_module(styles.legendre_net("half"), *data(3, 2, "labels", seed=1), loss="CrossEntropyLoss",
                                activation=LEGENDRE)
    assert "the error term delta1 is 0.5 x the right one and the layers above are right, so the slip is where " \
           "delta1 is computed: layer 1's activation derivative, or what it multiplies, delta2 W2, the gradient layer 2 sends " \
           "back to its input (a custom backward's input gradient). Hand-written backwards this reaches first: " \
           "layer 1's activation, LegendrePolynomial3.apply at tests/buggy/torch_styles.py line" in str(report)
    report = check_torch_module(styles.tutorial_net("not_zeroed", relu="function"), *data(5, 3, "values", seed=1),
                                loss="MSELoss(reduction='sum')")
    assert "W1 (w1.T): equals the correct gradient without the factor Heaviside(Z1, 0): delta1, the error term of " \
           "the hidden layer, is missing the relu derivative dA1/dZ1" in str(report)


def training_gradients(model, loss, X, T) -> dict:
    """The gradients one training step computes: ``loss(model(X), target).backward()``, by the parameters' names."""
    model.zero_grad()
    target = torch.as_tensor(T)
    loss(model(torch.as_tensor(X)), target).backward()
    return {name: p.grad.numpy().copy() for name, p in model.named_parameters()}


#: PyTorch loss -> (the model's last activation, targets, the record it maps onto).
LOSSES = {
    "MSELoss": (nn.MSELoss(), nn.Identity(), "values", "mse (mean)"),
    "MSELoss-sum": (nn.MSELoss(reduction="sum"), nn.Tanh(), "values", "squared_error (sum)"),
    "CrossEntropyLoss-labels": (nn.CrossEntropyLoss(), nn.Identity(), "labels", "cross_entropy (mean)"),
    "CrossEntropyLoss-probabilities": (nn.CrossEntropyLoss(reduction="sum"), nn.Identity(), "probabilities",
                                       "cross_entropy (sum)"),
    "NLLLoss": (nn.NLLLoss(), nn.LogSoftmax(dim=-1), "labels", "cross_entropy (mean)"),
    "BCELoss": (nn.BCELoss(), nn.Sigmoid(), "binary", "mean_binary_cross_entropy (mean)"),
    "BCELoss-sum": (nn.BCELoss(reduction="sum"), nn.Sigmoid(), "probabilities", "binary_cross_entropy (sum)"),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(), nn.Identity(), "binary", "mean_binary_cross_entropy (mean)"),
}


@pytest.mark.parametrize("case", LOSSES.values(), ids=LOSSES)
def test_each_pytorch_loss_maps_onto_a_record_whose_derived_gradient_is_the_training_steps(case):
    loss, last, targets, record = case
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3), last).double()
    X, T = data(3, 3, targets, seed=2)
    read = read_module(model, loss, width=3)
    assert read.network.describe().endswith(record + ", bias")
    one_hot = np.eye(3)[T] if T.ndim == 1 else T
    derived = module_for(read.network).gradients(read.params, X, one_hot)
    trained = training_gradients(model, loss, X, T)
    for key, name in read.names.items():
        np.testing.assert_allclose(derived[key], trained[name], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("build, loss, activation", [
    (styles.custom_linear_net, "MSELoss", None),
    (styles.tutorial_net, "MSELoss(reduction='sum')", None),
    (styles.functional_net, nn.BCELoss(), None),
    (styles.legendre_net, nn.CrossEntropyLoss(), LEGENDRE),
], ids=["custom-linear", "raw-tensors", "functional", "legendre"])
def test_the_double_backward_of_every_style_passes(build, loss, activation):
    model = build()
    width = 5 if isinstance(model, tuple) else 3
    outputs = 3 if isinstance(model, tuple) else 2
    targets = "labels" if isinstance(loss, nn.CrossEntropyLoss) else "binary" if isinstance(loss, nn.BCELoss) \
        else "values"
    report = check_torch_hvp(model, *data(width, outputs, targets), loss=loss, activation=activation)
    assert report.ok, str(report)


class Squeezed(nn.Module):
    """A regressor or binary classifier that ends in ``.squeeze(-1)``, as much training code does."""

    def __init__(self, sigmoid: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.hidden, self.out, self.sigmoid = nn.Linear(4, 6).double(), nn.Linear(6, 1).double(), sigmoid

    def forward(self, x):
        z = self.out(torch.tanh(self.hidden(x)))
        return (torch.sigmoid(z) if self.sigmoid else z).squeeze(-1)


@pytest.mark.parametrize("sigmoid, loss, targets", [(False, "MSELoss", "values"), (False, "BCEWithLogitsLoss", "binary"),
                                                     (True, "BCELoss", "binary")],
                         ids=["regressor", "logits", "probability"])
def test_a_one_unit_output_squeezed_to_n_is_checked_as_the_training_loss_sees_it(sigmoid, loss, targets):
    X, T = data(4, 1, targets)
    report = check_torch_module(Squeezed(sigmoid), X, T, loss=loss)
    assert report.ok, str(report)
    model = Squeezed(sigmoid)  # the oracle: torch's own training loss on the (N,) output and (N,) targets
    getattr(nn, loss)()(model(torch.as_tensor(X)), torch.as_tensor(T[:, 0])).backward()
    reference = module_for(read_module(Squeezed(sigmoid), loss).network)
    params = read_module(Squeezed(sigmoid), loss).params
    ours = reference.gradients(params, X, T)
    assert np.allclose(ours["W1"], model.hidden.weight.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_what_the_check_assumed_about_the_loss_and_the_targets_is_said():
    X, T = data(3, 2, "labels")
    notes = check_torch_module(styles.functional_net(), X, T).notes
    assert "no loss given: checked with sse on the model's outputs; give the loss the model is trained with " \
           "(--loss CrossEntropyLoss, MSELoss, ...)" in notes
    notes = check_torch_module(styles.functional_net(), X, T, loss=nn.MSELoss()).notes
    assert "the targets are integer class labels and nn.MSELoss(reduction='mean') compares values: they were read as " \
           "one-hot rows (np.eye(2)[y]), which PyTorch's loss itself would need" in notes
    assert not any("no loss given" in note for note in notes)
