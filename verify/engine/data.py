"""Data for training: the built-in sets, ``.npz`` and ``.csv`` files, targets and splits.

:func:`load_data` reads a source for a given network and returns a
:class:`Dataset` (inputs ``X`` (N, n_0), targets ``T`` (N, n_L) and the class
label of each example).  Sources:

``xor``
    The four XOR examples: inputs (0,0), (0,1), (1,0), (1,1), classes 0, 1, 1, 0.
``digits``
    scikit-learn's bundled 8x8 handwritten digits (1,797 examples, 64 inputs
    scaled from 0..16 to [0, 1], classes 0..9); no download.  Needs
    scikit-learn: ``pip install 'backprop[examples]'``.
``FILE.npz``
    A numpy archive with arrays ``X`` (N, n_0) and either ``T`` (N, n_L)
    targets or ``y`` (N,) integer class labels.
``FILE.csv``
    Comma-separated numbers, one example per row.  Blank lines and lines
    starting with ``#`` are skipped; the first row may be a header (any row
    of non-numbers).  The first n_0 columns are the inputs; after them comes
    either one column of integer class labels (0..n_L-1; 0 or 1 when the
    network has one output unit) or n_L columns of target values.  With one
    output unit the last column is read as labels when it holds only 0 and 1,
    otherwise as target values.

Class labels become 1-of-K targets (:func:`encode_labels`): the unit of the
example's class is trained toward the "on" level, every other unit toward
"off".  Sigmoid units cannot produce 1 and 0, so, as in the lecture, they get
0.9 and 0.1 (tanh: 0.9 and -0.9; every other output: 1 and 0).  A network with
one output unit learns two classes: on for class 1, off for class 0.

Every problem with the data raises :class:`derive.InputError` naming the file,
the row or entry, and what is accepted.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from derive import InputError, Network
from derive.files import check_readable
from derive.model.activations import target_levels as activation_target_levels
from derive.model.params import read_npz

ACCEPTED = "xor, digits, FILE.npz (arrays X and T, or X and y) or FILE.csv"


@dataclass(frozen=True)
class Dataset:
    """Examples for one network.

    Attributes:
        name: Where the data came from (``"xor"``, a file name), for messages.
        X: Inputs, (N, n_0).
        T: Targets, (N, n_L).
        labels: The class of each example, (N,) integers.
    """

    name: str
    X: np.ndarray
    T: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, index: np.ndarray, name: str) -> "Dataset":
        """The examples at ``index``, under a new name."""
        return Dataset(name, self.X[index], self.T[index], self.labels[index])


def target_levels(network: Network) -> tuple[float, float]:
    """The (on, off) target values for the network's output activation (from its output range)."""
    return activation_target_levels(network.activations[-1])


def n_classes(network: Network) -> int:
    """Classes the network can tell apart: n_L, or 2 for a single output unit."""
    return max(network.sizes[-1], 2)


def encode_labels(labels: np.ndarray, network: Network) -> np.ndarray:
    """1-of-K targets (N, n_L) for integer class labels (N,)."""
    on, off = target_levels(network)
    if network.sizes[-1] == 1:
        return np.where(labels == 1, on, off)[:, None].astype(np.float64)
    T = np.full((len(labels), network.sizes[-1]), off, dtype=np.float64)
    T[np.arange(len(labels)), labels] = on
    return T


def decode_classes(outputs: np.ndarray, network: Network) -> np.ndarray:
    """The class of each row of outputs or targets: the largest unit, or for one unit, above the midpoint."""
    if network.sizes[-1] == 1:
        on, off = target_levels(network)
        above = outputs[:, 0] > (on + off) / 2
        return above.astype(np.int64) if on > off else (~above).astype(np.int64)
    return np.argmax(outputs, axis=1)


def make_dataset(name: str, network: Network, X, T=None, labels=None) -> Dataset:
    """Check inputs and targets (or labels) against the network and bundle them.

    Args:
        name: For error messages.
        network: Gives n_0, n_L and the target levels.
        X: Inputs (N, n_0).
        T: Targets (N, n_L) (or (N,) for one output unit); or None when labels are given.
        labels: Integer class labels (N,); or None when T is given.

    Raises:
        InputError: wrong widths, lengths, non-finite entries or labels out of range.
    """
    X, _ = check_data(network, X, where=name)
    if labels is not None:
        labels = _check_labels(np.asarray(labels), network, name)
        if len(labels) != len(X):
            raise InputError("%s: X has %d rows but y has %d labels; give one label per example" % (name, len(X), len(labels)))
        T = encode_labels(labels, network)
    else:
        if getattr(T, "ndim", None) == 1 and network.sizes[-1] == 1:
            T = T[:, None]
        X, T = check_data(network, X, T, where=name)
        labels = decode_classes(T, network)
    return Dataset(name, X, T, labels)


def _check_labels(labels: np.ndarray, network: Network, name: str) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.dtype.kind not in "biuf":
        raise InputError("%s: labels y have shape %s and dtype %s; expected (N,) integers" % (name, labels.shape, labels.dtype))
    labels = labels.astype(np.float64)
    K = n_classes(network)
    bad = ~np.isfinite(labels) | (labels != np.round(labels)) | (labels < 0) | (labels >= K)
    if np.any(bad):
        row = int(np.argmax(bad))
        raise InputError("%s: label %s of example %d is not a class of network %s, whose %d output unit%s take%s labels 0..%d"
                         % (name, _number(labels[row]), row, "-".join(map(str, network.sizes)), network.sizes[-1],
                            "s" if network.sizes[-1] > 1 else "", "" if network.sizes[-1] > 1 else "s", K - 1))
    return labels.astype(np.int64)


# --- sources -----------------------------------------------------------------------


def load_data(source: str | Path, network: Network) -> Dataset:
    """Read a data source for ``network``: ``xor``, ``digits``, ``FILE.npz`` or ``FILE.csv``.

    Raises:
        InputError: unknown source, unreadable file, or data that does not fit
            the network; the message names the file, the entry and what is accepted.
    """
    text = str(source)
    if text == "xor":
        return make_dataset("xor", network, [[0, 0], [0, 1], [1, 0], [1, 1]], labels=[0, 1, 1, 0])
    if text == "digits":
        return _digits(network)
    suffix = Path(text).suffix.lower()
    if suffix == ".npz":
        return _read_npz(Path(text), network)
    if suffix == ".csv":
        return _read_csv(Path(text), network)
    raise InputError("unknown data %r; use %s" % (text, ACCEPTED))


def _digits(network: Network) -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise InputError("the digits data set needs scikit-learn; install it with: pip install 'backprop[examples]'") from None
    digits = load_digits()
    return make_dataset("digits", network, digits.data / 16.0, labels=digits.target)


def _read_npz(path: Path, network: Network) -> Dataset:
    arrays = read_npz(path, "data", "an .npz file from numpy.savez with arrays X and T, or X and y")
    names = ", ".join(sorted(arrays)) or "none"
    if "X" not in arrays or ("T" in arrays) == ("y" in arrays):
        raise InputError("data file %s has arrays %s; expected X with either T (targets) or y (integer labels)" % (path, names))
    if "y" in arrays:
        return make_dataset(str(path), network, arrays["X"], labels=arrays["y"])
    return make_dataset(str(path), network, arrays["X"], T=arrays["T"])


def _read_csv(path: Path, network: Network) -> Dataset:
    rows, lines = _csv_rows(path)
    n_inputs, n_outputs = network.sizes[0], network.sizes[-1]
    width = len(rows[0])
    data = np.array(rows, dtype=np.float64)
    last = data[:, -1]
    if width == n_inputs + 1 and (n_outputs > 1 or np.isin(last, (0.0, 1.0)).all()):
        bad = np.flatnonzero((last != np.round(last)) | (last < 0) | (last >= n_classes(network)))
        if bad.size:
            raise InputError("%s line %d, column %d: label %s is not a class of network %s (labels 0..%d)"
                             % (path, lines[bad[0]], width, _number(last[bad[0]]), "-".join(map(str, network.sizes)),
                                n_classes(network) - 1))
        return make_dataset(str(path), network, data[:, :n_inputs], labels=last.astype(np.int64))
    if width == n_inputs + n_outputs:
        return make_dataset(str(path), network, data[:, :n_inputs], T=data[:, n_inputs:])
    raise InputError("data file %s has %d columns; network %s needs %d input columns followed by one label column "
                     "(%d in all) or by %d target value columns (%d in all)"
                     % (path, width, "-".join(map(str, network.sizes)), n_inputs, n_inputs + 1, n_outputs,
                        n_inputs + n_outputs))


def _csv_rows(path: Path) -> tuple[list[list[float]], list[int]]:
    """The numeric rows of a CSV file and their line numbers; checks shape and finiteness."""
    check_readable(path, "data")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("cannot read data file %s: no such file" % path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("cannot read data file %s: %s; expected a UTF-8 text file of comma-separated numbers"
                         % (path, getattr(exc, "strerror", None) or type(exc).__name__)) from None
    rows: list[list[float]] = []
    lines: list[int] = []
    header_allowed = True
    for line_number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        values = [_parse_number(field) for field in fields]
        if None in values:
            if header_allowed:
                header_allowed = False
                continue
            column = values.index(None) + 1
            raise InputError("%s line %d, column %d: %r is not a number; every row after an optional header "
                             "must be comma-separated numbers" % (path, line_number, column, fields[column - 1].strip()))
        header_allowed = False
        if rows and len(values) != len(rows[0]):
            raise InputError("%s line %d has %d columns but line %d has %d; every row needs the same number of columns"
                             % (path, line_number, len(values), lines[0], len(rows[0])))
        for column, value in enumerate(values, start=1):
            if not math.isfinite(value):
                raise InputError("%s line %d, column %d is %s; data must be finite (no NaN or inf)"
                                 % (path, line_number, column, value))
        rows.append(values)
        lines.append(line_number)
    if not rows:
        raise InputError("data file %s has no rows of numbers; expected one example per line" % path)
    return rows, lines


def _parse_number(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def _number(value: float) -> str:
    return str(int(value)) if math.isfinite(value) and value == int(value) else repr(float(value))


# --- splits ------------------------------------------------------------------------


def split(dataset: Dataset, validation: float = 0.0, test: float = 0.0, seed: int = 0
          ) -> tuple[Dataset, Dataset | None, Dataset | None]:
    """Shuffle (from ``seed``) and split into training, validation and test sets.

    Args:
        dataset: What to split.
        validation: Fraction of examples held out to decide when to stop (0: none).
        test: Fraction held out to report the final accuracy (0: none).
        seed: The same seed gives the same split.

    Returns:
        ``(train, validation, test)``; a set is None when its fraction is 0.

    Raises:
        InputError: a fraction outside [0, 1), fractions that leave no
            training example, or a fraction too small for one example.
    """
    counts = {}
    for name, fraction in (("validation", validation), ("test", test)):
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
            raise InputError("%s fraction must be a number in [0, 1), got %r" % (name, fraction))
        counts[name] = int(round(fraction * len(dataset)))
        if fraction > 0 and counts[name] == 0:
            raise InputError("%s fraction %g of %d examples is less than one example; use 0 or a larger fraction"
                             % (name, fraction, len(dataset)))
    n_train = len(dataset) - counts["validation"] - counts["test"]
    if n_train < 1:
        raise InputError("validation %g + test %g leave no training examples out of %d" % (validation, test, len(dataset)))
    order = np.random.default_rng(seed).permutation(len(dataset))
    test_index = order[:counts["test"]]
    validation_index = order[counts["test"]:counts["test"] + counts["validation"]]
    train_index = order[counts["test"] + counts["validation"]:]
    return (dataset.subset(np.sort(train_index), "%s (train)" % dataset.name),
            dataset.subset(validation_index, "%s (validation)" % dataset.name) if counts["validation"] else None,
            dataset.subset(test_index, "%s (test)" % dataset.name) if counts["test"] else None)


def check_data(network: Network, X, T=None, where: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Check inputs X (N, n_0) and targets T (N, n_L): numeric, finite, one row per example.

    Integer and boolean arrays are converted to float64; float and complex
    arrays are kept as they are.  Targets may also be one value per example,
    shape (N,) (:func:`one_hot_targets`): integer class labels, which become
    one-hot rows (``nn.CrossEntropyLoss``'s targets), or for one output unit
    the target values themselves.

    Args:
        network: Gives the widths n_0 and n_L.
        X: Inputs, one row per example.
        T: Targets, one row per example, or None to check X alone.
        where: Where the data came from, for error messages.

    Returns:
        ``(X, T)`` as arrays (T is None when not given).

    Raises:
        InputError: wrong type, shape or length, or a NaN/inf entry; the
            message names the array, the entry and what is accepted.
    """
    X = _check_matrix(network, X, "X", network.sizes[0], "inputs", where)
    if T is None:
        return X, None
    T = _check_matrix(network, one_hot_targets(network, T, where), "T", network.sizes[-1], "targets", where)
    if len(T) != len(X):
        raise InputError("%s: X has %d rows but T has %d; give one target row per example" % (where, len(X), len(T)))
    return X, T


def one_hot_targets(network: Network, T, where: str = "data"):
    """Targets of shape (N,) as (N, n_L): one-hot rows for integer labels 0..n_L-1, a column for one output unit.

    One-hot rows hold exactly 1 and 0 (the targets of a cross-entropy loss,
    ``np.eye(n_L)[y]``), not the training levels of :func:`encode_labels`.
    Any other ``T`` is returned as it is.

    Raises:
        InputError: labels that are not integers 0..n_L-1, named with the first bad one.
    """
    if np.ndim(T) != 1:
        return T
    T = np.asarray(T)
    if network.sizes[-1] == 1:
        return T[:, None]
    if T.dtype.kind not in "biu":
        raise InputError("%s: T has shape %s and dtype %s; network %s expects targets (N, %d), or integer class "
                         "labels (N,) in 0..%d" % (where, T.shape, T.dtype, "-".join(map(str, network.sizes)),
                                                   network.sizes[-1], network.sizes[-1] - 1))
    bad = (T < 0) | (T >= network.sizes[-1])
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError("%s: label %d of example %d is not a class of the %d output units (labels 0..%d)"
                         % (where, int(T[row]), row, network.sizes[-1], network.sizes[-1] - 1))
    return np.eye(network.sizes[-1])[T]


def _check_matrix(network: Network, array, name: str, width: int, what: str, where: str) -> np.ndarray:
    sizes = "-".join(map(str, network.sizes))
    try:
        array = np.asarray(array)
    except (ValueError, TypeError):
        raise InputError("%s: %s is not a rectangular array of numbers (ragged rows?)" % (where, name)) from None
    if array.dtype.kind in "biu":
        array = array.astype(np.float64)
    if array.dtype.kind not in "fc":
        raise InputError("%s: %s has dtype %s; expected numbers" % (where, name, array.dtype))
    if array.ndim != 2 or array.shape[1] != width:
        raise InputError("%s: %s has shape %s; network %s expects (N, %d): one row of %d %s per example"
                         % (where, name, array.shape, sizes, width, width, what))
    if len(array) == 0:
        raise InputError("%s: %s has no rows; at least one example is needed" % (where, name))
    if not np.isfinite(array).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError("%s: %s[%d, %d] is %s; every entry must be finite (no NaN or inf)"
                         % (where, name, row, column, array[row, column]))
    return array
