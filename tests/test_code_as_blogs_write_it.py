"""Backprop written as blog posts and course notes write it (``tests/corpus/blog_style.py``), checked as its author
would check it: one-hot classification code passes on the default data, and each convention it follows, or slip
it makes, is said in its own terms with the options that fit it."""

import re
import shlex

import numpy as np
import pytest

from cli_helpers import run

SOFTMAX = ["4-5-3", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weights",
           "in-out"]


def test_classification_code_that_takes_the_class_as_argmax_passes_on_the_default_one_hot_targets(corpus, capsys):
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:one_hot_backward")
    assert code == 0, out + err
    assert "data: 8 random examples, one-hot targets (seed 0)" in out


def test_soft_targets_are_drawn_on_request_and_show_where_code_assumes_one_hot(corpus, capsys):
    code, out, _ = run(capsys, *SOFTMAX, "--soft-targets", "--grad", "blog_style.py:one_hot_backward")
    assert code == 1
    assert "data: 8 random examples, soft targets (probability rows) (seed 0)" in out
    assert ("the targets were soft probability rows (--soft-targets): if your code takes each example's class as "
            "T.argmax(1), it is right only for one-hot rows, the default") in out
    code, _, err = run(capsys, *SOFTMAX, "--soft-targets", "--labels", "--grad", "blog_style.py:one_hot_backward")
    assert code == 2 and "--soft-targets" in err and "not with --labels" in err
    code, _, err = run(capsys, "3-4-2", "--activation", "sigmoid", "--soft-targets", "--no-bias", "--weights",
                       "in-out", "--grad", "blog_style.py:update_direction")
    assert code == 2 and err.count("\n") == 1
    assert "--soft-targets draws probability rows for a softmax output; this network's output is sigmoid" in err


@pytest.mark.parametrize("argv, read", [
    (["--grad", "blog_style.py:with_loss_entry"], "keys dW1/db1/…, the loss under 'loss' beside the gradients"),
    (["--update", "0.05", "--grad", "blog_style.py:train_step"],  # a training step returning its loss
     "parameters updated in place, gradient recovered from an update with learning rate 0.05")])
def test_a_loss_returned_beside_the_gradients_or_by_a_training_step_is_read_as_the_loss(corpus, capsys, argv, read):
    code, out, err = run(capsys, *SOFTMAX, *argv)
    assert code == 0, out + err
    assert read in out
    assert re.search(r"the loss it returned, [0-9.]+, is the network's loss here", out)


def test_a_function_taking_the_data_first_is_told_the_order_it_is_called_in(corpus, capsys):
    code, _, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:data_first")
    assert code == 2
    assert ("it is called as f(params, X, T), the parameters first, but its own signature is (X, Y, params): take "
            "them in that order, or check lambda params, X, Y: data_first(X, Y, params)") in err


def test_the_update_direction_of_an_unhalved_loss_is_said_as_a_sign_and_a_convention(corpus, capsys):
    code, out, _ = run(capsys, "3-4-2", "--activation", "sigmoid", "--no-bias", "--weights", "in-out", "--grad",
                       "blog_style.py:update_direction")
    assert code == 1
    assert ("your gradients are exactly -2 x the reference at every entry: the sign is flipped (it is the negative "
            "gradient, the direction a step goes) and your loss is sum (o - t)^2 without the 1/2") in out
    assert "they pass for" not in out
    assert "W1 (W1.T), W2 (W2.T): the negative of the right values under the convention above (--loss squared_error)" \
        in out
    rerun = re.search(r"^  rerun: (.*)$", out, re.M).group(1)
    code, out, _ = run(capsys, *shlex.split(rerun)[2:])
    assert code == 1 and "equal -1 x the correct gradients: the sign is flipped" in out


def test_a_mean_over_every_entry_divided_by_n_only_is_said_as_such(corpus, capsys):
    code, out, _ = run(capsys, "3-4-3", "--activation", "sigmoid", "--loss", "mse", "--weights", "in-out", "--grad",
                       "blog_style.py:mean_divided_by_n")
    assert code == 1
    assert ("your gradients are exactly 3 x the reference at every entry: your gradient divides by N, the number of "
            "examples, only: the mean of (o - t)^2 over every entry (np.mean((o - t)**2), nn.MSELoss()) divides by "
            "N x n_L = N x 3, the size of T") in out
    assert "(= n_L, the number of output units: divided by N only, where the mean over every entry of T divides by " \
           "N x n_L?)" in out


@pytest.mark.parametrize("batch, coefficient", [("8", "0.0125"), ("4", "0.025")])
def test_a_penalty_divided_by_the_batch_size_is_said_with_its_coefficient_per_example(corpus, capsys, batch,
                                                                                       coefficient):
    code, out, _ = run(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                       "mean", "--weights", "in-out", "--batch", batch, "--grad", "blog_style.py:l2_over_batch")
    assert code == 1
    assert ("%s = 0.1/N, N = %s the examples: your penalty is divided by the batch size, so the coefficient that "
            "passes holds for this N only" % (coefficient, batch)) in out
    assert "--weight-decay %s" % coefficient in out


def test_a_parameter_file_saved_from_the_users_own_arrays_is_read_in_their_layout(corpus, capsys):
    rng = np.random.default_rng(5)
    params = {"W1": rng.normal(size=(4, 5)), "b1": rng.normal(size=(1, 5)), "W2": rng.normal(size=(5, 3)),
              "b2": rng.normal(size=3)}
    np.savez("mine.npz", **params)
    code, out, err = run(capsys, *SOFTMAX, "--params", "mine.npz", "--grad", "blog_style.py:one_hot_backward",
                         "--json")
    assert code == 0, out + err
    import json
    from corpus.blog_style import one_hot_backward
    from verify.check.inputs import random_data
    from derive import Network

    network = Network((4, 5, 3), activation=["tanh", "softmax"], loss="cross_entropy", reduction="mean")
    X, T = random_data(network, 8, 0, soft=False)
    theirs = one_hot_backward({k: v for k, v in params.items()}, X, T)
    document = json.loads(out)
    assert document["ok"] and document["parameters"] == "from mine.npz, float64"
    # The gradient at the user's own parameters, as their code computes it there: the file was read as they wrote it.
    assert [row["largest"] for row in document["rows"]] == pytest.approx(
        [float(np.max(np.abs(g))) for g in theirs], rel=1e-12)


def test_a_property_search_of_one_hot_code_says_so_on_soft_targets_and_passes_with_one_hot(corpus, capsys):
    search = [*SOFTMAX, "--grad", "blog_style.py:one_hot_backward", "--examples", "20", "--seed", "1", "-n", "0"]
    code, out, _ = run(capsys, *search, command="proptest")
    assert code == 1
    assert ("The targets T here are soft probability rows, not one-hot: if your code takes each example's class as "
            "T.argmax(1), run the search with --one-hot (class labels (N,): --labels).") in out
    code, out, err = run(capsys, *search, "--one-hot", command="proptest")
    assert code == 0, out + err
    code, _, err = run(capsys, "4-5-3", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--one-hot",
                       "--examples", "5", command="proptest")
    assert code == 2 and "--one-hot gives your function one-hot targets: it goes with --grad or --hvp" in err
    code, _, err = run(capsys, "3-4-2", "--activation", "sigmoid", "--no-bias", "--weights", "in-out", "--one-hot",
                       "--grad", "blog_style.py:update_direction", "--examples", "5", command="proptest")
    assert code == 2 and "--one-hot gives a softmax output's targets as one-hot rows; this network's output is " \
                         "sigmoid" in err


@pytest.mark.parametrize("function, finding, table", [
    ("transposed_first_layer",
     "W1 (W1.T): returned with shape (5, 4), the transpose of your W1's shape (4, 5) (in, out): entry [i, j] must hold "
     "dE/dW1[i, j], for the weight from unit i to unit j, as your W1[i, j] does; transposed back, it is right",
     "W1 was returned with shape 5x4, not 4x5, the shape of your W1"),
    ("bias_summed_over_everything",  # np.sum(dz1): summed over the units too
     "b1: returned as one number (shape ()) where b1 has 5 entries: the bias gradient summed over the units too "
     "(np.sum(delta) without axis=0), where each unit's entry is its own column summed over the examples; it is the "
     "sum of the right entries",
     "b1 was returned with shape () (one number), not 5: every entry counts as wrong")])
def test_a_gradient_in_another_shape_is_said_in_the_users_own_terms(corpus, capsys, function, finding, table):
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "blog_style.py:" + function)
    assert code == 1
    assert finding in out and table in out
    assert "no known bug pattern fits" not in out


def test_a_penalty_on_the_biases_too_is_named_with_its_coefficient(corpus, capsys):
    code, out, _ = run(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                       "mean", "--weights", "in-out", "--weight-decay", "0.0125", "--grad",
                       "blog_style.py:l2_on_biases_too")
    assert code == 1
    assert ("b1, b2: equal the right gradients plus 0.0125 b: a penalty 0.0125/2 sum b^2 on the biases too (the "
            "weights' own coefficient)") in out
    assert "W1 (W1.T), W2 (W2.T): right at every entry" in out


def test_a_penalty_term_forgotten_in_one_layer_is_named_with_both_readings(corpus, capsys):
    code, out, _ = run(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                       "mean", "--weights", "in-out", "--grad", "blog_style.py:penalty_on_w2_only")
    assert code == 1
    assert ("W2 (W2.T): equals the right gradient plus 0.0125 W: a weight-decay term, the penalty 0.0125/2 sum w^2, "
            "that this network does not have; W1 has no such term: if your loss has the penalty, its gradient lacks "
            "it (check with --weight-decay 0.0125), else W2 has one too many") in out
    code, out, _ = run(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                       "mean", "--weights", "in-out", "--weight-decay", "0.0125", "--grad",
                       "blog_style.py:penalty_on_w2_only")
    assert code == 1 and "W1 (W1.T): equals the correct gradient without the penalty term W1/80 (for W1)" in out


def test_a_gradient_function_that_also_steps_the_weights_it_was_given_is_warned_of(corpus, capsys):
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "blog_style.py:gradients_and_a_step")
    assert code == 0
    assert ("Warnings:\n  - blog_style.py:gradients_and_a_step changed W1 in place, the parameters it was given: a "
            "gradient function that also updates the weights steps twice in a training loop") in out
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "blog_style.py:one_hot_backward")
    assert code == 0 and "in place" not in out


def test_a_loss_of_one_entry_in_an_array_is_a_loss_and_a_nan_loss_is_said_as_such(corpus, capsys):
    with open("costs.py", "w") as handle:
        handle.write("import numpy as np\n"
                     "from blog_style import one_hot_backward\n\n"
                     "def cost_11(params, X, Y):\n"
                     "    dW1, db1, dW2, db2 = one_hot_backward(params, X, Y)\n"
                     "    return {'dW1': dW1, 'db1': db1, 'dW2': dW2, 'db2': db2, 'cost': np.array([[0.5]])}\n\n"
                     "def nan_loss(params, X, Y):\n"
                     "    return float('nan'), one_hot_backward(params, X, Y)\n")
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "costs.py:cost_11")
    assert code == 0 and "the loss under 'cost' beside the gradients" in out
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "costs.py:nan_loss")
    assert code == 0 and re.search(r"the loss it returned is nan; the network's loss here is [0-9.]+", out)


@pytest.mark.parametrize("saved, message", [
    ({"W1": (4, 6), "b1": (1, 5), "W2": (5, 3), "b2": (3,)},
     "W1 has shape (4, 6); expected (4, 5) ((in, out), as --weights in-out stores it)"),
    ({"W1": (4, 5), "b1": (1, 5), "W2": (5, 3)}, "missing b2; expected the keys W1, b1, W2, b2"),
    ({"W1": (4, 5), "b1": (1, 5), "W2": (5, 3), "b2": (3,), "lr": ()}, "an unexpected key 'lr'"),
], ids=["wrong-shape", "missing", "extra"])
def test_a_parameter_file_in_the_users_layout_is_refused_in_their_terms(corpus, capsys, saved, message):
    np.savez("mine.npz", **{key: np.zeros(shape) for key, shape in saved.items()})
    code, out, err = run(capsys, *SOFTMAX, "--params", "mine.npz", "--grad", "blog_style.py:one_hot_backward")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "parameter file mine.npz: " + message in err


def test_a_function_taking_each_array_as_its_own_argument_is_given_them_by_name(corpus, capsys):
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:backward_pass")
    assert code == 0, out + err
    assert ("read: weights (in, out), examples as rows, parameters passed as the arguments W1, b1, W2, b2, a list "
            "in the order W2, b2, W1, b1 (by its shapes)") in out
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:grads_by_keyword")
    assert code == 0, out + err
    assert "parameters passed as the arguments w1, b1, w2, b2, a list in the order W1, W2, b1, b2 (by its shapes)" \
        in out


def test_gradients_returned_last_layer_first_with_equal_widths_are_read_in_the_order_nearest_the_reference(
        corpus, capsys):
    square = ["4-4-4", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weights",
              "in-out", "--grad"]
    code, out, err = run(capsys, *square, "blog_style.py:backward_pass")
    assert code == 0, out + err
    assert "a list in the order W2, b2, W1, b1 (by its values: its shapes fit layer order too)" in out
    code, out, _ = run(capsys, *square, "blog_style.py:backward_pass_without_tanh_derivative")
    assert code == 1
    assert "a list in the order W2, b2, W1, b1 (by its values" in out
    assert "missing the tanh derivative" in out
    code, out, err = run(capsys, *square, "blog_style.py:grads_by_keyword")  # layer order does not fit; two others do
    assert code == 0, out + err
    assert "a list in the order W1, W2, b1, b2 (by its values: its shapes fit W2, W1, b2, b1 too)" in out


def test_arguments_by_name_from_python_and_a_wrong_gradient_still_fails(corpus, monkeypatch):
    monkeypatch.syspath_prepend(str(corpus))
    import blog_style
    from derive import Network
    from verify import Layout, check_gradients
    from verify.check.inputs import random_data, random_params

    network = Network((4, 5, 3), activation=["tanh", "softmax"], loss="cross_entropy", reduction="mean")
    params = random_params(network, seed=1)
    X, T = random_data(network, batch=6, seed=1)
    assert check_gradients(network, params, X, T, blog_style.backward_pass, layout=Layout(weights="in-out")).ok

    def forgot_the_mean(X, Y, W1, b1, W2, b2):  # the output delta not divided by N: N times too large
        return tuple(g * len(X) for g in blog_style.backward_pass(X, Y, W1, b1, W2, b2))

    report = check_gradients(network, params, X, T, forgot_the_mean, layout=Layout(weights="in-out"))
    assert not report.ok and report.culprit == "candidate"


def test_arguments_for_some_parameters_only_are_told_the_option_or_the_layers_that_fit(corpus, capsys):
    sigmoid = ["3-4-2", "--activation", "sigmoid", "--weights", "in-out", "--grad", "blog_style.py:backward_no_bias"]
    code, _, err = run(capsys, *sigmoid)
    assert code == 2 and err.count("\n") == 1
    assert ("its arguments take W1, W2 but none takes b1, b2, which 3-4-2, sigmoid, sse (sum), bias has: if the code "
            "has no biases, check it with --no-bias") in err
    code, out, err = run(capsys, *sigmoid, "--no-bias")
    assert code == 0, out + err
    code, _, err = run(capsys, "3-4-3-2", "--activation", "sigmoid", "--no-bias", *sigmoid[3:])
    assert code == 2 and "its arguments take W1, W2 but none takes W3, which 3-4-3-2" in err
    code, _, err = run(capsys, "4-3", "--activation", "softmax", "--loss", "cross_entropy", "--reduction", "mean",
                       "--weights", "in-out", "--grad", "blog_style.py:backward_pass")
    assert code == 2 and "its arguments take W2, b2 too, a layer more than 4-3, softmax" in err


def test_parameters_unpacked_as_a_list_are_passed_as_one_after_a_dict_fails(corpus, capsys):
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:unpacked_list")
    assert code == 0, out + err
    assert ("parameters passed as a list in layer order, as its code takes them (given a dict, it raised "
            "UFuncTypeError)") in out
    code, _, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:data_first")  # fails with a list too: as before
    assert code == 2 and "it is called as f(params, X, T), the parameters first" in err




def test_one_number_for_the_bias_of_a_one_unit_layer_is_that_bias_gradient(corpus, capsys):
    code, out, err = run(capsys, "3-4-1", "--activation", "tanh,sigmoid", "--loss", "binary_cross_entropy",
                         "--reduction", "mean", "--weights", "in-out", "--grad", "blog_style.py:binary_classifier")
    assert code == 0, out + err


def test_a_check_on_one_example_says_what_it_cannot_tell(corpus, capsys):
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:backward_pass", "--batch", "1")
    assert code == 0, out + err
    assert ("one example: a gradient not summed over the examples (a bias gradient of one row, delta itself), or a sum "
            "where the mean is meant, cannot be told from a right one here") in out
    code, out, _ = run(capsys, *SOFTMAX, "--grad", "blog_style.py:backward_pass", "--batch", "2")
    assert code == 0 and "one example:" not in out


def test_what_a_list_taking_function_raises_is_its_own_error_with_the_option_that_fits(corpus, capsys):
    code, _, err = run(capsys, *SOFTMAX[:-2], "--grad", "blog_style.py:unpacked_list")  # no --weights in-out
    assert code == 2 and err.count("\n") == 1
    assert "(given the parameters as a list, as its code unpacks them)" in err
    assert "--weights in-out (W stored (n_in, n_out), for X @ W)" in err


def test_transposed_gradients_in_a_list_are_not_taken_for_another_order(corpus, capsys):
    code, out, _ = run(capsys, "3-5-3", "--activation", "tanh,linear", "--no-bias", "--weights", "in-out", "--grad",
                       "blog_style.py:transposed_no_bias")
    assert code == 1
    assert "a list in layer order" in out and "transposed back, it is right" in out


def test_arguments_named_for_layers_counted_from_zero_are_given_their_arrays(corpus, capsys):
    code, out, err = run(capsys, *SOFTMAX, "--grad", "blog_style.py:backward_from_layer_zero")
    assert code == 0, out + err
    assert "parameters passed as the arguments W0, b0, W1, b1" in out
