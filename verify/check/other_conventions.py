"""When wrong gradients are right under another convention: which one, and the options that say it.

Much code that "fails" a check is right about a loss that is written
differently: Σ(o − t)² without the lecture's ½ (the PyTorch tutorials), the
mean over examples where the check assumed their sum (or back), the mean over
every output entry (``nn.MSELoss()``), or a weight-decay term written
``reg * Σw²`` (gradient ``2 * reg * w``) where the toolkit's is λ/2 Σw².
Each of these is a registered loss, a reduction or a coefficient of
:class:`derive.Network`, so the test is exact: :func:`find_convention`
computes the reference gradient of each such network (the same generated
code, :func:`~verify.check.modules.module_for`) and returns the one the
candidate matches at *every* entry, with the ratio it differs by when that is
one constant.  The check's verdict does not change (it answers for the options
given); the report says which options would make it pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive import Network

from .hypotheses import fitted_decay
from .modules import module_for

#: Losses that differ only by constant factors; a candidate right for one is tried against the others.
SQUARED_ERRORS = ("sse", "squared_error", "mse")


@dataclass(frozen=True)
class Convention:
    """The network whose gradient the candidate computes exactly, and how to say so.

    Attributes:
        network: That network (the checked one with another loss, reduction or weight decay).
        changes: Its fields that differ (``{"loss": "squared_error"}``).
        options: The command-line options that name it (``["--loss", "squared_error"]``), beside the others.
        ratio: The constant the candidate is times the reference at every entry, if it is one constant.
        text: The finding in words.
        negated: The candidate is the *negative* of that network's gradient (the direction of descent): the
            options leave only the flipped sign to fix.
    """

    network: Network
    changes: dict
    options: list
    ratio: float | None
    text: str
    negated: bool = False

    def to_dict(self) -> dict:
        return {"network": self.network.describe(), "changes": dict(self.changes), "options": list(self.options),
                "ratio": self.ratio, "text": self.text, "negated": self.negated}


def find_convention(check, returned, layout=None) -> Convention | None:
    """The convention under which the candidate of a finished gradient ``check`` is right, or None.

    Tried only where a convention could explain it: every parameter wrong (the loss or the reduction, or, for a
    gradient read from an update, the learning rate), or only weights wrong (the weight-decay coefficient).
    Shapes realigned by the check never fit a convention.
    """
    if returned.shapes:
        return None
    found = _conventions(check, returned)
    if found is None and layout is not None and layout.update is not None:
        return _learning_rate(check, layout.update)
    return found


def _learning_rate(check, lr: float) -> Convention | None:
    """A gradient read from an update that is one constant c times the reference everywhere: the function's
    learning rate is c x the one given."""
    ratio = _ratio(check)
    if ratio is None or ratio <= 0 or np.isclose(ratio, 1.0):
        return None
    rate = float("%.6g" % (ratio * lr))
    text = ("your gradients are exactly %.4g x the reference at every entry: read from an update, that is the step "
            "of learning rate %.6g, not %.6g, so your function's learning rate is %.6g" % (ratio, rate, lr, rate))
    return Convention(check.network, {"update": rate}, ["--update", "%.6g" % rate], ratio, text)


def _conventions(check, returned) -> Convention | None:
    """The loss, reduction or weight-decay coefficient under which the candidate is right, or None."""
    network, wrong = check.network, {row.name for row in check.rows if row.over}
    weights = {name for name in check.reference if name.startswith("W")}
    if wrong == set(check.reference):
        alternatives = [network.replace(loss=loss, reduction=reduction)
                        for loss in (SQUARED_ERRORS if network.loss.name in SQUARED_ERRORS else (network.loss.name,))
                        for reduction in ("sum", "mean")]
    elif wrong and wrong <= weights:
        alternatives = [network.replace(weight_decay=coefficient) for coefficient in _decay_fits(check)]
    else:
        return None
    negative = {k: -v for k, v in check.candidate.items()}
    for alternative in alternatives:
        if alternative == network or alternative.reduction == network.reduction == "mean" and len(check.X) == 1:
            continue
        with np.errstate(all="ignore"):
            expected = {k: np.asarray(v, np.float64) for k, v in module_for(alternative).gradients(
                check.params, check.X, check.T).items()}
        if _same(check, expected, check.reference):
            continue
        negated = not _same(check, check.candidate, expected)
        if negated and not _same(check, negative, expected):
            continue
        if returned.loss is not None and not _returns_loss_of(alternative, check, returned.loss):
            return _contradicted(check, network, alternative, returned.loss)
        found = _convention(check, network, alternative)
        if not negated:
            return found
        return Convention(alternative, found.changes, found.options, found.ratio, found.text.replace(
            ": your", ": the sign is flipped (it is the negative gradient, the direction a step goes) and your", 1)
            + "; under %s only the sign remains to fix" % " ".join(found.options), negated=True)
    return None


def _returns_loss_of(network: Network, check, loss: float) -> bool:
    """Whether ``loss`` (returned by the candidate beside its gradient) is ``network``'s loss at the check's point."""
    with np.errstate(all="ignore"):
        expected = float(module_for(network).loss(check.params, check.X, check.T))
    return bool(np.isclose(loss, expected, rtol=1e-6, atol=1e-12))


def _contradicted(check, network: Network, alternative: Network, loss: float) -> Convention:
    """The gradient fits ``alternative`` but the loss returned beside it does not: no option makes the code right."""
    found = _convention(check, network, alternative)
    own = ("this network's" if _returns_loss_of(network, check, loss) else "neither this network's nor that one's")
    text = ("%s; but the loss it returns, %.6g, is %s: its loss and its gradient are of different losses, so no "
            "option makes both right (one of them has a slip)" % (found.text, loss, own))
    return Convention(alternative, found.changes, [], found.ratio, text)


def _same(check, values: dict, expected: dict) -> bool:
    """``values`` equal ``expected`` at every entry (kinks excused), within the check's tolerance of ``expected``."""
    for name, target in expected.items():
        scale = float(np.max(np.abs(target), initial=0.0)) or check.scales[name]
        allowed = check.tolerance.allowed(target, scale, check.loss_value) + check.uncertainty.get(name, 0.0)
        if not (np.abs(values[name] - target) <= allowed)[~check.affected[name]].all():
            return False
    return True


def _decay_fits(check) -> list[float]:
    """Weight-decay coefficients that would explain the candidate's weights: (candidate - reference) = mu * W."""
    mu = fitted_decay(check.candidate, check.reference, check.params,
                      [name for name in check.reference if name.startswith("W")])
    if mu is None:
        return []
    coefficient = float("%.6g" % (check.network.weight_decay + mu))
    return [coefficient] if coefficient > 0 and abs(mu) > 1e-12 * max(1.0, check.network.weight_decay) else []


def _ratio(check) -> float | None:
    """The one constant c with candidate = c x reference at every entry, if there is one."""
    numerator = sum(float(np.vdot(check.candidate[k], r)) for k, r in check.reference.items())
    denominator = sum(float(np.vdot(r, r)) for r in check.reference.values())
    if not denominator:
        return None
    c = numerator / denominator
    return c if _same(check, check.candidate, {k: c * r for k, r in check.reference.items()}) else None


def _convention(check, network: Network, alternative: Network) -> Convention:
    changes = {field: getattr(alternative, field) for field in ("loss", "reduction", "weight_decay")
               if getattr(alternative, field) != getattr(network, field)}
    if "loss" in changes:
        changes["loss"] = alternative.loss.name
    ratio = _ratio(check)
    said = ("your gradients are exactly %.4g x the reference at every entry" % ratio if ratio is not None else
            "your gradients are right at every entry under another convention")
    if "weight_decay" in changes:
        reason = ("your weight decay adds %.6g w to each weight's gradient: the penalty %.6g/2 sum w^2 (a penalty "
                  "reg * sum w^2 is weight_decay = 2 reg)" % (alternative.weight_decay, alternative.weight_decay))
        examples, per_batch = len(check.X), alternative.weight_decay * len(check.X)
        if examples > 1 and _figures(per_batch) < min(3, _figures(alternative.weight_decay)):
            reason += ("; %.6g = %.3g/N, N = %d the examples: your penalty is divided by the batch size, so the "
                       "coefficient that passes holds for this N only" % (alternative.weight_decay, per_batch, examples))
    elif "loss" in changes and network.loss.averages_outputs and not alternative.loss.averages_outputs \
            and alternative.reduction == "mean" and not alternative.loss.name == "sse":
        outputs = network.sizes[-1]
        reason = ("your gradient divides by N, the number of examples, only: the mean of (o - t)^2 over every entry "
                  "(np.mean((o - t)**2), nn.MSELoss()) divides by N x n_L = N x %d, the size of T; yours is the "
                  "gradient of %s, averaged over the examples" % (outputs, alternative.loss.convention))
    elif "loss" in changes:
        reason = "your loss is %s" % alternative.loss.convention
        if alternative.reduction != network.reduction:
            reason += ", %s over the examples" % ("averaged" if alternative.reduction == "mean" else "summed")
    else:
        reason = ("your loss is %s over the examples, where this network's is their %s (reduction %r)"
                  % ("averaged" if alternative.reduction == "mean" else "summed", network.reduction,
                     network.reduction))
    text = "%s: %s" % (said, reason)
    return Convention(alternative, changes, _options(network, alternative), ratio, text)


def _figures(value: float) -> int:
    """How many significant figures ``value`` is written with (0.1: 1, 0.0125: 3), up to 7."""
    return next((k for k in range(1, 7) if abs(float("%.*g" % (k, value)) - value) <= 1e-9 * abs(value)), 7)


def _options(network: Network, alternative: Network) -> list[str]:
    """The options that turn ``network`` into ``alternative`` (``--loss mse --reduction sum``), explicitly."""
    options = []
    if alternative.loss != network.loss:
        options += ["--loss", alternative.loss.name]
    if alternative.reduction != network.reduction or (alternative.loss != network.loss and
                                                       alternative.reduction != alternative.loss.default_reduction):
        options += ["--reduction", alternative.reduction]
    if alternative.weight_decay != network.weight_decay:
        options += ["--weight-decay", "%.6g" % alternative.weight_decay]
    return options


__all__ = ["Convention", "SQUARED_ERRORS", "find_convention"]
