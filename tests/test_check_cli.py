"""``backprop check``: exit 0 when every entry agrees, 1 with the table and the diagnosis, 2 for bad input.

A user's numpy function (``--grad``) on random or given parameters and data
(``.npz``, ``.json``, a PyTorch ``state_dict``; ``.npz`` or ``.csv`` data), a
PyTorch model (``--torch``), ``--json``; bad input is one line on stderr and
exit 2; and everything but ``--torch`` works with PyTorch made unimportable.
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

ROOT = Path(__file__).resolve().parent.parent

SPEC = ["3-4-2", "--activation", "tanh,sigmoid"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    return folder_with(tmp_path, monkeypatch, "mlp.py")


def test_a_correct_function_passes_with_exit_0(folder, capsys):
    code, out, err = run(capsys, *SPEC, "--grad", "mlp.py:gradients")
    assert code == 0, err
    assert out.startswith("parameters: random, uniform in [-1/sqrt(n_in), 1/sqrt(n_in)] (seed 0), float64\n"
                          "data: 8 random examples (seed 0)\n\nGradient check of mlp.py:gradients (float64), 26 entries: OK")


def test_a_wrong_function_exits_1_with_the_table_and_the_diagnosis(folder, capsys):
    code, out, _ = run(capsys, *SPEC, "--grad", "mlp:forgets_the_output_derivative")
    assert code == 1
    assert "the CANDIDATE is wrong: it differs from the symbolic reference at 26 of 26 entries" in out
    assert "  - W1, b1, W2, b2: equal the correct gradients without the factor A2*(1 - A2): delta2, the error term " \
           "of the output layer, is missing the sigmoid derivative" in out
    assert "candidate vs symbolic reference" in out and "Worst entries" in out


def test_json_carries_the_verdict_the_diagnosis_and_the_sources(folder, capsys):
    code, out, _ = run(capsys, *SPEC, "--grad", "mlp.py:forgets_the_output_derivative", "--json", "--batch", "3",
                       "--seed", "5")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["culprit"] == "candidate"
    assert data["diagnosis"][0]["kind"] == "missing_derivative" and data["diagnosis"][0]["layer"] == 2
    assert data["diagnosis"][0]["parameters"] == ["W1", "b1", "W2", "b2"]
    assert data["data"] == "3 random examples (seed 5)" and data["seed"] == 5


def test_the_list_form_is_detected_from_the_annotation(folder, capsys):
    assert run(capsys, *SPEC, "--grad", "mlp.py:as_lists")[0] == 0


def test_parameters_and_data_come_from_npz_json_state_dict_and_csv_files(folder, capsys):
    rng = np.random.default_rng(0)
    params = {"W1": rng.uniform(-1, 1, (4, 3)), "b1": rng.uniform(-1, 1, 4), "W2": rng.uniform(-1, 1, (2, 4)),
              "b2": rng.uniform(-1, 1, 2)}
    np.savez(folder / "params.npz", **params)
    (folder / "params.json").write_text(json.dumps({k: v.tolist() for k, v in params.items()}))
    X, T = rng.uniform(-1, 1, (5, 3)), rng.uniform(0, 1, (5, 2))
    np.savez(folder / "data.npz", X=X, T=T)
    np.savetxt(folder / "data.csv", np.hstack([X, T]), delimiter=",")
    reports = []
    for params_file, data_file in (("params.npz", "data.npz"), ("params.json", "data.csv")):
        code, out, err = run(capsys, *SPEC, "--grad", "mlp.py:gradients", "--params", params_file, "--data",
                             data_file, "--json")
        assert code == 0, err
        reports.append(json.loads(out))
        assert reports[-1]["parameters"] == "from %s, float64" % params_file
        assert reports[-1]["data"] == "from %s (5 examples)" % data_file
    assert reports[0]["rows"] == reports[1]["rows"]  # the same point, read two ways
    torch = pytest.importorskip("torch")
    torch.save({"0.weight": torch.tensor(params["W1"]), "0.bias": torch.tensor(params["b1"]),
                "2.weight": torch.tensor(params["W2"]), "2.bias": torch.tensor(params["b2"])}, folder / "state.pt")
    code, out, _ = run(capsys, *SPEC, "--grad", "mlp.py:gradients", "--params", "state.pt", "--data", "data.npz",
                       "--json")
    assert code == 0 and json.loads(out)["rows"] == reports[0]["rows"]
    assert json.loads(out)["parameter_names"] == {"W1": "0.weight", "b1": "0.bias", "W2": "2.weight", "b2": "2.bias"}


def test_float32_parameters_are_checked_at_float32_tolerances(folder, capsys):
    code, out, _ = run(capsys, *SPEC, "--grad", "mlp.py:gradients", "--dtype", "float32")
    assert code == 0 and "(float32), 26 entries: OK" in out and "rtol 2048 ulp float32" in out


MODEL = textwrap.dedent('''
    from buggy.torch_models import model

    MODEL = model()

    def make_model():
        return model()

    def make_buggy_model():
        return model("sign")
''')


@pytest.fixture
def model_folder(folder):
    pytest.importorskip("torch")
    (folder / "model.py").write_text(MODEL)
    return folder


def test_a_torch_model_passes_and_its_parameters_are_named_both_ways(model_folder, capsys):
    code, out, err = run(capsys, "--torch", "model.py:make_model", "--loss", "binary_cross_entropy")
    assert code == 0, err
    assert out.startswith("parameters: the model's own, float64\n")
    assert "Gradient check of torch model Sequential (autograd) (float64), 26 entries: OK" in out
    assert re.search(r"^W1 \(0\.weight\)\s+4x3", out, re.M)
    assert "the model outputs logits and binary_cross_entropy (sum) applies sigmoid" in out


def test_a_torch_model_with_a_wrong_backward_exits_1_with_the_diagnosis(model_folder, capsys):
    code, out, _ = run(capsys, "--torch", "model:make_buggy_model")
    assert code == 1
    assert ("  - W1 (0.weight), b1 (0.bias): every entry of W1 and b1 is -1 x the reference (the sign is flipped): "
            "the error term delta1 is -1 x the right one and the layers above are right") in out
    assert "  - W2 (2.weight), b2 (2.bias): right at every entry" in out


def test_a_torch_state_dict_is_loaded_into_the_model(model_folder, capsys):
    import torch

    from verify.check.inputs import random_data
    from verify.check.torch_models import check_torch_module, load_model, read_module

    torch.manual_seed(1)
    other = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 2))
    torch.save(other.state_dict(), model_folder / "weights.pt")
    code, out, _ = run(capsys, "--torch", "model.py:MODEL", "--params", "weights.pt", "--json")
    assert code == 0 and json.loads(out)["parameters"] == "from weights.pt, float64"
    model = load_model("model.py:MODEL")
    read = read_module(model)
    X, T = random_data(read.network, 8, 0)
    at_file = check_torch_module(model, X, T, params=read_module(other).params).to_dict()
    at_own = check_torch_module(model, X, T).to_dict()
    assert json.loads(out)["rows"] == at_file["rows"] != at_own["rows"]


BAD = [
    ("no-candidate", ["3-4-2"], r"give the gradient to check: --grad MODULE:FN \(with SPEC\) or --torch MODULE:OBJECT"),
    ("grad-without-spec", ["--grad", "mlp.py:gradients"], "--grad needs SPEC"),
    ("raises", SPEC + ["--grad", "mlp.py:raises"],
     r"gradient function mlp.py:raises raised ValueError: matmul: .*, at mlp.py line 34 in raises: "
     r"H = np.tanh\(X @ params\[\"W1\"\]\) \(called for 3-4-2"),
    ("missing-params", SPEC + ["--grad", "mlp.py:gradients", "--params", "nope.npz"],
     "cannot read parameter file nope.npz: no such file"),
    ("pickle", SPEC + ["--grad", "mlp.py:gradients", "--params", "params.pkl"],
     "refusing to read params.pkl: a pickle can run code when loaded"),
    ("unknown-suffix", SPEC + ["--grad", "mlp.py:gradients", "--params", "params.txt"],
     r"unknown type '.txt'; use .npz \(numpy.savez\), .json, or a PyTorch state_dict"),
    ("wrong-keys", SPEC + ["--grad", "mlp.py:gradients", "--params", "wrong.npz"],
     r"parameter file wrong.npz has V1 \(4, 3\); expected the keys W1, b1, W2, b2"),
    ("nan-param", SPEC + ["--grad", "mlp.py:gradients", "--params", "nan.json"], r"W1\[0, 0\] is nan"),
    ("missing-data", SPEC + ["--grad", "mlp.py:gradients", "--data", "nope.csv"], "nope.csv"),
    ("batch-and-data", SPEC + ["--grad", "mlp.py:gradients", "--data", "d.npz", "--batch", "3"],
     "--batch sets the number of random examples"),
    ("torch-and-spec", SPEC + ["--torch", "model.py:make_model"],
     "--torch reads the architecture and dtype from the model: drop SPEC"),
    ("huge", ["2-99999999-99999-1", "--grad", "mlp.py:gradients"], "random parameters for 2-99999999-99999-1 would need"),
]


@pytest.mark.parametrize("argv, message", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_is_one_line_and_exit_2(folder, capsys, argv, message):
    (folder / "params.pkl").write_bytes(b"not read")
    (folder / "params.txt").write_text("1")
    np.savez(folder / "wrong.npz", V1=np.zeros((4, 3)))
    (folder / "nan.json").write_text('{"W1": [[NaN, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]], "b1": [0, 0, 0, 0], '
                                     '"W2": [[0, 0, 0, 0], [0, 0, 0, 0]], "b2": [0, 0]}')
    code, out, err = run(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("backprop check: error: ")
    assert re.search(message, lines[0]), lines[0]


def test_a_pickled_model_is_refused_not_unpickled(model_folder, capsys):
    import torch

    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 4)), model_folder / "whole.pt")
    code, _, err = run(capsys, *SPEC, "--grad", "mlp.py:gradients", "--params", "whole.pt")
    assert code == 2 and "cannot read whole.pt as a PyTorch state_dict (torch.load with weights_only=True" in err


WITHOUT_TORCH = textwrap.dedent('''
    import sys
    sys.modules["torch"] = None        # import torch now raises ImportError, as where it is not installed
    from verify.cli import main
    import verify
    assert main(["check", "3-4-2", "--activation", "tanh,sigmoid", "--grad", "mlp.py:gradients"]) == 0
    assert main(["check", "--torch", "model.py:make_model"]) == 2
    assert main(["check", "3-4-2", "--grad", "mlp.py:gradients", "--params", "state.pt"]) == 2
    assert main(["proptest", "3-4-2", "--activation", "tanh,sigmoid", "--grad", "mlp.py:gradients",
                 "--examples", "3", "-n", "0"]) == 0
    try:
        verify.check_torch_module
    except ImportError:
        print("check_torch_module needs torch")
''')


def test_everything_but_torch_works_without_torch(folder):
    (folder / "state.pt").write_bytes(b"")
    result = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], cwd=folder, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "backprop check: error: --torch needs PyTorch: pip install 'backprop[torch]'" in result.stderr
    assert "reading the PyTorch file state.pt needs torch: pip install 'backprop[torch]'" in result.stderr
    assert result.stdout.rstrip().endswith("check_torch_module needs torch")
