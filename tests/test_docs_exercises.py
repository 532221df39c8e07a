"""docs/exercises.md runs as written, and each example prints what the page shows.

The page is read top to bottom in one temporary folder: a ```csv block
whose first line is ``# file: NAME`` is written there (without that line);
a ```text block that starts with ``$ backprop`` is run in this process and
its output compared line by line with the rest of the block (its exit
status must be 1 exactly when the output marks a blank other than correct);
a ```python block followed by a ```text block is run and its output compared.
"""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import Path

import pytest

from doc_helpers import BLOCK
from verify.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "exercises.md"

def page_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_the_page_shows_a_sheet_its_key_and_a_marked_answer():
    blocks = page_blocks()
    commands = [body.splitlines()[0] for language, body in blocks if language == "text" and body.startswith("$ ")]
    assert any(c.startswith("$ backprop exercise") for c in commands)
    assert any(c.startswith("$ backprop mark") for c in commands)
    assert any("key = make_sheet" in body for language, body in blocks if language == "python")
    text = PAGE.read_text(encoding="utf-8")
    assert "exercise-sheet.png" in text and "exercise-marked.png" in text
    assert "exercises.md" in (PAGE.parent.parent / "README.md").read_text()


def test_every_example_on_the_page_prints_what_the_page_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = page_blocks()
    ran = 0
    for position, (language, body) in enumerate(blocks):
        if language == "csv" and body.startswith("# file: "):
            name, _, content = body.partition("\n")
            (tmp_path / name[len("# file: "):].strip()).write_text(content)
        elif language == "text" and body.startswith("$ backprop "):
            command, *shown = body.rstrip("\n").splitlines()
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(shlex.split(command[2:])[1:])
            assert out.getvalue().splitlines() == shown, command
            marked = any(word in body for word in ("✗ wrong", "carried forward", "unanswered"))
            assert code == (1 if marked else 0), command
            ran += 1
        elif language == "python" and position + 1 < len(blocks) and blocks[position + 1][0] == "text" \
                and not blocks[position + 1][1].startswith("$ "):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(body, "docs/exercises.md", "exec"), {})
            assert out.getvalue() == blocks[position + 1][1], body.splitlines()[0]
            ran += 1
    assert ran >= 7
    assert (tmp_path / "marked.html").exists() and (tmp_path / "answers.html").exists()


@pytest.mark.parametrize("option", ["--seed", "--count", "--sign", "--steps", "--momentum", "--lr", "--examples",
                                    "--digits", "--example", "--answers-sheet", "--key"])
def test_every_option_the_page_names_is_one_the_command_takes(option, capsys):
    with pytest.raises(SystemExit):
        main(["exercise", "--help"])
    assert option in capsys.readouterr().out and option in PAGE.read_text(encoding="utf-8")
