"""Reports in the renderers people open them with: headless Chromium, pdflatex + pdftotext, Jupyter.

* HTML: Debian's Chromium opens the lecture report from disk.  A copy of the
  page with a probe script appended reports, from inside the page, how many
  ``<math>`` elements are MathML elements with a nonzero size, the resources
  the page loaded, and whether any TeX is visible; Chromium's own network log
  shows every request the page made (a control page with an external image
  and style sheet proves that both detectors see requests); no block of the
  page scrolls or clips.  The pictures in docs/ (the README's, the box of four
  equations, the output error term) are taken again here, into a temporary
  folder, and compared with the files; ``python tools/report_screenshots.py``
  refreshes them (this test never writes into docs/).
* PDF: written through pdflatex, its text (pdftotext) holds the worked
  example's numbers; writing it twice gives the same bytes.
* Notebook: valid nbformat v4, and executed top to bottom by nbclient in a
  fresh kernel, its cells recompute the lecture's numbers.

CI installs chromium, pdflatex and pdftotext (.ci/run); elsewhere a missing
tool skips its tests with the package to install.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import need
from verify.cli import main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import report_screenshots  # noqa: E402  (tools/: the command that refreshes the pictures in docs/)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1100, 1300)
PROBE = """<script>
window.addEventListener("load", function () {
  var maths = Array.from(document.querySelectorAll("math"));
  var visible = document.body.innerText;
  var result = {
    math: maths.length,
    mathml: maths.filter(function (m) { return m instanceof MathMLElement; }).length,
    rendered: maths.filter(function (m) { var r = m.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length,
    resources: performance.getEntriesByType("resource").map(function (e) { return e.name; }),
    tex: (visible.match(/\\\\(frac|sum|left|right|partial|delta|sigma|begin|end|mathrm|text)\\b|\\$\\$|\\^\\{|_\\{/g) || []),
    figures: document.querySelectorAll("figure svg").length,
    scrolling: Array.from(document.querySelectorAll(".scroll")).filter(function (s) {
      return s.scrollWidth > s.clientWidth + 1; }).length,
    clipped: Array.from(document.querySelectorAll(".scroll")).filter(function (s) {
      return s.scrollHeight > s.clientHeight + 1; }).length,
    blocks: document.querySelectorAll(".scroll").length
  };
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium, offline: every host name resolves to nothing."""
    need(CHROMIUM, "chromium", "chromium")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=%s" % profile,
               *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def probe(page: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    """Open ``page`` (with the probe appended) in Chromium: the probe's findings, and the page's network requests."""
    probed = tmp_path / ("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    net_log = tmp_path / "net-log.json"
    result = chromium("--window-size=%d,%d" % WINDOW, "--log-net-log=%s" % net_log, "--dump-dom", probed.as_uri(),
                      profile=tmp_path / "profile")
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.S)
    assert found, "the probe did not run: %s" % result.stderr[-2000:]
    return json.loads(found.group(1).replace("&amp;", "&").replace("&quot;", '"')), page_requests(net_log)


def page_requests(net_log: Path) -> list[str]:
    """URLs of the network requests the page made (Chromium's own, with no origin, are not the page's)."""
    log = json.loads(net_log.read_text())
    kinds = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    starts = [event.get("params", {}) for event in log["events"] if kinds[event["type"]] == "URL_REQUEST_START_JOB"]
    return sorted({start["url"] for start in starts if "url" in start and start.get("initiator") != "not an origin"})


@pytest.fixture(scope="module")
def lecture_html(tmp_path_factory) -> Path:
    """The README's report, written by the README's command."""
    folder = tmp_path_factory.mktemp("html")
    words = report_screenshots.readme_command()
    words[words.index("-o") + 1] = str(folder / "report.html")
    assert main(words) == 0
    return folder / "report.html"


def test_html_report_renders_its_math_as_mathml_without_tex_or_requests(lecture_html, tmp_path):
    found, requests = probe(lecture_html, tmp_path)
    assert found["math"] > 200, found
    assert found["mathml"] == found["math"] and found["rendered"] == found["math"], found
    assert found["tex"] == [], found
    assert found["resources"] == [] and requests == []
    assert found["figures"] == 2  # the network and the step-size study


def test_the_request_detectors_see_a_page_that_loads_from_the_network(tmp_path):
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"><link rel="stylesheet" '
                    'href="https://cdn.example.invalid/style.css"></head><body><img src="http://example.invalid/a.png">'
                    '<math><mi>x</mi></math> \\frac{1}{2}</body></html>')
    found, requests = probe(page, tmp_path)
    assert requests == ["http://example.invalid/a.png", "https://cdn.example.invalid/style.css"]
    assert len(found["resources"]) == 2 and found["tex"] == ["\\frac"] and found["mathml"] == 1


def test_no_block_of_the_lecture_report_scrolls_or_clips_in_a_desktop_window(lecture_html, tmp_path):
    found, _ = probe(lecture_html, tmp_path)
    assert found["blocks"] > 20 and found["scrolling"] == 0 and found["clipped"] == 0, found


@pytest.mark.parametrize("name", sorted(report_screenshots.SHOTS))
def test_the_pictures_in_the_docs_show_the_reports_as_they_are_now(name, tmp_path):
    """Each picture, taken again into tmp_path, matches the file in docs/ (refresh: python tools/report_screenshots.py)."""
    image = pytest.importorskip("PIL.Image")
    chops = pytest.importorskip("PIL.ImageChops")
    need(CHROMIUM, "chromium", "chromium")
    taken = report_screenshots.write_pictures(tmp_path, [name])[name]
    with image.open(taken) as new, image.open(ROOT / "docs" / name) as old:
        assert new.size == old.size, "docs/%s is out of date: run python tools/report_screenshots.py" % name
        difference = chops.difference(new.convert("L"), old.convert("L"))
        changed = sum(difference.histogram()[49:])  # pixels that differ by more than 48 of 255 in grey
        colours = new.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50  # text and formulas, not a blank page
    assert changed <= 0.005 * new.size[0] * new.size[1], (
        "docs/%s differs from the report (%d pixels): run python tools/report_screenshots.py" % (name, changed))
    shown_in = "README.md" if name == "report-screenshot.png" else "docs/reports.md"
    assert name in (ROOT / shown_in).read_text()


PDFLATEX, PDFTOTEXT = shutil.which("pdflatex"), shutil.which("pdftotext")


def test_pdf_report_holds_the_worked_example_numbers_and_is_reproducible(tmp_path):
    need(PDFLATEX, "pdflatex", "texlive-latex-base texlive-latex-recommended")
    need(PDFTOTEXT, "pdftotext", "poppler-utils")
    for name in ("a.pdf", "b.pdf"):
        assert main(["report", "2-2-1", "--example", "lecture", "-o", str(tmp_path / name)]) == 0
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    text = subprocess.run([PDFTOTEXT, "-layout", str(tmp_path / "a.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout.replace("\u2212", "-")  # TeX's minus sign
    for number in ("0.5523", "-0.08597", "-0.002128", "0.1172", "0.1095", "0.1004", "0.1495", "0.1272"):
        assert number in text, number
    assert "Step 2" in text and "Verification" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "b.pdf"]  # no figures or TeX left beside


def test_tex_report_compiles_as_written(tmp_path):
    need(PDFLATEX, "pdflatex", "texlive-latex-base texlive-latex-recommended")
    assert main(["report", "3-4-2", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--weight-decay",
                 "0.01", "-o", str(tmp_path / "r.tex")]) == 0
    assert sorted(p.name for p in (tmp_path / "r-figures").iterdir()) == ["network.pdf", "step-size.pdf"]
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "r.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, [line for line in result.stdout.splitlines() if line.startswith("!")]


def test_notebook_runs_top_to_bottom_and_recomputes_the_lecture_numbers(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = tmp_path / "report.ipynb"
    assert main(["report", "2-2-1", "--example", "lecture", "-o", str(path)]) == 0
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = {cell["id"]: "".join(out.get("text", "") + json.dumps(out.get("data", {})) for out in cell["outputs"])
               for cell in notebook.cells if cell["cell_type"] == "code"}
    assert not any(out.get("output_type") == "error" for cell in notebook.cells if cell["cell_type"] == "code"
                   for out in cell["outputs"])
    example = outputs["worked-example-code"]
    for number in ("0.5523", "-0.08597", "0.1172", "0.1095", "0.1004", "0.1495"):
        assert number in example, number
    assert "Gradient check" in outputs["verification-code"] and "OK" in outputs["verification-code"]
    assert "<math" in outputs["setup"]  # the derivation displays itself as MathML


def test_training_notebook_reruns_the_training(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = tmp_path / "xor.ipynb"
    assert main(["train", "2-2-1", "--data", "xor", "--lr", "2", "--momentum", "0.9", "--init-scale", "0.5",
                 "--epochs", "50", "--batch-size", "4", "--quiet", "--report", str(path),
                 "--history", str(tmp_path / "history.json")]) == 0
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    rerun = next(cell for cell in notebook.cells if cell["id"] == "training-code")
    shown = "".join(out.get("text", "") for out in rerun["outputs"])
    last = json.loads((tmp_path / "history.json").read_text())["records"][-1]
    assert shown.startswith("EpochRecord(epoch=50, loss=%r, accuracy=%r" % (last["loss"], last["accuracy"]))
    assert next(cell for cell in notebook.cells if cell["id"] == "training")["attachments"]["curves.png"]
