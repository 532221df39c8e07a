"""The loss a PyTorch model is checked with: PyTorch's own loss modules, or the loss records by name.

A loss arrives as a PyTorch loss object (``nn.CrossEntropyLoss()``), as its
name (``"MSELoss(reduction='sum')"``, :mod:`.loss_names`), or as a record's
name (``"sse"``, ``"cross_entropy"``).  :func:`model_loss` resolves it into a
:class:`ModelLoss`; :meth:`ModelLoss.output_layer` decides what the network's
output layer is, given the activation the model ends in (a loss on logits
applies softmax or sigmoid itself); :meth:`ModelLoss.value` computes the loss
in torch, on the model's output, the way training computes it: PyTorch's
losses by calling the loss module itself (class indices for one-hot targets,
as ``nn.CrossEntropyLoss`` is trained), the records by their definitions
(the sum of the per-unit terms, times :meth:`derive.Network.loss_scale`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from derive import ACTIVATIONS, LOSSES, Activation, InputError, Network

from .loss_names import TORCH_LOSSES, TorchLoss, check_reduction, output_activation, parse_loss
from .vocabulary import LOG_SOFTMAX

DEFAULT_LOSS = "sse"


def _squared(output, T, logits):
    return F.mse_loss(output, T, reduction="sum")


def _binary_cross_entropy(output, T, logits):
    return (F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy)(output, T, reduction="sum")


#: Each loss record PyTorch can check with, summed over examples and outputs as PyTorch computes it: ``(output, T,
#: logits) -> total`` (the record's reduction and averaging are :meth:`derive.Network.loss_scale`'s).  This is the
#: independent oracle's own spelling of each loss, not the record's SymPy definition.
_TORCH_VALUES = {
    "sse": lambda output, T, logits: _squared(output, T, logits) / 2,
    "squared_error": _squared,
    "mse": _squared,
    "cross_entropy": lambda output, T, logits: (F.cross_entropy(output, T, reduction="sum") if logits
                                                else -(T * torch.log(output)).sum()),
    "binary_cross_entropy": _binary_cross_entropy,
    "mean_binary_cross_entropy": _binary_cross_entropy,
}


@dataclass
class ModelLoss:
    """The loss of a check of a PyTorch model.

    Attributes:
        record: The loss record of the network (``"cross_entropy"``).
        reduction: ``"sum"`` or ``"mean"`` over examples.
        torch: The PyTorch loss, when one was named; None for a record's name.
        takes: What the loss is given: ``"logits"``, ``"log_probabilities"`` or ``"outputs"``
            (set by :meth:`output_layer`).
        indices: Class targets are given to the loss as indices (``T.argmax(1)``; set by :meth:`targets_from`).
    """

    record: str
    reduction: str
    torch: TorchLoss | None = None
    takes: str = "outputs"
    indices: bool = False

    def __str__(self) -> str:
        return str(self.torch) if self.torch else "%s (%s)" % (self.record, self.reduction)

    @property
    def takes_classes(self) -> bool:
        """A PyTorch class loss (``CrossEntropyLoss``, ``NLLLoss``): trained on integer class labels."""
        return self.torch is not None and self.torch.targets == "classes"

    def output_layer(self, final: Activation | str | None, where: str) -> Activation:
        """The network's output activation for a model whose last layer ends in ``final``; sets :attr:`takes`.

        Raises:
            InputError: the model's output is not what the loss takes (probabilities given to a loss on logits,
                logits to ``NLLLoss``, ...), with what to change.
        """
        wanted = output_activation(self.record)
        named = self.torch.takes if self.torch else None
        name = "linear" if final is None else final if isinstance(final, str) else final.name
        ends = "no activation: its outputs are logits" if final is None else where
        if final == LOG_SOFTMAX and self.record == "cross_entropy" and named in ("log_probabilities", "logits"):
            self.takes = "log_probabilities"   # log_softmax is idempotent under CrossEntropyLoss's own log-softmax
            return ACTIVATIONS["softmax"]
        if named == "log_probabilities":
            raise InputError("nn.NLLLoss takes log-probabilities, but the model ends in %s; end it with "
                             "log_softmax(dim=-1), or use nn.CrossEntropyLoss on logits" % ends)
        if final is None and wanted is not None and named in ("logits", None):
            self.takes = "logits"
            return ACTIVATIONS[wanted]
        if named == "logits":
            hint = "; or keep it and use %s" % ("nn.NLLLoss after log_softmax" if wanted == "softmax" else
                                                "nn.BCELoss") if name == wanted else ""
            raise InputError("%s takes logits and applies %s itself, but the model ends in %s; end the model with "
                             "its last affine layer%s" % (self, wanted, ends, hint))
        if final == LOG_SOFTMAX:
            raise InputError("the model ends in %s, which gives log-probabilities: use --loss NLLLoss (nn.NLLLoss())"
                             % ends)
        if wanted is not None and name != wanted:
            raise InputError("%s takes %s outputs, but the model ends in %s%s"
                             % (self, wanted, ends, "; for logits use nn.BCEWithLogitsLoss" if wanted == "sigmoid"
                                else ""))
        self.takes = "outputs"
        return ACTIVATIONS["linear"] if final is None else final

    def targets_from(self, T: np.ndarray, given_labels: bool) -> None:
        """Decide how class targets are given to the loss, from the targets of the check (rows, one-hot or not).

        Raises:
            InputError: ``nn.NLLLoss`` with targets that are not one class per example.
        """
        one_hot = T.ndim == 2 and T.shape[1] > 1 and bool(np.all((T == 0) | (T == 1)) and np.all(T.sum(axis=1) == 1))
        if self.torch is not None and self.torch.name == "NLLLoss" and not one_hot:
            raise InputError("nn.NLLLoss takes one class per example (integer labels, or one-hot rows); the targets "
                             "are class probabilities: use nn.CrossEntropyLoss")
        self.indices = self.takes_classes and (one_hot or given_labels)

    def value(self, network: Network, output: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
        """The loss of the model's ``output`` for targets ``T`` (N, n_L), as PyTorch computes it in training."""
        if self.torch is not None:
            target = T.argmax(dim=1) if self.indices else T
            return getattr(nn, self.torch.name)(reduction=self.torch.reduction)(output, target)
        total = _TORCH_VALUES[self.record](output, T, self.takes == "logits")
        return total * network.loss_scale(len(output))


def model_loss(loss, reduction: str | None = None) -> ModelLoss:
    """Resolve ``loss``: a PyTorch loss object, a PyTorch loss's name, or a loss record's name.

    Raises:
        InputError: an unknown name, a loss object with settings the derivation does not have
            (class weights, label smoothing, pos_weight, reduction 'none'), or a loss other than these.
    """
    if loss is None:
        loss = DEFAULT_LOSS
    if isinstance(loss, nn.Module):
        return _from_object(loss, reduction)
    if not isinstance(loss, str):
        raise InputError("loss must be a PyTorch loss object (nn.CrossEntropyLoss()) or a name, got %s"
                         % type(loss).__name__)
    named = parse_loss(loss, reduction)
    if named is not None:
        return ModelLoss(named.record, named.reduction, named)
    records = tuple(_TORCH_VALUES)
    if loss not in records:
        names = {name.lower(): name for name in tuple(TORCH_LOSSES) + records}
        close = difflib.get_close_matches(loss.lower(), names, n=1)
        raise InputError("unknown loss %r for a PyTorch model;%s choose one of PyTorch's: %s, or a loss record: %s"
                         % (loss, " did you mean %s?" % names[close[0]] if close else "", ", ".join(TORCH_LOSSES),
                            ", ".join(records)))
    return ModelLoss(loss, check_reduction(reduction or LOSSES[loss].default_reduction, "reduction"))


def _from_object(loss: nn.Module, reduction: str | None) -> ModelLoss:
    name = type(loss).__name__
    if getattr(nn, name, None) is not type(loss) or name not in TORCH_LOSSES:
        raise InputError("cannot check with the loss %s: backprop reads PyTorch's %s (or a loss record's name)"
                         % (name, ", ".join(TORCH_LOSSES)))
    if reduction is not None:
        raise InputError("%s carries its reduction (%r); give reduction= to the loss object, not to the check"
                         % (name, loss.reduction))
    settings = {"weight": getattr(loss, "weight", None) is not None,
                "pos_weight": getattr(loss, "pos_weight", None) is not None,
                "label_smoothing": bool(getattr(loss, "label_smoothing", 0.0))}
    extra = [setting for setting, given in settings.items() if given]
    if extra:
        raise InputError("nn.%s with %s: backprop's losses have no class weights, pos_weight or label smoothing"
                         % (name, ", ".join(extra)))
    torch_loss = TorchLoss(name, check_reduction(loss.reduction, "nn.%s" % name))
    return ModelLoss(torch_loss.record, torch_loss.reduction, torch_loss)


def binary_targets(loss: ModelLoss, network: Network, batch: int, seed: int, dtype) -> np.ndarray | None:
    """0/1 targets (N, n_L), as a binary loss is trained on, for a check without data; None for other losses."""
    if loss.torch is None or loss.torch.targets != "binary":
        return None
    return np.random.default_rng([seed, 2]).integers(0, 2, (batch, network.sizes[-1])).astype(dtype)
