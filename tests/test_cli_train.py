"""``backprop train``: the README's XOR command, outputs, options and the per-epoch lines."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive import Network, load_params
from verify import Engine, load_data
from verify.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_train_command() -> list[str]:
    """The arguments of the README's ``backprop train`` on XOR."""
    line = next(line for line in README.read_text().splitlines() if line.startswith("backprop train 2-2-1 --data xor"))
    words = shlex.split(line)
    assert words[:2] == ["backprop", "train"]
    return words[1:]


def test_readme_command_trains_xor_to_full_accuracy_and_says_so(capsys):
    assert main(readme_train_command()) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("train      accuracy 100.0% (4/4)")
    assert re.search(r"^epoch 2000/2000 .* train acc 100\.0%", out, re.M)


def test_readme_command_runs_as_a_subprocess_without_a_traceback():
    result = subprocess.run([sys.executable, "-m", "verify", *readme_train_command()], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "100.0% (4/4)" in result.stdout and result.stderr == ""


def test_output_holds_the_trained_parameters_and_init_resumes_from_them(tmp_path, capsys):
    out = tmp_path / "xor.npz"
    args = ["train", "2-2-1", "--data", "xor", "--lr", "2", "--momentum", "0.9", "--init-scale", "0.5", "--batch-size", "4"]
    assert main(args + ["--epochs", "1000", "--output", str(out), "--quiet"]) == 0
    assert "wrote %s" % out in capsys.readouterr().out
    network = Network((2, 2, 1))
    params = load_params(out, network)
    data = load_data("xor", network)
    assert ((Engine(network).forward(params, data.X)[:, 0] > 0.5) == (data.labels == 1)).all()
    resumed = tmp_path / "resumed.npz"
    assert main(args + ["--epochs", "1", "--init", str(out), "--output", str(resumed), "--quiet"]) == 0
    assert "100.0% (4/4)" in capsys.readouterr().out
    assert not np.array_equal(load_params(resumed, network)["W1"], params["W1"])  # it trained on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resumed.npz", "xor.npz"]  # no temporary files left


def test_digits_with_validation_and_test_sets_reports_each_set(capsys):
    # (tests/test_training.py shows these settings reach >= 95% over 100 epochs.)
    code = main(["train", "64-30-10", "--data", "digits", "--lr", "0.5", "--momentum", "0.9", "--batch-size", "32",
                 "--epochs", "8", "--validation", "0.1", "--test", "0.2", "--patience", "3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "1258 training examples, 180 validation, 359 test" in out
    assert "mini-batch gradient descent (32 examples per update), lr 0.5, momentum 0.9" in out
    assert re.search(r"^epoch 8/8 .*val acc", out, re.M)
    test_accuracy = float(re.search(r"^test +accuracy +([\d.]+)% \(\d+/359\)", out, re.M).group(1))
    assert test_accuracy > 80.0
    assert re.search(r"^validation accuracy .*\(\d+/180\)", out, re.M)


def test_print_every_and_quiet_control_the_per_epoch_lines(capsys):
    args = ["train", "2-2-1", "--data", "xor", "--epochs", "30", "--batch-size", "4"]
    main(args + ["--print-every", "7"])
    epochs = [int(m) for m in re.findall(r"^epoch +(\d+)/30", capsys.readouterr().out, re.M)]
    assert epochs == [1, 7, 14, 21, 28, 30]
    main(args)  # default: about ten lines
    assert len(re.findall(r"^epoch", capsys.readouterr().out, re.M)) == 11
    main(args + ["--quiet"])
    captured = capsys.readouterr()
    assert "epoch" not in captured.out and captured.err == ""
    assert "train      accuracy" in captured.out


def test_history_file_has_one_record_per_epoch(tmp_path, capsys):
    path = tmp_path / "history.json"
    assert main(["train", "2-2-1", "--data", "xor", "--epochs", "12", "--quiet", "--history", str(path)]) == 0
    history = json.loads(path.read_text())
    assert [r["epoch"] for r in history["records"]] == list(range(1, 13))
    assert history["network"]["sizes"] == [2, 2, 1]


def test_csv_data_and_network_options_are_used(tmp_path, capsys):
    path = tmp_path / "or.csv"
    path.write_text("a,b,class\n0,0,0\n0,1,1\n1,0,1\n1,1,1\n")
    assert main(["train", "2-1", "--data", str(path), "--activation", "sigmoid", "--loss", "binary_cross_entropy",
                 "--lr", "2", "--epochs", "300", "--batch-size", "4", "--weight-decay", "0.0001", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2-1, sigmoid, binary_cross_entropy (sum), bias, L2 0.0001" in out
    assert "100.0% (4/4)" in out


def test_help_lists_the_training_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for option in ("--lr", "--momentum", "--weight-decay", "--epochs", "--batch-size", "--seed", "--patience",
                   "--validation", "--test", "--output", "--init", "--print-every", "--quiet"):
        assert option in out
