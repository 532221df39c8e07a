"""Refresh the pictures of docs/exercises.md: ``python tools/exercise_screenshots.py``.

Each picture is part of a page the page's own commands write (the sheet of
``backprop exercise 2-2-1 --seed 7``, and Ada's answers marked by
``backprop mark ... -o marked.html``, her answers read from the page's
``ada.csv`` block), rendered by headless Chromium and cropped as
tools/report_screenshots.py crops the report's pictures:

=========================  ==================================  ===========================
file                       page                                part
=========================  ==================================  ===========================
docs/exercise-sheet.png    the sheet                           its blanks
docs/exercise-marked.png   Ada's marked sheet                  the score and the first marks
=========================  ==================================  ===========================

The tests take the same pictures into a temporary folder and compare them
with these files (tests/test_exercise_pages.py).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
from pathlib import Path

import report_screenshots

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGE = DOCS / "exercises.md"
#: file name -> (the page it shows, CSS selector of the part, height of the picture).
SHOTS = {
    "exercise-sheet.png": ("sheet.html", "#step-1", 1000),
    "exercise-marked.png": ("marked.html", "#score", 1100),
}


def write_pages(folder: Path) -> None:
    """Run the page's commands in ``folder`` (its files first), as the page shows them."""
    sys.path.insert(0, str(ROOT))
    from verify.cli import main

    text = PAGE.read_text(encoding="utf-8")
    for body in re.findall(r"```csv\n# file: (.*?)```", text, re.S):
        name, _, content = body.partition("\n")
        (folder / name.strip()).write_text(content)
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for command in re.findall(r"```text\n\$ (backprop [^\n]*)", text):
                main(shlex.split(command)[1:])
    finally:
        os.chdir(here)


def write_pictures(folder: Path, names=None) -> dict[str, Path]:
    """Write the pictures of :data:`SHOTS` (or of ``names``) into ``folder``; returns their paths by file name."""
    write_pages(folder)
    written = {}
    for name, (page, selector, height) in SHOTS.items():
        if names is None or name in names:
            written[name] = folder / name
            report_screenshots.take(folder / page, selector, height, written[name], folder)
    return written


def main() -> int:
    return report_screenshots.refresh(write_pictures, "exercise_screenshots")


if __name__ == "__main__":
    sys.exit(main())
