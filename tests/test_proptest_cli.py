"""``backprop proptest``: a summary when all agree, the minimal counterexample (and a command that reproduces it) when not.

Exactly ``--examples`` examples run; with SPEC the architecture is fixed; the
summary covers every example (the failing one too) and explains its figures;
more workers than cores are capped with a note.
"""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from verify.cli import main

BUGGY = textwrap.dedent('''
    import numpy as np

    def gradients(params, X, T, network):
        """tanh/linear layers and sse: but tanh' is written 1 - a instead of 1 - a**2."""
        A, Z = [X], []
        for layer, name in enumerate(network.activation_names, start=1):
            Z.append(A[-1] @ params["W%d" % layer].T + (params["b%d" % layer] if network.bias else 0))
            A.append(np.tanh(Z[-1]) if name == "tanh" else Z[-1])
        slope = lambda name, a: 1 - a if name == "tanh" else np.ones_like(a)
        scale = 1 / len(X) if network.reduction == "mean" else 1
        delta = scale * (A[-1] - T) * slope(network.activation_names[-1], A[-1])
        grads = {}
        for layer in range(network.depth, 0, -1):
            grads["W%d" % layer] = delta.T @ A[layer - 1]
            if network.bias:
                grads["b%d" % layer] = delta.sum(axis=0)
            if layer > 1:
                delta = (delta @ params["W%d" % layer]) * slope(network.activation_names[layer - 2], A[layer - 1])
        return grads
''')


def test_the_engine_passes_and_the_summary_covers_every_activation_and_loss(capsys):
    assert main(["proptest", "--examples", "24", "-n", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"proptest: 24 examples on \d+ architectures", out)
    from derive import ACTIVATIONS, LOSSES
    for kind, registry in (("activations", ACTIVATIONS), ("losses", LOSSES)):
        names, covered, registered = re.search(r"%s covered +([a-z_, ]+) \((\d+) of (\d+) registered\)" % kind,
                                               out).groups()
        assert set(names.split(", ")) <= set(registry) and len(names.split(", ")) == int(covered)
        assert int(registered) == len(registry) and int(covered) >= 3
    assert "candidate vs symbolic reference" in out
    assert out.rstrip().endswith("OK: the engine, the generated code and finite differences agree on every example.")


def test_a_wrong_derivative_yields_the_minimal_counterexample_and_a_command_that_reproduces_it(tmp_path, capsys,
                                                                                               monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "buggy.py").write_text(BUGGY)
    code = main(["proptest", "--grad", "buggy.py:gradients", "--activations", "tanh,linear", "--losses", "sse",
                 "--decay", "no", "--examples", "40", "-n", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: minimal counterexample" in out and "the CANDIDATE is wrong" in out
    assert re.search(r"the last example failed; [\d,]+ smaller variants of it were checked while shrinking it", out)
    summary = out.split("FAILED: minimal counterexample")[0]
    largest = float(re.search(r"candidate vs symbolic reference\s+(\S+)", summary).group(1))
    assert largest > 1e-3  # the failing examples are in the summary's figures
    assert "Diagnosis:\n  - " in out
    assert re.search(r"network = Network.from_dict\(.*'tanh'", out)
    assert "backprop proptest --examples 40 --grad buggy.py:gradients --activations tanh,linear" in out
    snippet = out.split("python - <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    rerun = subprocess.run([sys.executable, "-"], input=snippet, capture_output=True, text=True, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "FAILED" in rerun.stdout and "the CANDIDATE is wrong" in rerun.stdout


def test_proptest_runs_in_parallel_through_pytest_xdist(capsys):
    assert main(["proptest", "--examples", "16", "-n", "2", "--activations", "sigmoid", "--losses", "sse"]) == 0
    assert "(workers: 2)" in capsys.readouterr().out


FIXED = Path(__file__).resolve().parent / "buggy" / "mlp.py"


def test_spec_fixes_the_architecture_and_exactly_the_examples_asked_for_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXED, tmp_path)
    assert main(["proptest", "3-4-2", "--activation", "tanh,sigmoid", "--grad", "mlp.py:gradients",
                 "--examples", "10", "-n", "0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("proptest: 10 examples on 3-4-2, tanh/sigmoid, sse (sum), bias in ")
    assert "activations covered" not in out
    assert "(relative: to the size of the entry; of allowed: as a fraction of the error the pair's tolerance" in out
    ratios = [float(v) for v in re.findall(r"vs \S+ \S+\s+\S+\s+(\S+)$", out, re.M)]
    assert len(ratios) == 3 and all(0 <= r <= 1 for r in ratios)


def test_random_networks_run_exactly_the_examples_asked_for(capsys):
    assert main(["proptest", "--examples", "10", "-n", "0", "--activations", "tanh", "--losses", "sse",
                 "--reduction", "mean"]) == 0
    assert re.search(r"^proptest: 10 examples on \d+ architectures", capsys.readouterr().out)


@pytest.mark.parametrize("argv, message", [
    (["3-4-2", "--activations", "tanh"], "--activations restricts random networks, but SPEC fixes the architecture"),
    (["--activation", "tanh"], "--activation describes a fixed network and needs SPEC"),
    (["--grad", "mlp.py:gradients"], "--grad mlp.py:gradients has no parameter named network, so it computes one "
                                     "architecture: give that architecture as SPEC"),
], ids=["pool-option-with-spec", "spec-option-without-spec", "fixed-function-on-random-networks"])
def test_options_of_the_other_mode_are_refused_in_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXED, tmp_path)
    assert main(["proptest"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_more_workers_than_cores_are_capped_with_a_note(tmp_path, capsys, monkeypatch):
    import os

    cores = len(os.sched_getaffinity(0))
    assert main(["proptest", "--examples", "8", "-n", str(cores + 62), "--activations", "sigmoid", "--losses",
                 "sse"]) == 0
    out, err = capsys.readouterr()
    assert "note: -n %d is more workers than the %d core" % (cores + 62, cores) in err
    assert "(workers: %d)" % cores in out
