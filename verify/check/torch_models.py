"""PyTorch models as gradient sources: any model read into a :class:`derive.Network`, its autograd checked.

:func:`check_torch_module` checks the gradients PyTorch's autograd computes for
a model, entry by entry, against the symbolic reference and finite differences
(:func:`verify.check_gradients`); :func:`check_torch_hvp` checks the
Hessian-vector product of its double backward (:func:`verify.check_hvp`)::

    model = Net()                      # any nn.Module whose forward is an MLP
    report = check_torch_module(model, X, y, loss=nn.CrossEntropyLoss())

The model is read from what its ``forward`` computes (:mod:`verify.check.pytorch`):
``torch.fx`` traces it, custom ``autograd.Function``\\ s kept whole; each
layer's affine map is recognised by its values on random probes, whatever it
is called (``nn.Linear``, ``F.linear``, ``x @ self.W.T + self.b``, a custom
layer named ``Linear`` with its own Function), and each activation by its
values (or as ``activation=`` names it).  A forward on raw tensors is the pair
``(forward, params)``: ``forward(X, params)`` with a dict or list of tensors.
The loss is PyTorch's own (``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, ...,
or their names) or a loss record's name (:mod:`verify.check.pytorch.model_loss`).

Gradients come from ``torch.autograd.grad`` on a ``torch.func.functional_call``
with the parameters being checked, so the model itself is never modified.  A
float32 model is checked at float32 tolerances; a model on a GPU, on a CPU
float64 copy.  PyTorch is an optional dependency (``pip install
'backprop[torch]'``); only this module and :mod:`verify.check.pytorch`'s import it.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import torch
from torch import nn

from derive import InputError, check_params
from verify.engine.data import check_data

from .kinks_and_saturation import preactivations
from .gradient_check import check_gradients
from .modules import module_for
from .pytorch.autograd import call, gradient_function, hvp_function, loss_of, model_tensors
from .pytorch.failures import users_failure
from .pytorch.graph import DropoutInTraining
from .pytorch.model_loss import binary_targets, model_loss
from .pytorch.reading import TorchNetwork, read_model, tensor_model
from .pytorch.tracing import model_name, was_traced
from .check_report import CheckReport
from .sources import load_function, one_line, user_frame

__all__ = ["TorchNetwork", "check_torch_hvp", "check_torch_module", "gradient_function", "hvp_function",
           "binary_targets", "load_model", "read_module"]


def load_model(spec: str) -> nn.Module:
    """The model ``MODULE:OBJECT`` or ``path/to/file.py:FACTORY`` names.

    The object is an ``nn.Module``, a ``(forward, params)`` pair, or a function
    returning either.

    Raises:
        InputError: it cannot be imported, the factory raises (SystemExit too;
            the message shows where in the user's code), or it is none of these.
    """
    return as_model(load_function(spec, option="--torch"), "--torch %s" % spec)


def as_model(found, where: str) -> nn.Module:
    """``found`` as a module to read: a module, a ``(forward, params)`` pair, or what a factory returns."""
    if callable(found) and not isinstance(found, nn.Module):
        try:
            found = found()
        except BaseException as exc:
            if not users_failure(exc):
                raise
            raise InputError("%s: calling it raised %s%s" % (where, one_line(exc), user_frame(exc))) from None
    if isinstance(found, nn.Module):
        return found
    if isinstance(found, tuple) and len(found) == 2:
        return tensor_model(found, where)
    raise InputError("%s: it gave a %s; expected a torch.nn.Module or a pair (forward, params) of a function "
                     "forward(X, params) and a dict or list of tensors" % (where, type(found).__name__))


def read_module(model, loss=None, reduction: str | None = None, *, activation=None,
                width: int | None = None, reuse: bool = False) -> TorchNetwork:
    """Read ``model`` into a network and its parameters (:func:`verify.check.pytorch.reading.read_model`).

    Args:
        model: An ``nn.Module``, or a pair ``(forward, params)``.
        loss: A PyTorch loss object or name, or a loss record's name (default ``"sse"``).
        reduction: For a record's name: ``"sum"`` or ``"mean"`` (default: the record's).
        activation: The layers' activations (``"0.5*(5*x**3-3*x),linear"``), verified against the
            model's forward values; default: recognised.
        width: The input width, when the data gives it.
        reuse: Take the graph traced before for a model of the same structure, if any.

    Raises:
        InputError: one line naming what cannot be read and where in ``forward``.
    """
    model = as_model(model, "the model") if isinstance(model, tuple) else model
    try:
        return read_model(model, model_loss(loss, reduction), activation, width, reuse)
    except DropoutInTraining:
        if not model.training:
            raise
    # Dropout in training mode makes the output random; gradient checks run in eval mode, where it is the identity.
    import copy

    read = read_model(copy.deepcopy(model).eval(), model_loss(loss, reduction), activation, width, reuse=False)
    read.notes.insert(0, "the model is in training mode with dropout, whose output is random: checked on a copy in "
                         "eval mode, dropout off, as gradient checks run (your model is left in training mode)")
    return read


def check_torch_module(model, X, T, loss=None, reduction: str | None = None, *, params: dict | None = None,
                       activation=None, **options) -> CheckReport:
    """Check the gradients PyTorch's autograd computes for ``model`` against the symbolic reference.

    Args:
        model: An ``nn.Module`` whose forward is an MLP, or a pair ``(forward, params)``.
        X: Inputs ``(N, n_0)`` (numpy array or tensor, on any device).
        T: Targets ``(N, n_L)``, or integer class labels ``(N,)``.
        loss: A PyTorch loss object (``nn.CrossEntropyLoss()``) or name (``"MSELoss(reduction='sum')"``),
            or a loss record's name (``"sse"``, ``"cross_entropy"``); None (the default) checks with ``sse``
            and says so in a note.
        reduction: With a record's name: ``"sum"`` or ``"mean"`` over examples.
        params: Parameters to check at, keyed ``W1, b1, ...`` (default: the model's own);
            cast to the model's dtype.
        activation: The layers' activations, when the registry cannot recognise them.
        **options: Passed to :func:`verify.check_gradients` (``rtol``, ``seed``, ...).

    Returns:
        The :class:`~verify.check.check_report.CheckReport`, naming each parameter
        both ways (``W1 (fc1.weight)``); its notes say what was read, layer by layer.

    Raises:
        InputError: the model cannot be read (one line naming the step and where
            it is in forward), bad data or parameters, or its forward or backward raises.
    """
    read, X, T = _prepared(model, X, T, loss, reduction, params, activation)
    report = check_gradients(read.network, read.params, X, T, gradient_function(read),
                             candidate_name="torch model %s (autograd)" % model_name(read.model),
                             parameter_names=_other_names(read), **options)
    report.notes = read.notes + report.notes
    report.warnings = _softplus_notes(read, X) + report.warnings
    report.diagnosis = [_with_backwards(read, d) for d in report.diagnosis]
    return report


def _with_backwards(read: TorchNetwork, diagnosis):
    """A finding with the hand-written backwards (custom ``autograd.Function``) it reaches first, where to look.

    Parameters of layer l and below that are wrong while the layers above are right are computed from delta_l:
    layer l's activation backward, and the input gradient layer l + 1's backward sends down.
    """
    if diagnosis.kind == "right" or not read.layers:
        return diagnosis
    layers = sorted({int(name[1:]) for name in diagnosis.parameters})
    top = layers[-1]
    places = [("layer %d's activation" % top, read.layers[top - 1].activation_text)]
    places += [("layer %d's own backward" % layer, read.layers[layer - 1].affine_text) for layer in layers]
    if top < len(read.layers):
        places.append(("the input gradient of layer %d's backward" % (top + 1), read.layers[top].affine_text))
    custom = ["%s, %s" % (what, found.group(0)) for what, text in places
              if (found := re.search(r"\w+\.apply( in [^,;]*?)? at [^,;()]+ line \d+", text))]
    if not custom:
        return diagnosis
    return dataclasses.replace(diagnosis, text="%s. Hand-written backwards this reaches first: %s" % (
        diagnosis.text.rstrip("."), "; ".join(custom)))


def check_torch_hvp(model, X, T, loss=None, reduction: str | None = None, *, params: dict | None = None,
                    V: dict | None = None, activation=None, **options) -> CheckReport:
    """Check the Hessian-vector product PyTorch's double backward computes for ``model``'s loss.

    The product is ``torch.autograd.functional.hvp`` of the model's loss as a
    function of the parameters; everything else is as in
    :func:`check_torch_module`, and the check is :func:`verify.check_hvp`.  A
    custom ``torch.autograd.Function`` whose backward uses its saved output
    as a constant loses the second-derivative term there, which the diagnosis names.

    Args:
        V: The direction, keyed ``W1, b1, ...`` (default: a seeded random one).
        **options: Passed to :func:`verify.check_hvp` (``rtol``, ``seed``, ``kind``...).
    """
    from .hvp_check import check_hvp  # the product check is not needed for gradients

    read, X, T = _prepared(model, X, T, loss, reduction, params, activation)
    report = check_hvp(read.network, read.params, X, T, hvp_function(read), V,
                       candidate_name="torch model %s (double backward)" % model_name(read.model),
                       parameter_names=_other_names(read), **options)
    report.notes = read.notes + report.notes
    return report


def _other_names(read: TorchNetwork) -> dict[str, str]:
    """The model's names that differ from the network's (``W1 (fc1.weight)``; a model's own ``W1`` is just W1)."""
    return {key: name for key, name in read.shown.items() if name != key}


def _prepared(model, X, T, loss, reduction, params, activation) -> tuple:
    """The model read (at ``params`` if given), the data checked, its output and loss compared.

    The graph traced for a model of the same structure before is taken again; when
    the model does not fit it (the reading or the comparison fails), it is traced afresh.
    """
    X, T = (np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a) for a in (X, T))
    labels = T.ndim == 1 and T.dtype.kind in "biu"
    width = X.shape[1] if X.ndim == 2 and X.shape[1] else None
    model = as_model(model, "the model") if isinstance(model, tuple) else model
    for reuse in (True, False) if was_traced(model) else (False,):
        try:
            read = read_module(model, loss, reduction, activation=activation, width=width, reuse=reuse)
            Xc, Tc = check_data(read.network, X, T)
            read.loss.targets_from(Tc, labels)
            read.notes += _target_notes(read, labels, loss)
            if params is not None:
                dtype = next(iter(read.params.values())).dtype
                read.params = {k: v.astype(dtype) for k, v in check_params(read.network, params).items()}
            else:
                _finite_weights(read)
            compare_outputs(read, Xc, Tc)
            return read, Xc, Tc
        except InputError:
            if not reuse:
                raise


def _target_notes(read: TorchNetwork, labels: bool, loss) -> list[str]:
    """What the check assumed about the loss and the targets, where the user may not have meant it."""
    notes = []
    if loss is None:
        notes.append("no loss given: checked with %s on the model's outputs; give the loss the model is trained with "
                     "(--loss CrossEntropyLoss, MSELoss, ...)" % read.network.loss.name)
    if labels and not read.loss.takes_classes and read.network.sizes[-1] > 1:
        notes.append("the targets are integer class labels and %s compares values: they were read as one-hot rows "
                     "(np.eye(%d)[y]), which PyTorch's loss itself would need" % (read.loss, read.network.sizes[-1]))
    return notes


def _finite_weights(read: TorchNetwork) -> None:
    for key, value in read.params.items():
        bad = ~np.isfinite(value)
        if bad.any():
            kinds = [(int(count), what) for count, what in ((np.isnan(value).sum(), "NaN"),
                                                            (np.isinf(value).sum(), "infinite")) if count]
            raise InputError("the model's weights are not finite: %s (%s) has %s of its %d entries, the first %s[%s]; "
                             "check it where its weights are finite (or give --params)"
                             % (key, read.shown[key], " and ".join("%d %s" % kind for kind in kinds), value.size, key,
                                ", ".join(str(int(i)) for i in np.argwhere(bad)[0])))


def compare_outputs(read: TorchNetwork, X: np.ndarray, T: np.ndarray) -> None:
    """Refuse a model whose output or loss is not the network's: the reading would check the wrong mathematics.

    Raises:
        InputError: with the largest difference.
    """
    network = read.network
    tensors = model_tensors(read, read.params)
    try:
        with torch.no_grad():
            output = call(read, tensors, X).double().numpy()
            loss = float(loss_of(read, tensors, X, T))
    except BaseException as exc:
        if not users_failure(exc):
            raise
        raise InputError("the model raised %s%s when called on X of shape %s"
                         % (one_line(exc), user_frame(exc), np.shape(X))) from None
    if read.logits:
        output = network.activations[-1].numpy(output)
    elif read.loss.takes == "log_probabilities":
        output = np.exp(output)
    params = {k: v.astype(np.float64) for k, v in read.params.items()}
    module = module_for(network)
    expected = module.forward(params, np.asarray(X, dtype=np.float64))
    tolerance = 1e-4 if read.dtype == torch.float32 else 1e-10
    if np.shape(output) != np.shape(expected) or not np.allclose(output, expected, rtol=tolerance, atol=tolerance):
        gap = np.max(np.abs(output - expected)) if np.shape(output) == np.shape(expected) else np.nan
        raise InputError("the model's output differs from the network read from it, %s (largest difference %.3g): "
                         "its forward does something the reading did not see" % (network.describe(), gap))
    reference = float(module.loss(params, np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)))
    if not np.isclose(loss, reference, rtol=tolerance, atol=tolerance):
        raise InputError("%s gives %.10g on the model's output, the network's %s gives %.10g: the targets are not "
                         "what the loss takes" % (read.loss, loss, network.loss.name, reference))


def _softplus_notes(read: TorchNetwork, X: np.ndarray) -> list[str]:
    """A note where torch's Softplus switches to the identity (above its threshold) on this data."""
    notes = []
    network = read.network
    layers = [layer for layer, a in enumerate(network.activations, start=1) if a.name == "softplus"]
    thresholds = [m.threshold for m in read.model.modules() if isinstance(m, nn.Softplus)]
    if not layers or len(thresholds) != len(layers):
        return notes
    Zs = preactivations(network, {k: v.astype(np.float64) for k, v in read.params.items()},
                        np.asarray(X, dtype=np.float64))
    for layer, threshold in zip(layers, thresholds):
        top = float(np.max(Zs[layer - 1]))
        if top > threshold:
            notes.append("layer %d: torch's Softplus returns z itself above its threshold %g (here z reaches %.3g), "
                         "where log(1 + e^z) differs by about e^-z" % (layer, threshold, top))
    return notes

