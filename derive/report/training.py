"""The training report's sections, from plain data: curves, accuracies, confusion matrix, learned weights.

``backprop train ... --report FILE`` (:mod:`verify.cli.train`) hands over
plain data (``derive`` never imports ``verify``):

* ``dataset``, ``settings`` (``{name: text}``), ``records`` (one dict per epoch:
  ``epoch``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``),
  ``best_epoch``, ``stopped_early``;
* ``results``: rows ``{"split", "accuracy", "correct", "total", "loss"}``;
* ``confusion``: ``{"on": "test set", "matrix": [[...]]}`` (rows true class, columns predicted);
* ``weights``: W1 as nested lists, drawn as one image per hidden unit when the
  input is a square image (the lecture's face-recognition slide does this);
* ``code``: Python that reruns the training in a notebook.
"""

from __future__ import annotations

import numpy as np

from .document import Section, Table, paragraph
from .plots import confusion_plot, curves_plot, weight_images


def training_sections(data: dict) -> list[Section]:
    """Training, confusion matrix, and (with a hidden layer) what the hidden units learned."""
    records = data["records"]
    ended = ("stopped early at epoch %d: the validation loss had not improved for the patience; the parameters "
             "are those of epoch %d, the lowest validation loss." % (records[-1]["epoch"], data["best_epoch"])
             if data.get("stopped_early") else "ran all %d epochs." % records[-1]["epoch"])
    training = Section("training", "Training", [
        paragraph("Trained on %s with the hand-written numpy engine; training %s" % (data["dataset"], ended)),
        Table(("setting", "value"), tuple((name, str(value)) for name, value in data["settings"].items())),
        curves_plot(records, data.get("best_epoch")),
        Table(("split", "accuracy (%)", "correct", "examples", "loss"),
              tuple((row["split"], 100 * float(row["accuracy"]), int(row["correct"]), int(row["total"]),
                     float(row["loss"])) for row in data["results"]),
              "The kept parameters on each split (loss: mean over examples, plus any weight-decay penalty)."),
    ], code=data.get("code"))
    sections = [training]
    confusion = data.get("confusion")
    if confusion:
        sections.append(Section("confusion", "Confusion matrix", [
            paragraph("Each row is a true class, each column the class the network predicted (the output unit "
                      "with the largest activation): the diagonal holds the examples classified right."),
            confusion_plot(confusion["matrix"], confusion["on"])]))
    weights = data.get("weights")
    if weights is not None and len(np.shape(weights)) == 2 and np.shape(weights)[0] > 0:
        sections.append(Section("hidden-units", "What the hidden units learned", [
            paragraph("Each hidden unit j sums its inputs weighted by its row of W1. Drawn in the shape of the "
                      "input, those weights show what the unit responds to, as the lecture's face-recognition "
                      "slides show for each hidden unit."),
            weight_images(np.asarray(weights, dtype=float))]))
    return sections
