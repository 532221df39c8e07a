"""Training by gradient descent, as the lecture does it, with the engine's gradients.

An epoch presents every training example once, in batches of ``batch_size``
examples drawn in an order shuffled from the seed at the start of each epoch:

* ``batch_size=1``: stochastic gradient descent (the lecture's main loop:
  update after every example);
* ``1 < batch_size < N``: mini-batch gradient descent; the last batch of an
  epoch may be smaller;
* ``batch_size=None`` (or >= N): batch ("true") gradient descent, one update
  per epoch.

Each update, for every weight and bias w (:class:`GradientDescent`)::

    Delta w_t = -eta * dE_B/dw + alpha * Delta w_{t-1}         w <- w + Delta w_t

where E_B is the loss *averaged* over the B examples of the batch, as the
lecture's batch and mini-batch rules average ``1/B sum_m delta^m x^m`` (for
B = 1 this is the per-example rule ``eta delta_j x_i``), plus the network's
weight-decay penalty.  So training always averages over the batch, whatever
the network's ``reduction``.  With L2 weight decay lambda the gradient gains
lambda*w, so a step shrinks w by eta*lambda*w; the lecture's rule
``... - lambda w`` uses a lambda that equals our eta*lambda.

After every epoch the loss (mean over examples, plus the penalty) and the
accuracy are measured on the training set and, if given, the validation set,
and recorded in the :class:`History`.  Early stopping (``patience``): when
the validation loss has not improved for ``patience`` epochs, training stops,
and the parameters of the best epoch are returned: the lecture's "when the
error [on the validation set] begins to increase, the net is starting to
memorize".

Everything random (initial weights, the order of examples) comes from
``seed``, so the same call gives the same result.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from derive import InputError, Network, check_params, init_params
from derive.limits import check_memory
from derive.model.params import INIT_SCALE
from .data import Dataset, decode_classes, make_dataset
from .engine import Engine, Params


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch achieved: loss and accuracy on the training and validation sets."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None = None
    val_accuracy: float | None = None


@dataclass
class History:
    """The result of :func:`train`.

    Attributes:
        network: The network trained.
        params: The trained parameters (with early stopping: the best epoch's).
        records: One :class:`EpochRecord` per epoch run.
        best_epoch: The epoch whose parameters ``params`` are (the last one
            unless early stopping restored an earlier one).
        stopped_early: Whether the patience ran out before the last epoch.
    """

    network: Network
    params: Params
    records: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False

    @property
    def loss(self) -> list[float]:
        """Training loss per epoch."""
        return [r.loss for r in self.records]

    @property
    def accuracy(self) -> list[float]:
        """Training accuracy per epoch."""
        return [r.accuracy for r in self.records]

    @property
    def val_loss(self) -> list[float | None]:
        """Validation loss per epoch (None without a validation set)."""
        return [r.val_loss for r in self.records]

    @property
    def val_accuracy(self) -> list[float | None]:
        """Validation accuracy per epoch (None without a validation set)."""
        return [r.val_accuracy for r in self.records]

    @property
    def best(self) -> EpochRecord:
        """The record of :attr:`best_epoch`."""
        return self.records[self.best_epoch - 1]

    def evaluate(self, data: Dataset | tuple) -> tuple[float, float]:
        """(loss, accuracy) of the trained parameters on other data, e.g. a test set.

        The loss is measured as during training: mean over examples, plus the penalty.
        """
        data = _as_dataset(data, self.network, "evaluation data")
        return evaluate(Engine(self.network.replace(reduction="mean")), self.params, data)

    def to_dict(self) -> dict:
        """Plain data (JSON-ready): the network spec, the records and how training ended."""
        return {"network": self.network.to_dict(), "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "records": [asdict(r) for r in self.records]}


class GradientDescent:
    """Gradient descent with momentum: Delta w_t = -lr * dE/dw + momentum * Delta w_{t-1}.

    Args:
        lr: The learning rate eta > 0.
        momentum: The momentum alpha in [0, 1); 0 is plain gradient descent.

    Attributes:
        velocity: The previous step Delta w_{t-1} of every parameter (empty before the first step).
    """

    def __init__(self, lr: float, momentum: float = 0.0):
        self.lr = _check_number("learning rate lr", lr, low=0.0, low_open=True)
        self.momentum = _check_number("momentum", momentum, low=0.0, high=1.0)
        self.velocity: Params = {}

    def step(self, params: Params, grads: Params) -> Params:
        """One update; returns new parameter arrays (``params`` is not modified)."""
        updated = {}
        for name, value in params.items():
            change = -self.lr * grads[name]
            if self.momentum and name in self.velocity:
                change += self.momentum * self.velocity[name]
            self.velocity[name] = change
            updated[name] = value + change
        return updated


def batches(n_examples: int, batch_size: int | None, rng: np.random.Generator) -> list[np.ndarray]:
    """The index arrays of one epoch's batches, in an order shuffled by ``rng``."""
    order = rng.permutation(n_examples)
    size = n_examples if batch_size is None else min(batch_size, n_examples)
    return [order[start:start + size] for start in range(0, n_examples, size)]


def evaluate(engine: Engine, params: Params, data: Dataset) -> tuple[float, float]:
    """(loss, accuracy) of ``params`` on ``data``; accuracy is the fraction of examples classified right."""
    loss = float(engine.loss(params, data.X, data.T, check=False))
    classes = decode_classes(engine.forward(params, data.X, check=False), engine.network)
    return loss, float(np.mean(classes == data.labels))


def train(network: Network, data: Dataset | tuple, *, validation: Dataset | tuple | None = None,
          params: Params | None = None, lr: float = 0.1, momentum: float = 0.0, epochs: int = 100,
          batch_size: int | None = 1, patience: int | None = None, min_delta: float = 0.0, seed: int = 0,
          init_scale: float = INIT_SCALE, on_epoch: Callable[[EpochRecord], None] | None = None) -> History:
    """Train ``network`` by (stochastic, mini-batch or batch) gradient descent with momentum.

    Args:
        network: What to train (its weight decay applies).
        data: Training examples: a :class:`~verify.engine.data.Dataset` or a tuple ``(X, T)``.
        validation: Examples to watch for early stopping, same forms; or None.
        params: Initial parameters; default :func:`derive.init_params` from
            ``seed``, uniform in (-init_scale, init_scale).
        lr: Learning rate eta > 0.
        momentum: Momentum alpha in [0, 1).
        epochs: Maximum number of epochs >= 1.
        batch_size: Examples per update: 1 stochastic, None (or >= N) batch.
        patience: Stop when the validation loss has not improved by more than
            ``min_delta`` for this many epochs, and return the best epoch's
            parameters; needs ``validation``.  None: no early stopping.
        min_delta: Smallest decrease of the validation loss that counts as improvement.
        seed: Seeds the initial parameters and the order of examples.
        init_scale: Half-width of the initial weights' interval (the lecture's 0.05).
        on_epoch: Called with each epoch's :class:`EpochRecord` (progress bars, printing).

    Returns:
        The :class:`History`, holding the trained parameters.

    Raises:
        InputError: bad data, parameters or settings; the message names which.
    """
    check_training_memory(network, batch_size or 1)
    data = _as_dataset(data, network, "training data")
    validation = None if validation is None else _as_dataset(validation, network, "validation data")
    check_settings(lr=lr, momentum=momentum, epochs=epochs, batch_size=batch_size, patience=patience,
                   min_delta=min_delta, init_scale=init_scale, has_validation=validation is not None)
    optimizer = GradientDescent(lr, momentum)
    if params is None:
        params = init_params(network, seed, scale=init_scale)
    else:
        params = check_params(network, params, "initial parameters")
    engine = Engine(network.replace(reduction="mean"))
    rng = np.random.default_rng([seed, 1])
    history = History(network, params)
    best_loss, waited = math.inf, 0
    for epoch in range(1, epochs + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, once
            for index in batches(len(data), batch_size, rng):
                params = optimizer.step(params, engine.gradients(params, data.X[index], data.T[index], check=False))
            record = _measure(epoch, engine, params, data, validation)
        history.records.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if patience is None:
            history.params, history.best_epoch = params, epoch
        elif record.val_loss < best_loss - min_delta:
            best_loss, waited = record.val_loss, 0
            history.params, history.best_epoch = params, epoch
        else:
            waited += 1
            if waited >= patience:
                history.stopped_early = epoch < epochs
                break
    return history


def check_training_memory(network: Network, batch_size: int) -> None:
    """Refuse a network too large to train here, before anything is allocated.

    Training needs, besides the data, four copies of the parameters (the
    parameters, their gradients, the velocity and the update) and, for one
    batch, every layer's Z, A and delta, in float64.

    Raises:
        InputError: with the estimate and the limit (:func:`derive.limits.check_memory`).
    """
    estimate = 8 * (4 * network.n_params + 3 * batch_size * sum(network.sizes))
    check_memory(estimate, "training %s" % network.describe(), "use narrower layers")


def _measure(epoch: int, engine: Engine, params: Params, data: Dataset, validation: Dataset | None) -> EpochRecord:
    """The epoch's record; a loss that overflowed means the learning rate is too large."""
    record = EpochRecord(epoch, *evaluate(engine, params, data),
                         *(evaluate(engine, params, validation) if validation is not None else ()))
    if not np.isfinite([record.loss, record.val_loss if validation is not None else 0.0]).all():
        raise InputError("training diverged at epoch %d (loss %s); use a smaller learning rate" % (epoch, record.loss))
    return record


def _as_dataset(data, network: Network, name: str) -> Dataset:
    if isinstance(data, Dataset):
        checked = make_dataset(data.name, network, data.X, T=data.T)
        return Dataset(data.name, checked.X, checked.T, data.labels)
    if isinstance(data, tuple) and len(data) == 2:
        return make_dataset(name, network, data[0], T=data[1])
    raise InputError("%s must be a Dataset or a tuple (X, T), got %s" % (name, type(data).__name__))


def check_settings(*, lr: float = 0.1, momentum: float = 0.0, epochs: int = 100, batch_size: int | None = 1,
                   patience: int | None = None, min_delta: float = 0.0, init_scale: float = INIT_SCALE,
                   has_validation: bool = False) -> None:
    """Check :func:`train`'s settings without training (the CLI checks before it prints anything).

    Raises:
        InputError: the first bad setting, named, with what is accepted.
    """
    GradientDescent(lr, momentum)
    for name, value, allow_none in (("epochs", epochs, False), ("batch_size", batch_size, True),
                                    ("patience", patience, True)):
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError("%s must be a positive integer%s, got %r" % (name, " or None" if allow_none else "", value))
    _check_number("min_delta", min_delta, low=0.0)
    _check_number("init_scale", init_scale, low=0.0, low_open=True)
    if patience is not None and not has_validation:
        raise InputError("early stopping (patience %d) needs a validation set; give validation data "
                         "(on the command line: --validation FRACTION)" % patience)


def _check_number(name: str, value, low: float, high: float = math.inf, low_open: bool = False) -> float:
    ok = (not isinstance(value, bool) and isinstance(value, (int, float, np.floating)) and math.isfinite(value)
          and (value > low if low_open else value >= low) and value < high)
    if not ok:
        interval = "%s%g%s" % ("> " if low_open else ">= ", low, "" if high == math.inf else " and < %g" % high)
        raise InputError("%s must be a finite number %s, got %r" % (name, interval, value))
    return float(value)
