"""Benchmark: a property run of ``backprop proptest`` against a trivial hypothesis test of as many examples.

The baseline is the cheapest honest property test there is: pytest starts,
hypothesis draws a small float array per example, and a numpy central
difference checks a one-line gradient.  ``backprop proptest`` does the same
number of examples, each a three-way check of a random network (generated
code, engine, finite differences at every entry), so the ratio of the two
wall times is what the toolkit's work costs on top of the test machinery.
Both run here, one after the other, in fresh processes (the machine is shared
and noisy: compare the ratio, not the seconds).  ``proptest`` runs twice with
a module cache of its own (``BACKPROP_CACHE_DIR``, see
:mod:`derive.codegen.cache`): first empty, so every structure is derived and
printed, then again with the modules the first run stored, as every later run
on a machine does.  Then the same run with one worker per core gives the
examples per second across cores.

Run: ``python bench/proptest.py [--examples 1000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TRIVIAL = textwrap.dedent('''
    import numpy as np
    from hypothesis import given, settings, strategies as st
    from hypothesis.extra.numpy import arrays


    @settings(max_examples={examples}, deadline=None, database=None, derandomize=True)
    @given(arrays(np.float64, 3, elements=st.floats(-1, 1)))
    def test_gradient_of_a_sum_of_squared_tanh(w):
        loss = lambda v: float(np.sum(np.tanh(v) ** 2))
        gradient = 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
        step = 1e-6
        estimate = np.array([(loss(w + step * e) - loss(w - step * e)) / (2 * step) for e in np.eye(3)])
        assert np.allclose(gradient, estimate, atol=1e-7)
''')


def timed(command: list[str], cwd: str, env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit("failed: %s\n%s\n%s" % (" ".join(command), result.stdout[-2000:], result.stderr[-2000:]))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("CI", None)
    with tempfile.TemporaryDirectory() as work:
        Path(work, "test_trivial.py").write_text(TRIVIAL.format(examples=args.examples))
        (Path(work) / "pytest.ini").write_text("[pytest]\n")
        trivial = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
                         "test_trivial.py"], work, env)
        proptest = [sys.executable, "-m", "verify", "proptest", "--examples", str(args.examples), "--seed", "0"]
        env["BACKPROP_CACHE_DIR"] = str(Path(work, "modules"))  # empty: the first run derives every structure
        cold = timed(proptest + ["-n", "0"], work, env)
        single = timed(proptest + ["-n", "0"], work, env)  # the same structures, read from the module cache
        parallel = timed(proptest + ["-n", "auto"], work, env)
    cores = os.cpu_count() or 1
    print("property runs of %d examples (wall time, fresh processes, BLAS threads 1)" % args.examples)
    print("  trivial hypothesis test (pytest + hypothesis + a numpy central difference)  %6.1f s" % trivial)
    print("  backprop proptest, one process, module cache empty                           %6.1f s   ratio %.1fx"
          % (cold, cold / trivial))
    print("  backprop proptest, one process, modules cached on disk                       %6.1f s   ratio %.1fx"
          % (single, single / trivial))
    print("  backprop proptest, -n auto (%d cores), modules cached                         %6.1f s   %.1fx faster"
          % (cores, parallel, single / parallel))
    print("  examples per second: trivial %.0f, proptest one process %.0f (cache empty %.0f), -n auto %.0f"
          % (args.examples / trivial, args.examples / single, args.examples / cold, args.examples / parallel))


if __name__ == "__main__":
    main()
