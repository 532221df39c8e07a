"""Benchmark: property runs of ``backprop proptest``, from cold and cached, on more cores, on a Dask cluster, in shards.

The baseline is the cheapest honest property test there is: pytest starts,
hypothesis draws a small float array per example, and a numpy central
difference checks a one-line gradient.  ``backprop proptest`` does the same
number of examples, each a three-way check of a random network (generated
code, engine, finite differences at every entry), so the ratio of the two
wall times is what the toolkit's work costs on top of the test machinery.
Everything runs here, in fresh processes (the machine is shared and noisy:
compare the ratios, not the seconds; the trivial, cold and cached runs
alternate for ``--rounds`` rounds and each figure is the fastest of its rounds).

* **cold**: one process (``-n 0``) with an empty module cache
  (``BACKPROP_CACHE_DIR``, see :mod:`derive.codegen.cache`): every structure
  is derived and printed, as on a fresh CI machine or a new cluster worker;
* **cached**: the same run again, reading the modules the cold run stored;
* **xdist**: 1 and 2 pytest-xdist workers (``-n 1``, ``-n 2``), modules cached;
* **Dask**: a ``LocalCluster`` of 1 and 2 workers (``--dask local:W``,
  started and stopped by the run, so its start-up counts), modules cached;
  these four run ``--scale-examples`` examples (default 4 times ``--examples``),
  so that the start-up of the workers weighs less;
* **N machines**: an estimate, from the measured time of each part and the
  measured fixed cost of a shard (start-up, imports), of the wall time of the
  run split into N shards on N machines of this speed.

Run: ``python bench/proptest.py [--examples 1000] [--rounds 2] [--scale-examples N]`` (needs ``dask[distributed]``
for the Dask rows).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
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


def timed(command: list[str], cwd: str, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit("failed: %s\n%s\n%s" % (" ".join(command), result.stdout[-2000:], result.stderr[-2000:]))
    return seconds, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale-examples", type=int, help="examples of the xdist and Dask runs (default 4x --examples)")
    args = parser.parse_args()
    scale_examples = args.scale_examples or 4 * args.examples
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("CI", None)
    proptest = [sys.executable, "-m", "verify", "proptest", "--examples", str(args.examples), "--seed", "0"]
    with tempfile.TemporaryDirectory() as work:
        Path(work, "test_trivial.py").write_text(TRIVIAL.format(examples=args.examples))
        (Path(work) / "pytest.ini").write_text("[pytest]\n")
        trivial_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
                           "test_trivial.py"]
        trivial, cold, cached = [], [], []
        for round_ in range(args.rounds):  # alternating, so that a noisy minute hurts every figure alike
            trivial.append(timed(trivial_command, work, env)[0])
            env["BACKPROP_CACHE_DIR"] = str(Path(work, "modules-%d" % round_))  # empty: derives every structure
            cold.append(timed(proptest + ["-n", "0"], work, env)[0])
            cached.append(timed(proptest + ["-n", "0"], work, env)[0])  # the same structures, read from disk
        larger = [word if word != str(args.examples) else str(scale_examples) for word in proptest]
        scaling = {("xdist", n): timed(larger + ["-n", str(n)], work, env)[0] for n in (1, 2)}
        if importlib.util.find_spec("distributed") is not None:
            scaling.update({("dask", n): timed(larger + ["--dask", "local:%d" % n], work, env)[0] for n in (1, 2)})
        shard_seconds, shard_output = timed(proptest + ["-n", "0", "--shard", "1/4", "--json"], work, env)
    report(args.examples, min(trivial), min(cold), min(cached), (scale_examples, scaling), shard_seconds,
           json.loads(shard_output))


def report(examples: int, trivial: float, cold: float, cached: float, scaling: tuple, shard_seconds: float,
           shard: dict) -> None:
    print("property runs of %d examples (wall time, fresh processes, BLAS threads 1, fastest of the rounds)" % examples)
    print("  trivial hypothesis test (pytest + hypothesis + a numpy central difference)  %6.1f s" % trivial)
    print("  backprop proptest, one process, module cache empty (cold)                   %6.1f s   ratio %.1fx"
          % (cold, cold / trivial))
    print("  backprop proptest, one process, modules cached on disk                      %6.1f s   ratio %.1fx"
          % (cached, cached / trivial))
    print("  examples per second: trivial %.0f, proptest cold %.0f, cached %.0f"
          % (examples / trivial, examples / cold, examples / cached))
    scale_examples, scaling = scaling
    print("runs of %d examples, modules cached, workers' start-up included:" % scale_examples)
    for (kind, workers), seconds in scaling.items():
        label = "-n %d (pytest-xdist)" % workers if kind == "xdist" else "--dask local:%d (LocalCluster)" % workers
        print("  %-32s                                             %6.1f s   %4.0f examples/s"
              % (label, seconds, scale_examples / seconds))
    for kind in ("xdist", "dask"):
        if (kind, 1) in scaling and (kind, 2) in scaling:
            print("  %s: 2 workers are %.2fx as fast as 1" % (kind, scaling[kind, 1] / scaling[kind, 2]))
    work = sum(part["seconds"] for part in shard["parts"])
    fixed = shard_seconds - work
    total = work * shard["shard"]["count"]  # the 4 shards have a quarter of the parts each
    print("ESTIMATE (not measured): N machines like this one, each running one of N shards with -n 0")
    print("  measured: shard 1/4 of this run took %.1f s: %.1f s checking its parts, %.1f s fixed (start-up, imports)"
          % (shard_seconds, work, fixed))
    for size in (examples, 1_000_000):
        cells = []
        for machines in (1, 4, 16, 64):
            cells.append("N=%d %s" % (machines, _duration(fixed + total * size / examples / machines)))
        print("  %9s examples: %s" % (format(size, ","), ", ".join(cells)))
    print("  (each shard derives only its own structures; the parts are balanced to within one part, so the")
    print("  estimate holds while N is well below the number of parts, one per 250 examples)")


def _duration(seconds: float) -> str:
    return "%.0f s" % seconds if seconds < 120 else "%.0f min" % (seconds / 60) if seconds < 7200 else \
        "%.1f h" % (seconds / 3600)


if __name__ == "__main__":
    main()
