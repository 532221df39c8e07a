"""Data sources, 1-of-K targets and splits."""

from __future__ import annotations

import numpy as np
import pytest

from derive import InputError, Network
from verify import load_data, split
from verify.engine.data import decode_classes, encode_labels, target_levels


def test_xor_has_the_four_examples_with_lecture_targets_for_a_sigmoid_output():
    data = load_data("xor", Network((2, 2, 1)))
    assert data.X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert data.labels.tolist() == [0, 1, 1, 0]
    assert data.T[:, 0].tolist() == [0.1, 0.9, 0.9, 0.1]


def test_xor_with_two_softmax_outputs_is_one_of_two_with_ones_and_zeros():
    data = load_data("xor", Network((2, 3, 2), activation=["sigmoid", "softmax"], loss="cross_entropy"))
    assert data.T.tolist() == [[1, 0], [0, 1], [0, 1], [1, 0]]


def test_digits_are_scaled_to_the_unit_interval_with_ten_classes():
    data = load_data("digits", Network((64, 30, 10)))
    assert data.X.shape == (1797, 64) and data.X.min() == 0.0 and data.X.max() == 1.0
    assert sorted(set(data.labels.tolist())) == list(range(10))
    assert (data.T.max(axis=1) == 0.9).all() and (data.T.min(axis=1) == 0.1).all()
    assert (np.argmax(data.T, axis=1) == data.labels).all()


@pytest.mark.parametrize("activation, levels", [("sigmoid", (0.9, 0.1)), ("tanh", (0.9, -0.9)),
                                                ("linear", (1.0, 0.0)), ("relu", (1.0, 0.0))])
def test_target_levels_keep_sigmoid_and_tanh_targets_inside_their_range(activation, levels):
    assert target_levels(Network((2, 3), activation=activation)) == levels


def test_encode_then_decode_gives_back_the_labels():
    for network in (Network((2, 4)), Network((2, 1)), Network((2, 1), activation="tanh")):
        labels = np.array([0, 1, 1, 0, 1]) if network.sizes[-1] == 1 else np.array([3, 0, 2, 1, 3])
        assert decode_classes(encode_labels(labels, network), network).tolist() == labels.tolist()


def test_npz_with_targets_and_npz_with_labels(tmp_path):
    network = Network((3, 2, 2))
    X = np.arange(12.0).reshape(4, 3) / 10
    np.savez(tmp_path / "t.npz", X=X, T=np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]))
    np.savez(tmp_path / "y.npz", X=X, y=np.array([0, 1, 0, 1]))
    with_targets, with_labels = load_data(tmp_path / "t.npz", network), load_data(tmp_path / "y.npz", network)
    np.testing.assert_array_equal(with_targets.X, X)
    np.testing.assert_array_equal(with_targets.T, with_labels.T)
    assert with_targets.labels.tolist() == with_labels.labels.tolist() == [0, 1, 0, 1]


def test_csv_with_header_comments_and_a_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("# two inputs then the class\nx1,x2,label\n0,0,0\n0,1,1\n\n1,0,1\n1,1,0\n")
    data = load_data(path, Network((2, 3, 1)))
    assert data.X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert data.labels.tolist() == [0, 1, 1, 0]
    assert data.T[:, 0].tolist() == [0.1, 0.9, 0.9, 0.1]


def test_csv_with_target_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("0.5,0.2,0.7\n-1,3,0.25\n")
    single = load_data(path, Network((2, 1), activation="linear"))
    assert single.T.tolist() == [[0.7], [0.25]]
    pair = load_data(path, Network((1, 2), activation="linear"))
    assert pair.X.tolist() == [[0.5], [-1]] and pair.T.tolist() == [[0.2, 0.7], [3, 0.25]]


def test_csv_label_column_for_several_output_units(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n3,0\n5,1\n")
    data = load_data(path, Network((1, 3), activation="softmax", loss="cross_entropy"))
    assert data.labels.tolist() == [2, 0, 1] and data.T.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_split_is_disjoint_complete_and_deterministic():
    data = load_data("digits", Network((64, 10)))
    train_set, validation_set, test_set = split(data, validation=0.1, test=0.2, seed=3)
    assert (len(train_set), len(validation_set), len(test_set)) == (1258, 180, 359)
    rows = [tuple(r) for d in (train_set, validation_set, test_set) for r in d.X]
    assert sorted(rows) == sorted(tuple(r) for r in data.X)
    again = split(data, validation=0.1, test=0.2, seed=3)
    assert all((a.X == b.X).all() for a, b in zip((train_set, validation_set, test_set), again))
    other = split(data, validation=0.1, test=0.2, seed=4)
    assert not np.array_equal(other[2].X, test_set.X)


def test_split_without_fractions_keeps_everything_for_training():
    data = load_data("xor", Network((2, 2, 1)))
    train_set, validation_set, test_set = split(data)
    assert len(train_set) == 4 and validation_set is None and test_set is None


def test_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(InputError, match=r"pip install 'backprop\[examples\]'"):
        load_data("digits", Network((64, 10)))
