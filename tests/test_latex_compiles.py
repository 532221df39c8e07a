"""The LaTeX that ``backprop derive --latex`` prints compiles with a real pdflatex.

Every registered activation and loss appears in at least one network below
(plus a parameterized and two custom-expression activations), in the default
view, the chain-rule ``--steps`` view and a ``--partial`` (expanded too), so a
printer change that emits invalid LaTeX for any of them fails here.  The
fragment is wrapped in the smallest document the docs tell users to use
(``article`` with ``amsmath``).

CI installs pdflatex (``.ci/run``); elsewhere the test is skipped with the
install command when pdflatex is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from verify.cli import main

PDFLATEX = shutil.which("pdflatex")
if PDFLATEX is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
    pytest.skip("pdflatex is not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
                allow_module_level=True)

DOCUMENT = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n%s\n\\end{document}\n"

CASES = {
    "sigmoid-sse": ["2-2-1"],
    "tanh-softmax-ce-decay": ["3-2-2", "--activation", "tanh,softmax", "--loss", "cross_entropy",
                              "--weight-decay", "0.01", "--l1", "0.001"],
    "relu-sigmoid-bce-mean": ["2-3-1", "--activation", "relu,sigmoid", "--loss", "binary_cross_entropy",
                              "--reduction", "mean", "--no-bias"],
    "leaky-softplus-linear": ["2-2-2-1", "--activation", "leaky_relu(0.2),softplus,linear"],
    "custom-expressions": ["2-2-1", "--activation", "x/(1+abs(x)),x*sigmoid(x)"],
}
VIEWS = {"formulas": [], "steps": ["--steps"], "partial": ["--partial", "W1", "0", "1"],
         "expanded": ["--partial", "W1", "0", "1", "--expand"]}


@pytest.mark.parametrize("view", sorted(VIEWS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_derive_latex_compiles_with_pdflatex(case, view, tmp_path, capsys):
    assert PDFLATEX is not None, "CI must install pdflatex (see .ci/run)"
    assert main(["derive", *CASES[case], *VIEWS[view], "--latex"]) == 0
    fragment = capsys.readouterr().out
    assert "\\" in fragment
    (tmp_path / "derivation.tex").write_text(DOCUMENT % fragment)
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "derivation.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
    assert result.returncode == 0, "pdflatex failed: %s\n%s" % (errors, fragment)
    assert (tmp_path / "derivation.pdf").stat().st_size > 0
