"""PyTorch models' double backward: ``check_torch_hvp`` and ``backprop check --torch OBJ --order 2``.

Plain models pass; a custom ``autograd.Function`` that keeps its output on
``ctx`` detached has right gradients (the first-order check passes) but a
double backward that misses sigmoid'' in that layer, which the second-order
check fails and names.
"""

import textwrap

import numpy as np
import pytest

from verify.cli import main

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from buggy import torch_models as buggy  # noqa: E402
from verify.check.torch_models import check_torch_hvp, check_torch_module  # noqa: E402


def data(outputs=2, seed=0, probabilities=False):
    rng = np.random.default_rng(seed)
    X, T = rng.uniform(-1, 1, (6, 3)), rng.uniform(0.1, 0.9, (6, outputs))
    return X, (T / T.sum(axis=1, keepdims=True) if probabilities else T)


@pytest.mark.parametrize("layers, loss, reduction", [
    ([nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()], "sse", "sum"),
    ([nn.Linear(3, 4), nn.Softplus(), nn.Linear(4, 2)], "cross_entropy", "mean"),
    ([nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)], "binary_cross_entropy", "sum"),
], ids=["tanh-sigmoid-sse", "softplus-logits-ce-mean", "sigmoid-tanh-logits-bce"])
def test_plain_models_double_backward_passes(layers, loss, reduction):
    torch.manual_seed(0)
    model = nn.Sequential(*layers).double()
    report = check_torch_hvp(model, *data(probabilities=loss == "cross_entropy"), loss, reduction)
    assert report.ok, report
    assert report.candidate_name == "torch model Sequential (double backward)"
    assert "W1 (0.weight)" in str(report)


@pytest.mark.parametrize("bug", sorted(buggy.HVP_BUGS))
def test_a_detached_saved_output_passes_first_order_and_fails_second_order_named(bug):
    where, kind, spoiled = buggy.HVP_BUGS[bug]
    model = buggy.model(bug, at=where)
    X, T = data()
    assert check_torch_module(model, X, T).ok
    report = check_torch_hvp(model, X, T)
    assert not report.ok and report.culprit == "candidate"
    assert [(d.kind, d.parameters) for d in report.diagnosis if d.kind != "right"] == [(kind, spoiled)]
    assert "the hidden layer (sigmoid)" in report.diagnosis[0].text


MODEL = textwrap.dedent('''
    from buggy.torch_models import model

    def make_model():
        return model()

    def make_detached_model():
        return model("output_on_ctx")
''')


def test_the_cli_checks_a_models_double_backward(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.py").write_text(MODEL)
    assert main(["check", "--torch", "model.py:make_model", "--order", "2"]) == 0
    out = capsys.readouterr().out
    assert "direction: random unit direction (seed 0)" in out
    assert "Hessian-vector product check of torch model Sequential (double backward) (float64), 26 entries: OK" in out
    assert main(["check", "--torch", "model.py:make_detached_model", "--order", "2"]) == 1
    out = capsys.readouterr().out
    assert "W1 (0.weight), b1 (0.bias): equal H V without the activation's second-derivative term" in out
    assert main(["check", "3-4-2", "--grad", "model.py:make_model", "--order", "2"]) == 2
    assert "--order 2 is for --torch models" in capsys.readouterr().err
