"""docs/second-derivatives.md runs as written and shows what the code prints.

The ```pycon blocks are one interactive session, run in order by doctest in an
empty directory.  Every ```text block that starts with ``$ backprop`` is run
there in this process and its output compared line by line with the rest of
the block (a line ``...`` stands for any number of lines, as on the checking
page).
"""

from __future__ import annotations

import doctest
import shlex
from pathlib import Path

import pytest

from doc_helpers import blocks, matches
from verify.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "second-derivatives.md"

COMMANDS = [body for body in blocks(PAGE, "text") if body.startswith("$ backprop")]


def test_the_python_session_prints_what_the_page_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = "\n".join(blocks(PAGE, "pycon"))
    assert "module.hvp(" in session and "module.gnvp(" in session and "derivation.hvp_steps" in session
    test = doctest.DocTestParser().get_doctest(session, {}, PAGE.name, str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


def test_the_page_shows_the_derive_and_report_commands():
    shown = [body.splitlines()[0] for body in COMMANDS]
    assert "$ backprop derive 2-2-1 --order 2" in shown and "$ backprop derive 2-2-1 --order 2 --steps" in shown
    assert any(" --order 2 -o " in command and "report" in command for command in shown)


@pytest.mark.parametrize("body", COMMANDS, ids=[body.splitlines()[0][2:60] for body in COMMANDS])
def test_each_command_prints_what_the_page_shows(body, tmp_path, monkeypatch, capsys):
    command, *shown = body.rstrip("\n").splitlines()
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command[2:])[1:]) == 0
    actual = capsys.readouterr().out.rstrip("\n").splitlines()
    assert matches(shown, actual), "\n".join(actual)
