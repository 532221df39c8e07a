"""docs/checking-pytorch.md runs as written, and each command prints the output the page shows.

The page is executed as docs/checking.md is (``tests/test_docs_checking.py``):
every ```python block starting ``# file: NAME`` is written to a temporary
directory, every ```text block starting ``$ COMMAND`` is run there, and its
output is compared line by line (``...`` stands for any lines; timings and
rounding noise below 1e-12 are not compared).  A page output that says FAILED
must come with exit status 1, one that says ``error:`` with 2, any other with 0.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from doc_helpers import blocks, matches, write_files
from verify.cli import main

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "checking-pytorch.md"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_files(tmp_path_factory.mktemp("checking_pytorch"), PAGE)


COMMANDS = [body for body in blocks(PAGE, "text") if body.startswith("$ ")]


def test_the_page_shows_one_example_per_style():
    shown = " ".join(body.splitlines()[0] for body in COMMANDS)
    for example in ("net.py:make_net", "linear_layer.py", "linear_layer_buggy.py", "legendre.py",
                    "tutorial.py:two_layer_net", "python check_net.py", "--order 2", "resnet_block.py"):
        assert example in shown


@pytest.mark.parametrize("body", COMMANDS, ids=[body.splitlines()[0][2:70] for body in COMMANDS])
def test_each_command_prints_what_the_page_shows(body, folder, monkeypatch, capsys):
    command, *shown = body.rstrip("\n").splitlines()
    argv = shlex.split(command[2:])
    if argv[0] == "backprop":
        monkeypatch.chdir(folder)
        code = main(argv[1:])
        out, err = capsys.readouterr()
        output = out + err
    else:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        result = subprocess.run([sys.executable] + argv[1:], cwd=folder, capture_output=True, text=True, env=env,
                                timeout=600)
        code, output = result.returncode, result.stdout + result.stderr
    expected = 2 if any("error:" in line for line in shown) else 1 if any("FAILED" in line for line in shown) else 0
    assert code == expected, output
    assert matches(shown, output.rstrip("\n").splitlines()), "page:\n%s\n\nactual:\n%s" % ("\n".join(shown), output)
