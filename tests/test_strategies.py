"""The hypothesis strategies draw valid networks, parameters and data, and reject bad options by name."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from derive import ACTIVATIONS, LOSSES, InputError, Network
from verify.testing import strategies

FAST = settings(max_examples=60, deadline=None, derandomize=True)


@FAST
@given(strategies.networks(max_depth=3, max_width=4))
def test_drawn_networks_respect_the_bounds_and_the_registry_rules(network):
    assert 1 <= network.depth <= 3
    assert all(1 <= size <= 4 for size in network.sizes)
    assert not any(a.output_only for a in network.activations[:-1])
    required = network.loss.requires_output
    assert required is None or network.activation_names[-1] in required


@FAST
@given(strategies.networks(activations=["tanh", "softmax"], losses=["cross_entropy", "sse"], bias=False,
                           decay=True, reduction="mean", min_depth=2, max_depth=2, min_width=3, max_width=3))
def test_drawn_networks_honour_every_option(network):
    assert network.sizes == (3, 3, 3)
    assert network.activation_names[0] == "tanh"
    assert not network.bias and network.reduction == "mean" and network.weight_decay > 0
    if network.loss.name == "cross_entropy":
        assert network.activation_names[-1] == "softmax"


def test_the_pool_covers_every_registered_activation_and_loss_and_is_deterministic():
    pool = strategies.network_pool(300)
    assert len(pool) == len(set(pool)) == 300
    assert {a for n in pool for a in n.activation_names} == set(ACTIVATIONS)
    assert {n.loss.name for n in pool} == set(LOSSES)
    for loss in LOSSES.values():
        outputs = {n.activation_names[-1] for n in pool if n.loss is loss}
        allowed = set(loss.requires_output or ACTIVATIONS)
        assert outputs == allowed, loss.name
    assert strategies.network_pool(300) == pool
    assert pool[0].n_params <= pool[-1].n_params


def test_a_pool_from_a_restricted_space_stays_inside_it():
    pool = strategies.network_pool(20, activations=["sigmoid"], losses=["sse"], max_depth=1)
    assert pool and all(n.activation_names == ("sigmoid",) and n.depth == 1 for n in pool)


@FAST
@given(st.data())
def test_params_have_the_network_shapes_dtype_and_bounds(data):
    network = data.draw(strategies.networks(max_width=3))
    dtype = data.draw(st.sampled_from([np.float64, np.float32]))
    params = data.draw(strategies.params(network, scale=0.5, dtype=dtype))
    assert {k: v.shape for k, v in params.items()} == network.param_shapes()
    assert all(v.dtype == dtype and np.all(np.abs(v) <= 0.5) for v in params.values())


@FAST
@given(st.data())
def test_targets_are_reachable_by_the_output_layer(data):
    network = data.draw(strategies.networks(max_width=3))
    X, T = data.draw(strategies.data(network, batch=(2, 3)))
    assert X.shape[0] == T.shape[0] and 2 <= X.shape[0] <= 3
    assert X.shape[1] == network.sizes[0] and T.shape[1] == network.sizes[-1]
    output = network.activation_names[-1]
    if output == "softmax":
        np.testing.assert_allclose(T.sum(axis=1), 1.0)
        assert np.all(T >= 0)
    elif output == "sigmoid":
        assert np.all((0 <= T) & (T <= 1))
    else:
        assert np.all(np.abs(T) <= 1)


@FAST
@given(strategies.cases(strategies.networks(max_width=2), batch=2))
def test_cases_bundle_a_network_with_matching_params_and_data(case):
    assert isinstance(case.network, Network)
    assert set(case.params) == set(case.network.param_shapes())
    assert case.X.shape == (2, case.network.sizes[0])


BAD_OPTIONS = [
    ("max_depth", lambda: strategies.networks(max_depth=0)),
    ("min_depth", lambda: strategies.networks(min_depth=3, max_depth=2)),
    ("max_width", lambda: strategies.networks(max_width=1.5)),
    ("activations", lambda: strategies.networks(activations="relu")),
    ("activations", lambda: strategies.networks(activations=["sigmod"])),
    ("losses", lambda: strategies.networks(losses=["hinge"])),
    ("losses", lambda: strategies.networks(activations=["relu"], losses=["cross_entropy"])),
    ("min_depth", lambda: strategies.networks(activations=["softmax"], min_depth=2)),
    ("bias", lambda: strategies.networks(bias="yes")),
    ("decay", lambda: strategies.networks(decay=1)),
    ("reduction", lambda: strategies.networks(reduction="max")),
    ("scale", lambda: strategies.params(Network((1, 1)), scale=0)),
    ("dtype", lambda: strategies.params(Network((1, 1)), dtype=np.int32)),
    ("network", lambda: strategies.params("2-2-1")),
    ("batch", lambda: strategies.data(Network((1, 1)), batch=0)),
    ("batch", lambda: strategies.data(Network((1, 1)), batch=(3, 1))),
    ("batch", lambda: strategies.data(Network((1, 1)), batch=(1, 2, 3))),
    ("count", lambda: strategies.network_pool(0)),
    ("networks_strategy", lambda: strategies.cases([Network((1, 1))])),
]


@pytest.mark.parametrize("argument, build", BAD_OPTIONS,
                         ids=["%s-%d" % (name, i) for i, (name, _) in enumerate(BAD_OPTIONS)])
def test_bad_options_raise_invalid_argument_naming_the_argument(argument, build):
    with pytest.raises(InvalidArgument, match=argument):
        build()


@pytest.mark.parametrize("environment, expected", [
    ({}, "dev"),
    ({"CI": "true"}, "ci"),
    ({"CI": "true", "BACKPROP_HYPOTHESIS_PROFILE": "thorough"}, "thorough"),
    ({"BACKPROP_HYPOTHESIS_PROFILE": "ci"}, "ci"),
])
def test_the_profile_is_chosen_by_the_environment(monkeypatch, environment, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BACKPROP_HYPOTHESIS_PROFILE", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    assert strategies.profile_name() == expected


def test_the_ci_profile_is_derandomized_and_an_unknown_profile_is_named(monkeypatch):
    assert strategies.PROFILES["ci"].derandomize
    monkeypatch.setenv("BACKPROP_HYPOTHESIS_PROFILE", "fast")
    with pytest.raises(InputError, match="BACKPROP_HYPOTHESIS_PROFILE=fast.*dev, ci, thorough"):
        strategies.profile_name()


def test_profiles_are_registered_under_prefixed_names_and_never_overwrite_existing_ones():
    import subprocess
    import sys

    code = (
        "from hypothesis import settings\n"
        "settings.register_profile('ci', max_examples=7)\n"
        "settings.register_profile('backprop-dev', max_examples=3)\n"
        "from verify.testing import strategies\n"
        "print(settings.get_profile('ci').max_examples, settings.get_profile('backprop-dev').max_examples,\n"
        "      settings.get_profile('backprop-ci').max_examples, strategies.profile_settings('ci').derandomize)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["7", "3", str(strategies.PROFILES["ci"].max_examples), "True"]


@pytest.mark.parametrize("environment", [{"CI": "true"}, {}], ids=["on-a-ci-machine", "on-a-laptop"])
def test_only_the_ci_profile_draws_the_same_examples_every_run_wherever_it_runs(environment):
    """Hypothesis loads a derandomized profile of its own when it sees ``CI``: ``dev`` must not inherit it."""
    import os
    import subprocess
    import sys

    code = ("from verify.testing import strategies\n"
            "print(*(strategies.profile_settings(p).derandomize for p in ('dev', 'ci', 'thorough')))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "TF_BUILD")} | environment
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "True", "False"]


def test_the_pool_checks_each_structure_at_several_widths_and_a_part_holds_all_of_a_structures_widths():
    from verify.testing.runs import PropertyRun

    pool = strategies.network_pool(300)
    groups = {}
    for network in pool:
        groups.setdefault(network.structure, []).append(network)
    assert len(groups) < len(pool) / 2  # each structure derived once serves two or more networks on average
    assert all(len(group) <= strategies.WIDTHS_PER_STRUCTURE for group in groups.values())
    assert all(len({n.sizes for n in group}) == len(group) for group in groups.values())
    assert sum(n.depth == 1 for n in pool) >= len({(n.activation_names[-1], n.loss.name) for n in pool})
    for examples in (1000, 1_000_000):  # fewer parts than structures, and more
        run = PropertyRun(examples)
        groups = list(dict.fromkeys(tuple(run.part_networks(part)) for part in range(run.parts)))
        assert sorted(map(pool.index, sum(groups, ()))) == list(range(len(pool)))  # every network, once
        owner = {n.structure: k for k, group in enumerate(groups) for n in group}
        assert all(owner[n.structure] == k for k, group in enumerate(groups) for n in group)
        assert all(list(group) == sorted(group, key=pool.index) for group in groups)  # smallest first, as in the pool
