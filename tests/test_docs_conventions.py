"""docs/other-conventions.md runs as written: its files are written, its commands run, their output compared.

The rules are docs/checking.md's (tests/test_docs_checking.py): ``...`` stands for any lines, timings and
rounding noise are not compared, a page output that says FAILED must come with exit status 1, and one that is an
error line with exit status 2 (the line is compared with standard error).
"""

import shlex
from pathlib import Path

import pytest

from doc_helpers import BLOCK, matches
from verify.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "other-conventions.md"
TEXT = PAGE.read_text(encoding="utf-8")
FILES = {body.partition("\n")[0][len("# file: "):]: body.partition("\n")[2]
         for lang, body in BLOCK.findall(TEXT) if lang == "python" and body.startswith("# file: ")}
COMMANDS = [body for lang, body in BLOCK.findall(TEXT) if lang == "text" and body.startswith("$ ")]


def test_the_page_shows_every_convention_of_the_table():
    shown = " ".join(body.splitlines()[0] for body in COMMANDS)
    for option in ("--examples columns", "--weights in-out", "--names", "--per-example", "--update", "--labels",
                   "--loss mse"):
        assert option in shown, option
    assert "Convention:" in TEXT and "rerun: backprop check" in TEXT


@pytest.mark.parametrize("body", COMMANDS, ids=[body.splitlines()[0][17:70] for body in COMMANDS])
def test_each_command_prints_what_the_page_shows(body, tmp_path, monkeypatch, capsys):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    command, *shown = body.rstrip("\n").splitlines()
    code = main(shlex.split(command[2:])[1:])
    captured = capsys.readouterr()
    refused = bool(shown) and shown[0].startswith("backprop check: error: ")  # one line on stderr, exit status 2
    output = captured.err if refused else captured.out
    assert code == (2 if refused else 1 if any("FAILED" in line for line in shown) else 0), output
    assert matches(shown, output.rstrip("\n").splitlines()), "page:\n%s\n\nactual:\n%s" % ("\n".join(shown), output)
