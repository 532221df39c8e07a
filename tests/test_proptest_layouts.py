"""``backprop proptest`` on code written in other layouts: the same layout options as ``backprop check``.

A user whose backprop stores weights (in, out), takes examples as columns, is
called once per example, updates in place or takes class labels runs the
property search on it as it is written; a bug found there is reproduced with
the layout in both commands it prints; a counterexample shrunk to zeros and
ones, where several bug patterns coincide, is diagnosed on a generic draw of
the same network too, and the one explanation that fits both is named.
"""

import re
import subprocess
import sys
import textwrap

import pytest

from verify.cli import main

def proptest(capsys, *argv):
    try:
        code = main(["proptest", *argv] + ([] if "--merge" in argv else ["-n", "0"]))
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("argv", [
    ["3-4-2", "--grad", "nielsen.py:backprop", "--examples-as", "columns", "--per-example"],
    ["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weight-decay",
     "0.1", "--weights", "in-out", "--labels", "--grad", "cs231n.py:loss"],
    ["2-4-1", "--activation", "tanh,sigmoid", "--loss", "binary_cross_entropy", "--reduction", "mean",
     "--examples-as", "columns", "--grad", "deeplearning_ai.py:gradients"],
    ["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--names", "w{l},b{l}", "--loss",
     "squared_error", "--update", "0.01", "--grad", "pytorch_numpy_warmup.py:train_step"],
], ids=["nielsen-columns-per-example", "cs231n-in-out-labels", "deeplearning-ai-columns", "warmup-update-in-place"])
def test_correct_code_in_its_own_layout_passes_the_property_search(corpus, capsys, argv):
    code, out, err = proptest(capsys, *argv, "--examples", "30")
    assert code == 0, out + err
    assert re.match(r"proptest: 30 examples on ", out)
    assert "agree on every example" in out


def test_random_networks_in_another_layout_pass(corpus, capsys):
    (corpus / "mine.py").write_text(textwrap.dedent('''
        from any_layout import make

        def gradients(params, X, T, network):
            """My backprop: W stored (in, out), examples as columns, parameters named w1, b1, ..."""
            grads = make(network, "in-out", "columns")({name.replace("w", "W"): p for name, p in params.items()}, X, T)
            return {name.replace("W", "w"): g for name, g in grads.items()}
    '''))
    code, out, err = proptest(capsys, "--grad", "mine.py:gradients", "--weights", "in-out", "--examples-as",
                              "columns", "--names", "w{l},b{l}", "--activations", "sigmoid,tanh,relu,linear",
                              "--losses", "sse,squared_error", "--examples", "40")
    assert code == 0, out + err
    assert "agree on every example" in out


def test_a_bug_found_in_another_layout_is_reproduced_with_that_layout(corpus, capsys):
    code, out, _ = proptest(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                            "mean", "--weight-decay", "0.1", "--weights", "in-out", "--labels", "--grad",
                            "cs231n.py:bias_times_four", "--examples", "30")
    assert code == 1
    assert "  - b1: every entry of b1 is 4 x the reference" in out
    search = re.search(r"Reproduce the search:  (.*)", out).group(1)
    assert "--grad cs231n.py:bias_times_four --weights in-out --labels" in search
    snippet = out.split("python - <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    assert "layout=Layout(**{'weights': 'in-out'})" in snippet
    rerun = subprocess.run([sys.executable, "-"], input=snippet, capture_output=True, text=True, cwd=corpus)
    assert rerun.returncode == 0, rerun.stderr
    assert "every entry of b1 is 4 x the reference" in rerun.stdout


def test_a_shrunk_counterexample_is_named_by_the_explanation_that_also_fits_a_generic_draw(corpus, capsys):
    # Nielsen's loop with zs[-l + 1] for zs[-l]: shrunk to zeros and ones, three bug patterns give the same
    # numbers for W2 and b2; on random numbers only the loop's off-by-one fits, and it explains W1, b1 too.
    code, out, _ = proptest(capsys, "3-4-4-4", "--grad", "nielsen.py:backprop_off_by_one", "--examples-as",
                            "columns", "--per-example", "--examples", "30")
    assert code == 1
    shrunk = re.search(r"\nDiagnosis:\n  - (.*)", out).group(1)
    assert shrunk.count("; or ") >= 1
    assert "Diagnosis on a generic draw of the same network (random parameters and 4 random examples, seed 0):\n" \
           "  - W1, b1, W2, b2: equal the correct gradients with every hidden layer's activation derivative " \
           "evaluated at the values of the layer above it" in out
    assert re.search(r"The one explanation of W2, b2 that fits both draws: equal the correct gradients with every "
                     r"hidden layer's activation derivative evaluated at the values of the layer above it", out)


@pytest.mark.parametrize("argv, message", [
    (["3-4-2", "--grad", "nielsen.py:backprop", "--examples", "columns"],
     "here --examples is how many examples to run; for examples as columns give --examples-as columns"),
    (["3-4-2", "--weights", "in-out"], "--weights describes your numpy code's layout: it goes with --grad or --hvp"),
    (["3-4-2", "--labels"], "--labels gives your function class labels as targets: it goes with --grad or --hvp"),
    (["3-4-2", "--grad", "nielsen.py:backprop", "--names", "w,b"], "--names 'w,b': 'w' is not a name with one {l}"),
    (["--merge", "a.json", "--per-example"], "--merge takes only result files (and --json), not --per-example"),
], ids=["examples-count-vs-layout", "layout-without-function", "labels-without-function", "bad-names", "merge"])
def test_layout_options_that_cannot_apply_are_one_line(corpus, capsys, argv, message):
    code, out, err = proptest(capsys, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2  # argparse adds its usage line
