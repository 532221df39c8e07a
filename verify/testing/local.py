"""Running (a shard of) a property run on this machine: in a child pytest (pytest-xdist for ``-n``), or in this process.

:func:`run_with_pytest` runs the property suite (:mod:`verify.testing.property_suite`)
in a child pytest, isolated from the user's pytest configuration (no
conftest, no ini file of theirs, no plugins but pytest-xdist), with the run
passed through its one channel (:meth:`verify.testing.runs.Execution.to_environment`).
The child stops at the first failing part (``-x``).  Each part writes its
result and its progress (one byte per example) into a temporary directory,
which gives the progress bar and, at the end, the parts' results.

User code (``--grad``/``--hvp``) runs only in the child, never in the
calling process.  A run of the toolkit's own candidates (the engine, the
generated ``hvp``) on one worker needs no child: :func:`run_here` runs its
parts in this process, one after the other, sparing a second start of
Python, pytest and the toolkit.  Hypothesis keeps its files in
:func:`verify.testing.runs.storage_directory`, not in the working directory.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from verify.testing.runs import Execution, PropertyRun, storage_directory


class LocalRun(NamedTuple):
    """What the child pytest left: each finished part's result, pytest's exit status and its output."""

    parts: list[dict]
    status: int
    log: str


def run_with_pytest(run: PropertyRun, execution: Execution, workers: str = "0", progress: bool = True) -> LocalRun:
    """Run ``execution.shard`` of ``run`` in a child pytest with ``workers`` pytest-xdist workers (``"0"``: none).

    Raises:
        KeyboardInterrupt: Ctrl-C; the child is stopped first.
    """
    from tqdm import tqdm

    expected = sum(run.part_examples(part) for part in run.shard(*execution.shard))
    with tempfile.TemporaryDirectory(prefix="backprop-proptest-") as folder:
        results = Path(folder)
        execution = dataclasses.replace(execution, results=folder)
        (results / "pytest.ini").write_text("[pytest]\n")
        command = [sys.executable, "-m", "pytest", "--pyargs", "verify.testing.property_suite", "-c",
                   str(results / "pytest.ini"), "--rootdir", folder, "-p", "no:cacheprovider", "--noconftest", "-q",
                   "-x", "--tb=short", "-rN", "--no-header"]
        if workers != "0":
            command += ["-p", "xdist.plugin", "-n", workers]
        environment = {**os.environ, **execution.to_environment(run), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                       "HYPOTHESIS_STORAGE_DIRECTORY": str(storage_directory() / "hypothesis")}
        log_path = results / "pytest.log"
        with open(log_path, "w") as log, tqdm(total=expected, unit="example", desc="proptest", file=sys.stderr,
                                              disable=None if progress else True, mininterval=0.5) as bar:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment,
                                     stdin=subprocess.DEVNULL)
            try:
                while child.poll() is None:
                    time.sleep(0.2)
                    bar.update(max(0, _progress(results) - bar.n))
                bar.update(max(0, _progress(results) - bar.n))
            except KeyboardInterrupt:
                child.terminate()
                child.wait()
                raise
        parts = [json.loads(path.read_text()) for path in sorted(results.glob("part-*.json"))]
        return LocalRun(parts, child.returncode, log_path.read_text(errors="replace"))


def run_here(run: PropertyRun, execution: Execution, progress: bool = True) -> list[dict]:
    """Run ``execution.shard`` of ``run`` in this process, part after part, stopping at the first failing part.

    For the toolkit's own candidates only: a user's function could end this
    process (:func:`run_with_pytest` keeps it in a child).
    """
    from hypothesis.configuration import set_hypothesis_home_dir
    from tqdm import tqdm

    from verify.testing.part import run_part

    if run.candidate is not None:
        raise ValueError("a user's function runs in a child process: use run_with_pytest")
    parts = run.shard(*execution.shard)
    results = []
    set_hypothesis_home_dir(storage_directory() / "hypothesis")  # not the working directory's .hypothesis/
    try:
        with tqdm(total=sum(run.part_examples(part) for part in parts), unit="example", desc="proptest",
                  file=sys.stderr, disable=None if progress else True, mininterval=0.5) as bar:
            for part in parts:
                results.append(run_part(run, part, execution, on_example=lambda: bar.update(1)))
                if results[-1]["counterexample"] or results[-1]["input_error"]:
                    break
    finally:
        set_hypothesis_home_dir(None)  # Hypothesis' own default again, for whatever else runs in this process
    return results


def _progress(results: Path) -> int:
    return sum(path.stat().st_size for path in results.glob("progress-*"))
