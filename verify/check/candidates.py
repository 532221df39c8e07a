"""Calling a user's gradient (or product) function as it is written, and reading back what it returns.

:func:`call_candidate` is the one place user code runs during a check.  It

* passes parameters and data in the user's :class:`~verify.check.layouts.Layout`
  and :func:`~verify.check.sources.calling_form` (a dict or a list, with the
  network or without, once for the batch or once per example);
* captures what the function prints (``sys.stdout``/``sys.stderr``), to show it
  apart from the report instead of mixed into it (or into ``--json``);
* turns whatever the function raises into one :class:`derive.InputError` line
  naming the function and where in the user's code it failed, ``SystemExit`` and
  a ``KeyboardInterrupt`` the code raised itself included (a real Ctrl-C
  still interrupts);
* reads the result back into the toolkit's layout: a dict (``W1`` or ``dW1``,
  ``grad_W1``, ... keys), a list in layer order or Nielsen's ``(nabla_b,
  nabla_w)``; an update turned back into a gradient; then checks it
  (:func:`check_gradient_result`).
"""

from __future__ import annotations

import contextlib
import io
import signal
import threading
from typing import Callable

import numpy as np

from derive import InputError, Network

from . import classes, layouts, returned
from .returned import Returned, check_gradient_result
from .layouts import Layout
from .sources import (LOSS_KEYS, call_order_hint, calling_form, function_name, is_number, named_parameters, one_line,
                      partly_named_hint, user_frame)

#: The most characters of a function's printed output kept for the report.
OUTPUT_KEPT = 20_000


def call_candidate(function: Callable, network: Network, params: dict, X: np.ndarray, T: np.ndarray, *,
                   layout: Layout | None = None, name: str | None = None, direction: dict | None = None,
                   what: str = "gradient function", expected: dict | None = None) -> Returned:
    """Call ``function`` in its layout and calling form; return its result read back and checked.

    Args:
        function: The user's function.
        network: The network it computes.
        params: The parameters, in the toolkit's layout.
        X: Inputs (N, n_0).
        T: Targets as the user gave them: (N, n_L), or integer labels (N,).
        layout: How the function takes and returns arrays (default: the toolkit's).
        name: How messages name the function.
        direction: For a product function ``fn(params, X, T, V)``: V, keyed like ``params``.
        what: How messages name the function's kind (``"hvp function"``).
        expected: The right result, when known: of the two readings of a returned update (new parameters, or
            the step), the one nearer to it is taken (and said).

    Raises:
        InputError: the function raised or exited (the message shows the user's frame), or its result cannot be
            read as a gradient of ``network``.
    """
    layout = layout or Layout()
    name = name or function_name(function)
    context = Call(function, network, layout, name, what, len(X), expected)
    with context.running():
        examples = [layouts.one_example(layout, X, T, n) for n in range(len(X))] if layout.per_example else [
            layouts.user_data(layout, X, T)]
        context.params = params
        results = [context.call(params, x, t, direction) for x, t in examples]
    gradients, uncertainty = context.combine(results, expected)
    checked = check_gradient_result(network, gradients, name, None if layout.per_example else len(X), what, layout)
    called = getattr(context.function, "described", lambda: "")()
    returned = ", ".join(part for part in (called, context.passed, context.returned) if part)
    read = layout.describe(context.keys, returned, network.reduction) if not (
        layout.default and not context.keys and not returned) else ""
    loss = None
    if context.losses:
        loss = sum(context.losses) / (len(X) if layout.per_example and network.reduction == "mean" else 1)
    return checked._replace(uncertainty=uncertainty, output=context.output.getvalue()[:OUTPUT_KEPT], read=read,
                            loss=loss, changed=tuple(name for name in layouts.user_names(network, layout).values()
                                                     if name in context.changed))


class _Capture(io.StringIO):
    """Where the user's prints go: a ``StringIO`` that the user's ``sys.stdout.close()`` cannot close."""

    def close(self) -> None:
        pass


def _unpacked_a_dict(exc: BaseException) -> bool:
    """Whether an error is what unpacking or indexing a dict as a list leads to: its keys (strings) taken for arrays
    (``dtype('<U2')``, ``'str' object has no attribute 'T'``), or ``params[0]``'s ``KeyError: 0``."""
    if isinstance(exc, KeyError):
        return bool(exc.args) and isinstance(exc.args[0], int)
    text = str(exc)
    return "<U" in text or "'str'" in text or "str" in text.split(":")[0]


class Gradient(dict):
    """One call's result in the toolkit's layout (unchecked), with the extra error each entry may carry, and, for a
    returned update, the other reading of it (``step``: the result read as the step -lr * g, not as parameters);
    for a returned list whose shapes fit several orders, its reading in each, by order (``orders``)."""

    uncertainty: dict = {}
    step: dict | None = None
    orders: dict = {}


class Call:
    """Calls of one user function during one check: the calling form, the captured output, what was read."""

    def __init__(self, function, network: Network, layout: Layout, name: str, what: str, batch: int,
                 expected: dict | None = None):
        method = classes.method_of(function)
        if method is not None:  # Class.backward: called on an instance made for the network, its parameters set
            try:
                function = classes.bind(method, network, layout, "%s %s" % (what, name))
            except InputError:
                raise
            except Exception as exc:  # a class the check cannot set up: one line, not a traceback
                raise InputError("%s %s: the check could not set up its class for %s: %s%s" % (
                    what, name, network.describe(), one_line(exc), user_frame(exc))) from None
        self.function, self.network, self.layout, self.name, self.what = function, network, layout, name, what
        self.expected = expected
        self.batch, self.form, self.output = batch, calling_form(function), _Capture()
        #: The user's name of each parameter -> the argument of the function that takes it, when it takes each
        #: array as its own argument (``backprop(X, y, W1, b1, W2, b2)``); else None.
        self.named = named_parameters(function, layouts.user_names(network, layout).values())
        if self.named is None and layout.names is None:  # backward_pass(X, y, W0, b0, W1, b1): layers from 0
            counted = {name: name[0] + str(int(name[1:]) - 1) for name in network.param_shapes()}
            found = named_parameters(function, counted.values())
            self.named = None if found is None else {name: found[counted[name]] for name in counted}
        self.passed = "" if self.named is None else "parameters passed as the arguments %s" % ", ".join(
            self.named.values())
        self.keys, self.returned, self.signalled, self.losses, self.answered = "", "", False, [], False
        self.changed: set[str] = set()
        self.order = list(network.param_shapes())

    @contextlib.contextmanager
    def running(self):
        """Capture what the function prints, and tell a real Ctrl-C from a KeyboardInterrupt it raises."""
        previous = None
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
                signal.SIG_IGN, None):
            previous = signal.signal(signal.SIGINT, self._interrupted)
        try:
            with contextlib.redirect_stdout(self.output), contextlib.redirect_stderr(self.output):
                yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _interrupted(self, signum, frame):
        self.signalled = True
        raise KeyboardInterrupt

    def call(self, params: dict, X, T, direction: dict | None) -> Gradient:
        """One call with the arrays in the user's layout; its result back in the toolkit's.

        A function that takes its parameters as a list (``W1, b1, W2, b2 = params``) without saying so
        (``params: list``, :func:`~verify.check.sources.list_form`) raises on a dict; then, on the first call, it is
        called again with the list, and kept in that form if that answers.
        """
        try:
            given, arguments, result = self._invoke(params, X, T, direction)
        except InputError:
            raise
        except Exception as exc:
            if self.answered or self.named is not None or self.form.lists or hasattr(self.function, "described"):
                raise self._raised(exc, X, T) from None
            self.form = self.form._replace(lists=True)
            try:
                given, arguments, result = self._invoke(params, X, T, direction)
            except BaseException as second:
                self.form = self.form._replace(lists=False)
                if _unpacked_a_dict(exc) and isinstance(second, Exception):  # it does take a list: its own error
                    raise self._raised(second, X, T, " (given the parameters as a list, as its code unpacks them)"
                                       ) from None
                raise self._raised(exc, X, T) from None
            self.passed = "parameters passed as a list in layer order, as its code takes them (given a dict, it " \
                          "raised %s)" % type(exc).__name__
        except KeyboardInterrupt as exc:
            if self.signalled:
                raise
            raise self._raised(exc, X, T, " (raised by the code, not a Ctrl-C)") from None
        except BaseException as exc:  # SystemExit too: a user's sys.exit() must not end the check as a pass
            raise self._raised(exc, X, T) from None
        self.answered = True
        if self.layout.update is not None:
            if is_number(result):  # a training step that updates in place and returns the loss (of before it)
                self.losses.append(float(result.item() if hasattr(result, "item") else result))
                result = None
            return self._from_update(given if not self.form.lists else arguments[0], params, result)
        before = layouts.user_params(self.network, self.layout, params)
        self.changed |= {name for name, value in given.items()
                         if isinstance(value, np.ndarray) and not np.array_equal(value, before[name], equal_nan=True)}
        return self._read(result)

    def _invoke(self, params: dict, X, T, direction: dict | None) -> tuple[dict, list, object]:
        """Call the function once in its calling form: the parameters given (a copy, by the user's names), the
        positional arguments, and what it returned."""
        given = layouts.user_params(self.network, self.layout, params)
        arguments, by_name = [given, X, T], {"network": self.network} if self.form.network else {}
        if direction is not None:
            arguments.append(layouts.user_params(self.network, self.layout, direction))
        if self.named is not None:
            del arguments[0]
            by_name.update({argument: given[name] for name, argument in self.named.items()})
        elif self.form.lists:
            names = layouts.user_names(self.network, self.layout)
            arguments = [[value[names[key]] for key in self.order] if isinstance(value, dict) else value
                         for value in arguments]
        return given, arguments, self._by_name(arguments, by_name) if by_name else self.function(*arguments)

    def _raised(self, exc: BaseException, X, T, why: str = "") -> InputError:
        layout = "" if self.layout.default else "; in the layout given: %s" % self.layout.describe()[len("read: "):]
        labels = ", T as integer class labels" if np.asarray(T).dtype.kind in "iu" else ""
        return InputError("%s %s raised %s%s%s (called for %s with X %s, T %s%s%s)%s"
                          % (self.what, self.name, one_line(exc), why, user_frame(exc), self.network.describe(),
                             np.shape(X), np.shape(T), layout, labels,
                             call_order_hint(self.function) or self._arguments_hint()
                             or layouts.option_hint(self.network, self.layout, exc, T)))

    def _arguments_hint(self) -> str:
        """:func:`~verify.check.sources.partly_named_hint` for this function and network."""
        return partly_named_hint(self.function, layouts.user_names(self.network, self.layout), self.network.describe(),
                                 layouts.next_layer_names(self.network, self.layout))

    def _by_name(self, arguments: list, by_name: dict):
        """Call with the values of ``by_name`` in the function's arguments of those names (``network``, ``W1``, ...)
        and ``arguments`` in its other positional slots, in order; what is left goes by keyword."""
        import inspect

        positional, rest, keywords = [], list(arguments), dict(by_name)
        for parameter in inspect.signature(self.function).parameters.values():
            if parameter.kind not in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                continue
            if parameter.name in keywords:
                positional.append(keywords.pop(parameter.name))
            elif rest:
                positional.append(rest.pop(0))
            else:
                break
        return self.function(*positional, *rest, **keywords)

    def _read(self, result) -> Gradient:
        """A dict, a list in layer order, or Nielsen's pair (alone or beside the loss), in the toolkit's layout."""
        result = self._without_loss(result)
        others: list = []
        if isinstance(result, dict):
            mapping, self.keys = layouts.read_keys(self.network, self.layout, list(result), "%s %s" % (
                self.what, self.name))
            by_name = {name: result[key] for name, key in mapping.items()}
        elif isinstance(result, (list, tuple)):
            pair = returned.nielsen_pair(self.network, result)
            if pair is not None:
                by_name = pair[0]
                self.returned = "a pair of lists %s" % ("(nabla_b, nabla_w)" if pair[1] else "(nabla_w, nabla_b)")
            else:
                by_name, others = self._layer_order(result)
        else:
            hint = " (None: with --update, the function may update the arrays it is given in place)" if (
                result is None) else ""
            raise InputError("%s %s returned %s; expected a dict of arrays keyed %s, a list in layer order, or a "
                             "pair of lists (nabla_b, nabla_w)%s" % (
                                 self.what, self.name, "None" if result is None else "a %s" % type(result).__name__,
                                 ", ".join(self.order), hint))
        gradient = Gradient({name: layouts.from_user_array(self.network, self.layout, name, value)
                             for name, value in by_name.items()})
        if others:
            gradient.orders = {order: {key: layouts.from_user_array(self.network, self.layout, key, value)
                                       for key, value in zip(order, result)} for order in others}
        bias_shapes = {np.shape(v) for k, v in by_name.items() if k.startswith("b")}
        if self.layout.examples == "rows" and any(len(s) == 2 and s[1] == 1 and s[0] > 1 for s in bias_shapes):
            self.returned = self.returned or "biases as columns (n, 1)"
        return gradient

    def _without_loss(self, result):
        """The gradient of a ``(loss, grads)`` (or ``(grads, loss)``) pair, or of a dict with a number under
        ``"loss"`` (or ``"cost"``) beside the gradients, the loss kept in :attr:`losses`."""
        if isinstance(result, dict):
            key = next((key for key in result if str(key).lower() in LOSS_KEYS and is_number(result[key])), None)
            if key is None:
                return result
            self.losses.append(float(result[key].item() if hasattr(result[key], "item") else result[key]))
            self.returned = self.returned or "the loss under %r beside the gradients" % key
            return {k: v for k, v in result.items() if k != key}
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return result
        scalar = [is_number(part) for part in result]
        if scalar[0] == scalar[1]:
            return result
        loss, gradient = result if scalar[0] else result[::-1]
        self.losses.append(float(loss.item() if hasattr(loss, "item") else loss))
        self.returned = self.returned or ("(loss, gradients)" if scalar[0] else "(gradients, loss)")
        return gradient

    def _layer_order(self, result) -> tuple[dict, list]:
        """A returned list by parameter, in the first order its shapes fit, and every order they fit if several."""
        orders = returned.fitting_orders(self.network, self.layout, result, "%s %s" % (self.what, self.name))
        first = orders[0]
        if first == tuple(self.order):
            self.returned = "" if self.form.lists else "a list in layer order"
        else:
            self.returned = "a list in the order %s (by its shapes)" % self._order_text(first)
        if len(orders) > 1 and self.expected is None:
            self.returned = "a list read in the order %s (its shapes fit %s too: layers of different widths tell " \
                            "the orders apart)" % (self._order_text(first), self._others_text(orders[1:]))
        return dict(zip(first, result)), orders if len(orders) > 1 else []

    def _order_text(self, order) -> str:
        return returned.order_text(self.network, self.layout, order)

    def _others_text(self, orders) -> str:
        return returned.orders_text(self.network, self.layout, orders)

    def combine(self, results: list[Gradient], expected: dict | None) -> tuple[dict, dict]:
        """The results of every call, summed over the examples (averaged for reduction "mean"), as one gradient;
        for a returned update, read as new parameters or as the step, whichever is nearer ``expected`` (or, without
        it, whichever is smaller: new parameters lie near the old ones, a step near zero)."""
        def total(parts: list[dict], penalty: bool = True) -> dict:
            if len(parts) == 1:  # one call for the whole batch: its result as it is
                return dict(parts[0])
            summed = {key: sum(part[key] for part in parts) for key in parts[0]}
            if self.layout.per_example and self.network.reduction == "mean":
                summed = {key: value / len(parts) for key, value in summed.items()}
            elif penalty and len(parts) > 1:  # each example's loss carried the penalty: count it once
                summed = {key: value - (len(parts) - 1) * self._penalty(key) for key, value in summed.items()}
            return summed

        gradients = total(results)
        if results[0].orders and expected is not None:
            gradients = self._nearest_order({order: total([r.orders[order] for r in results])
                                             for order in results[0].orders}, expected)
        if results[0].step is not None:
            steps = total([result.step for result in results])
            if expected is not None:
                as_step = returned.distance(steps, expected) < returned.distance(gradients, expected)
            else:
                as_step = sum(float(np.sum(np.square(v))) for v in steps.values()) < sum(
                    float(np.sum(np.square(v))) for v in gradients.values())
            if as_step:
                gradients = steps
            self.returned = self.returned or ("the step -lr * g" if as_step else "the parameters after one step")
        uncertainty = total([r.uncertainty for r in results], penalty=False) if results[0].uncertainty else {}
        return gradients, uncertainty

    def _nearest_order(self, readings: dict, expected: dict) -> dict:
        """Of the readings of a returned list in each order its shapes fit (``readings``, by order, the first as it
        was read), the one nearest ``expected``, said in :attr:`returned`: with equal widths (4-4-4) the shapes
        cannot tell ``dW2, db2, dW1, db1`` from layer order."""
        order = returned.nearest(readings, expected)
        if order == tuple(self.order):
            self.returned = "" if self.form.lists else "a list in layer order"
        else:
            self.returned = "a list in the order %s (by its values: its shapes fit %s too)" % (
                self._order_text(order), self._others_text(other for other in readings if other != order))
        return readings[order]

    def _penalty(self, key: str):
        """The penalty's gradient for parameter ``key``: lambda W + mu sign(W) for a weight, 0 for a bias."""
        network = self.network
        if not key.startswith("W") or not (network.weight_decay or network.l1):
            return 0.0
        W = np.asarray(self.params[key], np.float64)
        return network.weight_decay * W + network.l1 * np.sign(W)

    def _from_update(self, given, params: dict, result) -> Gradient:
        """``(p - p') / lr`` from the updated parameters (returned, or the arrays given, changed in place), or
        ``-step / lr`` from a returned step; each entry's rounding error is kept in ``uncertainty``."""
        rate = float(self.layout.update)
        if result is None:
            result = given
            self.returned = "parameters updated in place"
        after = self._read(result)
        before = {key: np.asarray(value, np.float64) for key, value in params.items()}
        after = {key: np.asarray(value, np.float64).reshape(before[key].shape) if np.size(value) == before[key].size
                 else np.asarray(value, np.float64) for key, value in after.items()}
        if any(after[key].shape != before[key].shape for key in before):
            return Gradient(after)  # a shape error: check_gradient_result names it
        eps = np.finfo(np.float64).eps
        gradient = Gradient({key: (before[key] - after[key]) / rate for key in before})
        if self.returned != "parameters updated in place":
            gradient.step = {key: -after[key] / rate for key in before}  # the other reading: a step, not parameters
        gradient.uncertainty = {key: 4 * eps * (np.abs(before[key]) + np.abs(after[key])) / rate for key in before}
        return gradient


def call_gradient_function(function: Callable, network: Network, params: dict, X, T, name: str | None = None,
                           direction: dict | None = None, what: str = "gradient function",
                           layout: Layout | None = None) -> Returned:
    """:func:`call_candidate` with the older positional signature (kept for callers of the 0.1 API)."""
    return call_candidate(function, network, params, X, T, layout=layout, name=name, direction=direction, what=what)


__all__ = ["call_candidate", "call_gradient_function"]
