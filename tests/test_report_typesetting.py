"""Reports are typeset cleanly in every format: nothing past the margin, the prime kept, math GitHub renders.

* LaTeX: five reports a lecturer would hand out (the lecture's 2-2-1, 4-5-3
  relu/softmax with cross-entropy, 3-4-4-2 tanh/tanh/sigmoid with binary
  cross-entropy and weight decay, the second derivatives, and 784-100-10) are
  compiled by pdflatex, whose log must report no line more than a few points
  past the margin; the .tex holds no character pdflatex cannot write (the
  prime of g′ included), and the PDF's text keeps the prime.
* Markdown: no table cell holds an environment (GitHub renders no ``cases``
  inside a table), for a report of every registered activation.
* Writers are printers: a new kind of block is one ``_render_<Block>``
  method per format, found by its name.

CI installs pdflatex and pdftotext (.ci/run); elsewhere they are skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import need
from derive import ACTIVATIONS, Network, derive
from derive.report import build_report, lecture_example, random_example, render
from derive.report.document import Document, Section
from derive.report.html import HtmlRenderer
from derive.report.markdown import MarkdownRenderer
from verify.report_writers import report_document

PDFLATEX, PDFTOTEXT = shutil.which("pdflatex"), shutil.which("pdftotext")
#: How far past the margin a line may run (TeX's own tolerance for "overfull" starts at 0.1pt).
MARGIN_POINTS = 3.0


def lecture():
    network, start = lecture_example()
    return report_document(network, start)


def handed_out():
    relu = Network((4, 5, 3), activation=["relu", "softmax"], loss="cross_entropy")
    deep = Network((3, 4, 4, 2), activation=["tanh", "tanh", "sigmoid"], loss="binary_cross_entropy",
                   weight_decay=0.01)
    large = Network((784, 100, 10), activation=["relu", "softmax"], loss="cross_entropy")
    network, start = lecture_example()
    return {"lecture": lambda: report_document(network, start),
            "relu-softmax": lambda: report_document(relu, random_example(relu, 0)),
            "deep-bce-decay": lambda: report_document(deep, random_example(deep, 0)),
            "second-order": lambda: report_document(network, start, order=2),
            "784-100-10": lambda: report_document(large, random_example(large, 0))}


REPORTS = handed_out()


def overfull(log: str) -> list[tuple[float, str]]:
    """Every "Overfull \\hbox (Xpt too wide)" of a pdflatex log, with what follows it."""
    return [(float(found.group(1)), found.group(2)[:200]) for found in
            re.finditer(r"Overfull \\hbox \(([\d.]+)pt too wide\)(.*?)\n\n", log, re.S)]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_no_line_of_a_report_runs_past_the_margin_in_the_pdf(name, tmp_path):
    need(PDFLATEX, "pdflatex", "texlive-latex-base texlive-latex-recommended")
    files = render(REPORTS[name](), "latex", tmp_path / "r.tex")
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    tex = files["r.tex"].decode()
    prose = re.sub(r"\\begin\{lstlisting\}.*?\\end\{lstlisting\}", "", tex, flags=re.S)
    # a character pdflatex cannot write is replaced by "?" inside a word ("g?(x)"); a question ends a sentence
    assert not re.search(r"\S\?\S", prose), re.findall(r".{40}\S\?\S.{20}", prose)[:3]
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, [line for line in result.stdout.splitlines() if line.startswith("!")]
    log = (tmp_path / "r.log").read_text(errors="replace")
    too_wide = [(points, where) for points, where in overfull(log) if points > MARGIN_POINTS]
    assert not too_wide, too_wide


def test_the_prime_of_a_derivative_survives_into_the_pdf(tmp_path):
    need(PDFLATEX, "pdflatex", "texlive-latex-base texlive-latex-recommended")
    need(PDFTOTEXT, "pdftotext", "poppler-utils")
    network = Network((2, 3, 2), activation=["relu", "softmax"], loss="cross_entropy")
    (tmp_path / "r.pdf").write_bytes(render(report_document(network, None), "pdf", "r.pdf")["r.pdf"])
    text = subprocess.run([PDFTOTEXT, str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert text.count("′") >= 5, text[:2000]  # g′ of the activations, in the box, the lecture's chain rule
    assert "?(" not in text and "net" in text


def markdown_tables(page: str) -> list[str]:
    return [line for line in page.splitlines() if line.startswith("|")]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_markdown_tables_hold_only_inline_math_that_github_renders(name):
    output = "softmax" if name == "softmax" else "linear"
    hidden = "relu" if name == "softmax" else name
    network = Network((2, 3, 2), activation=[hidden, output], loss="cross_entropy" if name == "softmax" else "sse")
    page = render(build_report(derive(network)), "markdown", "r.md")["r.md"].decode()
    cells = markdown_tables(page)
    assert cells and not [line for line in cells if "\\begin" in line or "$$" in line]
    assert page.count("$$") % 2 == 0


def test_table_captions_come_before_their_tables():
    page = render(lecture(), "markdown", "r.md")["r.md"].decode()
    caption = page.index("*Parameters at the start*")
    assert page.index("| W1 | 2×2 |") > caption
    html = render(lecture(), "html", "r.html")["r.html"].decode()
    assert "caption-side: top" in html


@dataclass(frozen=True)
class Aside:
    """A block kind the report does not have: a remark in the margin."""

    text: str


class HtmlWithAsides(HtmlRenderer):
    def _render_Aside(self, block: Aside) -> str:
        return '<p class="aside">%s</p>\n' % self.text(block.text)


def test_a_new_kind_of_block_is_one_method_per_format_found_by_its_name():
    document = Document("With a remark", sections=[Section("remark", "A remark", [Aside("kept in the margin")])])
    page = HtmlWithAsides().render_document(document)
    assert '<p class="aside">kept in the margin</p>' in page
    with pytest.raises(NotImplementedError, match="cannot write a Aside block: MarkdownRenderer has no _render_Aside"):
        MarkdownRenderer(lambda figure: "").render_document(document)


def test_the_box_is_written_in_every_format():
    document = lecture()
    for fmt, name, marker in (("html", "r.html", '<aside class="box">'), ("latex", "r.tex", "\\reportbox{"),
                              ("markdown", "r.md", "> **Backpropagation in four equations (BP1–BP4)**"),
                              ("notebook", "r.ipynb", "> **Backpropagation in four equations (BP1")):
        text = render(document, fmt, Path(name))[name].decode()
        assert text.count(marker) == 2, fmt  # near the top and again at the end
