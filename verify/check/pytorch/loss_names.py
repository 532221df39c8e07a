"""PyTorch's losses by PyTorch's names, mapped onto the loss records: read from text without importing torch.

``backprop check --torch MODEL --loss "MSELoss(reduction='sum')"`` names the
loss the way the training script does.  :func:`parse_loss` reads such a text
with a regular expression that accepts exactly ``NAME``, ``NAME()`` or
``NAME(reduction='sum'|'mean')`` (optionally prefixed ``nn.`` or
``torch.nn.``), nothing else: user text never reaches ``eval``.

Each PyTorch loss is a loss record of :mod:`derive.model.losses`, a reduction
over examples, and what it expects of the model's output (:class:`TorchLoss`):

==========================  =========================================  ========================================
PyTorch                     network (output layer, record, reduction)  the model's output
==========================  =========================================  ========================================
``MSELoss()``               ``mse`` (mean over all N * n_L entries)     any output
``MSELoss(reduction='sum')`` ``squared_error`` (sum (o - t)^2)          any output
``CrossEntropyLoss()``      softmax + ``cross_entropy``, mean           logits (or log-softmax)
``NLLLoss()``               softmax + ``cross_entropy``, mean           log-probabilities (``log_softmax``)
``BCELoss()``               sigmoid + ``mean_binary_cross_entropy``     probabilities (a sigmoid)
``BCEWithLogitsLoss()``     sigmoid + ``mean_binary_cross_entropy``     logits
==========================  =========================================  ========================================

With ``reduction='sum'`` the binary losses are ``binary_cross_entropy`` and
the class losses sum over examples.  ``reduction='mean'`` of the binary
losses averages over every entry, examples *and* output units, hence the
record that carries the 1/n_L.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from derive import LOSSES, InputError

#: PyTorch loss class -> (record for reduction "sum", record for "mean", the model output it takes, target kind).
TORCH_LOSSES = {
    "MSELoss": ("squared_error", "mse", "outputs", "values"),
    "CrossEntropyLoss": ("cross_entropy", "cross_entropy", "logits", "classes"),
    "NLLLoss": ("cross_entropy", "cross_entropy", "log_probabilities", "classes"),
    "BCELoss": ("binary_cross_entropy", "mean_binary_cross_entropy", "outputs", "binary"),
    "BCEWithLogitsLoss": ("binary_cross_entropy", "mean_binary_cross_entropy", "logits", "binary"),
}


def output_activation(record: str) -> str | None:
    """The output activation the loss record ``record`` needs (its :attr:`derive.Loss.requires_output`), which a
    PyTorch loss on logits applies itself; None for a loss that takes any output."""
    required = LOSSES[record].requires_output
    return required[0] if required else None


ACCEPTED = ("%s (each with reduction='sum' or 'mean', PyTorch's default)" % ", ".join(TORCH_LOSSES))

_TEXT = re.compile(r"\s*(?:(?:torch\s*\.\s*)?nn\s*\.\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", re.S)
_REDUCTION = re.compile(r"\s*reduction\s*=\s*(['\"])([A-Za-z]*)\1\s*,?\s*", re.S)
_KEYWORD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass(frozen=True)
class TorchLoss:
    """A PyTorch loss module, as the derivation reads it.

    Attributes:
        name: The PyTorch class, ``"CrossEntropyLoss"``.
        reduction: ``"mean"`` (PyTorch's default) or ``"sum"``.
    """

    name: str
    reduction: str = "mean"

    @property
    def record(self) -> str:
        """The loss record: ``mse``, ``squared_error``, ``cross_entropy``, ``(mean_)binary_cross_entropy``."""
        summed, averaged, _, _ = TORCH_LOSSES[self.name]
        return averaged if self.reduction == "mean" else summed

    @property
    def takes(self) -> str:
        """What the loss takes: ``"logits"``, ``"log_probabilities"`` or ``"outputs"`` (the network's output)."""
        return TORCH_LOSSES[self.name][2]

    @property
    def targets(self) -> str:
        """``"classes"`` (indices or class probabilities), ``"binary"`` (0/1) or ``"values"``."""
        return TORCH_LOSSES[self.name][3]

    @property
    def output_activation(self) -> str | None:
        """The activation of the network's output layer the loss implies (``None``: the model's own)."""
        return output_activation(self.record)

    def __str__(self) -> str:
        return "nn.%s(reduction=%r)" % (self.name, self.reduction)


def parse_loss(text: str, reduction: str | None = None, option: str = "--loss") -> TorchLoss | None:
    """The PyTorch loss ``text`` names, or None when it names none (a loss record's name such as ``sse``).

    Args:
        text: ``"CrossEntropyLoss"``, ``"nn.MSELoss(reduction='sum')"``, ``"BCELoss()"``, or a record's name.
        reduction: A reduction given separately (``--reduction``); refused beside a PyTorch name.
        option: How the user gave ``text``, for messages.

    Raises:
        InputError: a PyTorch-looking name that is not supported, an argument
            other than ``reduction='sum'|'mean'``, or ``--reduction`` beside it.
    """
    text = str(text)
    match = _TEXT.fullmatch(text)
    if not re.search(r"[().]|Loss\b", text):
        return None  # a loss record's name, for the registry to read
    if match is None:
        raise InputError("%s %r is not a PyTorch loss as code writes it: NAME or NAME(reduction='sum'|'mean'), "
                         "e.g. \"MSELoss(reduction='sum')\"; backprop reads %s" % (option, text, ACCEPTED))
    name, arguments = match.groups()
    if name not in TORCH_LOSSES:
        suggestion = {n.lower(): n for n in TORCH_LOSSES}.get(name.lower())
        raise InputError("%s %r: unknown PyTorch loss %r%s; backprop reads %s, or its own loss names"
                         % (option, text, name, "; did you mean %s?" % suggestion if suggestion else "", ACCEPTED))
    chosen = _reduction(text, arguments or "", option)
    if reduction is not None:
        raise InputError("%s %s carries its reduction: write %s \"%s(reduction='%s')\" instead of --reduction"
                         % (option, text, option, name, reduction))
    return TorchLoss(name, chosen)


def _reduction(text: str, arguments: str, option: str) -> str:
    """``'sum'`` or ``'mean'`` from the text between the parentheses (empty: PyTorch's default, mean)."""
    if not arguments.strip():
        return "mean"
    match = _REDUCTION.fullmatch(arguments)
    if match is None:
        keyword = _KEYWORD.match(arguments)
        what = "the argument %s" % keyword.group(1) if keyword else "the argument %r" % arguments.strip()
        raise InputError("%s %r: backprop reads only reduction='sum' or reduction='mean' here, not %s (%s); its "
                         "losses have no class weights, label smoothing or pos_weight"
                         % (option, text, what, ACCEPTED))
    return check_reduction(match.group(2), "%s %r" % (option, text))


def check_reduction(reduction: str, where: str) -> str:
    """``reduction`` if it is ``"sum"`` or ``"mean"``.

    Raises:
        InputError: ``"none"`` (one loss per example) or anything else, naming ``where``.
    """
    if reduction == "none":
        raise InputError("%s: reduction='none' gives one loss per example; a gradient check differentiates one "
                         "number: use reduction='sum' or 'mean'" % where)
    if reduction not in ("sum", "mean"):
        raise InputError("%s: unknown reduction %r; use 'sum' or 'mean'" % (where, reduction))
    return reduction
