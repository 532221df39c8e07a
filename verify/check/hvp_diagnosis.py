"""What kind of bug a wrong Hessian- or Gauss-Newton-vector product is: hypotheses from the derivation.

The second-order analogue of :mod:`verify.check.diagnosis`, with the same
rules (a hypothesis *fits* a parameter when every entry of the candidate lies
within its tolerance of the hypothesis, and the hypothesis is wrong there; the
findings are composed as :func:`~verify.check.diagnosis.compose` does).
Each hypothesis is a complete product at the same point and direction:

* **Gauss-Newton passed off as the Hessian**: the generated ``gnvp`` (and,
  checking a G V, the Hessian's ``hvp`` passed off as Gauss-Newton);
* **a hidden activation's second-derivative term left out**: ``hvp`` printed
  from :meth:`derive.symbolic.second_order.SecondOrder.without_activation_curvature`,
  i.e. derived by ``sympy.diff`` with that layer's Z and A held fixed in its
  delta (for every hidden layer at once, and for each alone);
* **a flipped sign or a constant factor** (-1, 2, 1/2) of the right product;
* **a square weight block transposed**;
* and, when nothing fits and every wrong parameter belongs to one layer, that
  the other layers are right, with where the wrong entries sit.
"""

from __future__ import annotations

import functools

import numpy as np

from derive import derive
from derive.codegen.second_order import without_curvature_source
from derive.codegen.source import numpy_module

from .diagnosis import compose, shape_finding, shape_says_all
from .hypotheses import Hypothesis, Point, agrees
from .modules import module_for
from .check_report import Diagnosis

TRIED = {"hessian": "the Gauss-Newton product passed off as the Hessian, a hidden activation's second-derivative "
                    "term left out, a flipped sign or constant factor (2, 1/2), a transposed weight block",
         "gauss_newton": "the full Hessian product passed off as Gauss-Newton, a flipped sign or constant factor "
                         "(2, 1/2), a transposed weight block"}
FACTORS = ((-1.0, "-1 x", ": the sign is flipped"),
           (2.0, "2 x", ": a factor 2 too many (the sse loss is 1/2 sum (t - o)^2, and d2/do2 of it is 1)"),
           (0.5, "1/2 x", ""))


@functools.lru_cache(maxsize=64)
def _flat_module(network, layer):
    derivation = derive(network)
    return numpy_module(derivation, name="backprop_without_curvature",
                        source=without_curvature_source(derivation, layer))


def diagnose_product(check, kind: str, V: dict, returned) -> list[Diagnosis]:
    """Explain the parameters of a product check (a ``comparison.Check`` at the point) that disagree."""
    network = check.network
    point = Point(network, check.params, check.X, check.T, check.reference, check.tolerance, check.loss_value,
                  check.affected)
    wrong = [row.name for row in check.rows if row.over]
    found = [Diagnosis((name,), *shape_finding(point, name, returned.shapes[name], returned.raw[name]))
             for name in wrong if name in returned.shapes]
    disagree = [name for name in wrong if not agrees(point, name, check.candidate[name])
                and not (name in returned.shapes and shape_says_all(returned.raw[name]))]
    module = module_for(network, order=2)
    run = lambda function: {k: np.asarray(v, np.float64) for k, v in function(  # noqa: E731
        check.params, check.X, check.T, V).items()}
    hypotheses = []
    with np.errstate(all="ignore"):
        if kind == "hessian":
            hypotheses.append(Hypothesis("gauss_newton", None, run(module.gnvp), _explain_gauss_newton))
            layers = [None] + (list(range(1, network.depth)) if network.depth > 2 else [])
            for layer in layers if network.depth > 1 else []:
                hypotheses.append(Hypothesis("missing_curvature", layer, run(_flat_module(network, layer).hvp),
                                             functools.partial(_explain_curvature, network, layer)))
        else:
            hypotheses.append(Hypothesis("hessian", None, run(module.hvp), _explain_hessian))
    for factor, label, hint in FACTORS:
        hypotheses.append(Hypothesis("scale", None, {k: factor * r for k, r in check.reference.items()},
                                     functools.partial(_explain_factor, label, hint)))
    for layer in range(1, network.depth + 1):
        name = "W%d" % layer
        if check.reference[name].shape[0] == check.reference[name].shape[1] > 1:
            hypotheses.append(Hypothesis("transposed", layer, {name: check.reference[name].T},
                                         functools.partial(_explain_transposed, layer)))
    found += compose(point, check.candidate, disagree, hypotheses, TRIED[kind])
    return [_one_layer(network, d, len(check.rows)) if d.kind == "no_fit" else d for d in found]


def _one_layer(network, diagnosis: Diagnosis, parameters: int) -> Diagnosis:
    layers = {int(name[1:]) for name in diagnosis.parameters}
    if len(layers) != 1 or len(diagnosis.parameters) == parameters:
        return diagnosis
    layer = layers.pop()
    return Diagnosis(diagnosis.parameters, "one_layer", layer, (
        "only layer %d is wrong; every other layer's entries agree, so look at what layer %d alone computes: "
        "its R-forward values RZ%d, RA%d and the products' entries from Rdelta%d. %s"
        % (layer, layer, layer, layer, layer, diagnosis.text)))


def _verb(parameters) -> str:
    return "equals" if len(parameters) == 1 else "equal"


def _explain_gauss_newton(parameters) -> str:
    return ("%s the Gauss-Newton product G V = J^T H_out J V, not the Hessian's H V: G V leaves out the terms from "
            "the curvature of the hidden layers and of the output activation (the R-operator's backward pass "
            "moves A_l, Z_l and the weights, not only the deltas)" % _verb(parameters))


def _explain_hessian(parameters) -> str:
    return ("%s the full Hessian product H V, not the Gauss-Newton product G V: G V keeps only J^T H_out J V, "
            "backpropagating the output's second-order term through the deltas alone" % _verb(parameters))


def _explain_curvature(network, layer, parameters) -> str:
    if layer is None and network.depth == 2:
        where = "the hidden layer (%s)" % network.activations[0].name
    else:
        where = "every hidden layer" if layer is None else "hidden layer %d (%s)" % (layer, network.activations[layer - 1].name)
    return ("%s H V without the activation's second-derivative term in %s: Rdelta_l must include "
            "g_l''(Z_l) * RZ_l * (delta_{l+1} @ W_{l+1}), the change of g_l'(Z_l) along V, beside "
            "g_l'(Z_l) * (Rdelta_{l+1} @ W_{l+1} + delta_{l+1} @ V_W_{l+1})" % (_verb(parameters), where))


def _explain_transposed(layer: int, parameters) -> str:
    return ("equals the correct product transposed: entry [j, i] must hold the product's entry for W%d[j, i], the "
            "weight from unit i of layer %d to unit j of layer %d" % (layer, layer - 1, layer))


def _explain_factor(label: str, hint: str, parameters) -> str:
    noun = "product" if len(parameters) == 1 else "products"
    return "%s %s the correct %s%s" % (_verb(parameters), label, noun, hint)


__all__ = ["FACTORS", "TRIED", "diagnose_product"]
