"""Property-test gradients: on random parameters and data, the generated code, a candidate and finite differences must agree.

Runs the property suite (:mod:`verify.testing.property_suite`) through pytest, spread
over cores with pytest-xdist.  The candidate is the toolkit's own engine, or
your gradient function given as ``--grad MODULE:FUNCTION`` or
``--grad path/to/file.py:FUNCTION``, called as ``FUNCTION(params, X, T)`` and
returning ``{"W1": dW1, "b1": db1, ...}``.

With SPEC (and ``--activation``, ``--loss``, ``--reduction``, ``--no-bias``,
``--weight-decay``, ``--l1``) the architecture is fixed and only parameters and
data are drawn: the way to test a function written for one network.  Without
SPEC the networks are drawn too, and your function must take a parameter named
``network`` (the :class:`derive.Network` to compute); restrict the networks to
what it supports with ``--activations``, ``--losses``, ``--reduction``,
``--max-depth``, ``--max-width``, ``--bias`` and ``--decay``.

The run checks exactly ``--examples`` examples and is deterministic (the same
examples every time) unless ``--seed`` picks another sequence.  Exit status: 0
when every example agrees; 1 with the minimal counterexample (network,
parameters, data, what kind of bug fits it, and commands that reproduce it)
when one does not; 2 for bad input, including a gradient function that cannot
be imported, raises, or returns the wrong keys, shapes, dtype or NaN.

Examples::

    backprop proptest --examples 2000 -n auto
    backprop proptest 3-4-2 --activation tanh,sigmoid --grad mlp.py:gradients
    backprop proptest --grad mybackprop.py:gradients --activations sigmoid,tanh --losses sse
    backprop proptest 3-4-2 --activation tanh,sigmoid --hvp mlp.py:hvp

With ``--hvp MODULE:FN`` (or ``--order 2`` for the derivation's own ``hvp``)
Hessian-vector products are checked instead, ``FN(params, X, T, V)``, each
example along the seeded random direction of :func:`verify.check_hvp`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from derive import InputError

from . import add_network_arguments, given_network_options, network_from_args

ENV = "BACKPROP_PROPTEST_"
#: The options that restrict random networks, and their defaults.
POOL_OPTIONS = {"activations": None, "losses": None, "max_depth": 3, "max_width": 4, "bias": "any", "decay": "any"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, spec_help="fix the architecture (sizes such as 3-4-2, or a .yaml/.json spec "
                          "file): only parameters and data are drawn; default: random networks too")
    parser.add_argument("--examples", type=int, metavar="N",
                        help="examples in all (default by profile: dev 200, ci 2000, thorough 20000)")
    parser.add_argument("--grad", metavar="MODULE:FN", help="your gradient function, FN(params, X, T) -> dict "
                        "(MODULE importable from here, or path/to/file.py:FN); without SPEC it needs a parameter "
                        "named network; default: the engine")
    parser.add_argument("--hvp", metavar="MODULE:FN", help="your Hessian-vector product, FN(params, X, T, V) -> "
                        "dict, checked instead of gradients (implies --order 2)")
    parser.add_argument("--order", type=int, choices=(1, 2), help="2: check Hessian-vector products (yours with "
                        "--hvp, else the generated hvp) against the derivation and differences of the engine")
    parser.add_argument("-n", "--workers", default="auto", metavar="WORKERS",
                        help="parallel worker processes (pytest-xdist): a number, or 'auto' for one per core "
                             "(default); 0 for none (one process)")
    parser.add_argument("--seed", type=int, metavar="S", help="search another random sequence (default: derandomized)")
    parser.add_argument("--profile", choices=("dev", "ci", "thorough"), help="hypothesis settings profile "
                        "(default: $BACKPROP_HYPOTHESIS_PROFILE, else ci)")
    parser.add_argument("--activations", metavar="LIST", help="comma-separated activations to draw from (default: all)")
    parser.add_argument("--losses", metavar="LIST", help="comma-separated losses to draw from (default: all compatible)")
    parser.add_argument("--max-depth", type=int, metavar="L", help="deepest network drawn (default 3)")
    parser.add_argument("--max-width", type=int, metavar="W", help="widest layer drawn (default 4)")
    parser.add_argument("--bias", choices=("yes", "no", "any"), help="layers with biases (default any)")
    parser.add_argument("--decay", choices=("yes", "no", "any"), help="weight decay (default any)")


def run(args: argparse.Namespace) -> int:
    for module in ("pytest", "xdist"):
        if importlib.util.find_spec(module) is None:
            raise InputError("backprop proptest needs pytest and pytest-xdist; install them with "
                             "pip install 'backprop[test]'")
    if args.examples is not None and args.examples < 1:
        raise InputError("--examples must be at least 1, got %d" % args.examples)
    workers = _workers(args.workers)
    fixed = _fixed_network(args)
    networks = {} if fixed is not None else _network_options(args)
    if args.hvp and args.grad:
        raise InputError("give --grad FN (gradients) or --hvp FN (Hessian-vector products), not both")
    if args.order == 1 and args.hvp:
        raise InputError("--hvp checks second-order products: drop --order 1")
    order = 2 if args.hvp else args.order or 1
    if order == 2 and args.grad:
        raise InputError("--order 2 checks Hessian-vector products: give yours as --hvp FN, not --grad")
    spec = args.hvp or args.grad
    grad = _check_grad(spec, fixed, networks, order) if spec else None
    with tempfile.TemporaryDirectory(prefix="backprop-proptest-") as results:
        env = _environment(args, grad, fixed, networks, results)
        env[ENV + "ORDER"] = str(order)
        from verify.testing.property_suite import TOTAL_EXAMPLES

        total = args.examples or TOTAL_EXAMPLES[env["BACKPROP_HYPOTHESIS_PROFILE"]]
        started = time.perf_counter()
        code, log = _run_pytest(workers, env, Path(results), total)
        shards = [json.loads(p.read_text()) for p in sorted(Path(results).glob("shard-*.json"))]
    return _conclude(code, log, shards, args, time.perf_counter() - started, workers, fixed)


def _workers(text: str) -> str:
    """``-n``, capped at the number of cores this process may use (more would only compete for them)."""
    if text == "auto" or text == "0":
        return text
    if not text.isdigit():
        raise InputError("-n/--workers must be a number >= 0 or 'auto', got %r" % text)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if int(text) > cores:
        print("backprop proptest: note: -n %s is more workers than the %d core%s this process may use; using %d"
              % (text, cores, "s" if cores > 1 else "", cores), file=sys.stderr)
        return str(cores)
    return text


def _fixed_network(args):
    """The network SPEC fixes, or None; refuses options that belong to the other mode."""
    pool_given = ["--" + key.replace("_", "-") for key in POOL_OPTIONS if getattr(args, key) is not None]
    if args.spec is not None:
        if pool_given:
            raise InputError("%s restricts random networks, but SPEC fixes the architecture; drop one of them"
                             % pool_given[0])
        return network_from_args(args)
    given = given_network_options(args, ("--activation", "--loss", "--no-bias", "--weight-decay", "--l1"))
    if given:
        raise InputError("%s describes a fixed network and needs SPEC (e.g. backprop proptest 3-4-2 %s ...); to "
                         "restrict random networks use --activations, --losses, --bias, --decay" % (given[0], given[0]))
    return None


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
    chosen = {key: default if getattr(args, key) is None else getattr(args, key) for key, default in POOL_OPTIONS.items()}
    options = {"activations": _split(chosen["activations"]), "losses": _split(chosen["losses"]),
               "max_depth": chosen["max_depth"], "max_width": chosen["max_width"], "bias": flags[chosen["bias"]],
               "decay": flags[chosen["decay"]], "reduction": args.reduction}
    options = {key: value for key, value in options.items() if value is not None}
    try:
        network_pool(1, **options)
    except InvalidArgument as exc:
        raise InputError(str(exc).replace("max_depth", "--max-depth").replace("max_width", "--max-width")) from None
    return options


def _check_grad(spec: str, fixed, networks: dict, order: int = 1) -> str:
    """Import the user's function and try it: on the fixed network, or on two small random ones (one with
    unequal widths), so that most bad functions fail here, in one line, before any worker starts."""
    from verify.check.inputs import random_data, random_params
    from verify.check.candidates import call_gradient_function
    from verify.check.sources import calling_form, load_function
    from verify.testing.strategies import network_pool

    option = "--hvp" if order == 2 else "--grad"
    function = load_function(spec, option)
    if fixed is None and not calling_form(function).network:
        raise InputError("%s %s has no parameter named network, so it computes one architecture: give that "
                         "architecture as SPEC (backprop proptest 3-4-2 ... %s %s), or add a parameter named "
                         "network to check it on random networks" % (option, spec, option, spec))
    if fixed is not None:
        trials = [fixed]
    else:
        pool = network_pool(20, **networks)
        trials = [pool[0]] + [n for n in pool if len(set(n.sizes)) == len(n.sizes)][:1]
    for network in trials:
        params = random_params(network, 0)
        direction = params if order == 2 else None  # any params-shaped dict will do for a trial call
        call_gradient_function(function, network, params, *random_data(network, 2, 0), name=spec, direction=direction,
                               what="hvp function" if order == 2 else "gradient function")
    return spec


def _environment(args, grad, fixed, networks, results) -> dict:
    from verify.testing.strategies import PROFILE_VARIABLE

    env = dict(os.environ)
    env[PROFILE_VARIABLE] = args.profile or os.environ.get(PROFILE_VARIABLE) or "ci"
    env[ENV + "NETWORKS"] = json.dumps(networks)
    if fixed is not None:
        env[ENV + "NETWORK"] = json.dumps(fixed.to_dict())
    else:
        env.pop(ENV + "NETWORK", None)
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


def _conclude(code: int, log: str, shards: list[dict], args, seconds: float, workers: str, fixed) -> int:
    errors = [s["input_error"] for s in shards if "input_error" in s]
    if errors:
        raise InputError(errors[0])
    failures = [s["counterexample"] for s in shards if "counterexample" in s]
    if code != 0 and not failures:  # not a counterexample: a crash, an interruption, a collection error
        print(log, file=sys.stderr)
        print("backprop proptest: pytest stopped with exit status %d (see its output above)" % code, file=sys.stderr)
        return code if code > 1 else 1
    print(_summary(shards, seconds, workers, fixed))
    if failures:  # -x stops the other shards at the first counterexample (pytest then reports "interrupted")
        print("\nFAILED: minimal counterexample\n" + min(failures, key=len))
        return 1
    if sum(s["examples"] for s in shards) == 0:  # nothing ran (e.g. the user's function ended the process)
        print("backprop proptest: no example was checked, so nothing is proven; pytest output:\n" + log, file=sys.stderr)
        return 1
    if args.hvp or args.order == 2:
        print("OK: %s, the generated hvp and differences of the engine's gradients agree on every example."
              % ("your hvp function %s" % args.hvp if args.hvp else "the derivation's H V:"))
        return 0
    candidate = "your gradient function %s" % args.grad if args.grad else "the engine"
    print("OK: %s, the generated code and finite differences agree on every example." % candidate)
    return 0


def _summary(shards: list[dict], seconds: float, workers: str, fixed) -> str:
    from derive import ACTIVATIONS, LOSSES
    from verify.check.report import SOURCES

    examples = sum(s["examples"] for s in shards)
    shrinks = sum(s["shrinks"] for s in shards)
    networks = set().union(*(s["networks"] for s in shards)) if shards else set()
    activations = sorted(set().union(*(s["activations"] for s in shards))) if shards else []
    losses = sorted(set().union(*(s["losses"] for s in shards))) if shards else []
    errors: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for shard in shards:
        for pair, value in shard["max_errors"].items():
            errors[pair] = max(errors.get(pair, 0.0), value)
        for pair, value in shard["max_ratios"].items():
            ratios[pair] = max(ratios.get(pair, 0.0), value)
    where = fixed.describe() if fixed else "%d architectures" % len(networks)
    lines = ["proptest: %s examples on %s in %.1f s (workers: %s)" % (format(examples, ","), where, seconds, workers)]
    if any(s["failed"] for s in shards):
        lines.append("  the last example failed; %s smaller variants of it were checked while shrinking it"
                     % format(shrinks, ","))
    if fixed is None:
        lines += ["  %-34s %s (%d of %d registered)" % ("activations covered", ", ".join(activations) or "-",
                                                        len(activations), len(ACTIVATIONS)),
                  "  %-34s %s (%d of %d registered)" % ("losses covered", ", ".join(losses) or "-", len(losses),
                                                        len(LOSSES))]
    lines += ["  %-34s %d" % ("finite differences flagged at kinks", sum(s["flagged"] for s in shards)),
              "  %-42s %10s %12s" % ("largest error over every example checked:", "relative", "of allowed")]
    for pair, value in sorted(errors.items()):
        first, second = pair.split("-")
        lines.append("    %-40s %10.2e %12.2g" % ("%s vs %s" % (SOURCES[first], SOURCES[second]), value,
                                                  ratios.get(pair, 0.0)))
    lines += ["  (relative: to the size of the entry; of allowed: as a fraction of the error the pair's tolerance",
              "  allows, so 1 or less agrees. Finite differences approximate: they are allowed their method's",
              "  tolerance plus twice their own error estimate, hence their larger relative errors.)"]
    return "\n".join(lines)
