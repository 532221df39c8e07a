"""The suite keeps generated modules in a disk cache of its own (derive.codegen.cache), never in the user's; and the
``corpus`` fixture: a working folder holding the code written in other people's styles (tests/corpus)."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from derive.codegen.cache import CACHE_VARIABLE

CORPUS = Path(__file__).resolve().parent / "corpus"

_CREATED = []


def pytest_configure(config):
    # Runs in the controller before pytest-xdist starts its workers, which inherit the variable: one cache per run.
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="backprop-test-modules-")
        _CREATED.append(os.environ[CACHE_VARIABLE])


def pytest_unconfigure(config):
    for directory in _CREATED:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """``tmp_path`` as the working directory, with a copy of every file of tests/corpus."""
    monkeypatch.chdir(tmp_path)
    for path in CORPUS.glob("*.py"):
        shutil.copy(path, tmp_path)
    return tmp_path
