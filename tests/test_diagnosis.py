"""The diagnosis names the bug: one deliberately buggy implementation per pattern, each caught and named.

The corpus (``tests/buggy``) is a student's numpy backprop with each classic
mistake behind a switch, and PyTorch models whose custom ``autograd.Function``
has a wrong backward.  Each buggy gradient must fail the check, and the
diagnosis must name its pattern for exactly the parameters it spoils; the same
implementation without the bug must pass on random networks (no false alarm);
a bug no pattern describes must be said to fit none.  The expected patterns
come from the bug as written in the corpus, not from the diagnosis code.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from buggy.numpy_backprop import BUGS, gradients, with_bug
from derive import Network, derive
from verify import check_gradients, strategies

SEEDS = (0, 1)


def point(network, seed, batch=5):
    """Parameters and inputs uniform in [-1, 1]; targets the output can reach."""
    rng = np.random.default_rng(seed)
    params = {k: rng.uniform(-1, 1, s) for k, s in network.param_shapes().items()}
    X = rng.uniform(-1, 1, (batch, network.sizes[0]))
    if network.activations[-1].name == "softmax":
        T = rng.dirichlet(np.ones(network.sizes[-1]), batch)
    else:
        T = rng.uniform(0, 1, (batch, network.sizes[-1]))
    return params, X, T


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_buggy_implementation_is_caught_and_its_bug_named(bug, seed):
    options, kind, spoiled = BUGS[bug]
    network = Network(**options)
    report = check_gradients(network, *point(network, seed), with_bug(bug))
    assert not report.ok and report.culprit == "candidate"
    named = [d for d in report.diagnosis if d.kind == kind]
    assert named, "%s: expected %s, got %s" % (bug, kind, [(d.kind, d.parameters) for d in report.diagnosis])
    assert set().union(*(d.parameters for d in named)) == set(spoiled)
    assert all(d.kind != "no_fit" for d in report.diagnosis)
    assert "Diagnosis:" in str(report) and named[0].text in str(report)
    assert report.to_dict()["diagnosis"][0]["kind"] == report.diagnosis[0].kind


@pytest.mark.parametrize("options, text", [
    (dict(weight_decay=0.1, l1=0.05), "equal the correct gradients without the penalty term sign(W1)/20 (for W1): "
                                      "the L1 penalty mu sum |w| in E adds it to every weight's gradient"),
    (dict(l1=0.05), "equal the correct gradients without the penalty term sign(W1)/20 (for W1): the L1 penalty mu "
                    "sum |w| in E adds it to every weight's gradient"),
], ids=["beside-weight-decay", "alone"])
def test_a_forgotten_l1_term_is_named_as_the_l1_penalty(options, text):
    network = Network((3, 4, 2), **options)
    report = check_gradients(network, *point(network, 0), with_bug("l1_missing" if "weight_decay" in options
                                                                    else "decay_missing"))
    assert [(d.parameters, d.text) for d in report.diagnosis] == [(("W1", "W2"), text),
                                                                  (("b1", "b2"), "right at every entry")]


def test_the_diagnosis_says_it_in_the_words_of_the_derivation():
    network = Network((3, 4, 2))
    report = check_gradients(network, *point(network, 0), with_bug("missing_output_derivative"))
    (diagnosis,) = report.diagnosis
    assert diagnosis.parameters == ("W1", "b1", "W2", "b2") and diagnosis.layer == 2
    assert diagnosis.text.startswith("equal the correct gradients without the factor A2*(1 - A2): delta2, the error "
                                     "term of the output layer, is missing the sigmoid derivative")
    assert "  - W1, b1, W2, b2: equal the correct gradients without the factor A2*(1 - A2)" in str(report)


def test_a_transposed_weight_gradient_is_diagnosed_not_refused_as_a_shape_error():
    network = Network((3, 4, 2))
    report = check_gradients(network, *point(network, 0), with_bug("transposed_shape"))
    row = next(r for r in report.rows if r.name == "W2")
    assert row.returned_shape == (4, 2) and row.over == row.entries
    assert "returned with shape (4, 2), the transpose of W2's shape (2, 4)" in report.diagnosis[0].text
    assert "transposed back, it is right" in report.diagnosis[0].text
    assert "W2 was returned with shape 4x2, not 2x4" in str(report)


def test_a_one_percent_error_fits_no_pattern_and_the_report_says_where_it_is():
    network = Network((3, 4, 2), activation="tanh")

    def planted(params, X, T):
        grads = gradients(params, X, T, network)
        grads["W1"][2, :] *= 1.01
        return grads

    report = check_gradients(network, *point(network, 0), planted)
    diagnosis, right = report.diagnosis
    assert diagnosis.kind == "no_fit" and diagnosis.parameters == ("W1",)
    assert diagnosis.text.startswith("no known bug pattern fits (tried: ")
    assert diagnosis.text.endswith("). All 3 wrong entries of W1 lead into hidden unit 2 (every weight into it; "
                                   "every other entry is right); each is 1.01 x the right value")
    assert right.kind == "right" and right.parameters == ("b1", "W2", "b2")


def test_two_bugs_at_once_get_one_diagnosis_each():
    network = Network((3, 4, 2), activation="tanh")

    def two_bugs(params, X, T):
        grads = gradients(params, X, T, network, bug="missing_hidden_derivative")
        grads["b2"] = -grads["b2"]
        return grads

    report = check_gradients(network, *point(network, 1), two_bugs)
    kinds = {d.kind: d.parameters for d in report.diagnosis}
    assert kinds == {"missing_derivative": ("W1", "b1"), "scale": ("b2",), "right": ("W2",)}
    assert "every entry of b2 is -1 x the reference (the sign is flipped)" in str(report)


def test_gradients_of_the_mean_checked_against_the_sum_are_told_to_use_the_mean():
    network = Network((3, 4, 2))
    report = check_gradients(network, *point(network, 0), with_bug("mean_instead_of_sum"))
    assert "1/N x the correct gradients (N = 5 examples): averaged over the examples, but this network's loss is " \
           "their sum (reduction 'sum')" in report.diagnosis[0].text


@settings(max_examples=30, deadline=None, database=None)
@given(case=strategies.cases(st.sampled_from(strategies.network_pool(
    40, activations=["sigmoid", "tanh", "linear", "softmax"], losses=["sse", "cross_entropy",
                                                                     "binary_cross_entropy"]))))
def test_the_same_implementation_without_a_bug_passes_on_random_networks(case):
    report = check_gradients(case.network, case.params, case.X, case.T,
                             lambda params, X, T: gradients(params, X, T, case.network))
    assert report.ok, str(report)
    assert report.diagnosis == []


@pytest.mark.parametrize("network", [Network((2, 3, 3, 2), activation=["tanh", "relu", "sigmoid"], weight_decay=0.1),
                                     Network((3, 3, 3), activation=["softplus", "softmax"], loss="cross_entropy")],
                         ids=["tanh-relu-sigmoid-decay", "softplus-softmax"])
def test_every_printed_variant_differs_from_the_reference_only_where_its_bug_reaches(network):
    derivation = derive(network)
    params, X, T = point(network, 0)
    if network.activations[-1].name == "sigmoid":
        T = np.clip(T, 0, 1)
    reference = derivation.numpy_module().gradients(params, X, T)
    for variant in derivation.variants():
        if not variant.applies(network.sizes):
            continue
        changed = derivation.variant_module(variant).gradients(params, X, T)
        moved = {name for name in reference if not np.allclose(changed[name], reference[name], rtol=1e-12, atol=0)}
        if variant.layer is None:  # the penalty: every weight, no bias
            assert moved == {name for name in reference if name.startswith("W")}, variant.key
        else:  # delta_l: layer l and every layer below it
            assert moved <= {name for name in reference if int(name[1:]) <= variant.layer}, variant.key


def test_a_linear_layer_has_no_derivative_to_leave_out():
    kinds = {(v.kind, v.layer) for v in derive(Network((2, 3, 1), activation=["tanh", "linear"])).variants()}
    assert ("missing_derivative", 1) in kinds and ("missing_derivative", 2) not in kinds
    assert ("derivative_at_preactivation", 1) in kinds and ("derivative_at_preactivation", 2) not in kinds
