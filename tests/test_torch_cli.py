"""``backprop check --torch``: models of every style, PyTorch's loss names, --activation, raw tensors, --order 2,
state_dicts, and every bad input as one line with exit 2.

The models are the corpus of ``tests/buggy/torch_styles.py``, copied into the
working folder as a user's file; each command runs through the real command
line (in this process), and its exit code and output are what a user sees.
"""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import folder_with, run

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
LEGENDRE = ["--activation", "0.5*(5*x**3-3*x),linear"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    folder = folder_with(tmp_path, monkeypatch, "torch_styles.py")
    (folder / "models.py").write_text(MODELS)
    return folder


MODELS = textwrap.dedent('''
    import sys

    import torch
    from torch import nn

    def exits():
        sys.exit(0)

    def on_meta():
        with torch.device("meta"):
            return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))

    def with_nan():
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
        with torch.no_grad():
            model[0].bias[2] = float("nan")
        return model
''')


def test_a_custom_backward_that_returns_too_few_gradients_exits_2_naming_its_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn


        class Affine(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, w, b):
                ctx.save_for_backward(x, w)
                return x @ w.T + b

            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                return g @ w, g.T @ x


        class Layer(nn.Module):
            def __init__(self, n_in, n_out):
                super().__init__()
                self.w = nn.Parameter(torch.randn(n_out, n_in))
                self.b = nn.Parameter(torch.zeros(n_out))

            def forward(self, x):
                return Affine.apply(x, self.w, self.b)


        def model():
            torch.manual_seed(0)
            return nn.Sequential(Layer(3, 4), nn.Tanh(), Layer(4, 2))
    '''))
    code, out, err = run(capsys, "--torch", "mine.py:model")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ("function AffineBackward returned an incorrect number of gradients (expected 3, got 2), in the backward "
            "of Affine at mine.py line 13: it returns one gradient per input of forward, in forward's order (x, w, b), "
            "None for an input that needs none; it returned 2 for 3 inputs") in err


def test_a_model_left_in_training_mode_with_dropout_is_checked_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 2)).double()
    '''))
    for order in ("1", "2"):
        code, out, err = run(capsys, "--torch", "net.py:model", "--loss", "MSELoss", "--order", order)
        assert code == 0, out + err
        assert ("the model is in training mode with dropout, whose output is random: checked on a copy in eval "
                "mode, dropout off") in out


def test_a_custom_function_activation_is_named_with_activation_and_checked(folder, capsys):
    code, out, err = run(capsys, "--torch", "torch_styles.py:legendre_net", "--loss", "CrossEntropyLoss", *LEGENDRE)
    assert code == 0, err
    assert out.startswith("parameters: the model's own, float64\n"
                          "data: 8 random examples, integer class labels (seed 0)\n")
    assert "Gradient check of torch model LegendreNet (autograd) (float64), 32 entries: OK" in out
    assert "network: 3-5-2, 0.5*(5*x**3-3*x)/softmax, cross_entropy (mean), bias" in out
    assert re.search(r"- read from forward: layer 1: self.hidden \(nn.Linear\) at torch_styles.py line \d+: "
                     r"W1 = hidden.weight, b1 = hidden.bias; 0.5\*\(5\*x\*\*3-3\*x\) \(LegendrePolynomial3.apply at "
                     r"torch_styles.py line \d+, as --activation names it; its forward values agree\)", out)
    code, out, err = run(capsys, "--torch", "torch_styles.py:legendre_net", "--loss", "CrossEntropyLoss")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "matches none of them; name it with --activation" in err


def test_raw_tensors_are_read_with_their_layout_and_a_bug_in_their_function_is_named(folder, capsys):
    code, out, err = run(capsys, "--torch", "torch_styles.py:tutorial_net", "--loss", "MSELoss(reduction='sum')")
    assert code == 0, err
    assert "network: 5-7-3, relu/linear, squared_error (sum), no bias" in out
    assert re.search(r"^W1 \(w1.T\)\s+7x5 ", out, re.M) and re.search(r"^W2 \(w2.T\)\s+3x7 ", out, re.M)
    (folder / "buggy_net.py").write_text("from torch_styles import tutorial_net\n\n"
                                         "def make():\n    return tutorial_net('not_zeroed', relu='function')\n")
    code, out, err = run(capsys, "--torch", "buggy_net.py:make", "--loss", "nn.MSELoss(reduction='sum')")
    assert code == 1, err
    assert "W1 (w1.T): equals the correct gradient without the factor Heaviside(Z1, 0)" in out


@pytest.mark.parametrize("factory, loss, extra", [
    ("custom_linear_net", "MSELoss", []),
    ("functional_net", "BCELoss", []),
    ("matmul_net", "BCEWithLogitsLoss(reduction='sum')", []),
    ("tutorial_net", "MSELoss(reduction='sum')", []),
    ("legendre_net", "CrossEntropyLoss", LEGENDRE),
], ids=["custom-linear", "functional", "matmul", "raw-tensors", "legendre"])
def test_order_2_checks_the_double_backward_of_every_style(folder, capsys, factory, loss, extra):
    code, out, err = run(capsys, "--torch", "torch_styles.py:%s" % factory, "--loss", loss, "--order", "2", *extra)
    assert code == 0, err
    assert "Hessian-vector product check of torch model" in out and "OK" in out.split("\n")[4]


def test_a_raw_tensor_state_dict_is_read_in_the_models_layout(folder, capsys):
    from buggy.torch_styles import tutorial_net
    from verify.check.torch_models import check_torch_module

    forward, params = tutorial_net()
    torch.manual_seed(5)
    other = {"w1": torch.randn(5, 7, dtype=torch.float64), "w2": torch.randn(7, 3, dtype=torch.float64)}
    torch.save(other, folder / "weights.pt")
    X, T = np.random.default_rng(0).uniform(-1, 1, (4, 5)), np.random.default_rng(1).uniform(-1, 1, (4, 3))
    np.savez(folder / "batch.npz", X=X, T=T)
    code, out, err = run(capsys, "--torch", "torch_styles.py:tutorial_net", "--loss", "MSELoss", "--params",
                         "weights.pt", "--data", "batch.npz", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["parameters"] == "from weights.pt, float64"
    at_file = check_torch_module((forward, other), X, T, loss="MSELoss").to_dict()
    assert document["rows"] == at_file["rows"]


def state_dict(folder, name, tensors) -> str:
    torch.save(tensors, folder / name)
    return name


@pytest.mark.parametrize("argv, message", [
    (["--torch", "models.py:exits"], r"--torch models.py:exits: calling it raised SystemExit: 0, at models.py line 8 "
     r"in exits: sys.exit\(0\)$"),
    (["--torch", "models.py:on_meta"], r"the model's parameters \(0.weight, 0.bias, 2.weight\) are on the meta "
     r"device: they have shapes but no values"),
    (["--torch", "models.py:with_nan"], r"the model's weights are not finite: b1 \(0.bias\) has 1 NaN of its 4 "
     r"entries, the first b1\[2\]"),
    (["--torch", "torch_styles.py:tutorial_net", "--loss", "MSELoss(reduction='none')"],
     r"--loss \"MSELoss\(reduction='none'\)\": reduction='none' gives one loss per example"),
    (["--torch", "torch_styles.py:tutorial_net", "--loss", "MSELoss", "--reduction", "sum"],
     r"--loss MSELoss carries its reduction: write --loss \"MSELoss\(reduction='sum'\)\" instead of --reduction"),
    (["--torch", "torch_styles.py:tutorial_net", "--loss", "CrossEntropyLoss(label_smoothing=0.1)"],
     r"backprop reads only reduction='sum' or reduction='mean' here, not the argument label_smoothing"),
    (["--torch", "torch_styles.py:tutorial_net", "--loss", "crossentropyloss"],
     r"unknown loss 'crossentropyloss' for a PyTorch model; did you mean CrossEntropyLoss\?"),
    (["--torch", "torch_styles.py:functional_net", "--loss", "CrossEntropyLoss"],
     r"nn.CrossEntropyLoss\(reduction='mean'\) takes logits and applies softmax itself, but the model ends in "
     r"sigmoid \(torch.sigmoid at torch_styles.py line \d+\)"),
    (["--torch", "torch_styles.py:functional_net", "--activation", "tanh,tanh"],
     r"--activation names tanh for layer 2, but the model's activation there \(torch.sigmoid at torch_styles.py "
     r"line \d+\) gives"),
    (["--torch", "torch_styles.py:functional_net", "--no-bias"], "--torch reads the architecture and dtype from the "
     "model: drop --no-bias"),
], ids=["factory-exits", "meta-device", "nan-weights", "reduction-none", "reduction-beside-name", "label-smoothing",
        "misspelt", "ce-after-sigmoid", "activation-mismatch", "no-bias"])
def test_bad_input_is_one_line_and_exit_2(folder, capsys, argv, message):
    code, out, err = run(capsys, *argv)
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize("tensors, message", [
    ({"0.weight": torch.zeros(4, 3, dtype=torch.bfloat16)}, r"state.pt: 0.weight is bfloat16: with 8 to 11 bits of "
     r"mantissa .* save a float32 copy"),
    ({"0.weight": torch.zeros(4, 3).to_sparse()}, r"state.pt: 0.weight is a sparse tensor \(sparse_coo\); save it "
     r"dense"),
    ({"0.weight": torch.zeros(4, 3, device="meta")}, r"state.pt: 0.weight is on the meta device: it has a shape "
     r"\(4, 3\) but no values"),
], ids=["bfloat16", "sparse", "meta"])
def test_a_state_dict_numpy_cannot_hold_is_one_line(folder, capsys, tensors, message):
    state_dict(folder, "state.pt", tensors)
    for argv in (["--torch", "torch_styles.py:custom_linear_net"], ["3-4-2", "--grad", "torch_styles.py:legendre_net"]):
        code, out, err = run(capsys, *argv, "--params", "state.pt")
        assert code == 2 and len(err.splitlines()) == 1, err
        assert re.search(message, err), err


def test_a_pickled_whole_model_is_refused_in_one_clean_line(folder, capsys):
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4)), folder / "whole.pt")
    code, _, err = run(capsys, "--torch", "torch_styles.py:custom_linear_net", "--params", "whole.pt")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.rstrip().endswith(
        "cannot read whole.pt as a PyTorch state_dict (torch.load with weights_only=True: Unsupported global: GLOBAL "
        "torch.nn.modules.container.Sequential was not an allowed global by default.); save model.state_dict(), not "
        "the model")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", err)


WITHOUT_TORCH = textwrap.dedent('''
    import sys
    sys.modules["torch"] = None        # import torch now raises ImportError, as where it is not installed
    from verify.cli import main
    assert main(["check", "--torch", "m.py:f", "--loss", "MSELoss(reduction='none')"]) == 2
    assert main(["check", "--torch", "m.py:f", "--loss", "MSELoss(reduction='sum')"]) == 2
''')

IMPORTS = textwrap.dedent('''
    import sys
    import verify, verify.cli.check, verify.check.pytorch.loss_names
    from verify.check.pytorch.loss_names import parse_loss
    print(parse_loss("nn.BCEWithLogitsLoss(reduction='sum')").record, "torch" in sys.modules)
''')


def test_pytorch_loss_names_are_read_without_torch_and_nothing_imports_it_early(tmp_path):
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], cwd=tmp_path, capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "backprop check: error: --loss \"MSELoss(reduction='none')\": reduction='none' gives one loss per example; a "
        "gradient check differentiates one number: use reduction='sum' or 'mean'",
        "backprop check: error: --torch needs PyTorch: pip install 'backprop[torch]'"]
    result = subprocess.run([sys.executable, "-c", IMPORTS], cwd=tmp_path, capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.stdout.split() == ["binary_cross_entropy", "False"], result.stderr
