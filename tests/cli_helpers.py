"""What the CLI tests share: a working folder holding files of tests/buggy/,
and running a subcommand in-process with its exit code and output."""

import shutil
from pathlib import Path

from verify.cli import main

BUGGY = Path(__file__).resolve().parent / "buggy"


def folder_with(tmp_path: Path, monkeypatch, *names: str) -> Path:
    """``tmp_path`` as the working directory, with a copy of each named file of tests/buggy/."""
    monkeypatch.chdir(tmp_path)
    for name in names:
        shutil.copy(BUGGY / name, tmp_path)
    return tmp_path


def backprop(capsys, *argv) -> tuple[int, str, str]:
    """``backprop ARGV...`` in this process: (exit code, stdout, stderr), as a shell sees them (a usage error
    argparse reports, with its exit code 2, included)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def run(capsys, *argv, command: str = "check") -> tuple[int, str, str]:
    """``backprop COMMAND ARGV...`` in this process (:func:`backprop`)."""
    return backprop(capsys, command, *argv)
