"""Sheets, answer sheets and marked sheets in the programs people open them with: Chromium, pdflatex, Jupyter.

* HTML: headless Chromium opens the sheet from disk; a probe appended to a
  copy of the page counts, from inside the page, the answer boxes with a size
  (one per blank), the formulas rendered as MathML, and blocks that scroll;
  on a marked sheet, the marks and their colours.
* PDF: the sheet, the answer sheet and a marked sheet compile with pdflatex;
  their text (pdftotext) holds every label, the key's numbers, the marks.
* Notebook: valid nbformat, and run top to bottom by nbclient, its answers
  cell writes the file ``backprop mark`` reads.
* The pictures in docs/exercises.md are taken again and compared
  (``python tools/exercise_screenshots.py`` refreshes them).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from exercise_students import answers
from helpers import need
from verify.cli import main
from verify.exercises import make_sheet, mark, read_key, write_key

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercise_screenshots  # noqa: E402  (tools/: the command that refreshes the pictures in docs/)
import report_screenshots  # noqa: E402

CHROMIUM = report_screenshots.chromium_command()
PDFLATEX, PDFTOTEXT = shutil.which("pdflatex"), shutil.which("pdftotext")
PROBE = """<script>
window.addEventListener("load", function () {
  var sized = function (e) { var r = e.getBoundingClientRect(); return r.width > 20 && r.height > 10; };
  var result = {
    boxes: Array.from(document.querySelectorAll(".answer-box")).filter(sized).length,
    math: document.querySelectorAll("math").length,
    mathml: Array.from(document.querySelectorAll("math")).filter(function (m) {
      return m instanceof MathMLElement && m.getBoundingClientRect().width > 0; }).length,
    scrolling: Array.from(document.querySelectorAll(".scroll")).filter(function (s) {
      return s.scrollWidth > s.clientWidth + 1; }).length,
    marks: Array.from(document.querySelectorAll(".mark")).map(function (m) {
      return [m.textContent, getComputedStyle(m).color]; })
  };
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def probe(page: Path, folder: Path) -> dict:
    probed = folder / ("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    result = report_screenshots.chromium("--window-size=1100,1300", "--dump-dom", probed.as_uri(),
                                         profile=folder / "profile")
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


@pytest.fixture(scope="module")
def sheet():
    return make_sheet("3-3-2", seed=21, steps=2, momentum=0.5)


def test_the_html_sheet_has_a_box_for_every_blank_in_chromium(sheet, tmp_path):
    need(CHROMIUM, "chromium")
    page = sheet.write(tmp_path / "sheet.html")[0]
    found = probe(page, tmp_path)
    assert found["boxes"] == len(sheet.blanks) == 2 * 56
    assert found["math"] > 2 * 56 and found["mathml"] == found["math"]
    assert found["scrolling"] == 0


def test_the_marked_sheet_shows_a_coloured_mark_for_every_blank_in_chromium(tmp_path):
    need(CHROMIUM, "chromium")
    sheet = make_sheet("2-2-1", seed=7)
    page = mark(sheet, answers(sheet, "missing_derivative")).write(tmp_path / "marked.html")[0]
    marks = probe(page, tmp_path)["marks"]
    assert len(marks) == 28
    colours = {text: colour for text, colour in marks}
    assert colours["✓ correct"] == "rgb(26, 127, 55)" and colours["✗ wrong"] == "rgb(198, 40, 40)"
    assert [text for text, _ in marks].count("✓ carried forward") == 20


def test_the_pdf_sheet_its_answers_and_a_marked_sheet_compile(sheet, tmp_path):
    need(PDFLATEX, "pdflatex")
    need(PDFTOTEXT, "pdftotext")

    def text(path):
        return subprocess.run([PDFTOTEXT, "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout.replace("\u2212", "-")

    blank = text(sheet.write(tmp_path / "sheet.pdf")[0])
    for label in sheet.labels:
        assert label in blank, label
    key = text(sheet.write(tmp_path / "answers.pdf", answers=True)[0])
    assert "Answers to sheet 21" in key and "Worked example" in key
    for label in ("2:W1[2,2]'", "1:delta1[0]"):
        assert "%#.4g" % sheet.answers[label] in key, label
    small = make_sheet("2-2-1", seed=7)
    marked = text(mark(small, answers(small, "sign")).write(tmp_path / "marked.pdf")[0])
    assert "27 of 28" in marked and "carried forward" in marked and "the sign is flipped" in marked


def test_the_notebook_sheet_runs_and_its_answers_cell_writes_what_mark_reads(tmp_path, capsys):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    small = make_sheet("2-2-1", seed=7)
    path = small.write(tmp_path / "sheet.ipynb")[0]
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    cell = next(cell for cell in notebook.cells if cell["id"] == "hand-in-code")
    filled = answers(small)
    for label, value in filled.items():  # the student fills in the cell
        cell["source"] = cell["source"].replace("%r: None," % label, "%r: %r," % (label, value))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    write_key(small, tmp_path / "key.json")
    assert main(["mark", str(tmp_path / "key.json"), str(tmp_path / "answers-7.csv")]) == 0
    assert capsys.readouterr().out.startswith("your name, sheet 7: 28 of 28")
    assert read_key(tmp_path / "key.json").key() == small.key()


@pytest.mark.parametrize("name", sorted(exercise_screenshots.SHOTS))
def test_the_pictures_in_the_docs_show_the_pages_as_they_are_now(name, tmp_path):
    image = pytest.importorskip("PIL.Image")
    chops = pytest.importorskip("PIL.ImageChops")
    need(CHROMIUM, "chromium")
    taken = exercise_screenshots.write_pictures(tmp_path, [name])[name]
    with image.open(taken) as new, image.open(ROOT / "docs" / name) as old:
        assert new.size == old.size, "docs/%s is out of date: run python tools/exercise_screenshots.py" % name
        difference = chops.difference(new.convert("L"), old.convert("L"))
        changed = sum(difference.histogram()[49:])
    assert changed <= 0.005 * new.size[0] * new.size[1], (
        "docs/%s differs from the page (%d pixels): run python tools/exercise_screenshots.py" % (name, changed))
    assert name in (ROOT / "docs" / "exercises.md").read_text()
