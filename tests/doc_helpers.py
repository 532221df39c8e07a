"""What the tests of docs/*.md share: the page's fenced blocks, its example files written out, and the
comparison of a command's output with what the page shows."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: A fenced block: its language and its body (with the body's last newline).
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)
TIMING = re.compile(r"\d+\.\d+ s in all|(?<= in )\d+\.\d+ s(?= \(workers)")
#: Rounding noise: a number below 1e-12, or an exact zero (which the same sums give on another BLAS or thread count).
NOISE = re.compile(r"-?\d\.\d+e-(1[2-9]|[2-9]\d)|-?0\.0+e[+-]00")


def blocks(page: Path | str, language: str) -> list[str]:
    """The bodies of the ```LANGUAGE blocks of ``page`` (a path, or the page's text), in order."""
    text = page.read_text(encoding="utf-8") if isinstance(page, Path) else page
    return [body for lang, body in BLOCK.findall(text) if lang == language]


def write_files(folder: Path, page: Path, every: bool = False) -> Path:
    """Each ```python block of ``page`` that starts with ``# file: NAME``, written to ``folder`` as NAME.

    Args:
        folder: Where to write them.
        page: The page.
        every: Every python block of the page must name its file.
    """
    for body in blocks(page, "python"):
        first, _, rest = body.partition("\n")
        assert first.startswith("# file: ") or not every, "a python block on %s names no file: %r" % (page.name, first)
        if first.startswith("# file: "):
            (folder / first[len("# file: "):].strip()).write_text(rest)
    return folder


def normalised(line: str) -> str:
    """``line`` without what changes from run to run: timings, and numbers below 1e-12 and exact zeros (rounding noise)."""
    return NOISE.sub("~0", TIMING.sub("T", line.rstrip()))


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``shown`` with each ``...`` line standing for any run of lines."""
    if not shown:
        return not actual
    if shown[0] == "...":
        return any(matches(shown[1:], actual[skip:]) for skip in range(len(actual) + 1))
    return bool(actual) and normalised(shown[0]) == normalised(actual[0]) and matches(shown[1:], actual[1:])
