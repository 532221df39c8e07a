"""``backprop proptest --hvp FN`` / ``--order 2``: Hessian-vector products on random parameters, data and networks."""

import re
import subprocess
import sys

import pytest

from verify.cli import main

from cli_helpers import folder_with

SPEC = ["3-4-3-2", "--activation", "tanh,sigmoid,sigmoid"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    return folder_with(tmp_path, monkeypatch, "numpy_hvp.py")


def test_a_right_hvp_passes_on_a_fixed_network(folder, capsys):
    assert main(["proptest", *SPEC, "--hvp", "numpy_hvp.py:correct", "--examples", "8", "-n", "0"]) == 0
    out = capsys.readouterr().out
    assert "proptest: 8 examples on 3-4-3-2, tanh/sigmoid/sigmoid, sse (sum), bias" in out
    assert "symbolic reference vs complex step" in out
    assert out.rstrip().endswith("OK: your hvp function numpy_hvp.py:correct, the generated hvp and differences of "
                                 "the engine's gradients agree on every example.")


def test_the_derivations_own_hvp_passes_on_random_networks(capsys):
    assert main(["proptest", "--order", "2", "--examples", "8", "-n", "0", "--activations", "tanh,relu,softplus",
                 "--max-depth", "2", "--max-width", "3"]) == 0
    assert re.search(r"proptest: 8 examples on \d+ architectures", capsys.readouterr().out)


def test_a_missing_curvature_term_yields_a_minimal_counterexample_that_reproduces(folder, capsys):
    code = main(["proptest", *SPEC, "--hvp", "numpy_hvp.py:no_curvature", "--examples", "16", "-n", "0"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: minimal counterexample\nproducts H V disagree on 3-4-3-2" in out
    assert "H V without the activation's second-derivative term in every hidden layer" in out
    assert "backprop proptest 3-4-3-2 --activation tanh,sigmoid,sigmoid" in out and "--hvp numpy_hvp.py" in out
    snippet = out.split("python - <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    rerun = subprocess.run([sys.executable, "-"], input=snippet, capture_output=True, text=True, cwd=folder)
    assert rerun.returncode == 0, rerun.stderr
    assert "Hessian-vector product check of" in rerun.stdout and "the CANDIDATE is wrong" in rerun.stdout


@pytest.mark.parametrize("argv, message", [
    (SPEC + ["--hvp", "numpy_hvp.py:correct", "--grad", "numpy_hvp.py:correct"], "give --grad FN (gradients) or "
                                                                                  "--hvp FN"),
    (SPEC + ["--order", "2", "--grad", "numpy_hvp.py:correct"], "--order 2 checks Hessian-vector products: give "
                                                                "yours as --hvp FN"),
    (SPEC + ["--order", "1", "--hvp", "numpy_hvp.py:correct"], "--hvp checks second-order products: drop --order 1"),
    (SPEC + ["--hvp", "numpy_hvp.py:returns_wrong_key"], "hvp function numpy_hvp.py:returns_wrong_key returned no "
                                                         "'W1'"),
], ids=["both", "order-2-grad", "order-1-hvp", "returned-key"])
def test_bad_input_is_one_line_and_exit_2(folder, capsys, argv, message):
    assert main(["proptest"] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
