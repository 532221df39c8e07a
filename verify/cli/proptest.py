"""Property-test gradients: on random parameters and data, the generated code, a candidate and finite differences must agree.

Runs the property suite (:mod:`verify.testing.property_suite`) through pytest, spread
over cores with pytest-xdist (with ``-n 0`` and the toolkit's own candidate, in
this process).  The candidate is the toolkit's own engine, or
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
examples every time, for the seed the summary shows) unless ``--seed`` picks
another sequence.  Exit status: 0 when every example agrees; 1 with the minimal
counterexample (network, parameters, data, what kind of bug fits it, and
commands that reproduce it) when one does not; 2 for bad input, including a
gradient function that cannot be imported, raises, or returns the wrong keys,
shapes, dtype or NaN (on some example: that example is saved, with the
``backprop check`` command that reproduces it).

At scale (docs/property-testing-at-scale.md): ``--shard K/N`` runs the K-th of
N disjoint parts of the same run and ``--json`` prints its result as JSON;
``--merge RESULT.json ...`` merges the shards into one verdict (exit 1 if any
disagreed, 2 if they are not the shards of one run); ``--dask ADDRESS`` runs the
parts as tasks on a Dask scheduler, ``--dask local:W`` on a local cluster of W
workers; ``--database DIR`` keeps Hypothesis' failing examples there, replayed
first next time.

Examples::

    backprop proptest --examples 2000 -n auto
    backprop proptest 3-4-2 --activation tanh,sigmoid --grad mlp.py:gradients
    backprop proptest --grad mybackprop.py:gradients --activations sigmoid,tanh --losses sse
    backprop proptest 3-4-2 --activation tanh,sigmoid --hvp mlp.py:hvp
    backprop proptest --examples 1000000 --shard 3/16 --json > shard-3.json
    backprop proptest --merge shard-*.json
    backprop proptest --examples 100000 --dask tcp://scheduler:8786

With ``--hvp MODULE:FN`` (or ``--order 2`` for the derivation's own ``hvp``)
Hessian-vector products are checked instead, ``FN(params, X, T, V)``, each
example along the seeded random direction of :func:`verify.check_hvp`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import sys
import time
from pathlib import Path

from derive import InputError

from verify.check.layouts import EXAMPLES

from .options import (add_function_options, add_json_option, add_labels_option, add_layout_options,
                      add_network_arguments, add_order_option, add_seed_option, given_network_options,
                      layout_flags_given, layout_from_args, network_from_args, refuse_layout_without_function)

#: The options that restrict random networks: flag -> (attribute, default).
POOL_FLAGS = {"--activations": ("activations", None), "--losses": ("losses", None), "--max-depth": ("max_depth", 3),
              "--max-width": ("max_width", 4), "--bias": ("pool_bias", "any"), "--decay": ("decay", "any")}
#: The options of a run, refused with --merge (which takes only result files).
RUN_OPTIONS = ("spec", "examples", "grad", "hvp", "order", "workers", "seed", "profile", "shard", "dask", "database")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser, spec_help="fix the architecture (sizes such as 3-4-2, or a .yaml/.json spec "
                          "file): only parameters and data are drawn; default: random networks too")
    parser.add_argument("--examples", type=_count, metavar="N",
                        help="examples in all (default by profile: dev 200, ci 2000, thorough 20000)")
    add_function_options(parser, grad="; without SPEC it needs a parameter named network; default: the engine",
                         hvp="; checked instead of gradients (implies --order 2)")
    add_order_option(parser, "check Hessian-vector products (yours with --hvp, else the generated hvp) against the "
                     "derivation and differences of the engine", default=None)
    parser.add_argument("-n", "--workers", metavar="WORKERS",
                        help="parallel worker processes on this machine (pytest-xdist): a number, or 'auto' for one "
                             "per core (default); 0 for none (one process; your function runs in a child process)")
    add_seed_option(parser, "the random sequence searched", default=None, default_text="default: 0 under the ci "
                    "profile, a new one each run under dev and thorough; the summary shows it")
    parser.add_argument("--profile", choices=("dev", "ci", "thorough"), help="hypothesis settings profile "
                        "(default: $BACKPROP_HYPOTHESIS_PROFILE, else ci)")
    parser.add_argument("--activations", metavar="LIST", help="comma-separated activations to draw from (default: all)")
    parser.add_argument("--losses", metavar="LIST", help="comma-separated losses to draw from (default: all compatible)")
    parser.add_argument("--max-depth", type=int, metavar="L", help="deepest network drawn (default 3)")
    parser.add_argument("--max-width", type=int, metavar="W", help="widest layer drawn (default 4)")
    parser.add_argument("--bias", dest="pool_bias", choices=("yes", "no", "any"),
                        help="random networks with biases, without, or either (default any)")
    parser.add_argument("--decay", choices=("yes", "no", "any"), help="weight decay (default any)")
    add_labels_option(parser, "the targets your function is given (each example's likeliest class)")
    parser.add_argument("--one-hot", action="store_true",
                        help="a softmax output's targets given to your function as one-hot rows only (each "
                             "example's likeliest class), for code that takes the class as T.argmax(1); by default "
                             "soft probability rows are drawn too")
    add_layout_options(parser)
    scale = parser.add_argument_group("at scale (docs/property-testing-at-scale.md)")
    scale.add_argument("--shard", metavar="K/N", help="run the K-th of N disjoint parts of the run; the N shards "
                       "together run exactly the examples of the whole run")
    add_json_option(scale, "the result", "for --merge")
    scale.add_argument("--merge", nargs="+", metavar="RESULT.json", help="merge the --json results of the shards of "
                       "one run into one verdict")
    scale.add_argument("--dask", metavar="ADDRESS", help="run the parts as tasks on the Dask scheduler at ADDRESS "
                       "(tcp://host:8786), or on a local cluster of W workers (local:W); needs "
                       "pip install 'backprop[dask]'")
    scale.add_argument("--database", metavar="DIR", help="keep Hypothesis' failing examples in DIR (shared by the "
                       "shards), replayed first next time; default: none")


def _count(text: str) -> int:
    """``--examples N``: a count (the layout of examples is ``--examples-as``, as in ``backprop check``)."""
    if text.strip() in EXAMPLES:
        raise argparse.ArgumentTypeError("here --examples is how many examples to run; for examples as %s give "
                                         "--examples-as %s" % (text.strip(), text.strip()))
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of examples, got %r" % text) from None


def run(args: argparse.Namespace) -> int:
    if args.merge:
        return _merge(args)
    from verify.testing.results import shard_result
    from verify.testing.runs import Execution

    if args.dask is not None and args.workers is not None:
        raise InputError("-n sets the workers on this machine; with --dask the cluster's workers run the parts")
    shard = _shard(args.shard)
    run_ = property_run(args, sharded=shard[1] > 1)
    run_.shard(*shard)  # more shards than parts: one line now, not after the work
    execution = Execution(shard, database=_database(args.database), directory=os.getcwd())
    started = time.perf_counter()
    try:
        parts, workers = _execute(run_, execution, args)
    except _PytestStopped as stopped:
        return stopped.status
    return _report(shard_result(run_, shard, parts, time.perf_counter() - started, workers), args.json)


class _PytestStopped(Exception):
    """The child pytest stopped without a verdict (a crash, an interruption); its output has been printed."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _execute(run_, execution, args) -> tuple[list[dict], str]:
    """Run the shard: on Dask, in this process (one worker, the toolkit's own candidate), or in a child pytest
    (with pytest-xdist workers); the parts' results and how they ran."""
    if args.dask is not None:
        from verify.testing.distributed import run_on_dask

        return run_on_dask(run_, execution, args.dask), "dask %s" % args.dask
    from verify.testing.local import run_here, run_with_pytest

    workers = _workers(args.workers)
    if workers == "0" and run_.candidate is None:  # nothing of the user's runs: no child process needed
        return run_here(run_, execution), workers
    for module in ("pytest", "xdist"):
        if importlib.util.find_spec(module) is None:
            raise InputError("backprop proptest needs pytest and pytest-xdist to run your function in worker "
                             "processes; install them with pip install 'backprop[test]'")
    local = run_with_pytest(run_, execution, workers)
    if local.status != 0 and not any(p["counterexample"] or p["input_error"] for p in local.parts):
        print(local.log, file=sys.stderr)  # not a counterexample: a crash, an interruption, a collection error
        print("backprop proptest: pytest stopped with exit status %d (see its output above)" % local.status,
              file=sys.stderr)
        raise _PytestStopped(local.status if local.status > 1 else 1)
    return local.parts, workers


def _report(document: dict, as_json: bool) -> int:
    """Print a result (a shard's or merged) as JSON or as the summary and verdict; its exit status."""
    from verify.testing.results import EXIT_STATUS, summary, verdict_line

    if as_json:
        print(json.dumps(document, indent=1))
    if document["input_errors"]:  # bad input: one line on stderr (after the JSON, which has it too), exit 2
        raise InputError(document["input_errors"][0])
    if not as_json:
        print(summary(document))
        print(("\n" if document["counterexamples"] else "") + verdict_line(document))
    return EXIT_STATUS[document["verdict"]]


def _merge(args) -> int:
    from verify.testing.results import merge, read_results

    given = [name for name in RUN_OPTIONS if getattr(args, name) is not None]
    given += [flag for flag, (attribute, _) in POOL_FLAGS.items() if getattr(args, attribute) is not None]
    given += given_network_options(args) + layout_flags_given(args) + (["--labels"] if args.labels else [])
    given += ["--one-hot"] if args.one_hot else []
    if given:
        flag = given[0] if given[0].startswith("--") else "--" + given[0].replace("_", "-")
        raise InputError("--merge takes only result files (and --json), not %s" % ("SPEC" if flag == "--spec"
                                                                                   else flag))
    return _report(merge(read_results(args.merge)), args.json)


def _shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return (1, 1)
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise InputError("--shard takes K/N with 1 <= K <= N (the K-th of N shards), got %r" % text)
    return int(match.group(1)), int(match.group(2))


def _database(text: str | None) -> str | None:
    if text is None:
        return None
    folder = Path(text).expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError("--database %s: cannot create the directory: %s" % (text, exc.strerror or exc)) from None
    if not os.access(folder, os.W_OK):
        raise InputError("--database %s: the directory is not writable" % text)
    return str(folder)


def property_run(args: argparse.Namespace, sharded: bool = False):
    """The :class:`~verify.testing.runs.PropertyRun` the options describe, its candidate tried first.

    Raises:
        InputError: options that contradict each other, a bad network option or candidate, or a shard of a run
            whose examples would differ between shards.
    """
    from verify.testing.runs import TOTAL_EXAMPLES, PropertyRun
    from verify.testing.profiles import PROFILE_VARIABLE, profile_settings

    if args.examples is not None and args.examples < 1:
        raise InputError("--examples must be at least 1, got %d" % args.examples)
    fixed = _fixed_network(args)
    networks = {} if fixed is not None else _network_options(args)
    if args.hvp and args.grad:
        raise InputError("give --grad FN (gradients) or --hvp FN (Hessian-vector products), not both")
    if args.order == 1 and args.hvp:
        raise InputError("--hvp checks second-order products: drop --order 1")
    order = 2 if args.hvp else args.order or 1
    if order == 2 and args.grad:
        raise InputError("--order 2 checks Hessian-vector products: give yours as --hvp FN, not --grad")
    profile = args.profile or os.environ.get(PROFILE_VARIABLE, "").strip() or "ci"
    if profile not in TOTAL_EXAMPLES:
        raise InputError("%s=%s is not a profile; choose one of: %s" % (PROFILE_VARIABLE, profile,
                                                                       ", ".join(TOTAL_EXAMPLES)))
    seed = args.seed
    if seed is None and profile_settings(profile).derandomize:
        seed = 0
    elif seed is None and sharded:
        raise InputError("--shard needs the same examples in every shard: give --seed S (the %s profile draws new "
                         "examples every run)" % profile)
    elif seed is None:
        seed = random.randrange(2 ** 31)
    candidate = args.hvp or args.grad
    refuse_layout_without_function(args)
    if args.labels and not candidate:
        raise InputError("--labels gives your function class labels as targets: it goes with --grad or --hvp")
    if args.one_hot and (args.labels or not candidate):
        raise InputError("--one-hot gives your function one-hot targets: it goes with --grad or --hvp, and not with "
                         "--labels (class labels already)")
    if args.one_hot and fixed is not None and fixed.activations[-1].elementwise:
        raise InputError("--one-hot gives a softmax output's targets as one-hot rows; this network's output is %s, "
                         "whose targets are values it can take" % fixed.activations[-1].name)
    layout = layout_from_args(args)
    if candidate:
        _check_grad(candidate, fixed, networks, order, layout, args.labels)
    return PropertyRun(examples=args.examples or TOTAL_EXAMPLES[profile], profile=profile, seed=seed,
                       network=fixed.to_dict() if fixed is not None else None, networks=networks,
                       candidate=candidate, order=order, layout=layout.to_dict(), labels=args.labels,
                       one_hot=args.one_hot)


def _workers(text: str | None) -> str:
    """``-n``, capped at the number of cores this process may use (more would only compete for them)."""
    if text is None or text == "auto" or text == "0":
        return text or "auto"
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
    pool_given = [flag for flag, (attribute, _) in POOL_FLAGS.items() if getattr(args, attribute) is not None]
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
    chosen = {attribute: default if getattr(args, attribute) is None else getattr(args, attribute)
              for attribute, default in POOL_FLAGS.values()}
    options = {"activations": _split(chosen["activations"]), "losses": _split(chosen["losses"]),
               "max_depth": chosen["max_depth"], "max_width": chosen["max_width"], "bias": flags[chosen["pool_bias"]],
               "decay": flags[chosen["decay"]], "reduction": args.reduction}
    defaults = {"max_depth": POOL_FLAGS["--max-depth"][1], "max_width": POOL_FLAGS["--max-width"][1]}
    options = {key: value for key, value in options.items() if value is not None and value != defaults.get(key)}
    try:
        network_pool(1, **options)
    except InvalidArgument as exc:
        raise InputError(str(exc).replace("max_depth", "--max-depth").replace("max_width", "--max-width")) from None
    return options


def _check_grad(spec: str, fixed, networks: dict, order: int, layout, labels: bool) -> str:
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
        call_gradient_function(function, network, params, *random_data(network, 2, 0, labels=labels), name=spec,
                               direction=direction, what="hvp function" if order == 2 else "gradient function",
                               layout=layout)
    return spec
