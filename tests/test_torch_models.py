"""PyTorch models: read into networks, their autograd checked entry by entry, wrong backwards caught and named.

Plain ``nn.Sequential`` models built from random networks must pass (no false
alarm, float64 and float32); models whose custom ``autograd.Function`` has a
wrong backward (``tests/buggy/torch_models.py``) must fail with the right
diagnosis; what is read is said layer by layer; a model that is not an MLP
(a convolution, a normalisation, a residual addition, control flow on data,
a parameter used twice, ...) is one line naming the step and where it is in
``forward``, and so is a model that cannot be checked as it is (float16, the
meta device, NaN weights, a forward that exits).  Models written in other
styles are in ``tests/test_torch_styles.py``.
"""

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from buggy import torch_models as buggy  # noqa: E402
from derive import InputError, Network  # noqa: E402
from verify import check_torch_module, strategies  # noqa: E402
from verify.check.pytorch import reading  # noqa: E402
from verify.check.torch_models import check_torch_hvp, read_module  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: The PyTorch module for each registered activation (None: no module, a linear layer).
MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01),
           "linear": None, "elu": nn.ELU, "softplus": nn.Softplus, "silu": nn.SiLU,
           "gelu": lambda: nn.GELU(approximate="tanh"), "gelu_erf": nn.GELU,
           "softmax": lambda: nn.Softmax(dim=-1)}


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
def test_a_wrong_custom_backward_is_caught_and_named(bug, dtype, monkeypatch):
    monkeypatch.chdir(ROOT)
    where, kind, spoiled = buggy.BUGS[bug]
    model = buggy.model(bug, at=where, dtype=dtype)
    network = read_module(model).network
    report = check_torch_module(model, *data(network, seed=3))
    assert not report.ok and report.culprit == "candidate"
    assert re.fullmatch(r"read from forward: layer 1: model\[0\] \(nn\.Linear\): W1 = 0\.weight, b1 = 0\.bias; "
                        r"sigmoid \(SigmoidFunction\.apply in model\[1\] \(CustomSigmoid\) at "
                        r"tests/buggy/torch_models\.py line \d+, recognised by its forward values; its backward is "
                        r"what is checked\)", report.notes[0]), report.notes[0]
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




class Net(nn.Module):
    """A model as a tutorial writes it: parameters of its own, F.linear, and a layer module."""

    def __init__(self):
        super().__init__()
        self.W1 = nn.Parameter(torch.randn(4, 3))
        self.b1 = nn.Parameter(torch.randn(4))
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        h = F.softplus(F.linear(x, self.W1, self.b1))
        return self.head(h)


def test_what_was_read_is_said_layer_by_layer(monkeypatch):
    monkeypatch.chdir(ROOT)
    torch.manual_seed(0)
    report = check_torch_module(Net().double(), np.zeros((3, 3)), np.array([0, 1, 1]), loss=nn.CrossEntropyLoss())
    assert report.ok
    line = Net.forward.__code__.co_firstlineno
    assert report.notes[:2] == [
        "read from forward: layer 1: F.linear at tests/test_torch_models.py line %d: W1 = W1, b1 = b1; softplus "
        "(F.softplus at tests/test_torch_models.py line %d)" % (line + 1, line + 1),
        "layer 2: self.head (nn.Linear) at tests/test_torch_models.py line %d: W2 = head.weight, b2 = head.bias; no "
        "activation; the model outputs logits and nn.CrossEntropyLoss(reduction='mean') applies softmax, so the "
        "network's output layer is softmax" % (line + 2)]


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return self.second(torch.tanh(self.first(x))) + x


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 3)

    def forward(self, x):
        h = self.layer(x)
        if h.mean() > 0:
            return torch.tanh(h)
        return h


class Normalised(nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.norm, self.second = nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)

    def forward(self, x):
        return self.second(torch.relu(self.norm(self.first(x))))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return torch.softmax(self.query(x) @ self.key(x).T, dim=-1)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(3, 3))

    def forward(self, x):
        return torch.tanh(x @ self.W.T) @ self.W


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(4, 3))

    def forward(self, x):
        return torch.tanh(x @ (2 * self.W).T)


class Preprocessed(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 3)

    def forward(self, x):
        return self.layer(x / 255)


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 3)

    def forward(self, x):
        h = self.layer(x)
        return h, torch.tanh(h)


class Squared(nn.Module):
    def forward(self, z):
        return z * z


class Raises(nn.Module):
    def forward(self, z):
        raise RuntimeError("not written yet")


class Exits(nn.Module):
    def forward(self, z):
        sys.exit(0)


class Interrupts(nn.Module):
    def forward(self, z):
        raise KeyboardInterrupt


def meta_model():
    with torch.device("meta"):
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3))


def nan_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    with torch.no_grad():
        model[2].weight[1, 3] = float("nan")
    return model


def linear_tanh(*rest):
    return nn.Sequential(nn.Linear(3, 3), *rest)


#: id -> (model, message it gets: one line naming the step and where it is in forward).
UNREADABLE = {
    "conv": (lambda: nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)),
             r"cannot read Sequential: model\[1\] \(nn.Conv1d\) is a convolution; backprop reads MLPs"),
    "batch-norm": (Normalised, r"cannot read Normalised: self.norm \(nn.BatchNorm1d\) is a normalisation layer, at "
                   r"tests/test_torch_models.py line \d+ in forward: return self.second\(torch.relu\(self.norm"),
    "residual": (Residual, r"cannot read Residual: \+ combines values of the model's input and layer 2's affine map "
                 r"\(a residual or skip connection\), at tests/test_torch_models.py line \d+ in forward"),
    "control-flow": (DataDependent, r"cannot read DataDependent: its forward decides what to compute from a tensor's "
                     r"value .*, at tests/test_torch_models.py line \d+ in forward: if h.mean\(\) > 0:, which "
                     r"torch.fx cannot trace"),
    "attention": (Attention, r"cannot read Attention: self.key \(nn.Linear\) reads the model's input, which "
                  r"self.query \(nn.Linear\) reads too: two affine maps of one value \(a branch, as in attention\)"),
    "parameter-used-twice": (Tied, r"cannot read Tied: @ reads the parameter W, which layer 1 reads too"),
    "not-affine": (Scaled, r"cannot read layer 1 \(@ at tests/test_torch_models.py line \d+\): with random values "
                   r"in W it does not compute h @ W.T of them"),
    "preprocessing": (Preprocessed, r"cannot read Preprocessed: / changes the input before the first layer"),
    "two-outputs": (TwoOutputs, "cannot read TwoOutputs: its forward returns a tuple"),
    "softmax-dim-0": (lambda: linear_tanh(nn.Softmax(dim=0)), r"nn.Softmax\(dim=0\) normalises across examples"),
    "mixed-bias": (lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2, bias=False)),
                   "some layers have a bias and some do not"),
    "unknown-activation": (lambda: linear_tanh(Squared()),
                           r"cannot read layer 1's activation \(\* in model\[1\] \(Squared\) at "
                           r"tests/test_torch_models.py line \d+\): its forward values .* matches none of them; "
                           r"name it with --activation"),
    "raises": (lambda: linear_tanh(Raises()), r"cannot read Sequential: its forward raised RuntimeError: not written "
               r"yet, at tests/test_torch_models.py line \d+ in forward: raise RuntimeError"),
    "exits": (lambda: linear_tanh(Exits()), r"cannot read Sequential: its forward raised SystemExit: 0, at "
              r"tests/test_torch_models.py line \d+ in forward: sys.exit\(0\) \(while torch.fx traced it\)"),
    "raises-keyboard-interrupt": (lambda: linear_tanh(Interrupts()), r"KeyboardInterrupt, at "
                                  r"tests/test_torch_models.py line \d+ in forward: raise KeyboardInterrupt"),
    "meta-device": (meta_model, r"the model's parameters \(0.weight, 0.bias, 2.weight\) are on the meta device"),
    "float16": (lambda: linear_tanh().half(), r"the model's parameters are torch.float16: .* check a copy in float32"),
    "bfloat16": (lambda: linear_tanh().bfloat16(), r"the model's parameters are torch.bfloat16"),
    "nan-weights": (nan_model, r"the model's weights are not finite: W2 \(2.weight\) has 1 NaN of its 12 entries, "
                    r"the first W2\[1, 3\]"),
    "not-a-module": (lambda: np.zeros(3), "expected a torch.nn.Module or a pair \\(forward, params\\), got ndarray"),
}


@pytest.mark.parametrize("gelu, read", [(nn.GELU(), "gelu_erf"), (nn.GELU(approximate="tanh"), "gelu")],
                         ids=["exact", "tanh"])
def test_pytorchs_gelu_is_read_as_the_form_it_computes_and_checked(gelu, read):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), gelu, nn.Linear(5, 2)).double()
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-3, 3, (6, 3)), rng.uniform(-1, 1, (6, 2))
    report = check_torch_module(model, X, T, loss="MSELoss")
    assert report.ok, report
    assert report.network == "3-5-2, %s/linear, mse (mean), bias" % read
    assert report.fd_method == ("central" if read == "gelu_erf" else "complex")


def test_a_model_with_dropout_in_training_mode_is_checked_on_a_copy_in_eval_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4, 2)).double()
    rng = np.random.default_rng(0)
    X, T = rng.uniform(-1, 1, (6, 3)), rng.uniform(-1, 1, (6, 2))
    report = check_torch_module(model, X, T)
    assert report.ok, report
    assert any(note.startswith("the model is in training mode with dropout, whose output is random: checked on "
                               "a copy in eval mode") for note in report.notes)
    assert model.training and model[2].training  # the user's model is left as it was
    # The oracle, nobody's code here: the same model's own gradient in eval mode, by torch.
    reference = [p.detach().clone() for p in model.parameters()]
    evaluated = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for mine, theirs in zip(evaluated.parameters(), reference):
            mine.copy_(theirs)
    loss = 0.5 * ((evaluated(torch.tensor(X)) - torch.tensor(T)) ** 2).sum()
    loss.backward()
    expected = evaluated[0].weight.grad.numpy()
    assert np.allclose(report.rows[0].largest, np.abs(expected).max(), rtol=1e-12)


class FunctionalDropout(nn.Module):
    """Dropout written functionally, told the mode (``training=self.training``) or not (``F.dropout``'s default)."""

    def __init__(self, follows_mode: bool):
        super().__init__()
        self.first, self.second, self.follows_mode = nn.Linear(3, 4), nn.Linear(4, 2), follows_mode

    def forward(self, x):
        h = torch.tanh(self.first(x))
        h = F.dropout(h, 0.3, training=self.training) if self.follows_mode else F.dropout(h, 0.3)
        return self.second(h)


def test_functional_dropout_that_follows_the_mode_is_checked_in_eval_mode_and_one_that_always_drops_is_refused():
    torch.manual_seed(0)
    X, T = np.random.default_rng(0).uniform(-1, 1, (6, 3)), np.random.default_rng(1).uniform(-1, 1, (6, 2))
    report = check_torch_module(FunctionalDropout(True).double(), X, T)
    assert report.ok and any("checked on a copy in eval mode" in note for note in report.notes)
    with pytest.raises(InputError, match=r"F.dropout .*drops whatever the model's mode \(training=True, or "
                                         r"F.dropout's default\), so its output is random; pass "
                                         r"training=self.training") as caught:
        check_torch_module(FunctionalDropout(False).double(), X, T)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("build, message", UNREADABLE.values(), ids=UNREADABLE)
def test_a_model_that_cannot_be_read_is_one_line_naming_the_step(build, message, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(InputError, match=message) as caught:
        check_torch_module(build(), np.zeros((2, 3)), np.zeros((2, 3)))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("loss, last, message", [
    (nn.CrossEntropyLoss(), nn.Softmax(dim=-1), r"nn.CrossEntropyLoss\(reduction='mean'\) takes logits and applies "
     r"softmax itself, but the model ends in softmax \(model\[3\] \(nn.Softmax\)\); end the model with its last "
     r"affine layer; or keep it and use nn.NLLLoss after log_softmax"),
    (nn.NLLLoss(), nn.Identity(), "nn.NLLLoss takes log-probabilities, but the model ends in no activation"),
    (nn.BCELoss(), nn.Identity(), "nn.BCELoss.* takes sigmoid outputs, .* for logits use nn.BCEWithLogitsLoss"),
    (nn.CrossEntropyLoss(label_smoothing=0.1), nn.Identity(), "nn.CrossEntropyLoss with label_smoothing"),
    (nn.BCEWithLogitsLoss(pos_weight=torch.ones(2)), nn.Identity(), "nn.BCEWithLogitsLoss with pos_weight"),
    (nn.MSELoss(reduction="none"), nn.Identity(), "reduction='none' gives one loss per example"),
    (nn.HuberLoss(), nn.Identity(), "cannot check with the loss HuberLoss: backprop reads PyTorch's MSELoss"),
], ids=["ce-after-softmax", "nll-on-logits", "bce-on-logits", "label-smoothing", "pos-weight", "reduction-none",
        "huber"])
def test_a_loss_the_model_does_not_fit_is_one_line_saying_what_to_change(loss, last, message):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), last).double()
    with pytest.raises(InputError, match=message):
        check_torch_module(model, np.zeros((2, 3)), np.array([0, 1]), loss=loss)


def test_activation_names_what_the_registry_cannot_and_is_verified_against_the_forward():
    torch.manual_seed(0)
    model = linear_tanh(Squared(), nn.Linear(3, 2)).double()
    X, T = np.random.default_rng(0).uniform(-1, 1, (4, 3)), np.random.default_rng(1).uniform(-1, 1, (4, 2))
    report = check_torch_module(model, X, T, activation="x**2,linear")
    assert report.ok and report.network == "3-3-2, x**2/linear, sse (sum), bias"
    with pytest.raises(InputError, match=r"--activation names x\*\*3 for layer 1, but the model's activation there "
                                         r"\(\* in model\[1\] \(Squared\).*\) gives 16 at net input -4, where x\*\*3 is -64"):
        check_torch_module(model, X, T, activation="x**3,linear")
    with pytest.raises(InputError, match="--activation names 3 activations, but the model has 2 layers"):
        check_torch_module(model, X, T, activation="x**2,linear,linear")


def test_a_model_on_another_device_is_checked_on_a_cpu_float64_copy(monkeypatch):
    """No GPU here: the device test reports one, and the copy is what a GPU model gets."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2))
    monkeypatch.setattr(reading, "devices_of", lambda m: ["cuda:0"])
    report = check_torch_module(model, np.zeros((2, 3)), np.zeros((2, 2)))
    assert report.ok and report.dtype == "float64"
    assert "the model is on cuda:0; it is checked on a CPU float64 copy (the model itself is left as it is)" \
        in report.notes
    assert model[0].weight.dtype == torch.float32


def test_raw_tensors_in_a_list_are_named_by_position():
    torch.manual_seed(0)
    w1, w2 = torch.randn(3, 4, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)

    def forward(x, params):
        first, second = params
        return torch.sigmoid(x.mm(first)).mm(second)

    X, T = np.random.default_rng(0).uniform(-1, 1, (4, 3)), np.random.default_rng(1).uniform(-1, 1, (4, 2))
    report = check_torch_module((forward, [w1, w2]), X, T, loss="MSELoss")
    assert report.ok and report.parameter_names == {"W1": "params[0].T", "W2": "params[1].T"}
    assert report.candidate_name == "torch model forward (autograd)"
    hvp = check_torch_hvp((forward, [w1, w2]), X, T, loss="MSELoss")
    assert hvp.ok


def test_a_factory_that_exits_is_a_one_line_error_not_a_silent_pass(tmp_path, monkeypatch):
    from verify.check.torch_models import load_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "factories.py").write_text("import sys\n\ndef make():\n    sys.exit(3)\n")
    with pytest.raises(InputError, match=r"--torch factories.py:make: calling it raised SystemExit: 3, at "
                                         r"factories.py line 4 in make: sys.exit\(3\)"):
        load_model("factories.py:make")


USE_TANH = True  # a global a forward reads: the graph's key cannot see it


class Switched(nn.Module):
    def __init__(self, squash=True):
        super().__init__()
        self.squash = squash
        self.first, self.second = nn.Linear(3, 4), nn.Linear(4, 2)

    def forward(self, x):
        h = self.first(x)
        h = (torch.tanh(h) if USE_TANH else torch.sigmoid(h)) if self.squash else torch.relu(h)
        return self.second(h)


def test_a_graph_is_traced_once_per_structure_and_again_when_the_model_does_not_fit_it(monkeypatch):
    torch.manual_seed(0)
    X, T = np.random.default_rng(0).uniform(-1, 1, (4, 3)), np.random.default_rng(1).uniform(-1, 1, (4, 2))
    model = Switched().double()
    first = check_torch_module(model, X, T)
    assert first.network == "3-4-2, tanh/linear, sse (sum), bias"
    assert read_module(model, width=3, reuse=True).reused
    assert not read_module(Switched(squash=False).double(), width=3, reuse=True).reused  # an attribute: a new key
    assert check_torch_module(Switched(squash=False).double(), X, T).network == "3-4-2, relu/linear, sse (sum), bias"
    monkeypatch.setattr(sys.modules[__name__], "USE_TANH", False)
    again = check_torch_module(model, X, T)  # the kept graph says tanh; the model now computes sigmoid
    assert again.ok and again.network == "3-4-2, sigmoid/linear, sse (sum), bias"
