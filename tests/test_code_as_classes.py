"""Backprop written as a class, checked as ``--grad file.py:Class.method`` with no function written around it: the
check makes an instance for the network (``Class(sizes)`` or ``Class(*sizes)``), sets its parameters where it keeps
them (a dict, attributes, lists of weights and biases), runs its forward pass first when the method needs it, and
reads the gradients it returns or keeps.  CS231n's ``TwoLayerNet``, Nielsen's ``Network`` and a tutorial's
``NeuralNetwork`` (tests/corpus) as their users would check them."""

import numpy as np

from cli_helpers import run

TUTORIAL = ["3-4-2", "--weights", "in-out", "--grad"]


def python_check(corpus, monkeypatch, sizes, seed, batch, **options):
    """The corpus' class_style module, and a network of ``sizes`` with random parameters and data, as a user's
    script would set them up: ``(class_style, check)`` where ``check(function)`` is the report."""
    monkeypatch.syspath_prepend(str(corpus))
    import class_style
    from derive import Network
    from verify import check_gradients
    from verify.check.inputs import random_data, random_params

    network = Network(sizes, **options.pop("network", {}))
    params = random_params(network, seed=seed)
    X, T = random_data(network, batch=batch, seed=seed)
    return class_style, lambda function: check_gradients(network, params, X, T, function, **options)


def test_cs231n_two_layer_net_loss_is_checked_on_an_instance_with_its_params_dict_set(corpus, capsys):
    code, out, err = run(capsys, "4-6-3", "--activation", "relu,softmax", "--loss", "cross_entropy", "--reduction",
                         "mean", "--weights", "in-out", "--labels", "--grad", "cs231n.py:TwoLayerNet.loss")
    assert code == 0, out + err
    assert ("read: weights (in, out), examples as rows, called as TwoLayerNet.loss on TwoLayerNet(4, 6, 3) with its "
            "params dict set, predict(X) first, (loss, gradients)") in out


def test_nielsens_network_backprop_is_checked_with_its_lists_of_weights_and_biases_set(corpus, capsys):
    code, out, err = run(capsys, "3-4-2", "--examples", "columns", "--per-example", "--grad",
                         "nielsen.py:Network.backprop")
    assert code == 0, out + err
    assert "called as Network.backprop on Network([3, 4, 2]) with its lists weights and biases set" in out
    code, out, _ = run(capsys, "3-4-2", "--examples", "columns", "--per-example", "--grad",
                       "nielsen.py:Network.backprop", "--batch", "3")
    assert code == 0


def test_a_backward_that_reads_the_forward_pass_cache_gets_forward_run_first(corpus, capsys):
    for method, read in (("backward", "keys dW1/db1/…, called as NeuralNetwork.backward on NeuralNetwork(3, 4, 2) "
                                      "with its attributes W1, b1, W2, b2 set, forward(X) first"),
                         ("backward_kept", "called as NeuralNetwork.backward_kept on NeuralNetwork(3, 4, 2) with "
                                           "its attributes W1, b1, W2, b2 set, forward(X) first, its gradients read "
                                           "from it"),
                         ("backward_from_output", "forward(X) first, a list in layer order")):
        code, out, err = run(capsys, *TUTORIAL, "class_style.py:NeuralNetwork." + method)
        assert code == 0, out + err
        assert read in out, out


def test_a_class_methods_bug_is_diagnosed_where_it_is(corpus, capsys):
    code, out, _ = run(capsys, *TUTORIAL, "class_style.py:NeuralNetwork.backward_without_hidden_derivative")
    assert code == 1
    assert "delta1, the error term of the hidden layer, is missing the sigmoid derivative dA1/dZ1" in out
    assert "W2 (W2.T), b2: right at every entry" in out


def test_what_the_check_cannot_do_with_a_class_is_one_line_saying_what_fits(corpus, capsys):
    code, _, err = run(capsys, "3-4-2", "--grad", "class_style.py:NeuralNetwork.backward")
    assert code == 2 and err.count("\n") == 1
    assert "its instance stores W1 as (3, 4), (in, out), for X @ W; check it with --weights in-out" in err
    code, _, err = run(capsys, *TUTORIAL, "class_style.py:Trainer.backward")
    assert code == 2 and err.count("\n") == 1
    assert ("cannot make a Trainer for 3-4-2, sigmoid, sse (sum), bias: its __init__ takes (layer_sizes, "
            "learning_rate), and the check makes one as Trainer(), Trainer(sizes) or Trainer(*sizes)") in err
    code, _, err = run(capsys, *TUTORIAL, "class_style.py:NeuralNetwork")
    assert code == 2 and "NeuralNetwork is a class; name the method to check, as class_style.py:NeuralNetwork.METHOD " \
        "(it defines: backward, backward_from_output, backward_kept, backward_without_hidden_derivative, forward)" in err
    code, _, err = run(capsys, *TUTORIAL, "class_style.py:NeuralNetwork.train")
    assert code == 2 and "class NeuralNetwork has no attribute 'train'" in err


def test_a_bound_method_from_python_is_checked_on_a_copy_of_its_instance(corpus, monkeypatch):
    from verify import Layout
    class_style, check = python_check(corpus, monkeypatch, (3, 5, 2), 3, 6, layout=Layout(weights="in-out"))
    mine = class_style.NeuralNetwork(3, 5, 2)
    before = {name: getattr(mine, name).copy() for name in ("W1", "b1", "W2", "b2")}
    assert check(mine.backward).ok
    assert all(np.array_equal(getattr(mine, name), value) for name, value in before.items())
    report = check(class_style.NeuralNetwork.backward_without_hidden_derivative)
    assert not report.ok and report.culprit == "candidate"


def test_a_property_search_runs_a_class_method_too(corpus, capsys):
    code, out, err = run(capsys, "3-4-2", "--weights", "in-out", "--grad", "class_style.py:NeuralNetwork.backward",
                         "--examples", "5", command="proptest")
    assert code == 0, out + err


def test_layer_objects_and_a_training_step_that_rebinds_its_weights_are_read_as_written(corpus, capsys):
    code, out, err = run(capsys, "3-5-2", "--activation", "tanh,linear", "--weights", "in-out", "--grad",
                         "class_style.py:LayeredNetwork.backward")
    assert code == 0, out + err
    assert "called as LayeredNetwork.backward on LayeredNetwork([3, 5, 2]) with the weights and biases of its layers " \
        "set, forward(X) first" in out
    softmax = ["3-5-2", "--activation", "tanh,softmax", "--loss", "cross_entropy", "--reduction", "mean", "--weights",
               "in-out", "--grad", "class_style.py:Model.train_step"]
    code, out, err = run(capsys, *softmax, "--update", "0.05")
    assert code == 0, out + err
    assert "with its attributes W1, b1, W2, b2 set, parameters updated in place" in out
    assert "is the network's loss here" in out
    code, out, _ = run(capsys, *softmax, "--update", "0.1")
    assert code == 1 and "your function's learning rate is 0.05" in out


def test_a_pair_of_lists_is_said_in_the_order_it_came(corpus, capsys):
    code, out, err = run(capsys, "3-4-2", "--examples", "columns", "--per-example", "--grad",
                         "nielsen.py:backprop_weights_first")
    assert code == 0, out + err
    assert "a pair of lists (nabla_w, nabla_b)" in out


def test_a_network_the_user_trained_is_checked_on_a_fresh_forward_pass_and_left_as_it_was(corpus, monkeypatch):
    from verify import Layout
    class_style, check = python_check(corpus, monkeypatch, (3, 4, 2), 5, 8, layout=Layout(weights="in-out"))
    mine = class_style.NeuralNetwork(3, 4, 2)
    mine.forward(np.ones((8, 3)))  # its cache holds another batch's activations
    cached = mine.a1.copy()
    report = check(mine.backward)
    assert report.ok, str(report)
    assert np.array_equal(mine.a1, cached)


def test_a_cache_dict_a_gradient_dict_filled_in_place_and_an_uncopyable_network(corpus, capsys, monkeypatch):
    code, out, err = run(capsys, "3-4-2", "--activation", "tanh,linear", "--grad",
                         "class_style.py:CachedNetwork.backward")
    assert code == 0, out + err
    assert ("called as CachedNetwork.backward on CachedNetwork([3, 4, 2]) with its attributes W1, b1, W2, b2 set, "
            "forward(X) first, its gradients read from it") in out
    code, out, err = run(capsys, "3-4-2", "--activation", "tanh,linear", "--examples", "columns", "--per-example",
                         "--grad", "class_style.py:OneExampleNetwork.backprop")  # the same arrays filled per call
    assert code == 0, out + err
    class_style, check = python_check(corpus, monkeypatch, (3, 4, 2), 6, 5, network={"activation": ["tanh", "linear"]})
    mine = class_style.CachedNetwork([3, 4, 2])
    before = mine.W1.copy()
    report = check(mine.backward)
    assert report.ok, str(report)
    assert "(its own cannot be copied: TypeError)" in report.read
    assert np.array_equal(mine.W1, before) and mine.cache == {}
