"""Train a network with the numpy engine, as the lecture does.

Data (--data): xor, digits (scikit-learn's 8x8 digits), FILE.npz (arrays X and
T, or X and integer labels y) or FILE.csv (one example per row: n_0 input
columns, then one integer class label or n_L target values; see
docs/engine.md).  Class labels become 1-of-K targets (0.9/0.1 for sigmoid
outputs).

--batch-size 1 is stochastic gradient descent (order shuffled each epoch),
B a mini-batch of B examples, and a size >= N batch gradient descent; every
update averages the gradient over its batch.  With --validation, training
stops when the validation loss has not improved for --patience epochs and
keeps the best epoch's parameters; --test holds examples out for the final
accuracy.

Example:
  backprop train 2-2-1 --data xor --lr 2 --momentum 0.9 --init-scale 0.5 --epochs 2000 --batch-size 4
  backprop train 64-30-10 --data digits --lr 0.5 --momentum 0.9 --batch-size 32 --epochs 100 \\
      --validation 0.1 --test 0.2 --patience 10 --output digits.npz --report digits.html
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from derive import save_params
from derive.files import atomic_write, check_writable
from derive.model.params import INIT_SCALE
from verify.check.inputs import load_parameters
from verify.engine.data import Dataset, load_data, split
from verify.engine.training import EpochRecord, History, check_settings, check_training_memory, train
from verify.report_writers import check_report_path, training_data, write_report

from .options import (add_data_option, add_network_arguments, add_params_option, add_seed_option, add_step_options,
                      network_from_args, positive_int)

LINES_BY_DEFAULT = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_network_arguments(parser)
    add_data_option(parser, required=True)
    add_step_options(parser, "training", 0.1, "default 0.1", 0.0, "default 0")
    parser.add_argument("--epochs", type=positive_int, default=100, help="maximum number of epochs (default 100)")
    parser.add_argument("--batch-size", type=positive_int, default=1, metavar="B",
                        help="examples per update: 1 stochastic (default), B mini-batch, >= N batch")
    add_seed_option(parser, "the initial weights, the split and the order of examples")
    parser.add_argument("--init-scale", type=float, default=INIT_SCALE, metavar="S",
                        help="initial weights uniform in (-S, S) (default %g, the lecture's)" % INIT_SCALE)
    add_params_option(parser, "start from these parameters instead of random ones", flag="--init")
    parser.add_argument("--validation", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of examples held out for early stopping (default 0)")
    parser.add_argument("--test", type=float, default=0.0, metavar="FRACTION",
                        help="fraction of examples held out for the final test accuracy (default 0)")
    parser.add_argument("--patience", type=positive_int, metavar="EPOCHS",
                        help="stop when the validation loss has not improved for this many epochs (needs --validation)")
    parser.add_argument("--output", "-o", metavar="PARAMS.npz", help="write the trained parameters here")
    parser.add_argument("--history", metavar="FILE.json", help="write the per-epoch loss and accuracy here")
    parser.add_argument("--report", metavar="FILE", help="write a training report (.html, .md, .tex, .pdf or .ipynb): "
                        "loss and accuracy curves, confusion matrix, each hidden unit's weights, the derivation")
    parser.add_argument("--print-every", type=positive_int, metavar="N",
                        help="print a line every N epochs (default: about %d lines)" % LINES_BY_DEFAULT)
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no per-epoch lines")


def run(args: argparse.Namespace) -> int:
    network = network_from_args(args)
    for path in (args.output, args.history):
        if path:
            check_writable(path)
    if args.report:
        check_report_path(args.report)
    check_settings(lr=args.lr, momentum=args.momentum, epochs=args.epochs, batch_size=args.batch_size,
                   patience=args.patience, init_scale=args.init_scale, has_validation=args.validation > 0)
    check_training_memory(network, args.batch_size)
    dataset = load_data(args.data, network)
    train_set, validation_set, test_set = split(dataset, args.validation, args.test, args.seed)
    params = load_parameters(args.init, network)[0] if args.init else None
    print("training %s on %s (%s)" % (network.describe(), dataset.name, _sizes(train_set, validation_set, test_set)))
    print("%s, lr %g, momentum %g; loss = mean over examples%s"
          % (_method(args.batch_size, len(train_set)), args.lr, args.momentum,
             " + weight decay" if network.weight_decay or network.l1 else ""))
    history = _train_with_progress(args, network, train_set, validation_set, params)
    _report(history, train_set, validation_set, test_set)
    if args.output:
        save_params(args.output, history.params)
        print("wrote %s" % args.output)
    if args.history:
        atomic_write(args.history, json.dumps(history.to_dict(), indent=1) + "\n")
        print("wrote %s" % args.history)
    if args.report:
        print("wrote %s" % write_training_report(args.report, args, history, (train_set, validation_set, test_set))[0])
    return 0


def _train_with_progress(args, network, train_set: Dataset, validation_set: Dataset | None, params) -> History:
    every = args.print_every or max(1, args.epochs // LINES_BY_DEFAULT)
    bar = tqdm(total=args.epochs, unit="epoch", file=sys.stderr, leave=False, dynamic_ncols=True,
               disable=args.quiet or not sys.stderr.isatty())

    def on_epoch(record: EpochRecord) -> None:
        bar.update(1)
        bar.set_postfix(loss="%.4g" % record.loss, acc="%.1f%%" % (100 * record.accuracy), refresh=False)
        if not args.quiet and (record.epoch % every == 0 or record.epoch == 1 or record.epoch == args.epochs):
            tqdm.write(_epoch_line(record, args.epochs), file=sys.stdout)

    try:
        history = train(network, train_set, validation=validation_set, params=params, lr=args.lr,
                        momentum=args.momentum, epochs=args.epochs, batch_size=args.batch_size,
                        patience=args.patience, seed=args.seed, init_scale=args.init_scale, on_epoch=on_epoch)
    finally:
        bar.close()
    last = history.records[-1]
    if not args.quiet and last.epoch % every and last.epoch not in (1, args.epochs):
        print(_epoch_line(last, args.epochs))
    return history


def _epoch_line(record: EpochRecord, epochs: int) -> str:
    width = len(str(epochs))
    line = "epoch %*d/%d  loss %-10.4g  train acc %5.1f%%" % (width, record.epoch, epochs, record.loss,
                                                              100 * record.accuracy)
    if record.val_loss is not None:
        line += "  val loss %-10.4g  val acc %5.1f%%" % (record.val_loss, 100 * record.val_accuracy)
    return line


def _report(history: History, train_set: Dataset, validation_set: Dataset | None, test_set: Dataset | None) -> None:
    last = history.records[-1].epoch
    if history.stopped_early:
        print("stopped early at epoch %d: the validation loss had not improved for %d epochs" % (last, last - history.best_epoch))
    if history.best_epoch != last:
        print("kept the parameters of epoch %d (lowest validation loss)" % history.best_epoch)
    for name, data in (("train", train_set), ("validation", validation_set), ("test", test_set)):
        if data is not None:
            loss, accuracy = history.evaluate(data)
            print("%-10s accuracy %5.1f%% (%d/%d)  loss %.4g"
                  % (name, 100 * accuracy, round(accuracy * len(data)), len(data), loss))


def _method(batch_size: int, n_examples: int) -> str:
    if batch_size == 1:
        return "stochastic gradient descent (1 example per update)"
    if batch_size >= n_examples:
        return "batch gradient descent (all %d examples per update)" % n_examples
    return "mini-batch gradient descent (%d examples per update)" % batch_size


def _sizes(train_set, validation_set, test_set) -> str:
    parts = ["%d training examples" % len(train_set)]
    parts += ["%d %s" % (len(d), name) for name, d in (("validation", validation_set), ("test", test_set)) if d]
    return ", ".join(parts)


def write_training_report(path: str, args: argparse.Namespace, history, splits: tuple) -> list[Path]:
    """``backprop train ... --report FILE``: curves, accuracies, confusion matrix, weights, and the derivation."""
    train_set, validation_set, test_set = splits
    settings = {"data": args.data, "updates": "batches of %d examples" % args.batch_size, "learning rate η": args.lr,
                "momentum α": args.momentum, "epochs": args.epochs, "seed": args.seed,
                "initial weights": args.init or "uniform in (−%g, %g)" % (args.init_scale, args.init_scale)}
    if validation_set is not None:
        settings["validation"] = "%d examples%s" % (len(validation_set), ", patience %d" % args.patience
                                                    if args.patience else "")
    if test_set is not None:
        settings["test"] = "%d examples" % len(test_set)
    code = "\n".join([
        "from verify.check.inputs import load_parameters" if args.init else "",
        "from verify import load_data, split, train",
        "data = load_data(%r, network)" % args.data,
        "train_set, validation_set, test_set = split(data, %r, %r, %d)" % (args.validation, args.test, args.seed),
        "history = train(network, train_set, validation=validation_set, params=%s, lr=%r, momentum=%r, epochs=%d, "
        "batch_size=%d, patience=%r, seed=%d, init_scale=%r)" % (
            "load_parameters(%r, network)[0]" % args.init if args.init else "None", args.lr, args.momentum, args.epochs,
            args.batch_size, args.patience, args.seed, args.init_scale),
        "print(history.best)"]).lstrip("\n")
    data = training_data(history, {"train": train_set, "validation": validation_set, "test": test_set},
                         {name: str(value) for name, value in settings.items()}, code)
    return write_report(path, history.network, None, verify=False, training=data)
