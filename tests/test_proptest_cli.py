"""``backprop proptest``: a summary when all agree, the minimal counterexample (and a command that reproduces it) when not."""

import re
import subprocess
import sys
import textwrap

from verify.cli import main

BUGGY = textwrap.dedent('''
    import numpy as np

    def gradients(network, params, X, T):
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
    assert "(%d of %d registered)" % ((len(ACTIVATIONS),) * 2) in out
    assert "(%d of %d registered)" % ((len(LOSSES),) * 2) in out
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
    assert re.search(r"network = Network.from_dict\(.*'tanh'", out)
    assert "backprop proptest --examples 40 --grad buggy.py:gradients --activations tanh,linear" in out
    snippet = out.split("python - <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    rerun = subprocess.run([sys.executable, "-"], input=snippet, capture_output=True, text=True, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert "FAILED" in rerun.stdout and "the CANDIDATE is wrong" in rerun.stdout


def test_proptest_runs_in_parallel_through_pytest_xdist(capsys):
    assert main(["proptest", "--examples", "16", "-n", "2", "--activations", "sigmoid", "--losses", "sse"]) == 0
    assert "(workers: 2)" in capsys.readouterr().out
