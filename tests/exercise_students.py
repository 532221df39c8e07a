"""A student who does an exercise sheet by hand, with the lecture's textbook formulas, and makes one mistake.

The oracle of the marking tests: it knows nothing of the toolkit's formulas.
It works a 2-layer sigmoid network with the sse loss (the lecture's) one
example at a time, writes every answer with the sheet's significant digits and
carries on with the numbers as written (as a student with a pencil does), so
that a mistake made early flows into every later answer.  ``mistake`` plants
one slip, by name; ``sign="lecture"`` writes the lecture's δ = o(1 − o)(t − o)
and its changes Δw = ηδx + αΔw.
"""

from __future__ import annotations

import numpy as np

#: The mistakes a student can be told to make.
MISTAKES = ("bias_forgotten", "transposed_weights", "activation_missing", "missing_derivative",
            "derivative_at_preactivation", "sign", "untransposed_weights", "wrong_layer_weights", "updated_weights",
            "rounding", "net_input_for_output", "uphill", "momentum_forgotten")


def written(value, digits: int):
    """A number as a student writes it: ``digits`` significant digits."""
    return np.vectorize(lambda v: float("%.*g" % (digits, v)))(np.asarray(value, dtype=float))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def answers(sheet, mistake: str | None = None, digits: int | None = None) -> dict[str, float]:
    """Every blank of ``sheet`` as the student writes it (see the module docstring)."""
    digits = digits or sheet.digits
    start, lecture = sheet.start, sheet.sign == "lecture"
    x, t = start.X[0], start.T[0]
    lr, alpha = start.lr, start.momentum
    W1, b1, W2, b2 = (np.asarray(start.params[name], dtype=float) for name in ("W1", "b1", "W2", "b2"))
    before = {name: np.zeros_like(value) for name, value in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2))}
    out = {}
    for step in range(1, sheet.steps + 1):
        prefix = "%d:" % step if sheet.steps > 1 else ""

        def put(name, values):
            values = written(values, digits)
            for index, value in np.ndenumerate(values):
                out[prefix + ("%s[%s]" % (name, ",".join(map(str, index))) if index else name)] = float(value)
            return values

        z1 = W1.T @ x if mistake == "transposed_weights" else W1 @ x
        z1 = put("Z1", z1 if mistake == "bias_forgotten" else z1 + b1)
        a1 = put("A1", z1 if mistake == "activation_missing" else sigmoid(z1))
        z2 = put("Z2", W2 @ a1 + b2)
        o = put("A2", sigmoid(z2))
        put("E", 0.5 * np.sum((t - o) ** 2))
        d2 = o * (1 - o) * (t - o)  # the lecture's δ_k
        if mistake == "missing_derivative":
            d2 = t - o
        if mistake == "derivative_at_preactivation":
            d2 = z2 * (1 - z2) * (t - o)
        convention = 1.0 if lecture else -1.0  # ours: δ = ∂E/∂Z, the lecture's with the opposite sign
        written_sign = -convention if mistake == "sign" else convention
        d2 = convention * put("delta2", written_sign * d2)  # carried on with as if in the sheet's convention
        back = W2.T @ d2
        if mistake == "untransposed_weights":
            back = W2 @ d2
        if mistake == "wrong_layer_weights":
            back = W1.T @ d2
        if mistake == "updated_weights":  # W2 after the step, as the student will write it
            back = (W2 + written(lr * np.outer(d2, a1) + alpha * before["W2"], digits)).T @ d2
        d1 = a1 * (1 - a1) * back
        if mistake == "rounding":
            d1 = written(d1, 1)
        d1 = convention * put("delta1", convention * d1)
        inputs2 = z1 if mistake == "net_input_for_output" else a1
        steps = {"W2": np.outer(d2, inputs2), "b2": d2, "W1": np.outer(d1, x), "b1": d1}  # η δ x without η
        params = {"W2": W2, "b2": b2, "W1": W1, "b1": b1}
        after = {}
        momentum = 0.0 if mistake == "momentum_forgotten" else alpha
        for name in ("W2", "b2", "W1", "b1"):
            if lecture:
                steps[name] = put("Delta" + name, lr * steps[name] + momentum * before[name])
            else:
                gradient = put("dE/d" + name, -steps[name])
                steps[name] = (1 if mistake == "uphill" else -1) * lr * gradient + momentum * before[name]
        for name in ("W2", "b2", "W1", "b1"):
            uphill = lecture and mistake == "uphill"  # the lecture's Δw subtracted
            after[name] = written(params[name] - steps[name] if uphill else params[name] + steps[name], digits)
            for index, value in np.ndenumerate(after[name]):
                out[prefix + "%s[%s]'" % (name, ",".join(map(str, index)))] = float(value)
        before = {name: steps[name] if lecture else after[name] - params[name] for name in after}
        W2, b2, W1, b1 = after["W2"], after["b2"], after["W1"], after["b1"]
    return out
