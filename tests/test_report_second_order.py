"""``backprop report SPEC --order 2``: the "Second derivatives" section in every format, and its Hessian's numbers.

The Hessian the report prints for the lecture's 2-2-1 example is compared with
``torch.func.hessian`` of the same loss written in torch (an oracle that
shares no code with the generated ``hessian``), and the finite-difference
check the report states is recomputed here from the engine's gradients.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import sympy

from derive import InputError, Network, derive
from derive.report import lecture_example, render
from derive.report.math import mathml, text_number
from derive.report.second_order import HESSIAN_SHOWN_LARGEST, second_order_sections
from helpers import need
from test_report_renderers import PDFLATEX, probe
from verify import Engine
from verify.check.second_order_evidence import gradient_differences
from verify.cli import main
from verify.report_writers import report_document, write_report

LABELS = ["W1[0, 0]", "W1[0, 1]", "W1[1, 0]", "W1[1, 1]", "b1[0]", "b1[1]", "W2[0, 0]", "W2[0, 1]", "b2[0]"]
#: The R-quantities every layer of a 2-layer network must show, forward, Hessian and Gauss-Newton.
QUANTITIES = ("RZ1", "RA1", "RZ2", "RA2", "Rdelta2", "Rdelta1", "HV_W1", "HV_b2", "Gdelta2", "Gdelta1", "GV_W1",
              "GV_b2")


@pytest.fixture(scope="module")
def lecture_document():
    network, start = lecture_example()
    return report_document(network, start, order=2)


def torch_lecture_hessian() -> np.ndarray:
    """``torch.func.hessian`` of the lecture's loss (2-2-1, sigmoid, SSE) in W1, b1, W2, b2 order, row-major."""
    torch = pytest.importorskip("torch")
    _, start = lecture_example()
    X = torch.tensor(start.X, dtype=torch.float64)
    T = torch.tensor(start.T, dtype=torch.float64)
    flat = torch.tensor(np.concatenate([np.ravel(start.params[k]) for k in ("W1", "b1", "W2", "b2")]),
                        dtype=torch.float64)

    def loss(theta):
        W1, b1, W2, b2 = theta[:4].reshape(2, 2), theta[4:6], theta[6:8].reshape(1, 2), theta[8:]
        output = torch.sigmoid(torch.sigmoid(X @ W1.T + b1) @ W2.T + b2)
        return 0.5 * ((output - T) ** 2).sum()

    return torch.func.hessian(loss)(flat).numpy()


def section(document, key):
    return next(s for s in document.sections if s.key == key)


def test_report_hessian_is_torchs_hessian_in_the_documented_order(lecture_document):
    table = section(lecture_document, "hessian").blocks[1]
    assert list(table.header[1:]) == LABELS and [row[0] for row in table.rows] == LABELS
    shown = np.array([row[1:] for row in table.rows], dtype=float)
    expected = torch_lecture_hessian()
    np.testing.assert_allclose(shown, expected, rtol=1e-10, atol=1e-15)
    assert abs(expected[6, 0] + 0.020326) < 1e-6  # d2E/dW2[0,0] dW1[0,0]: a mixed entry, not the diagonal
    markdown = render(lecture_document, "markdown", "r.md")["r.md"].decode()
    hessian = markdown.split("### The Hessian of the worked example")[1]
    row = next(line for line in hessian.splitlines() if line.startswith("| W2\\[0, 0\\] |"))
    assert row.split(" | ")[1:] == [text_number(value) for value in expected[6, :-1]] + [
        text_number(expected[6, -1]) + " |"]


def test_report_states_the_finite_difference_check_that_an_independent_run_reproduces(lecture_document):
    network, start = lecture_example()
    params = {k: np.asarray(v, dtype=float) for k, v in start.params.items()}
    differences = gradient_differences(Engine(network), params, start.X, start.T, 1e-5)
    largest = np.abs(differences - torch_lecture_hessian()).max()
    assert largest < 1e-9
    text = render(lecture_document, "markdown", "r.md")["r.md"].decode()
    stated = float(re.search(r"largest \\\|difference\\\| over all 81 entries is (\S+) ", text).group(1))
    assert stated < 1e-9
    assert "2 negative, so this point is not a minimum" in text  # eigenvalues of the torch Hessian agree:
    eigenvalues = np.linalg.eigvalsh(torch_lecture_hessian())
    assert (eigenvalues < -1e-6).sum() == 2 and (abs(eigenvalues) < 1e-12).sum() == 4


@pytest.mark.parametrize("fmt,name", [("html", "r.html"), ("markdown", "r.md"), ("latex", "r.tex"),
                                      ("notebook", "r.ipynb")])
def test_every_format_has_the_r_operator_passes_and_the_hessian(lecture_document, fmt, name):
    text = render(lecture_document, fmt, name)[name].decode()
    text = html.unescape(text) if fmt == "html" else text.replace("\\", "")  # LaTeX's and Markdown's escapes
    part = text.split("Second derivatives")[-1].split("Summary: the four equations")[0]
    assert "Gauss-Newton product G" in part and not re.search(r"\S\?\S", part)  # no character LaTeX cannot write
    labels = {step.label for step in derive(lecture_example()[0]).hvp_steps if "as the derivative" not in step.label}
    assert {label.split(":")[0].split(" ")[0] for label in labels} == set(QUANTITIES) | {
        "HV_W2", "HV_b1", "GV_W2", "GV_b1"}
    for label in labels:  # every R-quantity of every layer, captioned by what it is
        assert ":" not in label or label.split(":", 1)[1].strip() in part, label
    quantities = {"html": "<mi>ℛ</mi><mo>{</mo>", "markdown": "mathcal{R}lbrace delta^{(1)}", "latex": "mathcal{R}lbrace delta^{(1)}",
                  "notebook": "mathcal{R}lbrace delta^{(1)}"}
    assert quantities[fmt] in part  # R{δ^(1)}, not Rdelta_1
    assert "Hessian of the worked example" in text and "0.07013" in text
    assert "twice differentiable everywhere" in text


def test_kinks_are_stated_and_large_networks_get_no_dense_hessian():
    relu = second_order_sections(derive(Network([3, 4, 2], activation=["relu", "softmax"], loss="cross_entropy")))
    notes = " ".join(part for block in relu[0].blocks if getattr(block, "note", False) for part in block.parts)
    assert "layer 1 (relu): no second derivative at z = 0" in notes
    large = second_order_sections(derive(Network([784, 100, 10], activation=["sigmoid", "softmax"],
                                                 loss="cross_entropy")))
    why = large[-1].blocks[0].parts[0]
    assert large[-1].key == "hessian" and "No dense Hessian" in why and "79,510 parameters" in why
    assert 79510 > HESSIAN_SHOWN_LARGEST


@pytest.mark.parametrize("value", ["3", "0", "two", "1.5"])
def test_bad_order_is_one_line_exit_2_and_nothing_written(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["report", "2-2-1", "--order", value, "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and err.count("\n") == 1 and "argument --order" in err, err
    assert list(tmp_path.iterdir()) == []


def test_bad_order_from_python_names_what_is_accepted(tmp_path):
    with pytest.raises(InputError, match="order must be 1 .* or 2 .*got 3"):
        write_report(tmp_path / "r.html", "2-2-1", order=3)
    assert list(tmp_path.iterdir()) == []


def test_html_section_renders_as_mathml_in_chromium(tmp_path):
    assert main(["report", "2-2-1", "--example", "lecture", "--order", "2", "-o", str(tmp_path / "r.html")]) == 0
    found, requests = probe(tmp_path / "r.html", tmp_path)
    assert found["mathml"] == found["math"] and found["rendered"] == found["math"] > 300, found
    assert found["tex"] == [] and requests == []
    assert found["figures"] == 3  # the network, the step-size study and the Hessian


def test_latex_with_second_derivatives_compiles(tmp_path):
    need(PDFLATEX, "pdflatex", "texlive-latex-base texlive-latex-recommended")
    assert main(["report", "2-2-1", "--example", "lecture", "--order", "2", "-o", str(tmp_path / "r.tex")]) == 0
    assert (tmp_path / "r-figures" / "hessian.pdf").exists()
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, [line for line in result.stdout.splitlines() if line.startswith("!")]
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True,
                              text=True, check=True).stdout.replace("\u2212", "-")
        assert "Second derivatives" in text and "0.07013" in text and "-0.02033" in text
        assert "the largest |difference| over all 81 entries" in text  # a bar, not the em dash of OT1


def test_notebook_recomputes_the_hessian(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = tmp_path / "r.ipynb"
    assert main(["report", "2-2-1", "--example", "lecture", "--order", "2", "-o", str(path)]) == 0
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {cell["id"]: "".join(out.get("text", "") + json.dumps(out.get("data", {})) for out in cell["outputs"])
               for cell in notebook.cells if cell["cell_type"] == "code"}
    assert "0.070133" in outputs["hessian-code"] and "-0.020326" in outputs["hessian-code"]
    steps = len(derive(lecture_example()[0]).hvp_steps)
    assert "%d steps" % steps in outputs["second-derivatives-code"]


def test_mathml_writes_a_derivative_at_a_point_with_a_bar():
    r, x = sympy.symbols("r x")
    printed = mathml(sympy.Subs(sympy.Derivative(sympy.sin(r * x), r), r, 0))
    assert "subs" not in printed.lower() and '<mo stretchy="true">|</mo>' in printed
    assert printed.endswith("<mrow><mi>r</mi><mo>=</mo><mn>0</mn></mrow></mrow></msub></mrow></math>"), printed
