"""``backprop derive``: the formulas per layer, LaTeX, steps, one partial; bad input is one line and exit 2."""

from __future__ import annotations

import pytest

from functools import partial

from cli_helpers import run as run_command


run = partial(run_command, command="derive")


def test_prints_forward_pass_loss_and_each_layer_from_the_output_back(capsys):
    code, out, err = run(capsys, "2-2-1")
    assert code == 0 and not err
    lines = [line.strip() for line in out.splitlines()]
    assert "A1[n, j] = sigmoid(Z1[n, j])" in lines
    assert "delta2[n, j] = (1 - A2[n, j])*(A2[n, j] - T[n, j])*A2[n, j]" in lines
    assert "delta1[n, j] = (1 - A1[n, j])*A1[n, j]*Sum(W2[k, j]*delta2[n, k], (k, 0, n_2 - 1))" in lines
    assert "dE/dW1[j, i] = Sum(X[n, i]*delta1[n, j], (n, 0, N - 1))" in lines
    assert lines.index("Layer 2 (output)") < lines.index("Layer 1")


def test_latex_is_an_align_block_with_partial_derivatives(capsys):
    code, out, _ = run(capsys, "3-4-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--latex")
    assert code == 0
    assert out.startswith("\\begin{align*}") and out.rstrip().endswith("\\end{align*}")
    assert r"\frac{\partial E}{\partial {W_{1}}_{j,i}}" in out
    assert r"{\delta_{2}}_{n,j} &= {A_{2}}_{n,j} \sum_{m=0}^{n_{2} - 1} {T}_{n,m} - {T}_{n,j}" in out


def test_steps_show_the_factors_of_the_chain_rule(capsys):
    code, out, _ = run(capsys, "2-2-1", "--steps")
    assert code == 0
    assert "dE/dA2[n, j] = A2[n, j] - T[n, j]" in out
    assert "dZ2[n, k]/dW2[j, i] = KroneckerDelta(j, k)*A1[n, i]" in out


def test_partial_prints_delta_times_input_and_the_error_terms_it_uses(capsys):
    code, out, _ = run(capsys, "2-2-1", "--partial", "W1", "0", "1")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "dE/dW1[0, 1] = X[0, 1]*delta1[0, 0]"
    assert "delta1[0, 0] = (1 - A1[0, 0])*A1[0, 0]*W2[0, 0]*delta2[0, 0]" in lines
    assert "delta2[0, 0] = (1 - A2[0, 0])*(A2[0, 0] - T[0, 0])*A2[0, 0]" in lines


def test_partial_expand_and_batch(capsys):
    code, out, _ = run(capsys, "2-2-1", "--partial", "b2", "0", "--expand")
    assert code == 0 and "delta" not in out and "sigmoid(W1[0, 0]*X[0, 0]" in out
    code, out, _ = run(capsys, "2-2-1", "--partial", "W2", "0", "1", "--batch", "2")
    assert out.splitlines()[0] == "dE/dW2[0, 1] = A1[0, 1]*delta2[0, 0] + A1[1, 1]*delta2[1, 0]"


@pytest.mark.parametrize("argv, message", [
    (["2-2-1", "--partial", "W9", "0", "1"], "unknown parameter 'W9'; this network has: W1, b1, W2, b2"),
    (["2-2-1", "--partial", "W1", "0", "5"], "index i=5 of W1 is out of range 0..1"),
    (["2-2-1", "--partial", "W1", "a"], "--partial indices must be integers, got a"),
    (["784-100-10", "--partial", "W1", "0", "0", "--expand"], "expand=True refused"),
    (["2-2-1", "--expand"], "--expand needs --partial"),
    (["2-2-1", "--partial", "W1", "0", "0", "--batch", "0"], "argument --batch: expected a positive integer, got '0'"),
    (["2-x-1"], "is not sizes joined by dashes"),
    (["2-2-1", "--steps", "--partial", "W1", "0", "1"], "--steps shows the derivation with symbolic sizes"),
    (["2-2-1", "--batch", "3"], "--batch needs --partial NAME INDEX"),
    (["2-2-1", "--partial", "W1", "0", "1", "--batch", "100000000"],
     "would write out about 600,000,000 terms (about 120 GB of memory), above the limit of 5,000,000 terms"),
    (["2-2-1", "-o", "/"], "cannot write /: it is a directory"),
])
def test_bad_input_is_one_line_and_exit_code_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and not out
    assert err.count("\n") == 1 and message in err


def test_formatting_refuses_an_unknown_style():
    from derive import InputError, Network, derive
    from derive.concrete.partial_text import format_partial
    from derive.symbolic.derivation_text import format_derivation

    d = derive(Network([2, 1]))
    with pytest.raises(InputError, match="style 'html' is not one of: text, pretty, latex"):
        format_derivation(d, style="html")
    with pytest.raises(InputError, match="style 'html'"):
        format_partial(d, "W1", (0, 0), style="html")


def test_the_partial_hint_repeats_every_option_of_the_network(capsys):
    code, out, err = run(capsys, "784-100-10", "--activation", "sigmoid,softmax", "--loss", "cross_entropy",
                         "--reduction", "mean", "--no-bias", "--weight-decay", "0.01", "--partial", "W2", "0", "0")
    assert code == 0 and not err
    hint = out.strip().splitlines()[-1]
    assert hint.endswith("(see: backprop derive 784-100-10 --activation sigmoid,softmax --loss cross_entropy "
                         "--reduction mean --no-bias --weight-decay 0.01)")
    command = hint[hint.index("backprop derive ") + len("backprop derive "):-1].split()
    code, following, _ = run(capsys, *command)
    assert code == 0 and "784-100-10, sigmoid/softmax, cross_entropy (mean), no bias, L2 0.01" in following


def test_only_the_subcommand_that_runs_is_imported():
    import subprocess
    import sys

    code = ("import sys\nfrom verify.cli import main\nmain(['derive', '2-1'])\n"
            "print(sorted(m for m in ('verify.cli.train', 'verify.cli.proptest', 'verify.cli.derive') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "['verify.cli.derive']"
    listing = subprocess.run([sys.executable, "-m", "verify", "--help"], capture_output=True, text=True).stdout
    assert all(name in listing for name in ("train", "derive", "proptest"))
