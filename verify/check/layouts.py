"""Other people's array layouts, translated once where their function is called.

Inside the toolkit there is one convention: parameters ``{"W1": (n_1, n_0),
"b1": (n_1,), ...}`` with ``W_l[j, i]`` the weight from unit i to unit j, data
``X`` (N, n_0) and ``T`` (N, n_L), gradients keyed and shaped like the
parameters.  Code written elsewhere comes in other layouts, and a
:class:`Layout` says which, so that a user's function is checked as it is
written, with no adapter:

``weights="in-out"``
    ``W_l`` stored as (n_{l-1}, n_l), for code that computes ``X @ W``
    (cs231n, the PyTorch tutorials); parameters are passed, and weight
    gradients read, in that layout.
``examples="columns"``
    one example per column: ``X`` (n_0, N), ``T`` (n_L, N), biases (n_l, 1)
    (Andrew Ng's course, Nielsen's book); gradients come back alike.
``names="w{l},b{l}"``
    the parameters' own names, ``{l}`` standing for the layer 1..L (``{l-1}``
    for code that counts layers from 0).  Without it, gradient keys ``dW1``,
    ``grad_W1``, ``W1_grad``, ``dw1`` and the same counted from 0 are read as
    W1's (and so on) wherever that is unambiguous.
``per_example=True``
    the function is called once per example, with one example's ``x`` and
    ``t`` (columns (n_0, 1) with ``examples="columns"``, as in Nielsen's
    ``backprop(x, y)``; vectors (n_0,) otherwise); each call returns the gradient
    of that example's loss (with the penalty, if the network has one, as a batch
    of one example), and the results are averaged (reduction ``"mean"``) or
    summed (``"sum"``, the penalty counted once).
``update=lr``
    the function returns the parameters after one gradient-descent step of
    learning rate ``lr`` (or the step ``-lr * g`` itself, or nothing, having
    updated the arrays it was given in place); the gradient is recovered as
    ``(p - p') / lr``, which costs each entry an extra rounding error of about
    ``(|p| + |p'|) * eps / lr`` (added to its tolerance, and said).

Whatever the layout, a result may be a dict, a list in layer order
``[W1, b1, W2, b2]`` or Nielsen's pair of lists ``(nabla_b, nabla_w)``, and a
bias gradient may be (n,), (n, 1) or (1, n).  :meth:`Layout.describe` is the
line that says what was read.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, fields, replace

import numpy as np

from derive import InputError, Network

WEIGHTS = ("out-in", "in-out")
EXAMPLES = ("rows", "columns")
_PLACEHOLDER = re.compile(r"\{l(-1)?\}")
_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
#: What a gradient key may add around a parameter's name: ``dW1``, ``d_W1``, ``grad_W1``, ``gradW1``, ``W1_grad``.
_DECORATIONS = re.compile(r"^(?:grad_?|d_?|nabla_?)?(?P<name>.*?)(?:_?grad)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Layout:
    """How a user's function takes parameters and data and returns its gradient (see the module docstring).

    Raises:
        InputError: an unknown layout name, a name pattern without its ``{l}``, or a learning rate that is not a
            positive number.
    """

    weights: str = "out-in"
    examples: str = "rows"
    names: str | None = None
    per_example: bool = False
    update: float | None = None

    def __post_init__(self):
        if self.weights not in WEIGHTS:
            raise InputError("unknown weight layout %r; choose out-in ((n_l, n_{l-1}), W @ x, the default) or in-out "
                             "((n_{l-1}, n_l), x @ W)" % (self.weights,))
        if self.examples not in EXAMPLES:
            raise InputError("unknown example layout %r; choose rows (X is (N, n_0), the default) or columns "
                             "(X is (n_0, N))" % (self.examples,))
        if self.names is not None:
            name_patterns(self.names)
        if self.update is not None and (isinstance(self.update, bool) or not isinstance(self.update, (int, float))
                                        or not np.isfinite(self.update) or self.update <= 0):
            raise InputError("the learning rate of an update must be a number > 0, got %r" % (self.update,))

    @property
    def default(self) -> bool:
        return self == Layout()

    def describe(self, keys: str = "", returned: str = "", reduction: str = "sum") -> str:
        """``read: weights (in, out), examples as columns, keys dW1/db1/…, called once per example, summed``."""
        parts = ["weights (%s)" % ("out, in" if self.weights == "out-in" else "in, out"),
                 "examples as %s" % self.examples]
        if keys:
            parts.append("keys %s" % keys)
        if returned:
            parts.append(returned)
        if self.per_example:
            parts.append("called once per example, %s" % ("averaged" if reduction == "mean" else "summed"))
        if self.update is not None:
            parts.append("gradient recovered from an update with learning rate %g" % self.update)
        return "read: " + ", ".join(parts)

    def to_dict(self) -> dict:
        """The fields that differ from the default layout, as plain data (``Layout(**data)`` reads it back)."""
        return {item.name: getattr(self, item.name) for item in fields(self)
                if getattr(self, item.name) != item.default}

    def command_options(self) -> list[str]:
        """The flags of ``backprop check`` and ``backprop proptest`` that give this layout."""
        flags = {"weights": "--weights %s", "examples": "--examples-as %s", "names": "--names %s",
                 "per_example": "--per-example", "update": "--update %r"}
        return [flags[name] % (shlex.quote(value) if isinstance(value, str) else value) if "%" in flags[name]
                else flags[name] for name, value in self.to_dict().items()]

    def with_options(self, **changes) -> "Layout":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def suggested_names(key: str) -> str:
    """The ``--names`` pattern a looked-up key suggests: ``'w{l},b{l}'`` for ``w1``, ``'W{l-1},b{l-1}'`` for ``W0``,
    ``'layers.{l-1}.weight,layers.{l-1}.bias'`` for ``layers.0.weight``; "" when the key has no layer number."""
    match = re.fullmatch(r"(?P<head>[A-Za-z_.]*?)(?P<number>\d+)(?P<tail>[A-Za-z_.]*)", key)
    if not match:
        return ""
    layer = "{l-1}" if match.group("number") == "0" else "{l}"
    head, tail = match.group("head"), match.group("tail")
    if "weight" in tail or "bias" in tail:  # PyTorch's state_dict names
        weight, bias = head + layer + tail.replace("bias", "weight"), head + layer + tail.replace("weight", "bias")
    else:  # w1/b1, W_1/b_1: the bias named like the weight with b for w
        weight, bias = head + layer + tail, (head[1:] if head[:1] in "wW" else "").join(["b", layer + tail])
    return shlex.quote("%s,%s" % (weight, bias))


def name_patterns(text: str) -> tuple[str, str]:
    """``"w{l},b{l}"`` as (weight pattern, bias pattern).

    Raises:
        InputError: not two comma-separated names, each with one ``{l}`` or ``{l-1}`` and otherwise letters,
            digits, ``_`` and ``.``.
    """
    parts = [part.strip() for part in str(text).split(",")]
    accepted = ("two names separated by a comma, each with {l} for the layer 1..L (or {l-1} to count from 0), "
                "e.g. 'w{l},b{l}' or 'layers.{l-1}.weight,layers.{l-1}.bias'")
    if len(parts) not in (1, 2):
        raise InputError("--names %r: expected %s" % (text, accepted))
    for part in parts:
        if len(_PLACEHOLDER.findall(part)) != 1 or not _NAME_PATTERN.match(_PLACEHOLDER.sub("0", part)):
            raise InputError("--names %r: %r is not a name with one {l}; expected %s" % (text, part, accepted))
    return parts[0], parts[1] if len(parts) == 2 else _PLACEHOLDER.sub("{l}", "b{l}")


def user_name(pattern: str, layer: int) -> str:
    """The user's name of layer ``layer``'s parameter under ``pattern`` (``{l-1}`` counts from 0)."""
    return _PLACEHOLDER.sub(lambda match: str(layer - 1 if match.group(1) else layer), pattern)


def next_layer_names(network: Network, layout: Layout) -> list[str]:
    """The user's names of the parameters a layer more than ``network`` has would bring (``["W3", "b3"]``)."""
    weights, biases = name_patterns(layout.names) if layout.names is not None else ("W{l}", "b{l}")
    return [user_name(pattern, network.depth + 1) for pattern in (weights, biases)[:1 + bool(network.bias)]]


def user_names(network: Network, layout: Layout) -> dict[str, str]:
    """The user's name of every parameter: ``{"W1": "w1", "b1": "b1"}`` (the toolkit's names without a pattern)."""
    if layout.names is None:
        return {name: name for name in network.param_shapes()}
    weights, biases = name_patterns(layout.names)
    return {name: user_name(weights if name.startswith("W") else biases, int(name[1:]))
            for name in network.param_shapes()}


def shown_names(network: Network, layout: Layout) -> dict[str, str]:
    """How each parameter is written in the user's layout, where that differs from the toolkit's name.

    ``{"W1": "w1.T", "b1": "b_1"}``: the toolkit's W1 (out, in) is the user's ``w1`` transposed, its b1 the user's
    ``b_1``; reports show it beside the toolkit's name, as they do a model's ``fc1.weight``.  A bias kept as a
    column (n, 1) is not shown: its entries are the same, with a trailing 0.
    """
    shown = {}
    for key, name in user_names(network, layout).items():
        if key.startswith("W") and layout.weights == "in-out":
            name += ".T"
        if name != key:
            shown[key] = name
    return shown


def user_entry(network: Network, layout: Layout, key: str, index: tuple[int, ...]) -> str:
    """Entry ``index`` of parameter ``key`` as the user indexes it: W1[5, 0] is ``w1[0, 5]`` under in-out weights."""
    name = user_names(network, layout)[key]
    if key.startswith("W") and layout.weights == "in-out":
        index = tuple(reversed(index))
    elif key.startswith("b") and layout.examples == "columns":
        index = (*index, 0)
    return "%s[%s]" % (name, ", ".join(str(i) for i in index))


# --- into the user's layout -------------------------------------------------------------------------


def user_params(network: Network, layout: Layout, params: dict) -> dict:
    """``params`` as the user's function takes them: named, weights oriented and biases shaped by ``layout``."""
    names = user_names(network, layout)
    return {names[key]: user_array(key, value, layout) for key, value in params.items()}


def user_array(name: str, value: np.ndarray, layout: Layout) -> np.ndarray:
    """One parameter (or direction) array in the user's layout (a copy the user may change in place)."""
    if name.startswith("W") and layout.weights == "in-out":
        return np.array(value.T)
    if name.startswith("b") and layout.examples == "columns":
        return np.array(value[:, None])
    return np.array(value)


def user_data(layout: Layout, X: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and T as the user's function takes them (columns: transposed; labels (N,) stay as they are)."""
    if layout.examples == "columns":
        return X.T, T.T if np.ndim(T) == 2 else T
    return X, T


def one_example(layout: Layout, X: np.ndarray, T: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Example ``n`` as a per-example function takes it: columns (n_0, 1) or vectors (n_0,); a label stays a number."""
    x, t = X[n], T[n]
    if layout.examples == "columns":
        return x[:, None], t[:, None] if np.ndim(t) == 1 else t
    return x, t


# --- back from it ---------------------------------------------------------------------------------


def read_keys(network: Network, layout: Layout, keys: list, what: str) -> tuple[dict[str, str], str]:
    """Map the keys of a returned dict to the parameters: ``({"W1": "dW1", ...}, "dW1/db1/…")``.

    Exact names first; then names decorated as gradients (``dW1``, ``grad_W1``, ``W1_grad``), in any case,
    counted from 1 or, consistently, from 0.

    Raises:
        InputError: keys that fit no pattern, or fit it twice.
    """
    names = user_names(network, layout)
    wanted = list(names)
    if set(names.values()) == set(map(str, keys)):
        return {name: names[name] for name in wanted}, ""
    found = _decorated(network, layout, [str(k) for k in keys])
    if found is None:
        missing = [names[n] for n in wanted if names[n] not in map(str, keys)]
        extra = [str(k) for k in keys if str(k) not in names.values()]
        also = (" (keys such as dW1, grad_W1, W1_grad, or counted from 0, are read too; other names with --names, "
                "e.g. --names 'w{l},b{l}')")
        expected = ", ".join(names[n] for n in wanted)
        if missing:
            unexpected = " and an unexpected key %r" % extra[0] if extra else ""
            raise InputError("%s returned no %r%s; expected one array per parameter: %s%s"
                             % (what, missing[0], unexpected, expected, also))
        raise InputError("%s returned an unexpected key %r; expected exactly the keys %s%s"
                         % (what, extra[0], expected, also))
    first = found[wanted[0]]
    style = "/".join(found[n] for n in wanted[:2]) + ("/…" if len(wanted) > 2 else "")
    return found, "" if first == names[wanted[0]] else style


def _decorated(network: Network, layout: Layout, keys: list[str]) -> dict[str, str] | None:
    """Keys read through the decorations of :data:`_DECORATIONS`, or None when they do not name each parameter once."""
    expected = network.param_shapes()
    if layout.names is not None:
        weights, biases = name_patterns(layout.names)
        stems = {name: user_name(weights if name.startswith("W") else biases, int(name[1:])).lower()
                 for name in expected}
        return _match(keys, {stem: name for name, stem in stems.items()})
    for shift in (0, 1):  # 1: layers counted from 0 (dW0 is W1's)
        stems = {"%s%d" % (name[0].lower(), int(name[1:]) - shift): name for name in expected}
        mapping = _match(keys, stems)
        if mapping is not None:
            return mapping
    return None


def _match(keys: list[str], stems: dict[str, str]) -> dict[str, str] | None:
    mapping = {}
    for key in keys:
        stem = _DECORATIONS.match(key).group("name").lower()
        name = stems.get(stem) or stems.get(key.lower())
        if name is None or name in mapping:
            return None
        mapping[name] = key
    return mapping if len(mapping) == len(stems) else None


def from_user_array(network: Network, layout: Layout, name: str, value) -> np.ndarray:
    """A returned array back in the toolkit's layout: weights transposed from (in, out), biases flattened.

    Shapes that do not fit are left for :func:`verify.check.returned.check_gradient_result`
    to realign or refuse.
    """
    value = np.array(value)  # a copy: code that returns the same arrays on every call must not change earlier ones
    shape = network.param_shapes()[name]
    if name.startswith("b") and (value.ndim == 2 and 1 in value.shape or value.ndim == 0) and value.size == shape[0]:
        return value.reshape(shape)  # (n, 1), (1, n), or one number for a layer of one unit (np.sum(delta))
    if name.startswith("W") and layout.weights == "in-out" and value.ndim == 2:
        return value.T
    return value


def option_hint(network: Network, layout: Layout, exc: BaseException, T) -> str:
    """What the commonest errors of code in another layout mean about the options, as a hint for the error line:
    a parameter looked up under its own name (``--names``), a matmul that does not fit (``--weights``,
    ``--examples``, ``--per-example``), an index that is not a label (``--labels``); "" otherwise."""
    text = str(exc)
    names = user_names(network, layout)
    if isinstance(exc, KeyError) and exc.args and isinstance(exc.args[0], str) and exc.args[0] not in names:
        example = suggested_names(exc.args[0])
        return ("; it looked up %r, but the parameters it was given are named %s: say its names with --names %s "
                "(layout=Layout(names=...) in Python)" % (exc.args[0], ", ".join(names.values()), example)
                if example else "")
    if isinstance(exc, IndexError) and ("indices must be" in text or "only integers" in text) and np.ndim(T) != 1:
        return "; if it indexes with integer class labels, add --labels (or pass T as labels (N,) in Python)"
    if isinstance(exc, ValueError) and any(words in text for words in ("matmul", "not aligned", "broadcast",
                                                                       "shapes")):
        flags = [flag for flag, given in (("--weights in-out (W stored (n_in, n_out), for X @ W)",
                                           layout.weights == "in-out"),
                                          ("--examples columns (X is (n_0, N))", layout.examples == "columns"),
                                          ("--per-example (one example per call)", layout.per_example))
                 if not given]
        return ("; if its arrays are laid out otherwise, say so: %s (docs/other-conventions.md)" % ", ".join(flags)
                if flags else "")
    return ""


def accepted_shapes(key: str, shape: tuple, layout: Layout | None) -> str:
    """The shapes a returned gradient of parameter ``key`` may have, as its layout stores the parameter."""
    if key.startswith("b"):
        return "%s, %s or %s, the shapes of bias %s" % (shape, shape + (1,), (1,) + shape, key)
    if layout is not None and layout.weights == "in-out":
        return "%s, the shape of weight %s stored (in, out)" % (shape[::-1], key)
    return "%s, the shape of parameter %s" % (shape, key)


__all__ = ["EXAMPLES", "Layout", "WEIGHTS", "accepted_shapes", "from_user_array", "name_patterns", "next_layer_names",
           "one_example", "option_hint", "read_keys", "suggested_names", "user_array", "user_data", "user_names",
           "user_params"]
