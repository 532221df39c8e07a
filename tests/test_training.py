"""Training: the lecture's update rules, batching, early stopping, determinism, XOR and digits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from derive import InputError, Network, init_params
from verify import Engine, GradientDescent, load_data, split, train
from verify.engine.training import batches, evaluate

ETA, ALPHA = 0.5, 0.9


def small_problem(weight_decay: float = 0.0):
    network = Network((2, 3, 1), weight_decay=weight_decay)
    rng = np.random.default_rng(3)
    X = rng.uniform(-1, 1, size=(4, 2))
    T = rng.uniform(0.1, 0.9, size=(4, 1))
    return network, init_params(network, seed=5, scale=0.5), X, T


def per_example_gradients(network: Network, params, X, T) -> list[dict]:
    """The lecture's per-example gradients (sum reduction, one example at a time)."""
    engine = Engine(network.replace(reduction="sum", weight_decay=0.0, l1=0.0))
    return [engine.gradients(params, X[n:n + 1], T[n:n + 1]) for n in range(len(X))]


def averaged_step(network, params, X, T, index, lr):
    """Delta w = -eta (1/B sum_m dE^m/dw + lambda w): the lecture's mini-batch rule, plus decay."""
    grads = per_example_gradients(network, params, X[list(index)], T[list(index)])
    return {name: params[name] - lr * (sum(g[name] for g in grads) / len(grads)
                                       + (network.weight_decay * params[name] if name.startswith("W") else 0))
            for name in params}


def assert_params_close(actual, expected, rtol=1e-12):
    assert actual.keys() == expected.keys()
    for name in actual:
        np.testing.assert_allclose(actual[name], expected[name], rtol=rtol, atol=1e-15, err_msg=name)


# --- the update rule --------------------------------------------------------------------


def test_gradient_descent_step_is_minus_eta_gradient_plus_alpha_previous_change():
    optimizer = GradientDescent(lr=ETA, momentum=ALPHA)
    w0 = {"W1": np.array([[1.0, -2.0]])}
    w1 = optimizer.step(w0, {"W1": np.array([[0.2, 0.4]])})
    np.testing.assert_allclose(w1["W1"], [[1.0 - 0.1, -2.0 - 0.2]])
    w2 = optimizer.step(w1, {"W1": np.array([[-1.0, 0.0]])})
    # Delta w_2 = -0.5 * (-1, 0) + 0.9 * (-0.1, -0.2) = (0.41, -0.18)
    np.testing.assert_allclose(w2["W1"], [[0.9 + 0.41, -2.2 - 0.18]], rtol=1e-15)
    np.testing.assert_allclose(optimizer.velocity["W1"], [[0.41, -0.18]], rtol=1e-15)
    assert w0["W1"].tolist() == [[1.0, -2.0]]  # the input is not modified


@pytest.mark.parametrize("lr, momentum", [(0.0, 0.0), (-1.0, 0.0), (float("nan"), 0.0), (0.1, 1.0), (0.1, -0.1)])
def test_gradient_descent_rejects_bad_learning_rate_or_momentum(lr, momentum):
    with pytest.raises(InputError, match="lr|momentum"):
        GradientDescent(lr, momentum)


# --- batches ----------------------------------------------------------------------------


def test_batches_cover_every_example_once_in_a_shuffled_order():
    rng = np.random.default_rng(0)
    epochs = [batches(10, 3, rng) for _ in range(3)]
    for epoch in epochs:
        assert [len(b) for b in epoch] == [3, 3, 3, 1]
        assert sorted(np.concatenate(epoch).tolist()) == list(range(10))
    assert len({tuple(np.concatenate(e)) for e in epochs}) == 3  # a new order every epoch
    assert [len(b) for b in batches(10, None, rng)] == [10]
    assert [len(b) for b in batches(10, 50, rng)] == [10]
    assert [len(b) for b in batches(4, 1, rng)] == [1, 1, 1, 1]


def test_batch_gradient_descent_averages_per_example_gradients():
    network, params, X, T = small_problem()
    history = train(network, (X, T), params=params, lr=ETA, epochs=1, batch_size=None)
    assert_params_close(history.params, averaged_step(network, params, X, T, range(4), ETA))


def test_batch_step_with_weight_decay_shrinks_weights_but_not_biases():
    network, params, X, T = small_problem(weight_decay=0.2)
    history = train(network, (X, T), params=params, lr=ETA, epochs=1, batch_size=4)
    assert_params_close(history.params, averaged_step(network, params, X, T, range(4), ETA))


def test_momentum_carries_the_previous_epochs_change_in_batch_mode():
    network, params, X, T = small_problem()
    history = train(network, (X, T), params=params, lr=ETA, momentum=ALPHA, epochs=2, batch_size=None)
    first = averaged_step(network, params, X, T, range(4), ETA)
    plain_second = averaged_step(network, first, X, T, range(4), ETA)
    expected = {k: plain_second[k] + ALPHA * (first[k] - params[k]) for k in params}
    assert_params_close(history.params, expected)


def all_orders(network, params, X, T, batch_size):
    """Parameters after one epoch for every possible order of the examples."""
    results = []
    for order in itertools.permutations(range(len(X))):
        current = params
        for start in range(0, len(X), batch_size):
            current = averaged_step(network, current, X, T, order[start:start + batch_size], ETA)
        results.append(current)
    return results


@pytest.mark.parametrize("batch_size", [1, 2], ids=["stochastic", "mini-batch"])
def test_one_epoch_equals_averaged_steps_over_some_order_of_the_examples(batch_size):
    network, params, X, T = small_problem()
    trained = train(network, (X, T), params=params, lr=ETA, epochs=1, batch_size=batch_size, seed=7).params
    candidates = all_orders(network, params, X, T, batch_size)
    matches = [c for c in candidates if all(np.allclose(trained[k], c[k], rtol=1e-12, atol=1e-15) for k in c)]
    assert matches, "the epoch matches no order of the examples"
    spread = max(np.abs(c["W1"] - candidates[0]["W1"]).max() for c in candidates)
    assert spread > 1e-6  # the order matters, so matching one order is a real check


def test_stochastic_training_is_shuffled_differently_per_seed_but_deterministic():
    network, params, X, T = small_problem()
    runs = [train(network, (X, T), params=params, lr=ETA, epochs=3, batch_size=1, seed=s).params for s in (1, 1, 2)]
    assert_params_close(runs[0], runs[1], rtol=0)
    assert not np.allclose(runs[0]["W1"], runs[2]["W1"], rtol=1e-12, atol=0)


def test_same_seed_gives_identical_history_and_parameters():
    network = Network((2, 3, 1))
    data = load_data("xor", network)
    first, second = (train(network, data, lr=1.0, momentum=0.5, epochs=20, batch_size=2, seed=4) for _ in range(2))
    assert first.records == second.records
    assert_params_close(first.params, second.params, rtol=0)


# --- history and early stopping ------------------------------------------------------------


def test_history_records_loss_and_accuracy_every_epoch():
    network = Network((2, 2, 1))
    data = load_data("xor", network)
    history = train(network, data, validation=data, lr=1.0, epochs=5, batch_size=4)
    assert [r.epoch for r in history.records] == [1, 2, 3, 4, 5]
    engine = Engine(network.replace(reduction="mean"))
    assert history.loss[-1] == engine.loss(history.params, data.X, data.T)
    outputs = engine.forward(history.params, data.X)[:, 0]
    assert history.accuracy[-1] == np.mean((outputs > 0.5) == (data.labels == 1))
    assert history.val_loss == history.loss and history.val_accuracy == history.accuracy
    assert history.to_dict()["records"][0]["epoch"] == 1


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch():
    network = Network((2, 4, 1))
    data = load_data("xor", network)
    # Validation targets contradict the training targets: fitting one worsens the other.
    flipped = (data.X, 1.0 - data.T)
    history = train(network, data, validation=flipped, lr=2.0, momentum=0.9, epochs=500, batch_size=4,
                    patience=5, seed=0, init_scale=0.5)
    assert history.stopped_early
    val_loss = history.val_loss
    assert len(history.records) == history.best_epoch + 5
    assert val_loss[history.best_epoch - 1] == min(val_loss)
    assert all(v >= min(val_loss) for v in val_loss[history.best_epoch:])
    rerun = train(network, data, lr=2.0, momentum=0.9, epochs=history.best_epoch, batch_size=4, seed=0, init_scale=0.5)
    assert_params_close(history.params, rerun.params, rtol=0)
    assert evaluate(Engine(network.replace(reduction="mean")), history.params, data)[0] == history.best.loss


def test_patience_without_validation_data_is_refused():
    network = Network((2, 2, 1))
    with pytest.raises(InputError, match="needs a validation set"):
        train(network, load_data("xor", network), patience=3)


@pytest.mark.parametrize("option, value", [("epochs", 0), ("batch_size", 0), ("patience", -1), ("min_delta", -1.0)])
def test_train_rejects_bad_settings(option, value):
    network = Network((2, 2, 1))
    data = load_data("xor", network)
    with pytest.raises(InputError, match=option):
        train(network, data, validation=data, **{option: value})


def test_divergence_is_reported_as_one_line_not_a_warning():
    network = Network((2, 3, 1), activation="linear")
    with np.errstate(all="raise"), pytest.raises(InputError, match="diverged at epoch 1.*smaller learning rate"):
        train(network, (np.full((4, 2), 100.0), np.ones((4, 1))), lr=100.0, epochs=5)


# --- the lecture's problems -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_xor_reaches_full_accuracy_with_the_readme_settings(seed):
    network = Network((2, 2, 1), activation="sigmoid")
    history = train(network, load_data("xor", network), lr=2.0, momentum=0.9, init_scale=0.5,
                    epochs=2000, batch_size=4, seed=seed)
    assert history.accuracy[-1] == 1.0


def test_digits_64_30_10_sigmoid_reaches_95_percent_test_accuracy():
    network = Network((64, 30, 10), activation="sigmoid")
    data = load_data("digits", network)
    train_set, validation_set, test_set = split(data, validation=0.1, test=0.2, seed=0)
    history = train(network, train_set, validation=validation_set, lr=0.5, momentum=0.9, batch_size=32,
                    epochs=100, patience=10, seed=0)
    _, test_accuracy = history.evaluate(test_set)
    assert test_accuracy >= 0.95
    assert test_accuracy == np.mean(np.argmax(Engine(network).forward(history.params, test_set.X), 1) == test_set.labels)
