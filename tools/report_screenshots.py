"""Refresh the pictures of reports in the docs: ``python tools/report_screenshots.py``.

Each picture is a part of a real report, written by the ``backprop`` command
and rendered by headless Chromium, then cropped to one element of the page:

=============================  ==========================================================  ======================
file                           report                                                      part
=============================  ==========================================================  ======================
docs/report-screenshot.png     the README's first command (the lecture's 2-2-1 example)    the lecture's chain rule
docs/report-box.png            the same                                                    the four-equations box
docs/report-output-delta.png   4-5-3 relu/softmax with cross-entropy                       the output error term
=============================  ==========================================================  ======================

The tests take the same pictures into a temporary folder and compare them
with these files (tests/test_report_renderers.py); they never write into
docs/.  Run this script after a change that shows in a picture, and commit
the files it writes.  It needs chromium and Pillow.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
WIDTH = 1100
#: file name -> (report arguments after ``backprop``, CSS selector of the part, height of the picture or None
#: for the part's own height).
SHOTS = {
    "report-screenshot.png": (None, "#lecture-chain-rule", 1300),
    "report-box.png": (None, "#four-equations aside.box", None),
    "report-output-delta.png": (["report", "4-5-3", "--activation", "relu,softmax", "--loss", "cross_entropy",
                                 "--example", "none"], "#output-delta", None),
}
MARGIN = 24
PROBE = """<script>
window.addEventListener("load", function () {
  var part = document.querySelector(%s);
  var box = part.getBoundingClientRect();
  var out = document.createElement("pre");
  out.id = "probe-result";
  out.textContent = JSON.stringify({top: box.top + window.scrollY, height: box.height});
  document.body.appendChild(out);
});
</script>"""


def chromium_command() -> str | None:
    """The Chromium to run, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def readme_command() -> list[str]:
    """The ``backprop report`` of the README's first command (without ``backprop``)."""
    first = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("pip install ."))
    words = shlex.split(first.split("&&", 1)[1])
    if words[:2] != ["backprop", "report"]:
        raise ValueError("the README's first command is not a backprop report: %s" % first)
    return words[1:]


def chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium, offline: every host name resolves to nothing."""
    command = [chromium_command(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND", "--user-data-dir=%s" % profile,
               *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def part_position(page: Path, selector: str, folder: Path) -> dict:
    """Where ``selector``'s element is on ``page``: ``{"top", "height"}`` in CSS pixels."""
    probed = folder / ("probed-" + page.name)
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE % json.dumps(selector) + "</body>"),
                      encoding="utf-8")
    result = chromium("--window-size=%d,1200" % WIDTH, "--dump-dom", probed.as_uri(), profile=folder / "profile")
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', result.stdout, re.S)
    if not found:
        raise RuntimeError("no element %s in %s: %s" % (selector, page, result.stderr[-1000:]))
    return json.loads(found.group(1).replace("&quot;", '"'))


def take(page: Path, selector: str, height: int | None, target: Path, folder: Path):
    """Screenshot ``page`` and save the part ``selector`` (``height`` pixels from its top, or all of it)."""
    from PIL import Image

    where = part_position(page, selector, folder)
    top = max(0, int(where["top"]) - MARGIN)
    bottom = top + (height if height else int(where["height"]) + 2 * MARGIN)
    shot = folder / "shot.png"
    result = chromium("--window-size=%d,%d" % (WIDTH, bottom), "--screenshot=%s" % shot, page.as_uri(),
                      profile=folder / "shot-profile")
    if not shot.exists():
        raise RuntimeError("chromium wrote no screenshot: %s" % result.stderr[-1000:])
    with Image.open(shot) as picture:
        picture.convert("RGB").crop((0, top, WIDTH, bottom)).save(target, optimize=True)


def write_pictures(folder: Path, names=None) -> dict[str, Path]:
    """Write the pictures of :data:`SHOTS` (or of ``names``) into ``folder``; returns their paths by file name."""
    sys.path.insert(0, str(ROOT))
    from verify.cli import main

    written, pages = {}, {}
    for name, (arguments, selector, height) in SHOTS.items():
        if names is not None and name not in names:
            continue
        words = list(readme_command() if arguments is None else arguments)
        key = tuple(words)
        if key not in pages:
            page = folder / ("page-%d.html" % len(pages))
            if "-o" in words:
                words[words.index("-o") + 1] = str(page)
            else:
                words += ["-o", str(page)]
            with contextlib.redirect_stdout(io.StringIO()):
                status = main(words)
            if status != 0:
                raise RuntimeError("backprop %s failed" % " ".join(words))
            pages[key] = page
        written[name] = folder / name
        take(pages[key], selector, height, written[name], folder)
    return written


def refresh(write, tool: str) -> int:
    """The ``main`` of a screenshot tool: ``write(folder)`` takes the pictures, which are copied into docs/."""
    if chromium_command() is None:
        print("%s: chromium is not installed (apt-get install chromium)" % tool, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        for name, path in write(Path(directory)).items():
            shutil.copyfile(path, DOCS / name)
            print("wrote docs/%s" % name)
    return 0


def main() -> int:
    return refresh(write_pictures, "report_screenshots")


if __name__ == "__main__":
    sys.exit(main())
