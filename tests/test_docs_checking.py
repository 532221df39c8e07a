"""docs/checking.md runs as written, and each command prints the output the page shows.

Every ```python block that starts with ``# file: NAME`` is written to a
temporary directory.  Every ```text block that starts with ``$ COMMAND`` is
run there (``backprop ...`` in this process, ``python ...`` in a child), and
its output is compared line by line with the rest of the block, after two
normalisations: timings (``0.161 s in all``) and numbers below 1e-12 in
magnitude (rounding noise, which depends on the BLAS) are not compared, and a
line ``...`` on the page stands for any number of lines.  A page output that
says FAILED must come with exit status 1, any other with 0.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from doc_helpers import BLOCK, blocks, matches, write_files
from verify.cli import main

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "checking.md"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_files(tmp_path_factory.mktemp("checking"), PAGE)


COMMANDS = [body for body in blocks(PAGE, "text") if body.startswith("$ ")]


def test_the_page_shows_the_commands_of_the_cli_python_and_torch_examples():
    shown = [body.splitlines()[0] for body in COMMANDS]
    assert any("--grad mlp.py:gradients" in c for c in shown) and any("--grad mlp_buggy.py" in c for c in shown)
    assert any("--torch model.py:make_model" in c for c in shown) and "$ python check_model.py" in shown


@pytest.mark.parametrize("body", COMMANDS, ids=[body.splitlines()[0][2:60] for body in COMMANDS])
def test_each_command_prints_what_the_page_shows(body, folder, monkeypatch, capsys):
    if "torch" in body:
        pytest.importorskip("torch")
    command, *shown = body.rstrip("\n").splitlines()
    argv = shlex.split(command[2:])
    if argv[0] == "backprop":
        monkeypatch.chdir(folder)
        code = main(argv[1:])
        output = capsys.readouterr().out
    else:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        result = subprocess.run([sys.executable] + argv[1:], cwd=folder, capture_output=True, text=True, env=env,
                                timeout=600)
        code, output = result.returncode, result.stdout + result.stderr
    assert code == (1 if any("FAILED" in line for line in shown) else 0), output
    assert matches(shown, output.rstrip("\n").splitlines()), "page:\n%s\n\nactual:\n%s" % ("\n".join(shown), output)


def test_the_getting_started_commands_match_its_function(tmp_path, monkeypatch, capsys):
    """docs/getting-started.md saves its ``my_gradients`` as mymodule.py and runs two commands on it."""
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    (block,) = [b for lang, b in BLOCK.findall(page) if lang == "python" and "def my_gradients" in b]
    (tmp_path / "mymodule.py").write_text(block)
    commands = [line for lang, b in BLOCK.findall(page) if lang == "bash" for line in b.splitlines()
                if "--grad mymodule:my_gradients" in line]
    assert [c.split()[1] for c in commands] == ["check", "proptest"]
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert main(shlex.split(command)[1:] + (["-n", "0"] if "proptest" in command else [])) == 1
        out = capsys.readouterr().out
        assert "FAILED" in out and "W1[1, 0] (from input unit 0 to hidden unit 1)" in out
