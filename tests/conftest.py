"""The suite keeps generated modules in a disk cache of its own (derive.codegen.cache), never in the user's."""

import os
import shutil
import tempfile

from derive.codegen.cache import CACHE_VARIABLE

_CREATED = []


def pytest_configure(config):
    # Runs in the controller before pytest-xdist starts its workers, which inherit the variable: one cache per run.
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="backprop-test-modules-")
        _CREATED.append(os.environ[CACHE_VARIABLE])


def pytest_unconfigure(config):
    for directory in _CREATED:
        shutil.rmtree(directory, ignore_errors=True)
