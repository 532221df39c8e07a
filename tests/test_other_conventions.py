"""Code written in other conventions and layouts is checked as it is written: no adapter, the right verdict,
and, when it is wrong, the right name for the bug and where it is.

The corpus (``tests/corpus``) is written afresh in the styles of Nielsen's book, CS231n, the Deep Learning
Specialization, PyTorch's numpy warm-up and Keras-style mse code; each test runs ``backprop check`` on it as its
user would.  ``corpus/any_layout.py`` is one backprop written natively in every layout, for the property that
correct code passes in every layout on random networks.
"""

import json
import re
import shlex

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cli_helpers import run
from corpus.any_layout import make
from derive import InputError, Network
from verify import check_gradients, strategies
from verify.check.layouts import Layout

def check(capsys, *argv):
    return run(capsys, *argv)


# --- correct code in other layouts passes, and the read line says how it was read --------------------------


@pytest.mark.parametrize("argv, read", [
    (["3-4-2", "--grad", "nielsen.py:backprop", "--examples", "columns", "--per-example"],
     "read: weights (out, in), examples as columns, a pair of lists (nabla_b, nabla_w), called once per example, "
     "summed"),
    (["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weight-decay",
      "0.1", "--weights", "in-out", "--labels", "--grad", "cs231n.py:loss"],
     "read: weights (in, out), examples as rows, (loss, gradients)"),
    (["2-4-1", "--activation", "tanh,sigmoid", "--loss", "binary_cross_entropy", "--reduction", "mean",
      "--examples", "columns", "--grad", "deeplearning_ai.py:gradients"],
     "read: weights (out, in), examples as columns, keys dW1/db1/…"),
    (["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--names", "w{l},b{l}", "--loss",
      "squared_error", "--grad", "pytorch_numpy_warmup.py:gradients"], "read: weights (in, out), examples as rows"),
    (["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--names", "w{l},b{l}", "--loss",
      "squared_error", "--update", "0.01", "--grad", "pytorch_numpy_warmup.py:train_step"],
     "parameters updated in place, gradient recovered from an update with learning rate 0.01"),
    (["3-5-2", "--activation", "sigmoid,linear", "--loss", "mse", "--grad", "keras_like.py:gradients"],
     "keys grad_W1/grad_b1/…"),
], ids=["nielsen", "cs231n", "deeplearning-ai", "pytorch-warmup", "update-in-place", "keras-mse"])
def test_correct_code_in_its_own_layout_passes_and_says_what_was_read(corpus, capsys, argv, read):
    code, out, err = check(capsys, *argv)
    assert code == 0, out + err
    assert read in out
    assert "entries: OK" in out


def test_the_loss_returned_beside_the_gradient_is_checked_too(corpus, capsys):
    code, out, _ = check(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                         "mean", "--weight-decay", "0.1", "--weights", "in-out", "--labels", "--grad", "cs231n.py:loss")
    assert code == 0 and re.search(r"the loss it returned, [0-9.]+, is the network's loss here", out)


# --- conventions: the check answers for the options given, and says which options pass ----------------------


@pytest.mark.parametrize("argv, said, options", [
    (["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--names", "w{l},b{l}",
      "--grad", "pytorch_numpy_warmup.py:gradients"],
     "your gradients are exactly 2 x the reference at every entry: your loss is sum (o - t)^2 without the 1/2",
     "--loss squared_error"),
    (["3-5-3", "--activation", "sigmoid,linear", "--grad", "keras_like.py:gradients"],
     "your loss is the mean of (o - t)^2 over the output units (and the examples)", "--loss mse"),
    (["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--weight-decay", "0.1", "--weights",
      "in-out", "--labels", "--grad", "cs231n.py:loss"],
     "your loss is averaged over the examples, where this network's is their sum", "--reduction mean"),
    (["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weight-decay",
      "0.05", "--weights", "in-out", "--labels", "--grad", "cs231n.py:loss"],
     "your weight decay adds 0.1 w to each weight's gradient", "--weight-decay 0.1"),
], ids=["no-half", "keras-mse", "mean-not-sum", "reg-times-two"])
def test_a_convention_that_explains_every_entry_is_named_with_the_command_that_passes(corpus, capsys, argv, said,
                                                                                      options):
    code, out, _ = check(capsys, *argv)
    assert code == 1
    assert said in out
    rerun = re.search(r"^  rerun: (.*)$", out, re.M).group(1)
    assert options in rerun
    code, out, err = check(capsys, *shlex.split(rerun)[2:])
    assert code == 0, out + err


def test_a_penalty_the_check_was_not_told_of_is_the_convention_not_a_bug_and_its_loss_agrees(corpus, capsys):
    # CS231n's loss(X, y, reg=0.05) adds 2 * reg * W to each weight's gradient; the user forgot --weight-decay.
    code, out, _ = check(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                         "mean", "--weights", "in-out", "--labels", "--grad", "cs231n.py:loss")
    assert code == 1
    assert "your weight decay adds 0.1 w to each weight's gradient" in out
    assert diagnosis(out) == ["W1 (W1.T), W2 (W2.T): right under the convention above (--weight-decay 0.1)",
                              "b1, b2: right at every entry"]
    assert re.search(r"the loss it returned, [0-9.]+, is the loss of the convention above \(4-6-3, relu/softmax, "
                     r"cross_entropy \(mean\), bias, L2 0.1\), as its gradient is; this network's is [0-9.]+", out)
    assert "Warnings:" not in out


def test_a_report_names_each_entry_as_the_users_own_layout_indexes_it():
    # PyTorch's numpy warm-up: weights (in, out) named w1, w2; the toolkit's W1[j, i] is the user's w1[i, j].
    from corpus.pytorch_numpy_warmup import gradients

    network = Network((5, 7, 3), activation=["relu", "linear"], bias=False, loss="squared_error")
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(7, 5)), "W2": rng.normal(size=(3, 7))}
    X, T = rng.normal(size=(6, 5)), rng.normal(size=(6, 3))
    report = check_gradients(network, params, X, T, lambda p, x, y: {k: 3 * v for k, v in gradients(p, x, y).items()},
                             layout=Layout(weights="in-out", names="w{l},b{l}"))
    theirs = {k: 3 * v for k, v in gradients({"w1": params["W1"].T.copy(), "w2": params["W2"].T.copy()}, X, T).items()}
    assert report.parameter_names == {"W1": "w1.T", "W2": "w2.T"}
    assert "W1 (w1.T) 7x5" in str(report)
    assert report.worst
    for finding in report.worst:
        user, row, column = re.search(r"yours: (w[12])\[(\d+), (\d+)\]", finding.meaning).groups()
        assert theirs[user][int(row), int(column)] == pytest.approx(finding.candidate, rel=1e-12)


# --- real bugs, named and located ------------------------------------------------------------------------------


def diagnosis(out: str) -> list[str]:
    block = out.split("Diagnosis:\n", 1)[1].split("\n\n", 1)[0]
    return [line[4:] for line in block.splitlines()]


@pytest.mark.parametrize("batch, hedge", [("8", ""), ("4", " (= N, the number of examples: summed over them where "
                                                           "the mean was meant?)")], ids=["N=8", "N=4"])
def test_one_bias_four_times_too_large_is_said_as_such_and_the_rest_is_right(corpus, capsys, batch, hedge):
    code, out, _ = check(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                         "mean", "--weight-decay", "0.1", "--weights", "in-out", "--labels", "--batch", batch,
                         "--grad", "cs231n.py:bias_times_four")
    assert code == 1
    assert diagnosis(out) == ["b1: every entry of b1 is 4 x the reference" + hedge,
                               "W1 (W1.T), W2 (W2.T), b2: right at every entry"]


def test_two_bugs_in_two_parameters_are_each_named(corpus, capsys):
    code, out, _ = check(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                         "mean", "--weight-decay", "0.1", "--weights", "in-out", "--labels", "--grad",
                         "cs231n.py:two_bugs")
    assert code == 1
    assert diagnosis(out) == ["b1: every entry of b1 is 4 x the reference",
                              "W2 (W2.T): every entry of W2 is 2 x the reference (a factor 2 too many)",
                              "W1 (W1.T), b2: right at every entry"]


def test_a_softmax_derivative_taken_elementwise_is_named(corpus, capsys):
    code, out, _ = check(capsys, "3-5-4", "--activation", "sigmoid,softmax", "--loss", "mse", "--grad",
                         "keras_like.py:softmax_elementwise")
    assert code == 1
    (found,) = diagnosis(out)
    assert found.startswith("W1, b1, W2, b2: equal the correct gradients with the softmax derivative of the output "
                            "layer taken elementwise: only the diagonal of its Jacobian")


def test_a_slice_of_units_dropped_from_the_backward_pass_is_located(corpus, capsys):
    code, out, _ = check(capsys, "6-30-2", "--activation", "sigmoid,linear", "--loss", "mse", "--grad",
                         "keras_like.py:dropped_slice")
    assert code == 1
    found = diagnosis(out)
    assert found[0].startswith("W1, b1: no known bug pattern fits")
    assert found[0].endswith("The error terms delta1 of hidden units 10–19 are wrong, and only those: W1's rows and "
                             "b1's entries for them (every other entry of both is right); they are exactly 0: not "
                             "computed, or overwritten")
    assert found[1] == "W2, b2: right at every entry"


def test_a_loop_over_layers_off_by_one_is_named(corpus, capsys):
    code, out, _ = check(capsys, "3-4-4-4", "--grad", "nielsen.py:backprop_off_by_one", "--examples", "columns",
                         "--per-example")
    assert code == 1
    assert diagnosis(out)[0].startswith("W1, b1, W2, b2: equal the correct gradients with every hidden layer's "
                                        "activation derivative evaluated at the values of the layer above it")


# --- the user's own output stays apart -------------------------------------------------------------------------


def test_what_the_code_prints_is_shown_apart_and_json_stays_json(corpus, capsys):
    code, out, _ = check(capsys, "3-5-2", "--activation", "sigmoid,linear", "--loss", "mse", "--grad",
                         "keras_like.py:chatty")
    assert code == 0
    assert out.rstrip().endswith("What keras_like.py:chatty printed (3 lines):\n  | epoch 0: loss " +
                                 out.rstrip().rsplit("epoch 0: loss ", 1)[1])
    code, out, _ = check(capsys, "3-5-2", "--activation", "sigmoid,linear", "--loss", "mse", "--grad",
                         "keras_like.py:chatty", "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] and document["output"].startswith("epoch 0: loss ")


# --- bad layout options are one line --------------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["--names", "w,b"], "--names 'w,b': 'w' is not a name with one {l}"),
    (["--names", "w{l};b{l}"], "--names 'w{l};b{l}': 'w{l};b{l}' is not a name with one {l}"),
    (["--update", "0"], "the learning rate of an update must be a number > 0, got 0.0"),
    (["--weights", "in-out", "--grad", "keras_like.py:gradients", "--loss", "mse"],
     "in the layout given: weights (in, out), examples as rows)"),
], ids=["no-placeholder", "bad-separator", "zero-rate", "weights-contradict"])
def test_bad_layouts_are_one_line_exit_2(corpus, capsys, argv, message):
    base = ["3-5-2", "--activation", "sigmoid,linear"] + (["--grad", "keras_like.py:gradients"] if "--grad" not in
                                                            argv else [])
    code, out, err = check(capsys, *base, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err


def test_the_example_layout_given_twice_must_agree(corpus, capsys):
    code, _, err = check(capsys, "3-4-2", "--grad", "nielsen.py:backprop", "--examples", "columns", "--examples-as",
                         "rows")
    assert code == 2
    assert "--examples-as rows contradicts the earlier columns; give the example layout once" in err
    code, out, _ = check(capsys, "3-4-2", "--grad", "nielsen.py:backprop", "--examples", "columns", "--examples-as",
                         "columns", "--per-example")
    assert code == 0, out


def test_keys_that_fit_no_pattern_are_one_line(corpus, capsys, tmp_path):
    (tmp_path / "odd.py").write_text("def grads(params, X, T):\n    return {'first': 0, 'second': 1}\n")
    code, _, err = check(capsys, "3-5-2", "--grad", "odd.py:grads")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "returned no 'W1' and an unexpected key 'first'; expected one array per parameter: W1, b1, W2, b2" in err


# --- the property: correct code in every layout passes on random networks ----------------------------------------


POOL = strategies.network_pool(40, activations=["sigmoid", "tanh", "linear", "softmax"],
                               losses=["sse", "squared_error", "mse", "cross_entropy", "binary_cross_entropy"])


@settings(max_examples=40, deadline=None, database=None)
@given(case=strategies.cases(st.sampled_from(POOL)), weights=st.sampled_from(["out-in", "in-out"]),
       examples=st.sampled_from(["rows", "columns"]), keys=st.sampled_from(["W{l}", "dW{l}", "grad_W{l}"]),
       per_example=st.booleans(), update=st.sampled_from([None, 0.5]), labels=st.booleans())
def test_correct_code_passes_in_every_layout_on_random_networks(case, weights, examples, keys, per_example, update,
                                                                labels):
    network, T = case.network, case.T
    if labels and network.loss.name == "cross_entropy":
        T = np.argmax(T, axis=1)
    function = make(network, weights, examples, keys, per_example, update)
    report = check_gradients(network, case.params, case.X, T, function,
                             layout=Layout(weights=weights, examples=examples, per_example=per_example, update=update))
    assert report.ok, str(report)


def test_the_pytest_fixture_takes_a_layout(assert_gradients_match):
    network = Network((3, 4, 2), activation="tanh")
    params, X, T = case_of(network)
    report = assert_gradients_match(network, params, X, T, make(network, "in-out", "columns", "dW{l}"),
                                    layout=Layout(weights="in-out", examples="columns"))
    assert report.ok and report.read == "read: weights (in, out), examples as columns, keys dW1/db1/…"
    with pytest.raises(InputError, match=r"raised ValueError: matmul.*called for 3-4-2"):  # the layout unsaid
        assert_gradients_match(network, params, X, T, make(network, "in-out", "columns"))


def case_of(network):
    rng = np.random.default_rng(5)
    params = {k: rng.uniform(-1, 1, s) for k, s in network.param_shapes().items()}
    return params, rng.uniform(-1, 1, (6, network.sizes[0])), rng.uniform(0, 1, (6, network.sizes[-1]))


def test_a_layout_object_refuses_unknown_words():
    with pytest.raises(InputError, match="unknown weight layout 'io'"):
        Layout(weights="io")
    with pytest.raises(InputError, match="unknown example layout 'cols'"):
        Layout(examples="cols")


# --- findings found on code written by a new user -----------------------------------------------------------------


def test_the_same_slip_in_every_hidden_layer_is_named_once(corpus, capsys):
    code, out, _ = check(capsys, "3-4-4-4", "--grad", "nielsen.py:backprop_prime_of_a", "--examples", "columns",
                         "--per-example")
    assert code == 1
    assert diagnosis(out) == [
        "W1, b1, W2, b2: equal the correct gradients with the same slip in every hidden layer: each activation "
        "derivative applied to the output A, where it takes the net input Z (such as sigmoid_prime(a) for "
        "sigmoid_prime(z)) ((1 - sigmoid(A2))*sigmoid(A2) instead of (1 - sigmoid(Z2))*sigmoid(Z2) in layer 2); "
        "one slip repeated by the loop over the layers",
        "W3, b3: right at every entry"]


def test_a_gradient_of_the_sum_beside_a_returned_mean_gets_no_rerun_that_would_pass_the_bug(corpus, capsys):
    argv = ["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--weight-decay", "0.1", "--weights",
            "in-out", "--labels", "--grad", "cs231n.py:forgot_to_average"]
    code, out, _ = check(capsys, *argv, "--reduction", "mean")
    assert code == 1
    assert re.search(r"Convention: your gradients are .*: your loss is summed over the examples, where this network's "
                     r"is their mean \(reduction 'mean'\); but the loss it returns, [\d.]+, is this network's: its loss "
                     r"and its gradient are of different losses, so no option makes both right", out)
    assert "rerun:" not in out and "they pass for" not in out
    code, out, _ = check(capsys, *argv, "--reduction", "sum")  # where the gradient is right, the loss is not
    assert code == 0
    assert re.search(r"Warnings:\n  - the loss it returned, [\d.]+, is not the network's loss here, [\d.]+ \([\d.]+ x\), "
                     r"though its gradient is this network's: the function's loss and its gradient are of different "
                     r"losses", out)


@pytest.mark.parametrize("argv, hint", [
    (["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--loss", "squared_error", "--grad",
      "pytorch_numpy_warmup.py:gradients"],
     "it looked up 'w1', but the parameters it was given are named W1, W2: say its names with --names 'w{l},b{l}'"),
    (["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--labels", "--grad",
      "cs231n.py:loss"], "if its arrays are laid out otherwise, say so: --weights in-out (W stored (n_in, n_out), for "
                         "X @ W), --examples columns (X is (n_0, N)), --per-example (one example per call)"),
    (["4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weights", "in-out",
      "--grad", "cs231n.py:loss"], "if it indexes with integer class labels, add --labels"),
    (["3-4-2", "--examples", "columns", "--grad", "nielsen.py:backprop"],
     "it returned a pair of lists of 2 arrays, but with shapes (4, 8), (2, 8) for the biases, not the parameters' "
     "shapes; if it takes one example per call (as Nielsen's backprop(x, y) does), add --per-example"),
], ids=["names", "weights-in-out", "labels", "per-example"])
def test_a_forgotten_layout_option_is_named_in_the_error(corpus, capsys, argv, hint):
    code, out, err = check(capsys, *argv)
    assert code == 2
    assert hint in err and len(err.strip().splitlines()) == 1


def test_an_update_read_with_the_wrong_learning_rate_gets_the_functions_own(corpus, capsys):
    argv = ["5-7-3", "--activation", "relu,linear", "--no-bias", "--weights", "in-out", "--names", "w{l},b{l}",
            "--loss", "squared_error", "--grad", "pytorch_numpy_warmup.py:train_step"]
    code, out, _ = check(capsys, *argv, "--update", "0.5")
    assert code == 1
    assert "Convention: your gradients are exactly 0.02 x the reference at every entry: read from an update, that is " \
           "the step of learning rate 0.01, not 0.5, so your function's learning rate is 0.01" in out
    rerun = re.search(r"rerun: backprop (.*)", out).group(1)
    assert "--update 0.01" in rerun
    code, out, _ = check(capsys, *shlex.split(rerun)[1:])
    assert code == 0, out
