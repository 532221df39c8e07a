"""The three-way gradient check: it catches one wrong entry among many, names the wrong source, and explains kinks."""

import json
import types

import numpy as np
import pytest

from derive import InputError, Network, init_params
from verify import Engine, check_gradients
from verify.check import gradient_check as check_module
from verify.check.kinks_and_saturation import describe_entry
from verify.check.gradient_check import is_analytic
from verify.check.tolerances import DEFAULT_TOLERANCES, Tolerance, tolerance_for


def batch(network, n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, network.sizes[0]))
    T = rng.uniform(0.1, 0.9, (n, network.sizes[-1]))
    if network.activation_names[-1] == "softmax":
        T = T / T.sum(axis=1, keepdims=True)
    return X, T


def planted(network, entry, factor=1.01):
    """The engine's gradient with one entry multiplied by ``factor``."""
    name, index = entry

    def gradients(params, X, T):
        grads = Engine(network).gradients(params, X, T)
        grads[name][index] *= factor
        return grads

    return gradients


@pytest.mark.parametrize("activation, loss", [
    (["sigmoid", "sigmoid"], "sse"), (["tanh", "softmax"], "cross_entropy"), (["relu", "linear"], "sse"),
    (["leaky_relu", "sigmoid"], "binary_cross_entropy"), (["softplus", "tanh"], "sse"),
])
def test_the_engine_agrees_with_the_reference_and_finite_differences(activation, loss):
    network = Network((3, 4, 2), activation=activation, loss=loss, weight_decay=0.01)
    X, T = batch(network)
    report = check_gradients(network, init_params(network, seed=1, scale=0.5), X, T)
    assert report.ok, str(report)
    assert report.culprit is None and report.entries == network.n_params
    assert report.fd_method == ("complex" if is_analytic(network) else "central")


def test_a_one_percent_error_in_any_single_entry_is_caught_and_located():
    network = Network((3, 4, 2), activation=["tanh", "sigmoid"], loss="sse")
    params = init_params(network, seed=2, scale=0.5)
    X, T = batch(network)
    for name, shape in network.param_shapes().items():
        for index in np.ndindex(shape):
            report = check_gradients(network, params, X, T, planted(network, (name, index)))
            assert not report.ok and report.culprit == "candidate", (name, index)
            assert report.worst[0].label == "%s[%s]" % (name, ", ".join(map(str, index)))
            assert report.worst[0].verdict == "candidate wrong"


@pytest.mark.parametrize("entry", [("W1", (37, 401)), ("b2", (4,))])
def test_a_one_percent_error_among_79510_entries_is_caught(entry):
    network = Network.from_string("784-100-10", activation="sigmoid", loss="sse")
    params = init_params(network, seed=0)
    rng = np.random.default_rng(0)
    X, T = rng.uniform(0, 1, (8, 784)), np.eye(10)[rng.integers(0, 10, 8)] * 0.8 + 0.1
    report = check_gradients(network, params, X, T, planted(network, entry))
    assert report.culprit == "candidate"
    assert [row.over for row in report.rows] == [int(name == entry[0]) for name in network.param_shapes()]
    assert report.worst[0].label.startswith(entry[0] + "[")


def test_the_reference_is_blamed_when_finite_differences_side_with_the_candidate(monkeypatch):
    network = Network((2, 3, 1), activation="sigmoid")
    real = check_module.reference_module(network)

    def wrong_gradients(params, X, T):
        grads = real.gradients(params, X, T)
        grads["W1"][1, 0] *= 1.05
        return grads

    fake = types.SimpleNamespace(loss=real.loss, gradients=wrong_gradients)
    monkeypatch.setattr(check_module, "reference_module", lambda n: fake)
    X, T = batch(network)
    report = check_gradients(network, init_params(network, seed=3, scale=1.0), X, T)
    assert report.culprit == "reference"
    assert report.worst[0].label == "W1[1, 0]" and report.worst[0].verdict == "reference wrong"
    assert "SYMBOLIC REFERENCE is wrong" in report.summary


def test_finite_differences_are_the_odd_one_out_when_the_loss_is_not_the_gradients_loss(monkeypatch):
    network = Network((2, 3, 1), activation="tanh")
    real = check_module.reference_module(network)
    fake = types.SimpleNamespace(loss=lambda p, X, T: 2 * real.loss(p, X, T), gradients=real.gradients)
    monkeypatch.setattr(check_module, "reference_module", lambda n: fake)
    X, T = batch(network)
    report = check_gradients(network, init_params(network, seed=4, scale=1.0), X, T)
    assert report.culprit == "fd" and not report.ok
    assert [a.agree for a in report.agreements] == [True, False, False]


def relu_backprop_with_slope_one_at_zero(network):
    """A 2-2-1 relu/linear sse backprop whose relu'(0) is 1 (the engine and the reference use 0)."""
    def gradients(params, X, T):
        Z = X @ params["W1"].T + params["b1"]
        H = np.maximum(Z, 0)
        delta_out = H @ params["W2"].T + params["b2"] - T
        delta_hidden = (delta_out @ params["W2"]) * (Z >= 0)
        return {"W1": delta_hidden.T @ X, "b1": delta_hidden.sum(0), "W2": delta_out.T @ H, "b2": delta_out.sum(0)}
    return gradients


def test_a_unit_on_a_relu_kink_is_flagged_and_explained_not_failed():
    network = Network((2, 2, 1), activation=["relu", "linear"])
    params = {"W1": np.array([[0.5, -0.3], [0.2, 0.4]]), "b1": np.array([0.0, 0.1]),
              "W2": np.array([[0.7, -0.6]]), "b2": np.array([0.05])}
    X, T = np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([[1.0], [0.0]])   # example 0: hidden unit 0 at z = 0
    report = check_gradients(network, params, X, T, relu_backprop_with_slope_one_at_zero(network))
    assert report.ok, str(report)
    assert sum(row.excused for row in report.rows) > 0
    assert any("hidden unit 0" in k and "example 0" in k and "relu'(0) = 0" in k for k in report.kinks)


def test_finite_differences_straddling_a_kink_are_flagged():
    network = Network((2, 2, 1), activation=["relu", "linear"])
    params = {"W1": np.array([[0.5, -0.3], [0.2, 0.4]]), "b1": np.array([1e-7, 0.1]),
              "W2": np.array([[0.7, -0.6]]), "b2": np.array([0.05])}
    X, T = np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([[1.0], [0.0]])
    report = check_gradients(network, params, X, T)
    assert report.ok and report.agreements[2].flagged > 0
    assert any(k.startswith("b1[0] (finite differences): hidden unit 0") for k in report.kinks)


def test_a_kink_excuses_no_weight_whose_input_from_that_example_is_zero():
    # Hypothesis shrinks to cases like this one: hidden unit 0 sits on relu's kink for examples 0 and 1, whose
    # inputs are 0, so W1[0, 1] = sum_n delta1[n, 0] x[n, 1] takes nothing from the kink; a W1 gradient divided by
    # N twice must be caught there, not excused.
    network = Network((2, 4, 1), activation=["relu", "sigmoid"], loss="binary_cross_entropy", reduction="mean")
    params = {"W1": np.array([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]), "b1": np.zeros(4),
              "W2": np.array([[1.0, 0.0, 0.0, 0.0]]), "b2": np.zeros(1)}
    X, T = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]), np.zeros((3, 1))

    def divided_twice(params, X, T):
        grads = Engine(network).gradients(params, X, T)
        return {**grads, "W1": grads["W1"] / len(X)}

    report = check_gradients(network, params, X, T, divided_twice)
    assert not report.ok and report.culprit == "candidate"
    assert report.rows[0].name == "W1" and report.rows[0].over == 1 and report.rows[0].excused == 0
    assert any("W1: every entry of W1 is 0.3333 x the reference" in "%s: %s" % (", ".join(d.parameters), d.text)
               for d in report.diagnosis)


def test_a_kink_excuses_nothing_it_reaches_only_through_zero_weights_or_a_dead_unit():
    # Shrunk relu counterexamples look like this: output-side unit 0 of layer 2 sits on its kink only because its
    # weights and bias are 0, so nothing flows from it to layer 1; a backprop that forgets relu' in layer 1 is
    # wrong at the dead unit's bias, and that must be caught, not excused as a subgradient convention.
    network = Network((2, 3, 2, 1), activation=["relu", "relu", "linear"])
    params = {"W1": np.array([[0.5, 0.2], [-0.4, 0.1], [0.3, -0.2]]), "b1": np.array([0.1, -0.2, 0.05]),
              "W2": np.array([[0.0, 0.0, 0.0], [0.6, -0.5, 0.4]]), "b2": np.array([0.0, 0.1]),
              "W3": np.array([[0.8, -0.7]]), "b3": np.array([0.0])}
    X, T = np.array([[1.0, 0.5]]), np.array([[1.0]])

    def without_relu_derivative_in_layer_1(params, X, T):
        Z1 = X @ params["W1"].T + params["b1"]
        A1 = np.maximum(Z1, 0)
        Z2 = A1 @ params["W2"].T + params["b2"]
        A2 = np.maximum(Z2, 0)
        d3 = A2 @ params["W3"].T + params["b3"] - T
        d2 = (d3 @ params["W3"]) * (Z2 > 0)
        d1 = d2 @ params["W2"]  # relu'(Z1) forgotten: the dead unit 1 gets a gradient
        return {"W1": d1.T @ X, "b1": d1.sum(0), "W2": d2.T @ A1, "b2": d2.sum(0), "W3": d3.T @ A2, "b3": d3.sum(0)}

    report = check_gradients(network, params, X, T, without_relu_derivative_in_layer_1)
    assert not report.ok and report.culprit == "candidate"
    b1 = next(row for row in report.rows if row.name == "b1")
    assert b1.over == 1 and b1.excused == 0
    assert any("unit 0" in k and "layer 2" in k for k in report.kinks)  # the kink is still said


def test_an_l1_penalty_at_a_zero_weight_is_flagged_as_a_kink():
    network = Network((2, 1), activation="linear", l1=0.1)
    params = {"W1": np.array([[0.0, 0.3]]), "b1": np.array([0.2])}
    report = check_gradients(network, params, np.array([[1.0, 2.0]]), np.array([[0.5]]), samples=3)
    assert report.ok and any("L1 penalty" in k and "W1[0, 0]" in k for k in report.kinks)


def test_saturated_sigmoid_units_are_warned_about():
    network = Network((4, 3, 1), activation="sigmoid")
    params = {k: v * 200 for k, v in init_params(network, seed=5, scale=0.5).items()}
    X, T = batch(network)
    report = check_gradients(network, params, X, T)
    assert any("layer 1 (sigmoid)" in w and "saturated" in w for w in report.warnings)


def test_float32_gradients_pass_in_ulps_and_a_one_percent_error_still_fails():
    network = Network((20, 10, 3), activation=["tanh", "softmax"], loss="cross_entropy")
    params = init_params(network, seed=6, scale=0.5, dtype=np.float32)
    X, T = batch(network, n=16)
    X32, T32 = X.astype(np.float32), T.astype(np.float32)
    assert check_gradients(network, params, X32, T32).ok
    report = check_gradients(network, params, X32, T32, planted(network, ("W2", (1, 3))))
    assert report.culprit == "candidate" and report.dtype == "float32"
    assert report.tolerance["ulps"] == "float32"


def test_the_report_reads_out_and_is_plain_data():
    network = Network((3, 4, 2), activation=["tanh", "sigmoid"], loss="sse")
    X, T = batch(network)
    report = check_gradients(network, init_params(network, seed=2, scale=0.5), X, T, planted(network, ("W2", (1, 3))))
    text = str(report)
    for fragment in ("FAILED", "the CANDIDATE is wrong", "candidate vs symbolic reference", "max abs err",
                     "W2[1, 3] (from hidden unit 3 to output unit 1)", "candidate wrong", "Tolerances:"):
        assert fragment in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["culprit"] == "candidate"
    assert data["rows"][2]["name"] == "W2" and data["rows"][2]["over"] == 1
    assert data["worst"][0]["label"] == "W2[1, 3]"


@pytest.mark.parametrize("sizes, entry, meaning", [
    ((4, 8, 5), ("W2", (3, 7)), "from hidden unit 7 to output unit 3"),
    ((4, 8, 5), ("W1", (2, 0)), "from input unit 0 to hidden unit 2"),
    ((4, 8, 5), ("b2", (4,)), "bias of output unit 4"),
    ((3, 3, 3, 3), ("W2", (2, 1)), "from unit 1 of hidden layer 1 to unit 2 of hidden layer 2"),
])
def test_entries_are_located_in_the_network(sizes, entry, meaning):
    assert describe_entry(Network(sizes), entry) == meaning


def test_default_tolerances_are_tight_in_float64_and_in_ulps_for_float32():
    assert tolerance_for(np.float64).rtol == 1e-9
    eps32 = float(np.finfo(np.float32).eps)
    assert DEFAULT_TOLERANCES[np.dtype(np.float32)] == Tolerance(2048 * eps32, 512 * eps32, 32 * eps32, "float32")
    assert tolerance_for(np.float64, rtol=1e-6).rtol == 1e-6
    with pytest.raises(InputError, match="dtype float16.*float64, float32"):
        tolerance_for(np.float16)


@pytest.mark.parametrize("options, message", [
    ({"fd_method": "forward"}, "unknown fd_method 'forward'; choose one of: auto, central, richardson, complex"),
    ({"fd_method": "complex"}, "fd_method 'complex' needs an analytic network.*relu"),
    ({"samples": -1}, "samples must be an integer >= 0"),
    ({"rtol": -1.0}, "rtol must be a finite number >= 0"),
], ids=["unknown-method", "complex-through-relu", "negative-samples", "negative-rtol"])
def test_bad_options_are_named(options, message):
    network = Network((2, 1), activation="relu")
    with pytest.raises(InputError, match=message):
        check_gradients(network, init_params(network), np.ones((1, 2)), np.ones((1, 1)), **options)


def test_a_kink_away_from_zero_is_located_from_the_expression_and_flagged_not_failed():
    network = Network((1, 1, 1), activation=["abs(x - 1)", "linear"])
    assert network.activations[0].kinks == (1.0,)
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0]), "W2": np.array([[0.5]]), "b2": np.array([0.0])}
    report = check_gradients(network, params, np.array([[1.0 + 1e-7]]), np.array([[0.3]]))
    assert report.ok, str(report)
    assert any("kink at 1" in note for note in report.kinks)


def test_module_for_compiles_once_per_structure_and_serves_each_width():
    from verify.check.modules import module_for

    small = Network((2, 3, 1), activation="tanh")
    wide = small.replace(sizes=(4, 5, 2))
    other = small.replace(bias=False)
    assert module_for(wide) is module_for(small) is module_for(Network((2, 3, 1), activation="tanh"))
    assert module_for(other) is not module_for(small)
    assert module_for(small, order=2) is not module_for(small) and hasattr(module_for(small, order=2), "hvp")
    for network in (small, wide, other):
        params = init_params(network, seed=0, scale=1.0)
        X, T = batch(network)
        gradients = module_for(network).gradients(params, X, T)
        assert {k: v.shape for k, v in gradients.items()} == network.param_shapes()
        expected = Engine(network).gradients(params, X, T)
        assert all(np.allclose(gradients[k], expected[k], rtol=1e-10, atol=1e-12) for k in expected)
    assert check_module.reference_module is module_for  # the check's reference comes from the same cache
