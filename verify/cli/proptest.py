"""Property-test gradients on random networks: the generated code, a candidate and finite differences must agree.

Runs the property suite (:mod:`verify.testing.property_suite`) through pytest, spread
over cores with pytest-xdist.  The candidate is the toolkit's own engine, or
your gradient function given as ``--grad MODULE:FUNCTION`` or
``--grad path/to/file.py:FUNCTION``, called as ``FUNCTION(network, params, X, T)``
and returning ``{"W1": dW1, "b1": db1, ...}``.  Restrict the networks to what
your function supports with ``--activations``, ``--losses``, ``--max-depth``,
``--max-width``, ``--bias`` and ``--decay``.

The run is deterministic (the same examples every time) unless ``--seed``
picks another sequence.  Exit status: 0 when every example agrees; 1 with the
minimal counterexample (network, parameters, data and commands that reproduce
it) when one does not; 2 for bad input, including a gradient function that
cannot be imported, raises, or returns the wrong keys, shapes, dtype or NaN.

Examples::

    backprop proptest --examples 2000 -n auto
    backprop proptest --grad mybackprop.py:gradients --activations sigmoid,tanh --losses sse
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from derive import InputError

ENV = "BACKPROP_PROPTEST_"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, metavar="N",
                        help="examples in all (default by profile: dev 200, ci 2000, thorough 20000)")
    parser.add_argument("--grad", metavar="MODULE:FN", help="your gradient function, FN(network, params, X, T) -> dict "
                        "(MODULE importable from here, or path/to/file.py:FN); default: the engine")
    parser.add_argument("-n", "--workers", default="auto", metavar="WORKERS",
                        help="parallel worker processes (pytest-xdist): a number, or 'auto' for one per core "
                             "(default); 0 for none (one process)")
    parser.add_argument("--seed", type=int, metavar="S", help="search another random sequence (default: derandomized)")
    parser.add_argument("--profile", choices=("dev", "ci", "thorough"), help="hypothesis settings profile "
                        "(default: $BACKPROP_HYPOTHESIS_PROFILE, else ci)")
    parser.add_argument("--activations", metavar="LIST", help="comma-separated activations to draw from (default: all)")
    parser.add_argument("--losses", metavar="LIST", help="comma-separated losses to draw from (default: all compatible)")
    parser.add_argument("--max-depth", type=int, default=3, metavar="L", help="deepest network drawn (default 3)")
    parser.add_argument("--max-width", type=int, default=4, metavar="W", help="widest layer drawn (default 4)")
    parser.add_argument("--bias", choices=("yes", "no", "any"), default="any", help="layers with biases (default any)")
    parser.add_argument("--decay", choices=("yes", "no", "any"), default="any", help="weight decay (default any)")


def run(args: argparse.Namespace) -> int:
    for module in ("pytest", "xdist"):
        if importlib.util.find_spec(module) is None:
            raise InputError("backprop proptest needs pytest and pytest-xdist; install them with "
                             "pip install 'backprop[test]'")
    if args.examples is not None and args.examples < 1:
        raise InputError("--examples must be at least 1, got %d" % args.examples)
    workers = _workers(args.workers)
    networks = _network_options(args)
    grad = _check_grad(args.grad, networks) if args.grad else None
    with tempfile.TemporaryDirectory(prefix="backprop-proptest-") as results:
        env = _environment(args, grad, networks, results)
        from verify.testing.property_suite import SHARDS, TOTAL_EXAMPLES

        total = args.examples or TOTAL_EXAMPLES[env["BACKPROP_HYPOTHESIS_PROFILE"]]
        expected = math.ceil(total / SHARDS) * SHARDS
        started = time.perf_counter()
        code, log = _run_pytest(workers, env, Path(results), expected)
        shards = [json.loads(p.read_text()) for p in sorted(Path(results).glob("shard-*.json"))]
    return _conclude(code, log, shards, args, time.perf_counter() - started, workers)


def _workers(text: str) -> str:
    if text == "auto" or (text.isdigit() and int(text) >= 0):
        return text
    raise InputError("-n/--workers must be a number >= 0 or 'auto', got %r" % text)


def _split(text: str | None) -> list[str] | None:
    from derive.model.network import split_activation_list

    if text is None:
        return None
    parts = split_activation_list(text)
    return [parts] if isinstance(parts, str) else parts


def _network_options(args) -> dict:
    """Network options for the pool, validated here so that a bad one is one line, not a worker crash."""
    from hypothesis.errors import InvalidArgument

    from verify.testing.strategies import network_pool

    flags = {"yes": True, "no": False, "any": None}
    options = {"activations": _split(args.activations), "losses": _split(args.losses), "max_depth": args.max_depth,
               "max_width": args.max_width, "bias": flags[args.bias], "decay": flags[args.decay]}
    options = {key: value for key, value in options.items() if value is not None}
    try:
        network_pool(1, **options)
    except InvalidArgument as exc:
        raise InputError(str(exc).replace("max_depth", "--max-depth").replace("max_width", "--max-width")) from None
    return options


def _check_grad(spec: str, networks: dict) -> str:
    """Import the user's function and try it on two small networks (one with unequal widths, which a transposed
    result cannot fit), so that most bad functions fail here, in one line, before any worker starts."""
    import functools

    import numpy as np

    from derive import init_params
    from verify.check.sources import call_gradient_function, load_function
    from verify.testing.strategies import network_pool

    function = load_function(spec)
    pool = network_pool(20, **networks)
    unequal = [n for n in pool if len(set(n.sizes)) == len(n.sizes)]  # catches transposed or swapped shapes
    rng = np.random.default_rng(0)
    for network in [pool[0]] + unequal[:1]:
        X, T = rng.uniform(0.1, 0.9, (2, network.sizes[0])), rng.uniform(0.1, 0.9, (2, network.sizes[-1]))
        T = T / T.sum(axis=1, keepdims=True) if not network.activations[-1].elementwise else T
        call_gradient_function(functools.partial(function, network), network, init_params(network, seed=0), X, T,
                               name=spec)
    return spec


def _environment(args, grad, networks, results) -> dict:
    from verify.testing.strategies import PROFILE_VARIABLE

    env = dict(os.environ)
    env[PROFILE_VARIABLE] = args.profile or os.environ.get(PROFILE_VARIABLE) or "ci"
    env[ENV + "NETWORKS"] = json.dumps(networks)
    env[ENV + "RESULTS"] = results
    for key, value in (("EXAMPLES", args.examples), ("GRAD", grad), ("SEED", args.seed)):
        if value is None:
            env.pop(ENV + key, None)
        else:
            env[ENV + key] = str(value)
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd()] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _run_pytest(workers: str, env: dict, results: Path, expected: int) -> tuple[int, str]:
    """Run the suite in a child pytest (isolated from the user's pytest configuration), with a progress bar."""
    from tqdm import tqdm

    (results / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "--pyargs", "verify.testing.property_suite", "-c", str(results / "pytest.ini"),
               "--rootdir", str(results), "-p", "no:cacheprovider", "--noconftest", "-q", "-x", "--tb=short", "-rN",
               "--no-header"]
    if workers != "0":
        command += ["-n", workers]
    log_path = results / "pytest.log"
    with open(log_path, "w") as log, tqdm(total=expected, unit="example", desc="proptest", file=sys.stderr,
                                          disable=None, mininterval=0.5) as bar:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        try:
            while child.poll() is None:
                time.sleep(0.2)
                if _progress(results) > bar.n:
                    bar.update(_progress(results) - bar.n)
            bar.update(max(0, _progress(results) - bar.n))
        except KeyboardInterrupt:
            child.terminate()
            child.wait()
            raise
    return child.returncode, log_path.read_text(errors="replace")


def _progress(results: Path) -> int:
    return sum(path.stat().st_size for path in results.glob("progress-*"))


def _conclude(code: int, log: str, shards: list[dict], args, seconds: float, workers: str) -> int:
    errors = [s["input_error"] for s in shards if "input_error" in s]
    if errors:
        raise InputError(errors[0])
    failures = [s["counterexample"] for s in shards if "counterexample" in s]
    if code != 0 and not failures:  # not a counterexample: a crash, an interruption, a collection error
        print(log, file=sys.stderr)
        print("backprop proptest: pytest stopped with exit status %d (see its output above)" % code, file=sys.stderr)
        return code if code > 1 else 1
    print(_summary(shards, args, seconds, workers))
    if failures:  # -x stops the other shards at the first counterexample (pytest then reports "interrupted")
        print("\nFAILED: minimal counterexample\n" + min(failures, key=len))
        return 1
    if sum(s["examples"] for s in shards) == 0:  # nothing ran (e.g. the user's function ended the process)
        print("backprop proptest: no example was checked, so nothing is proven; pytest output:\n" + log, file=sys.stderr)
        return 1
    candidate = "your gradient function %s" % args.grad if args.grad else "the engine"
    print("OK: %s, the generated code and finite differences agree on every example." % candidate)
    return 0


def _summary(shards: list[dict], args, seconds: float, workers: str) -> str:
    from derive import ACTIVATIONS, LOSSES
    from verify.check.report import SOURCES

    examples = sum(s["examples"] for s in shards)
    networks = set().union(*(s["networks"] for s in shards)) if shards else set()
    activations = sorted(set().union(*(s["activations"] for s in shards))) if shards else []
    losses = sorted(set().union(*(s["losses"] for s in shards))) if shards else []
    errors: dict[str, float] = {}
    for shard in shards:
        for pair, value in shard["max_errors"].items():
            errors[pair] = max(errors.get(pair, 0.0), value)
    lines = ["proptest: %s examples on %d architectures in %.1f s (workers: %s)" % (
        format(examples, ","), len(networks), seconds, workers),
        "  %-34s %s (%d of %d registered)" % ("activations covered", ", ".join(activations) or "-",
                                                len(activations), len(ACTIVATIONS)),
        "  %-34s %s (%d of %d registered)" % ("losses covered", ", ".join(losses) or "-", len(losses), len(LOSSES)),
        "  %-34s %d" % ("finite differences flagged at kinks", sum(s["flagged"] for s in shards)),
        "  largest relative error:"]
    for pair, value in sorted(errors.items()):
        first, second = pair.split("-")
        lines.append("    %-32s %.2e" % ("%s vs %s" % (SOURCES[first], SOURCES[second]), value))
    return "\n".join(lines)
