"""The property suite: on random networks, three independent gradients agree.

For networks drawn over every registered activation and every compatible
loss, with and without bias and weight decay (or for one fixed network), and
for parameters and data drawn afresh each time, :func:`verify.check_gradients`
must find the candidate (the engine, or a user's function), the generated code
(the symbolic reference) and finite differences at *every* entry (complex step
where the network is analytic, central differences where it has kinks) in
agreement.

This module is a pytest test module shipped inside the package, so that
``backprop proptest`` can run it on an installed toolkit (``tests/`` imports it
too).  It is configured by environment variables, which pytest-xdist workers
inherit:

``BACKPROP_PROPTEST_EXAMPLES``  total examples over all shards (default by profile:
                                dev 200, ci 2000, thorough 20000)
``BACKPROP_PROPTEST_GRAD``      ``MODULE:FN`` or ``file.py:FN``, called as
                                ``FN(params, X, T)`` (see :mod:`verify.check.sources`);
                                default: the engine
``BACKPROP_PROPTEST_ORDER``     ``2`` to check Hessian-vector products instead (``GRAD`` is then
                                ``FN(params, X, T, V)``, default: the generated ``hvp``), with
                                :func:`verify.check_hvp` along its seeded random direction
``BACKPROP_PROPTEST_SEED``      a seed (otherwise the ``ci`` profile's runs are the same every time)
``BACKPROP_PROPTEST_NETWORK``   JSON of one network (:meth:`derive.Network.to_dict`): the
                                architecture is fixed, only parameters and data are drawn
``BACKPROP_PROPTEST_NETWORKS``  JSON options for :func:`verify.strategies.network_pool`
``BACKPROP_PROPTEST_RESULTS``   a directory for per-shard progress and results

The architectures come from a fixed pool of a few hundred networks, each
structure at several widths, split by structure into :data:`SHARDS` test items
that xdist spreads over cores; each structure is derived and its width-generic
module printed once per process (:func:`verify.check.modules.module_for`
caches it), then checked at each width on many parameter and data draws.  The shards share the examples
exactly (:func:`shard_examples`), each from its own seed.  A failure shows the
minimal network, parameters and data, what kind of bug fits them
(:mod:`verify.check.diagnosis`, run once, on the minimal case), and commands
that reproduce it.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, assume, given, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from derive import InputError, Network
from verify import strategies
from verify.cli import network_options
from verify.check.gradient_check import check_gradients
from verify.check.hvp_check import ZeroProduct, check_hvp, second_order_module
from verify.check.sources import load_function

SHARDS = 8
POOL_SIZE = 300
TOTAL_EXAMPLES = {"dev": 200, "ci": 2000, "thorough": 20000}
ENV = "BACKPROP_PROPTEST_"


def configuration() -> dict:
    """The suite's settings, read from the environment."""
    profile = strategies.profile_name()
    examples = int(os.environ.get(ENV + "EXAMPLES") or TOTAL_EXAMPLES[profile])
    seed = os.environ.get(ENV + "SEED")
    network = os.environ.get(ENV + "NETWORK")
    return {"profile": profile, "examples": examples, "grad": os.environ.get(ENV + "GRAD") or None,
            "seed": int(seed) if seed else None, "networks": json.loads(os.environ.get(ENV + "NETWORKS") or "{}"),
            "network": json.loads(network) if network else None, "results": os.environ.get(ENV + "RESULTS") or None,
            "order": int(os.environ.get(ENV + "ORDER") or 1)}


def shard_examples(total: int, shard: int) -> int:
    """Shard ``shard``'s share of ``total`` examples: the shares differ by at most one and sum to ``total``."""
    return total // SHARDS + (1 if shard < total % SHARDS else 0)


@functools.lru_cache(maxsize=1)
def _pool(options: str) -> list[Network]:
    return strategies.network_pool(POOL_SIZE, **json.loads(options))


def shard_pool(config: dict, shard: int) -> list[Network]:
    """The networks shard ``shard`` draws from: the fixed network, or its slice of the pool.

    The pool is sliced by structure: every width of a structure goes to the
    same shard, so the worker running it derives and prints that structure
    once, and no two workers ever need the same module (there is nothing to
    share between them; printing in the parent and shipping the source would
    only move the same work to one process).  Each slice keeps the pool's
    order, smallest first.
    """
    if config["network"] is not None:
        return [Network.from_dict(config["network"])]
    pool = _pool(json.dumps(config["networks"], sort_keys=True))
    structures = list(dict.fromkeys(network.structure for network in pool))
    mine = set(structures[shard::SHARDS])
    return [network for network in pool if network.structure in mine]


@functools.lru_cache(maxsize=1024)
def _params(network: Network):
    """The parameter strategy of ``network``, built (and validated by Hypothesis) once, not per example."""
    return strategies.params(network)


@functools.lru_cache(maxsize=1024)
def _data(network: Network):
    """The data strategy of ``network``, built once."""
    return strategies.data(network)


@functools.lru_cache(maxsize=1)
def _user_function(spec: str):
    return load_function(spec)


class Stats:
    """What one shard covered, as plain data for the ``backprop proptest`` summary.

    ``examples`` counts the examples checked up to and including the first
    failing one; ``shrinks`` the smaller variants of it checked afterwards
    while Hypothesis shrank it.  The largest errors cover them all.
    """

    def __init__(self, shard: int, results: str | None):
        self.shard, self.examples, self.networks, self.activations, self.losses = shard, 0, set(), set(), set()
        self.max_errors: dict[str, float] = {}
        self.max_ratios: dict[str, float] = {}
        self.flagged = self.shrinks = 0
        self.failure: tuple | None = None
        self.input_error: str | None = None
        self.progress = Path(results, "progress-%d" % shard) if results else None

    def add(self, network: Network, report) -> None:
        if self.failure is None:
            self.examples += 1
            self.networks.add(network.describe())
            self.activations.update(network.activation_names)
            self.losses.add(network.loss.name)
            self.flagged += report.agreements[2].flagged
        else:
            self.shrinks += 1
        for pair, value in report.max_errors().items():
            self.max_errors[pair] = max(self.max_errors.get(pair, 0.0), value)
        for agreement in report.agreements:
            pair = "%s-%s" % (agreement.first, agreement.second)
            self.max_ratios[pair] = max(self.max_ratios.get(pair, 0.0), agreement.max_ratio)
        if self.progress and self.failure is None:
            with open(self.progress, "a") as stream:
                stream.write(".")

    def to_dict(self, **extra) -> dict:
        return {"shard": self.shard, "examples": self.examples, "networks": sorted(self.networks),
                "activations": sorted(self.activations), "losses": sorted(self.losses),
                "max_errors": self.max_errors, "max_ratios": self.max_ratios, "flagged": self.flagged,
                "shrinks": self.shrinks, "failed": self.failure is not None, **extra}


def counterexample(network: Network, params: dict, X, T, report, config: dict) -> str:
    """The failure message: the minimal case, the report, and commands that reproduce it."""
    def literal(array):
        return "np.array(%r)" % (np.asarray(array).tolist(),)

    params_text = "{%s}" % ", ".join("%r: %s" % (name, literal(value)) for name, value in params.items())
    command = " ".join(["backprop proptest"] + command_options(config))
    call = "check_gradients(network, params, X, T%s)" % (", load_function(%r)" % config["grad"] if config["grad"]
                                                        else "")
    if config.get("order") == 2:
        call = "check_hvp(network, params, X, T, %s)" % ("load_function(%r)" % config["grad"] if config["grad"] else
                                                          "derive(network).numpy_module(order=2).hvp")
    return "\n".join([
        "%s disagree on %s" % ("products H V" if config.get("order") == 2 else "gradients", network.describe()),
        "  network = Network.from_dict(%r)" % network.to_dict(),
        "  params = %s" % params_text,
        "  X = %s" % literal(X),
        "  T = %s" % literal(T),
        "", str(report), "",
        "Reproduce the search:  %s" % command,
        "Reproduce this case:   python - <<'EOF'",
        "import numpy as np",
        "from derive import Network, derive",
        "from verify import check_gradients, check_hvp",
        "from verify.check.sources import load_function",
        "network = Network.from_dict(%r)" % network.to_dict(),
        "params = %s" % params_text, "X = %s" % literal(X), "T = %s" % literal(T),
        "print(%s)" % call, "EOF"])


def command_options(config: dict) -> list[str]:
    """The ``backprop proptest`` arguments that select the same search as ``config``."""
    words = {True: "yes", False: "no"}
    options = []
    if config["network"] is not None:
        network = Network.from_dict(config["network"])
        options += ["-".join(map(str, network.sizes))] + network_options(network)
    options.append("--examples %d" % config["examples"])
    if config["grad"]:
        options.append("--%s %s" % ("hvp" if config.get("order") == 2 else "grad", config["grad"]))
    elif config.get("order") == 2:
        options.append("--order 2")
    for key, value in sorted(config["networks"].items()):
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            options.append("%s %s" % (flag, words[value]))
        elif isinstance(value, list):
            options.append("%s %s" % (flag, ",".join(value)))
        else:
            options.append("%s %s" % (flag, value))
    if config["seed"] is not None:
        options.append("--seed %d" % config["seed"])
    return options


def run_check(network: Network, params: dict, X, T, config: dict, diagnose: bool = True):
    """The three-way check of one case, every entry also against finite differences (the networks are small)."""
    gradient_fn = _user_function(config["grad"]) if config["grad"] else None
    if config.get("order") == 2:  # the generated hvp as candidate by default: derivation against the differences
        hvp_fn = gradient_fn or functools.partial(_generated_hvp, network)
        try:
            return check_hvp(network, params, X, T, hvp_fn, worst=3, diagnose=diagnose,
                             candidate_name=None if gradient_fn else "the generated hvp")
        except ZeroProduct:  # a draw where the product is zero along the direction says nothing: draw another
            assume(False)
    return check_gradients(network, params, X, T, gradient_fn, samples=network.n_params, worst=3, directions=1,
                           diagnose=diagnose)


def _generated_hvp(network: Network, params: dict, X, T, V) -> dict:
    return second_order_module(network).hvp(params, X, T, V)


def check_case(network: Network, params: dict, X, T, config: dict):
    """Run the three-way check on one case; raise AssertionError with the counterexample if it fails."""
    report = run_check(network, params, X, T, config)
    if not report.ok:
        raise AssertionError(counterexample(network, params, X, T, report, config))
    return report


def build_property(shard: int, config: dict, stats: Stats):
    """The Hypothesis test for one shard: networks from :func:`shard_pool`, fresh params and data.

    Each shard has its own seed (derived from ``--seed``, or 0 where the
    profile asks for the same examples every run), so shards never repeat
    each other's draws, even on one fixed network.
    """
    pool = shard_pool(config, shard)
    profile = strategies.profile_settings(config["profile"])
    options = dict(max_examples=max(1, shard_examples(config["examples"], shard)), database=None,  # no .hypothesis/
                   phases=[phase for phase in profile.phases if phase != Phase.explain])  # the report explains
    fixed_seed = config["seed"] if config["seed"] is not None else (0 if profile.derandomize else None)
    if fixed_seed is not None:
        options["derandomize"] = False

    @settings(profile, **options)
    @given(network=st.sampled_from(pool), draw=st.data())
    def gradients_agree(network, draw):
        if stats.input_error:
            return  # bad input is reported once, as it is: there is nothing to shrink
        params = draw.draw(_params(network), label="params")
        X, T = draw.draw(_data(network), label="X, T")
        try:
            report = run_check(network, params, X, T, config, diagnose=False)  # diagnosed once, on the minimal case
        except InputError as exc:
            stats.input_error = str(exc)
            return
        stats.add(network, report)
        if not report.ok:
            stats.failure = (network, params, X, T)  # the last one is the minimal case Hypothesis replays
            raise AssertionError("gradients disagree on %s" % network.describe())

    if fixed_seed is not None:
        gradients_agree = hypothesis_seed(fixed_seed * SHARDS + shard)(gradients_agree)
    return gradients_agree, shard_examples(config["examples"], shard)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_code_engine_and_finite_differences_agree(shard):
    config = configuration()
    stats = Stats(shard, config["results"])
    prop, expected = build_property(shard, config, stats)
    outcome = {}
    try:
        if expected:
            prop()
        if stats.input_error:  # from a user's function: bad input, exit 2 from backprop proptest
            outcome["input_error"] = stats.input_error
            raise InputError(stats.input_error)
    except AssertionError as exc:
        if stats.failure is None:
            raise
        minimal = counterexample_of(stats.failure, config)
        outcome["counterexample"] = minimal
        raise AssertionError(minimal) from exc
    finally:
        if config["results"]:
            Path(config["results"], "shard-%d.json" % shard).write_text(json.dumps(stats.to_dict(**outcome)))
    assert stats.examples == expected, "Hypothesis ran %d examples, not the %d asked for" % (stats.examples, expected)


def counterexample_of(case: tuple, config: dict) -> str:
    """The counterexample message for the minimal failing ``case``, with the diagnosis of its bug."""
    try:
        check_case(*case, config)
    except AssertionError as exc:
        return str(exc)
    return "the minimal case %s passed when checked again: the candidate is not deterministic" % (case[0].describe(),)
