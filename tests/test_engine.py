"""The hand-written engine against central finite differences written here, and its stability.

The finite differences below are deliberately typed into this file (not taken
from verify.check.finite_differences): the oracle must not share code with what it checks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from helpers import strict_numpy
from derive import ACTIVATIONS, LOSSES, InputError, Network, get_activation, init_params
from verify import Engine

#: Every registered activation plus parameterized and custom-expression ones.
ACTIVATION_SPECS = sorted(ACTIVATIONS) + ["leaky_relu(0.2)", "x/(1+abs(x))", "x*sigmoid(x)", "x*gelu_erf(x)"]

#: (sizes, batch, bias, weight_decay, l1, reduction): widths down to 1, batch 1, depths 1 to 3.
CONFIGS = [
    ((3, 2), 1, True, 0.0, 0.0, "sum"),
    ((2, 4, 3), 5, False, 0.3, 0.0, "mean"),
    ((1, 1, 1, 2), 3, True, 0.0, 0.2, "sum"),
    ((4, 3, 2, 3), 2, True, 0.1, 0.05, "mean"),
]


def compatible(activation: str, loss: str) -> bool:
    """An output-only activation (softmax) can only be used with a loss that accepts it."""
    required = LOSSES[loss].requires_output
    return not (get_activation(activation).output_only and required and activation not in required)


#: Every (activation, loss) pair the registries allow in some network.
PAIRS = [(a, l) for a in ACTIVATION_SPECS for l in sorted(LOSSES) if compatible(a, l)]


def network_for(activation: str, loss: str, sizes, **options) -> Network:
    """``activation`` on the hidden layers, and on the output too unless the loss (or softmax) rules it out."""
    required = LOSSES[loss].requires_output
    if get_activation(activation).output_only:
        layers = ["tanh"] * (len(sizes) - 2) + [activation]
    else:
        output = required[0] if required else activation
        layers = [activation] * (len(sizes) - 2) + [output]
    return Network(sizes, activation=layers, loss=loss, **options)


def random_problem(network: Network, batch: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    params = {name: rng.uniform(-0.9, 0.9, size=shape) for name, shape in network.param_shapes().items()}
    X = rng.uniform(-1.5, 1.5, size=(batch, network.sizes[0]))
    if network.activations[-1].name == "softmax":
        T = rng.dirichlet(np.ones(network.sizes[-1]), size=batch)
    else:
        T = rng.uniform(0.05, 0.95, size=(batch, network.sizes[-1]))
    return params, X, T


def central_differences(loss, params: dict, step: float = 1e-6) -> dict:
    """dE/dp for every entry, as (E(p + h) - E(p - h)) / 2h, one entry at a time."""
    estimates = {}
    for name, value in params.items():
        estimate = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] = value[index] + step
            above = loss(shifted)
            shifted[name][index] = value[index] - step
            below = loss(shifted)
            estimate[index] = (above - below) / (2 * step)
        estimates[name] = estimate
    return estimates


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c[0])) + "_N%d_%s%s%s_%s" % (
    c[1], "bias" if c[2] else "nobias", "_L2" if c[3] else "", "_L1" if c[4] else "", c[5]))
@pytest.mark.parametrize("activation, loss", PAIRS)
def test_engine_gradients_match_central_differences(activation, loss, config):
    sizes, batch, bias, weight_decay, l1, reduction = config
    network = network_for(activation, loss, sizes, bias=bias, weight_decay=weight_decay, l1=l1, reduction=reduction)
    params, X, T = random_problem(network, batch)
    engine = Engine(network)
    gradients = engine.gradients(params, X, T)
    expected = central_differences(lambda p: engine.loss(p, X, T), params)
    assert list(gradients) == list(network.param_shapes())
    for name in params:
        assert gradients[name].shape == params[name].shape
        np.testing.assert_allclose(gradients[name], expected[name], rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("output, loss, textbook", [
    ("sigmoid", "sse", lambda O, T: 0.5 * np.sum((T - O) ** 2)),
    ("linear", "sse", lambda O, T: 0.5 * np.sum((T - O) ** 2)),
    ("softmax", "cross_entropy", lambda O, T: -np.sum(T * np.log(O))),
    ("sigmoid", "binary_cross_entropy", lambda O, T: -np.sum(T * np.log(O) + (1 - T) * np.log(1 - O))),
])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_value_matches_the_textbook_formula(output, loss, textbook, reduction):
    network = Network((3, 4, 2), activation=["tanh", output], loss=loss, reduction=reduction, weight_decay=0.2)
    params, X, T = random_problem(network, 5)
    engine = Engine(network)
    O = engine.forward(params, X)
    expected = textbook(O, T) / (5 if reduction == "mean" else 1) + 0.1 * sum(np.sum(params[w] ** 2) for w in ("W1", "W2"))
    assert engine.loss(params, X, T) == pytest.approx(expected, rel=1e-13)


def test_loss_and_gradients_agree_with_separate_calls():
    network = Network((3, 4, 2), activation=["tanh", "softmax"], loss="cross_entropy", weight_decay=0.1)
    params, X, T = random_problem(network, 6)
    engine = Engine(network)
    loss, gradients = engine.loss_and_gradients(params, X, T)
    assert loss == engine.loss(params, X, T)
    for name, value in engine.gradients(params, X, T).items():
        np.testing.assert_array_equal(gradients[name], value)


def test_mean_reduction_divides_the_data_term_but_not_the_penalty_by_n():
    summed = Network((2, 3, 1), weight_decay=0.5, l1=0.1)
    averaged = summed.replace(reduction="mean")
    params, X, T = random_problem(summed, 4)
    penalty = Engine(summed).penalty(params)
    W = [params["W1"], params["W2"]]
    assert penalty == pytest.approx(sum(0.25 * np.sum(w ** 2) + 0.1 * np.sum(np.abs(w)) for w in W), rel=1e-12)
    assert Engine(averaged).loss(params, X, T) - penalty == pytest.approx((Engine(summed).loss(params, X, T) - penalty) / 4)


def test_weight_decay_adds_lambda_w_to_weights_and_nothing_to_biases():
    plain = Network((2, 3, 2))
    decayed = plain.replace(weight_decay=0.3, l1=0.2)
    params, X, T = random_problem(plain, 3)
    without, with_decay = Engine(plain).gradients(params, X, T), Engine(decayed).gradients(params, X, T)
    for name in params:
        extra = 0.3 * params[name] + 0.2 * np.sign(params[name]) if name.startswith("W") else 0.0
        np.testing.assert_allclose(with_decay[name], without[name] + extra, rtol=1e-13, atol=1e-15)


def test_forward_layers_returns_every_layers_preactivations_and_activations():
    network = Network((2, 3, 1), activation=["relu", "linear"])
    params, X, _ = random_problem(network, 5)
    Z, A = Engine(network).forward_layers(params, X)
    assert Z[0] is None and A[0] is X
    np.testing.assert_allclose(Z[1], X @ params["W1"].T + params["b1"])
    np.testing.assert_allclose(A[1], np.maximum(Z[1], 0))
    np.testing.assert_allclose(A[2], A[1] @ params["W2"].T + params["b2"])
    np.testing.assert_array_equal(Engine(network).forward(params, X), A[2])


def test_engine_keeps_float32():
    network = Network((3, 2, 2))
    params = {k: v.astype(np.float32) for k, v in init_params(network, 0).items()}
    X = np.ones((4, 3), np.float32)
    gradients = Engine(network).gradients(params, X, np.full((4, 2), 0.5, np.float32))
    assert all(g.dtype == np.float32 for g in gradients.values())


# --- stability at |z| ~ 1e3 --------------------------------------------------------


@pytest.mark.parametrize("activation, loss", PAIRS)
def test_loss_and_gradients_stay_finite_without_warnings_at_large_preactivations(activation, loss):
    network = network_for(activation, loss, (2, 3, 3))
    params = {"W1": np.array([[500.0, 500.0], [-500.0, -500.0], [1.0, -1.0]]), "b1": np.array([0.0, 0.0, 1.0]),
              "W2": np.array([[1000.0, 0.0, 0.0], [0.0, 1000.0, 0.0], [-1000.0, 0.0, 0.0]]), "b2": np.zeros(3)}
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    T = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    with strict_numpy(), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss_value, gradients = Engine(network).loss_and_gradients(params, X, T)
    assert np.isfinite(loss_value)
    assert all(np.isfinite(g).all() for g in gradients.values())


def test_sigmoid_binary_cross_entropy_is_exact_when_the_output_saturates():
    # One sigmoid unit with z = +-1000: o rounds to 1.0 or 0.0, yet delta = o - t exactly.
    network = Network((1, 1), activation="sigmoid", loss="binary_cross_entropy")
    params = {"W1": np.array([[1000.0]]), "b1": np.array([0.0])}
    X, T = np.array([[1.0], [-1.0]]), np.array([[0.0], [1.0]])
    with strict_numpy():
        loss, gradients = Engine(network).loss_and_gradients(params, X, T)
    assert loss == pytest.approx(2000.0, rel=1e-15)  # -log(1 - S(1000)) - log S(-1000)
    assert gradients["b1"][0] == pytest.approx(1.0 - 1.0, abs=1e-300)  # (1 - 0) + (0 - 1)
    assert gradients["W1"][0, 0] == pytest.approx(2.0, rel=1e-15)  # (1 - 0)(1) + (0 - 1)(-1)


def test_softmax_cross_entropy_delta_is_o_minus_t_when_the_target_probability_underflows():
    # Z = (1000, 0, -1000): o = (1, 0, 0) after rounding; the target class has o = e^-2000 -> 0.
    network = Network((1, 3), activation="softmax", loss="cross_entropy")
    params = {"W1": np.array([[1000.0], [0.0], [-1000.0]]), "b1": np.zeros(3)}
    X, T = np.array([[1.0]]), np.array([[0.0, 0.0, 1.0]])
    with strict_numpy():
        loss, gradients = Engine(network).loss_and_gradients(params, X, T)
    assert loss == pytest.approx(2000.0, rel=1e-15)  # -log softmax(Z)_3 = 1000 - (-1000)
    np.testing.assert_allclose(gradients["b1"], [1.0, 0.0, -1.0], atol=1e-300)


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("params_change, X, T, message", [
    (lambda p: p.pop("b2"), np.zeros((2, 2)), np.zeros((2, 1)), "missing b2"),
    (lambda p: p.update(W1=np.zeros((2, 3))), np.zeros((2, 2)), np.zeros((2, 1)), "W1 has shape (2, 3); expected (2, 2)"),
    (lambda p: None, np.zeros((2, 3)), np.zeros((2, 1)), "X has shape (2, 3); network 2-2-1 expects (N, 2)"),
    (lambda p: None, np.zeros(2), np.zeros((1, 1)), "X has shape (2,)"),
    (lambda p: None, np.zeros((2, 2)), np.zeros((3, 1)), "X has 2 rows but T has 3"),
    (lambda p: None, np.zeros((2, 2)), np.zeros((2, 2)), "T has shape (2, 2); network 2-2-1 expects (N, 1)"),
    (lambda p: None, np.array([[0.0, np.nan]]), np.zeros((1, 1)), "X[0, 1] is nan"),
    (lambda p: None, np.zeros((1, 2)), np.array([[np.inf]]), "T[0, 0] is inf"),
    (lambda p: None, np.zeros((0, 2)), np.zeros((0, 1)), "X has no rows"),
    (lambda p: None, np.array([["a", "b"]]), np.zeros((1, 1)), "X has dtype <U1; expected numbers"),
], ids=["missing-key", "wrong-shape", "X-width", "X-1d", "length-mismatch", "T-width", "nan", "inf", "empty", "strings"])
def test_engine_rejects_bad_parameters_and_data_with_one_line(params_change, X, T, message):
    network = Network((2, 2, 1))
    params = init_params(network, 0)
    params_change(params)
    with pytest.raises(InputError) as caught:
        Engine(network).gradients(params, X, T)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("spec", ["relu(x)**2", "min(x, 1)", "leaky_relu(x, 0.5)", "softplus(x) - log(2)"])
def test_engine_keeps_float32_through_custom_activations_with_kinks_and_constants(spec):
    network = Network((3, 2, 1), activation=[spec, "linear"])
    params = {k: v.astype(np.float32) for k, v in init_params(network, seed=1, scale=1.0).items()}
    X = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    T = np.zeros((2, 1), np.float32)
    gradients = Engine(network).gradients(params, X, T)
    assert {g.dtype for g in gradients.values()} == {np.dtype(np.float32)}


@pytest.fixture
def corrupted_sigmoid_rule(monkeypatch):
    """SymPy taught a wrong sigmoid derivative (S instead of S(1 - S)); every cache of derived results emptied."""
    from derive import clear_caches
    from derive.codegen import printing
    from derive.model import functions
    from verify.check import modules

    def clear():
        clear_caches()
        modules.clear_modules()
        printing.activation_derivative.cache_clear()
        ACTIVATIONS["sigmoid"].__dict__.pop("derivative_expr", None)

    clear()
    monkeypatch.setattr(functions.sigmoid, "fdiff", lambda self, argindex=1: functions.sigmoid(self.args[0]))
    yield
    monkeypatch.undo()
    clear()


def test_a_wrong_sympy_rule_leaves_the_engine_unchanged_and_the_check_blames_the_reference(corrupted_sigmoid_rule):
    from derive import derive
    from verify import check_gradients

    network = Network((3, 4, 2), activation="sigmoid")
    params = init_params(network, seed=5, scale=1.0)
    rng = np.random.default_rng(5)
    X, T = rng.normal(size=(4, 3)), rng.uniform(0.1, 0.9, size=(4, 2))
    engine = Engine(network).gradients(params, X, T)
    expected = central_differences(lambda p: Engine(network).loss(p, X, T), params)
    for name in engine:
        np.testing.assert_allclose(engine[name], expected[name], rtol=1e-6, atol=1e-9)
    generated = derive(network).numpy_module().gradients(params, X, T)
    assert not np.allclose(generated["W1"], engine["W1"])  # the corruption did reach the generated code
    report = check_gradients(network, params, X, T)
    assert report.culprit == "reference" and "SYMBOLIC REFERENCE is wrong" in report.summary


def test_a_custom_activation_makes_the_engine_dependent_and_the_report_says_so():
    from verify import check_gradients

    network = Network((2, 3, 1), activation=["x/(1+abs(x))", "linear"])
    assert not Engine(network).independent and Engine(Network((2, 3, 1), activation="silu")).independent
    params = init_params(network, seed=1, scale=1.0)
    report = check_gradients(network, params, np.array([[0.3, -0.7]]), np.array([[0.2]]))
    assert report.ok and any("not independent" in w and "x/(1+abs(x))" in w for w in report.warnings)
