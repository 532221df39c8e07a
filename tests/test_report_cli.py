"""``backprop report`` and ``backprop train --report``: what they write, and bad input.

Bad input is one table: each row runs the real CLI in an empty directory and
states the words its one error line must contain; every row must exit 2 and
leave the directory as it was (no report, no figures, no temporary file).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from verify.cli import main

LECTURE = {"W1": np.full((2, 2), 0.1), "b1": np.full(2, 0.1), "W2": np.full((1, 2), 0.1), "b2": np.full(1, 0.1)}


def test_report_writes_html_with_the_lecture_numbers(tmp_path, capsys):
    assert main(["report", "2-2-1", "--example", "lecture", "-o", str(tmp_path / "r.html")]) == 0
    assert capsys.readouterr().out.startswith("wrote %s: the derivation of 2-2-1" % (tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text()
    for number in ("0.5523", "0.1172", "0.1095", "0.1004", "The lecture&#x27;s numbers"):
        assert number in page, number
    assert os.stat(tmp_path / "r.html").st_mode & 0o044 == 0o044  # readable by others, like any file


def test_markdown_report_writes_its_figures_beside_it(tmp_path, capsys):
    assert main(["report", "3-2-2", "--activation", "relu,softmax", "--loss", "cross_entropy",
                 "-o", str(tmp_path / "net.md")]) == 0
    assert "and 2 figure files" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "net-figures").iterdir()) == ["network.svg", "step-size.svg"]
    assert "](net-figures/network.svg)" in (tmp_path / "net.md").read_text()


def test_report_with_own_parameters_and_data_uses_them(tmp_path):
    np.savez(tmp_path / "p.npz", **{**LECTURE, "W2": np.array([[0.3, -0.2]])})
    assert main(["report", "2-2-1", "--params", str(tmp_path / "p.npz"), "--data", "xor", "--lr", "0.5",
                 "--momentum", "0", "--format", "md", "-o", str(tmp_path / "own.txt")]) == 0
    page = (tmp_path / "own.txt").read_text()
    assert "all 4 examples" in page and "| W2 | 1×2 | 0.3, -0.2 |" in page and "$\\eta = 0.5$" in page


def test_report_without_an_example_has_no_worked_example_or_verification(tmp_path):
    assert main(["report", "2-2-1", "--example", "none", "-o", str(tmp_path / "r.md")]) == 0
    page = (tmp_path / "r.md").read_text()
    assert "## Worked example" not in page and "## Verification" not in page and "## Layer 1" in page


def test_derive_latex_standalone_is_a_complete_document(capsys):
    assert main(["derive", "2-2-1", "--latex", "--standalone"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("\\documentclass") and "\\usepackage{amsmath" in out and out.rstrip().endswith(
        "\\end{document}")


def test_train_report_on_digits_draws_each_hidden_unit_as_an_image(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert main(["train", "64-12-10", "--data", "digits", "--epochs", "3", "--batch-size", "32", "--lr", "0.5",
                 "--validation", "0.1", "--test", "0.2", "--quiet", "--report", str(tmp_path / "d.html")]) == 0
    page = (tmp_path / "d.html").read_text()
    assert "drawn as a 8×8 image" in page and "Confusion matrix on the test set" in page
    assert page.count("<svg") == 4 and "| validation |" not in page and "<td>validation</td>" in page


def test_train_report_on_xor(tmp_path, capsys):
    assert main(["train", "2-2-1", "--data", "xor", "--lr", "2", "--momentum", "0.9", "--init-scale", "0.5",
                 "--epochs", "300", "--batch-size", "4", "--quiet", "--report", str(tmp_path / "xor.md")]) == 0
    assert "wrote %s" % (tmp_path / "xor.md") in capsys.readouterr().out
    page = (tmp_path / "xor.md").read_text()
    assert "## Training" in page and "## Confusion matrix" in page and "## What the hidden units learned" in page
    assert "| train | " in page and "## Layer 1: hidden layer" in page
    assert sorted(p.name for p in (tmp_path / "xor-figures").iterdir()) == [
        "confusion.svg", "curves.svg", "network.svg", "weights.svg"]


def make_params(directory, **changes):
    np.savez(directory / "p.npz", **{**LECTURE, **changes})
    return str(directory / "p.npz")


CASES = {
    "unknown-extension": (["report", "2-2-1", "-o", "{d}/r.docx"], ["r.docx", "'.docx'", ".html", ".ipynb"]),
    "no-extension": (["report", "2-2-1", "-o", "{d}/report"], ["(none)", ".md", "--format"]),
    "output-is-a-directory": (["report", "2-2-1", "-o", "{d}"], ["is a directory", "report.html"]),
    "missing-directory": (["report", "2-2-1", "-o", "{d}/nowhere/r.html"], ["directory", "does not exist"]),
    "params-wrong-shape": (["report", "2-2-1", "--params", "{params}", "-o", "{d}/r.html"],
                           ["W1 has shape (3, 2)", "expected (2, 2)"]),
    "params-missing-file": (["report", "2-2-1", "--params", "{d}/none.npz", "-o", "{d}/r.html"],
                            ["none.npz", "no such file"]),
    "data-wrong-width": (["report", "3-2-1", "--data", "xor", "-o", "{d}/r.html"], ["xor", "3"]),
    "lecture-other-network": (["report", "3-2-1", "--example", "lecture", "-o", "{d}/r.html"],
                              ["--example lecture", "2-2-1", "3-2-1"]),
    "lecture-and-params": (["report", "2-2-1", "--example", "lecture", "--params", "{params}", "-o", "{d}/r.html"],
                           ["--example lecture", "--params"]),
    "bad-momentum": (["report", "2-2-1", "--momentum", "1.5", "-o", "{d}/r.html"], ["momentum", "< 1"]),
    "train-report-extension": (["train", "2-2-1", "--data", "xor", "--epochs", "2", "--report", "{d}/t.doc"],
                               ["'.doc'", ".html"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_exit_2_and_nothing_written(case, tmp_path, capsys):
    words, expected = CASES[case]
    params = make_params(tmp_path, W1=np.zeros((3, 2))) if "{params}" in " ".join(words) else ""
    before = sorted(os.listdir(tmp_path))
    assert main([word.format(d=tmp_path, params=params) for word in words]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop %s: error: " % words[0]), captured.err
    for word in expected:
        assert word in lines[0], (word, lines[0])
    assert sorted(os.listdir(tmp_path)) == before and "wrote" not in captured.out


def test_pdf_without_pdflatex_names_the_packages_and_writes_nothing(tmp_path):
    python = os.path.dirname(sys.executable)
    result = subprocess.run([sys.executable, "-m", "verify", "report", "2-2-1", "-o", str(tmp_path / "r.pdf")],
                            capture_output=True, text=True, env={**os.environ, "PATH": python}, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "pdflatex" in result.stderr and "texlive-latex-base texlive-latex-recommended" in result.stderr
    assert os.listdir(tmp_path) == []


def test_unwritable_location_is_one_line(tmp_path, capsys):
    target = "/proc/backprop-report.html"
    assert main(["report", "2-2-1", "--example", "none", "-o", target]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write %s" % target in err
