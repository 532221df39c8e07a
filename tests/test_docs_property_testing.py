"""The example in docs/property-testing.md runs as written.

Every ```python block that starts with ``# file: NAME`` is written to a
temporary directory; then the page's commands run there: ``python
check_once.py``, ``python -m pytest test_my_backprop.py`` (in a child
process, so the pytest plugin is loaded as a user's run would load it), and
the two ``backprop proptest`` commands (in this process, with fewer examples
and one worker to keep the test fast): the correct function passes (exit 0),
the buggy one fails with a counterexample (exit 1).
"""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from doc_helpers import blocks, write_files
from verify.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "property-testing.md"

@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return write_files(tmp_path_factory.mktemp("property_testing"), PAGE, every=True)


def commands(prefix):
    return [line for body in blocks(PAGE, "bash") for line in body.splitlines() if line.startswith(prefix)]


def test_the_page_names_the_files_and_commands_it_uses(example):
    assert {p.name for p in example.iterdir()} >= {"my_backprop.py", "check_once.py", "my_backprop_buggy.py",
                                                   "test_my_backprop.py"}
    assert len(commands("backprop proptest")) == 2


def test_checking_once_prints_a_passing_report(example):
    result = subprocess.run([sys.executable, "check_once.py"], cwd=example, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Gradient check of my_backprop:gradients (float64), 67 entries: OK" in result.stdout


def test_the_users_pytest_suite_passes_with_the_plugin(example):
    result = subprocess.run([sys.executable, "-m", "pytest", "test_my_backprop.py", "-q", "-p", "no:cacheprovider"],
                            cwd=example, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


@pytest.mark.parametrize("position, expected", [(0, 0), (1, 1)], ids=["correct-passes", "buggy-fails"])
def test_the_proptest_commands_on_the_page_give_the_documented_outcome(example, monkeypatch, capsys, position,
                                                                       expected):
    monkeypatch.chdir(example)
    argv = shlex.split(commands("backprop proptest")[position])[1:]
    argv[argv.index("--examples") + 1] = "24"
    assert main(argv + ["-n", "0"]) == expected
    out = capsys.readouterr().out
    assert ("FAILED: minimal counterexample" in out) == bool(expected)
    if expected:
        assert "-> candidate wrong" in out and "'tanh'" in out
