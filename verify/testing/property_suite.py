"""The property suite: on random networks, three independent gradients agree.

For networks drawn over every registered activation and every compatible
loss, with and without bias and weight decay, and for parameters and data
drawn afresh each time, :func:`verify.check_gradients` must find the candidate
(the engine, or a user's function), the generated code (the symbolic
reference) and finite differences at *every* entry (complex step where the
network is analytic, central differences where it has kinks) in agreement.

This module is a pytest test module shipped inside the package, so that
``backprop proptest`` can run it on an installed toolkit (``tests/`` imports it
too).  It is configured by environment variables, which pytest-xdist workers
inherit:

``BACKPROP_PROPTEST_EXAMPLES``  total examples over all shards (default by profile:
                                dev 200, ci 2000, thorough 20000)
``BACKPROP_PROPTEST_GRAD``      ``MODULE:FN`` or ``file.py:FN``, called as
                                ``FN(network, params, X, T)``; default: the engine
``BACKPROP_PROPTEST_SEED``      a seed (otherwise the ``ci`` profile derandomizes)
``BACKPROP_PROPTEST_NETWORKS``  JSON options for :func:`verify.strategies.network_pool`
``BACKPROP_PROPTEST_RESULTS``   a directory for per-shard progress and results

The architectures come from a fixed pool of a few hundred networks, split into
:data:`SHARDS` test items that xdist spreads over cores; each architecture is
derived once per process (:func:`verify.check.reference_module` caches it) and
then checked on many parameter and data draws.  A failure shows the minimal
network, parameters and data and a command that reproduces it.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, seed as hypothesis_seed, settings
from hypothesis import strategies as st

from derive import InputError, Network
from verify import strategies
from verify.check.gradient_check import check_gradients
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
    return {"profile": profile, "examples": examples, "grad": os.environ.get(ENV + "GRAD") or None,
            "seed": int(seed) if seed else None, "networks": json.loads(os.environ.get(ENV + "NETWORKS") or "{}"),
            "results": os.environ.get(ENV + "RESULTS") or None}


@functools.lru_cache(maxsize=1)
def _pool(options: str) -> list[Network]:
    return strategies.network_pool(POOL_SIZE, **json.loads(options))


@functools.lru_cache(maxsize=1)
def _user_function(spec: str):
    return load_function(spec)


class Stats:
    """What one shard covered, as plain data for the ``backprop proptest`` summary."""

    def __init__(self, shard: int, results: str | None):
        self.shard, self.examples, self.networks, self.activations, self.losses = shard, 0, set(), set(), set()
        self.max_errors: dict[str, float] = {}
        self.flagged = 0
        self.input_error: str | None = None
        self.progress = Path(results, "progress-%d" % shard) if results else None

    def add(self, network: Network, report) -> None:
        self.examples += 1
        self.networks.add(network.describe())
        self.activations.update(network.activation_names)
        self.losses.add(network.loss.name)
        self.flagged += report.agreements[2].flagged
        for pair, value in report.max_errors().items():
            self.max_errors[pair] = max(self.max_errors.get(pair, 0.0), value)
        if self.progress:
            with open(self.progress, "a") as stream:
                stream.write(".")

    def to_dict(self, **extra) -> dict:
        return {"shard": self.shard, "examples": self.examples, "networks": sorted(self.networks),
                "activations": sorted(self.activations), "losses": sorted(self.losses),
                "max_errors": self.max_errors, "flagged": self.flagged, **extra}


def counterexample(network: Network, params: dict, X, T, report, config: dict) -> str:
    """The failure message: the minimal case, the report, and commands that reproduce it."""
    def literal(array):
        return "np.array(%r)" % (np.asarray(array).tolist(),)

    params_text = "{%s}" % ", ".join("%r: %s" % (name, literal(value)) for name, value in params.items())
    command = " ".join(["backprop proptest --examples %d" % config["examples"]] + command_options(config))
    call = "check_gradients(network, params, X, T%s)" % (
        ", functools.partial(load_function(%r), network)" % config["grad"] if config["grad"] else "")
    return "\n".join([
        "gradients disagree on %s" % network.describe(),
        "  network = Network.from_dict(%r)" % network.to_dict(),
        "  params = %s" % params_text,
        "  X = %s" % literal(X),
        "  T = %s" % literal(T),
        "", str(report), "",
        "Reproduce the search:  %s" % command,
        "Reproduce this case:   python - <<'EOF'",
        "import functools, numpy as np",
        "from derive import Network",
        "from verify import check_gradients",
        "from verify.check.sources import load_function",
        "network = Network.from_dict(%r)" % network.to_dict(),
        "params = %s" % params_text, "X = %s" % literal(X), "T = %s" % literal(T),
        "print(%s)" % call, "EOF"])


def command_options(config: dict) -> list[str]:
    """The ``backprop proptest`` options that select the same search as ``config``."""
    words = {True: "yes", False: "no"}
    options = ["--grad %s" % config["grad"]] if config["grad"] else []
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


def check_case(network: Network, params: dict, X, T, config: dict):
    """Run the three-way check on one case; raise AssertionError with the counterexample if it fails."""
    gradient_fn = None
    if config["grad"]:
        gradient_fn = functools.partial(_user_function(config["grad"]), network)
    report = check_gradients(network, params, X, T, gradient_fn, samples=network.n_params, worst=3, directions=1)
    if not report.ok:
        raise AssertionError(counterexample(network, params, X, T, report, config))
    return report


def build_property(shard: int, config: dict, stats: Stats):
    """The Hypothesis test for one shard: networks ``pool[shard::SHARDS]``, fresh params and data."""
    pool = _pool(json.dumps(config["networks"], sort_keys=True))[shard::SHARDS]
    profile = strategies.profile_settings(config["profile"])
    options = dict(max_examples=math.ceil(config["examples"] / SHARDS), database=None)  # no .hypothesis/ in the cwd
    if config["seed"] is not None:
        options["derandomize"] = False

    @settings(profile, **options)
    @given(network=st.sampled_from(pool), draw=st.data())
    def gradients_agree(network, draw):
        if stats.input_error:
            return  # bad input is reported once, as it is: there is nothing to shrink
        params = draw.draw(strategies.params(network), label="params")
        X, T = draw.draw(strategies.data(network), label="X, T")
        try:
            report = check_case(network, params, X, T, config)
        except InputError as exc:
            stats.input_error = str(exc)
            return
        stats.add(network, report)

    if config["seed"] is not None:
        gradients_agree = hypothesis_seed(config["seed"] * SHARDS + shard)(gradients_agree)
    return gradients_agree, options["max_examples"]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_code_engine_and_finite_differences_agree(shard):
    config = configuration()
    stats = Stats(shard, config["results"])
    prop, expected = build_property(shard, config, stats)
    outcome = {}
    try:
        prop()
        if stats.input_error:  # from a user's function: bad input, exit 2 from backprop proptest
            outcome["input_error"] = stats.input_error
            raise InputError(stats.input_error)
    except AssertionError as exc:
        outcome["counterexample"] = str(exc)
        raise
    finally:
        if config["results"]:
            Path(config["results"], "shard-%d.json" % shard).write_text(json.dumps(stats.to_dict(**outcome)))
    assert stats.examples >= expected, "Hypothesis ran %d examples, fewer than the %d asked for" % (
        stats.examples, expected)
