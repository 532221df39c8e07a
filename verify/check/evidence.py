"""The verification a report shows, computed here and handed over as plain data.

A derivation report (:mod:`derive.report`) proves its worked example right
with three independent checks, each returned as dicts, lists and floats
(``derive`` never imports ``verify``):

* ``check``: :func:`~verify.check.gradient_check.check_gradients` of the engine
  at the example's starting point (candidate: the hand-written engine;
  reference: the generated code; referee: finite differences), as
  :meth:`~verify.check.check_report.CheckReport.display_data`;
* ``engine``: the worked example's numbers (forward values, loss, gradients,
  and the parameters after each momentum step) against the engine's and
  :class:`~verify.engine.training.GradientDescent`'s;
* ``step_study``: central differences of the entry with the largest gradient
  at steps from 1e-1 to 1e-13, against the symbolic value: the V of
  truncation error (∝ h², large steps) against rounding error (∝ ε/h, small
  steps), with the step the check uses marked.
"""

from __future__ import annotations

import numpy as np

from derive.report import WorkedExample
from verify.engine import Engine, GradientDescent

from . import finite_differences as fd
from .gradient_check import check_gradients, is_analytic
from .modules import module_for

#: The steps of the step-size study.
STUDY_STEPS = tuple(float(h) for h in np.logspace(-1, -13, 25))
#: Parameters x examples above which one loss evaluation is costly (a 1024-wide network): the report's check
#: samples one entry per parameter (not 3) and its step study takes every third step.
LARGE_WORK = 4_000_000
#: Worked example and engine agree when |difference| <= ENGINE_RTOL * max(1, largest |value|).
ENGINE_RTOL = 1e-10


def verification_data(example: WorkedExample) -> dict:
    """Every check of a worked example, as plain data for :func:`derive.report.build_report`.

    Args:
        example: What :func:`derive.report.worked_example` returned.

    Returns:
        ``{"check": ..., "engine": [...], "step_study": {...}}`` (see the module docstring).
    """
    network, start = example.network, example.start
    params = {name: np.asarray(value, dtype=np.float64) for name, value in start.params.items()}
    large = network.n_params * len(start.X) > LARGE_WORK
    report = check_gradients(network, params, start.X, start.T, samples=1 if large else 3)
    return {"check": report.display_data(), "engine": engine_agreement(example),
            "step_study": step_size_study(network, params, start.X, start.T, STUDY_STEPS[::3] if large else
                                          STUDY_STEPS)}


def engine_agreement(example: WorkedExample) -> list[dict]:
    """The worked example against the engine, step by step: one row per array."""
    network, start = example.network, example.start
    engine = Engine(network)
    optimizer = GradientDescent(start.lr, start.momentum) if start.lr > 0 else None
    params = {name: np.asarray(value, dtype=np.float64) for name, value in start.params.items()}
    rows = []
    for number, step in enumerate(example.steps, start=1):
        _, activations = engine.forward_layers(params, start.X)
        loss, gradients = engine.loss_and_gradients(params, start.X, start.T)
        compared = [("A%d" % layer, step.values.get("A%d" % layer), activations[layer])
                    for layer in range(1, network.depth + 1)]
        compared.append(("E", step.loss, loss))
        compared += [("dE/d%s" % name, step.gradients[name], gradients[name]) for name in gradients]
        if optimizer is not None:
            params = optimizer.step(params, gradients)
            compared += [("%s after the step" % name, step.updated[name], params[name]) for name in params]
        rows += [_row("%s, step %d" % (label, number), ours, theirs) for label, ours, theirs in compared
                 if ours is not None]
    return rows


def _row(quantity: str, ours, theirs) -> dict:
    ours, theirs = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    difference = float(np.max(np.abs(ours - theirs), initial=0.0))
    largest = float(np.max(np.abs(theirs), initial=0.0))
    return {"quantity": quantity, "difference": difference, "largest": largest,
            "agree": bool(difference <= ENGINE_RTOL * max(1.0, largest))}


def step_size_study(network, params: dict, X, T, steps: tuple[float, ...] = STUDY_STEPS) -> dict:
    """Relative error of central differences against the symbolic gradient, for one entry and many steps.

    The entry is the one with the largest gradient (ties: the first).  The
    step of each difference is ``h * max(1, |w|)``, as
    :func:`~verify.check.finite_differences.central_differences` scales it.
    """
    module = module_for(network)
    X, T = np.asarray(X, dtype=np.float64), np.asarray(T, dtype=np.float64)
    reference = module.gradients(params, X, T)
    name = max(reference, key=lambda key: float(np.max(np.abs(reference[key]), initial=0.0)))
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(np.abs(reference[name]))), reference[name].shape))
    exact = float(reference[name][index])
    scale = max(abs(exact), 1e-300)

    def loss(p):
        return module.loss(p, X, T)

    w = float(params[name][index])
    absolute = [fd.representable_step(w, h * max(1.0, abs(w)), np.float64) for h in steps]
    errors = [abs(value - exact) / scale for value in fd.central_at_steps(loss, params, (name, index), absolute)]
    chosen = fd.central_differences(loss, params, [(name, index)])
    complex_error = None
    if is_analytic(network):
        complex_error = abs(float(fd.complex_step(loss, params, [(name, index)]).values[0]) - exact) / scale
    return {"entry": fd.format_entry((name, index)), "method": "central", "reference": exact,
            "steps": [h * max(1.0, abs(float(params[name][index]))) for h in steps], "errors": errors,
            "chosen_step": float(chosen.steps[0]), "chosen_error": abs(float(chosen.values[0]) - exact) / scale,
            "complex_step_error": complex_error, "epsilon": float(np.finfo(np.float64).eps)}
