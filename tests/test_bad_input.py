"""Bad input to ``backprop train``: one line on stderr naming the problem, exit code 2, nothing written.

Each row of the table builds its files in a temporary directory, runs the real
CLI entry point, and states words the one error line must contain (what was
wrong and what is accepted).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from verify.cli import main

GOOD_PARAMS = {"W1": np.zeros((2, 2)), "b1": np.zeros(2), "W2": np.zeros((1, 2)), "b2": np.zeros(1)}


def write(name: str, content: str | bytes):
    def make(directory):
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)
    return make


def arrays(name: str, **values):
    def make(directory):
        np.savez(directory / name, **values)
        return str(directory / name)
    return make


def params_with(**changes):
    params = {**GOOD_PARAMS, **changes}
    return arrays("init.npz", **{k: v for k, v in params.items() if v is not None})


def train(*words, spec="2-2-1", data="xor", files=()):
    """A case: ``backprop train SPEC --data DATA WORDS``; ``{0}``, ``{1}`` name the built files."""
    return spec, data, list(words), list(files)


CASES = {
    # --- network descriptions ------------------------------------------------------------------
    "spec-not-sizes": (train(spec="2-x-1"), ["'2-x-1'", "sizes joined by dashes"]),
    "spec-one-size": (train(spec="2"), ["'2'", "at least an input and an output size"]),
    "spec-empty": (train(spec=""), ["''", "sizes joined by dashes"]),
    "spec-full-width-digits": (train(spec="\uff12-\uff12-\uff11"), ["sizes joined by dashes"]),
    "spec-too-large-to-train": (train(spec="2-99999999-1"), ["2-99999999-1", "would need about", "GB of memory",
                                                             "above the limit of", "narrower layers"]),
    "activation-empty": (train("--activation", ""), ["--activation is empty", "--activation relu,softmax"]),
    "seed-negative": (train("--seed", "-5"), ["--seed", "integer >= 0", "'-5'"]),
    "size-zero": (train(spec="2-0-1"), ["size 0", "positive integer"]),
    "yaml-malformed": (train(spec="{0}", files=[write("net.yaml", "sizes: [2, 2\n")]), ["net.yaml", "not valid YAML", "line"]),
    "json-malformed": (train(spec="{0}", files=[write("net.json", '{"sizes": [2, 2, 1],}')]), ["net.json", "not valid JSON"]),
    "json-not-mapping": (train(spec="{0}", files=[write("net.json", "[2, 2, 1]")]), ["must be a mapping", "sizes"]),
    "yaml-unknown-key": (train(spec="{0}", files=[write("net.yaml", "sizes: [2, 2, 1]\nactivaton: relu\n")]),
                         ["unknown key 'activaton'", "accepted keys", "activation"]),
    "yaml-no-sizes": (train(spec="{0}", files=[write("net.yaml", "activation: relu\n")]), ["no 'sizes'"]),
    "yaml-negative-size": (train(spec="{0}", files=[write("net.yaml", "sizes: [2, -2, 1]\n")]), ["size -2", "positive integer"]),
    "spec-file-missing": (train(spec="missing.yaml"), ["cannot read spec file", "missing.yaml"]),
    "unknown-activation": (train("--activation", "sigmod"), ["unknown activation 'sigmod'", "sigmoid, silu, softmax"]),
    "unknown-loss": (train("--loss", "msee"), ["unknown loss 'msee'", "binary_cross_entropy, cross_entropy, mean_binary_cross_entropy, mse, squared_error, sse"]),
    "softmax-hidden": (train("--activation", "softmax"), ["softmax in layer 1", "only on the output layer"]),
    "softmax-hidden-list": (train("--activation", "softmax,sigmoid"), ["softmax in layer 1", "only on the output layer"]),
    "too-many-activations": (train("--activation", "relu,relu,sigmoid"), ["3 activations given for 2 layers"]),
    "loss-needs-softmax": (train("--loss", "cross_entropy"), ["cross_entropy", "needs output activation softmax"]),
    "hostile-expression": (train("--activation", "__import__('os').system('touch pwned')"), ["is not accepted", "functions"]),
    "expression-attribute": (train("--activation", "x.__class__"), ["is not accepted"]),
    "expression-derivative-not-numpy": (train("--activation", "sign(x)*x"), ["layer 1", "numpy cannot evaluate its derivative", "DiracDelta"]),
    "expression-erf": (train("--activation", "erf(x)"), ["a call to 'erf' is not accepted"]),
    "expression-comment": (train("--activation", "(x # \"\"\"; __import__('os').system('touch pwned'); \"\"\"\n)"),
                           ["the character", "is not accepted"]),
    "leaky-slope-not-a-number": (train("--activation", "leaky_relu(x, x)"), ["slope must be a number"]),
    "leaky-slope-infinite": (train("--activation", "leaky_relu(1e400)"), ["layer 1", "not a finite number"]),
    "negative-weight-decay": (train("--weight-decay", "-1"), ["weight_decay", ">= 0"]),
    # --- parameters -----------------------------------------------------------------------------
    "init-missing-key": (train("--init", "{0}", files=[params_with(b2=None)]), ["missing b2", "W1, b1, W2, b2"]),
    "init-extra-key": (train("--init", "{0}", files=[params_with(W3=np.zeros(1))]), ["unexpected W3", "W1, b1, W2, b2"]),
    "init-wrong-shape": (train("--init", "{0}", files=[params_with(W1=np.zeros((2, 3)))]), ["W1 has shape (2, 3)", "expected (2, 2)"]),
    "init-nan": (train("--init", "{0}", files=[params_with(b1=np.array([0.0, np.nan]))]), ["b1[1] is nan", "finite"]),
    "init-not-npz": (train("--init", "{0}", files=[write("init.npz", "hello")]), ["not an .npz archive", "numpy.savez"]),
    "init-missing": (train("--init", "missing.npz"), ["cannot read parameter file", "no such file"]),
    # --- data -----------------------------------------------------------------------------------
    "data-unknown": (train(data="iris"), ["unknown data 'iris'", "xor, digits, FILE.npz", "FILE.csv"]),
    "data-missing-file": (train(data="missing.csv"), ["cannot read data file", "no such file"]),
    "csv-nan": (train(data="{0}", files=[write("d.csv", "0,0,0\n0,nan,1\n")]), ["line 2, column 2 is nan", "finite"]),
    "csv-inf": (train(data="{0}", files=[write("d.csv", "0,0,0\n0,1,-inf\n")]), ["line 2, column 3 is -inf", "finite"]),
    "csv-ragged": (train(data="{0}", files=[write("d.csv", "0,0,0\n0,1\n")]), ["line 2 has 2 columns but line 1 has 3"]),
    "csv-text": (train(data="{0}", files=[write("d.csv", "a,b,c\n0,0,0\n0,1,abc\n")]), ["line 3, column 3: 'abc' is not a number"]),
    "csv-too-wide": (train(data="{0}", files=[write("d.csv", "0,0,0,1,1\n")]), ["has 5 columns", "2 input columns", "label column"]),
    "csv-label-out-of-range": (train(spec="2-3-2", data="{0}", files=[write("d.csv", "0,0,0\n0,1,2\n")]),
                               ["line 2, column 3: label 2", "labels 0..1"]),
    "csv-empty": (train(data="{0}", files=[write("d.csv", "x1,x2,label\n")]), ["no rows of numbers"]),
    "csv-binary": (train(data="{0}", files=[write("d.csv", bytes(range(256)))]), ["cannot read data file", "UTF-8"]),
    "npz-inf": (train(data="{0}", files=[arrays("d.npz", X=np.array([[0, np.inf]]), y=np.array([0]))]), ["X[0, 1] is inf", "finite"]),
    "npz-nan-targets": (train(data="{0}", files=[arrays("d.npz", X=np.zeros((2, 2)), T=np.array([0.1, np.nan]))]),
                        ["T[1, 0] is nan"]),
    "npz-length-mismatch": (train(data="{0}", files=[arrays("d.npz", X=np.zeros((4, 2)), T=np.zeros((3, 1)))]),
                            ["X has 4 rows but T has 3", "one target row per example"]),
    "npz-label-count-mismatch": (train(data="{0}", files=[arrays("d.npz", X=np.zeros((4, 2)), y=np.zeros(3))]),
                                 ["X has 4 rows but y has 3 labels"]),
    "npz-input-width": (train(data="{0}", files=[arrays("d.npz", X=np.zeros((4, 3)), T=np.zeros((4, 1)))]),
                        ["X has shape (4, 3)", "expects (N, 2)"]),
    "npz-target-width": (train(data="{0}", files=[arrays("d.npz", X=np.zeros((4, 2)), T=np.zeros((4, 2)))]),
                         ["T has shape (4, 2)", "expects (N, 1)"]),
    "npz-wrong-arrays": (train(data="{0}", files=[arrays("d.npz", x=np.zeros((4, 2)))]), ["has arrays x", "X with either T", "or y"]),
    "npz-not-npz": (train(data="{0}", files=[write("d.npz", "hello")]), ["not an .npz archive", "arrays X and T"]),
    "digits-wrong-outputs": (train(spec="64-10-3", data="digits"), ["label 3", "3 output units take labels 0..2"]),
    "xor-wrong-inputs": (train(spec="3-2-1"), ["X has shape (4, 2)", "expects (N, 3)"]),
    # --- training settings --------------------------------------------------------------------------
    "lr-negative": (train("--lr", "-1"), ["learning rate lr", "> 0"]),
    "lr-not-number": (train("--lr", "fast"), ["--lr", "invalid float value: 'fast'"]),
    "momentum-one": (train("--momentum", "1"), ["momentum", "< 1"]),
    "epochs-zero": (train("--epochs", "0"), ["--epochs", "positive integer"]),
    "batch-size-zero": (train("--batch-size", "0"), ["--batch-size", "positive integer"]),
    "validation-too-large": (train("--validation", "1.5"), ["validation fraction", "[0, 1)"]),
    "validation-below-one-example": (train("--validation", "0.1"), ["less than one example"]),
    "no-training-examples-left": (train("--validation", "0.5", "--test", "0.5"), ["leave no training examples"]),
    "patience-without-validation": (train("--patience", "3"), ["needs a validation set", "--validation"]),
    "init-scale-zero": (train("--init-scale", "0"), ["init_scale", "> 0"]),
    "print-every-zero": (train("--print-every", "0"), ["--print-every", "positive integer"]),
    "diverges": (train("--activation", "linear", "--lr", "1e6", "--batch-size", "4"), ["diverged", "smaller learning rate"]),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(name, tmp_path, monkeypatch, capsys):
    case, expected = CASES[name]
    spec, data, words, files = case
    monkeypatch.chdir(tmp_path)
    names = [make(tmp_path) for make in files]
    output = tmp_path / "out" / "params.npz"
    output.parent.mkdir()
    argv = ["train", spec.format(*names), "--data", data.format(*names), *(w.format(*names) for w in words),
            "--output", str(output), "--history", str(output.parent / "history.json"), "--quiet"]
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's usage errors exit from inside the parser
        code = exit.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("backprop train: error: ")
    for words_expected in expected:
        assert words_expected in lines[0]
    assert "Traceback" not in captured.err + captured.out
    if name != "diverges":  # every other problem is found before training starts
        assert captured.out == ""
    assert list(output.parent.iterdir()) == []
    assert not (tmp_path / "pwned").exists()


def test_bad_input_through_the_installed_entry_point_has_no_traceback(tmp_path):
    (tmp_path / "d.csv").write_text("0,0,0\n0,nan,1\n")
    result = subprocess.run([sys.executable, "-m", "verify", "train", "2-2-1", "--data", str(tmp_path / "d.csv")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["backprop train: error: %s line 2, column 2 is nan; "
                                          "data must be finite (no NaN or inf)" % (tmp_path / "d.csv")]
    assert result.stdout == ""


@pytest.mark.parametrize("option", ["--output", "--history"])
def test_a_directory_as_output_is_refused_before_training(option, tmp_path, capsys):
    code = main(["train", "2-2-1", "--data", "xor", "--quiet", option, str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert captured.err.splitlines() == ["backprop train: error: cannot write %s: it is a directory; give a file "
                                         "name such as %s" % (tmp_path, tmp_path / "output")]
    assert list(tmp_path.iterdir()) == []
