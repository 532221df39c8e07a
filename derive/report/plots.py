"""The drawings of a report, with matplotlib (no display, no pyplot), rendered deterministically.

Each function here returns a :class:`~derive.report.document.Figure` whose
``render(fmt)`` draws it afresh and returns SVG, PDF or PNG bytes.  The same
inputs give byte-identical files: no dates in the metadata, a fixed
``svg.hashsalt`` per figure (so the ids of two SVGs inlined in one HTML page
never collide), text drawn as paths (no font lookup), matplotlib's bundled
fonts.

* :func:`network_diagram`: units and weights, layer by layer (large layers drawn
  with a gap and their width);
* :func:`step_size_plot`: finite-difference error against step size, the V of
  truncation against rounding error, with the chosen step marked;
* :func:`hessian_plot`: a dense Hessian as a heat map, rows and columns labelled;
* :func:`curves_plot`, :func:`confusion_plot`, :func:`weight_images`: the training report's plots.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from typing import Callable

import numpy as np

from .document import Figure

#: Units drawn per layer before the rest are elided.
DRAWN_UNITS = 8
_METADATA = {"svg": {"Date": None, "Creator": None}, "pdf": {"CreationDate": None, "ModDate": None, "Creator": None,
                                                            "Producer": None},
             "png": {"Software": None}}
_STYLE = {"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "path",
          "pdf.fonttype": 42, "axes.grid": True, "grid.alpha": 0.3, "lines.linewidth": 1.4}
BLUE, ORANGE, GREY, RED = "#1f5fa8", "#d4751a", "#8a8a8a", "#b8332b"


def figure(name: str, caption: str, alt: str, size: tuple[float, float], draw: Callable) -> Figure:
    """A :class:`Figure` drawn by ``draw(fig)`` on a fresh matplotlib figure of ``size`` inches."""

    def render(fmt: str) -> bytes:
        # matplotlib is imported on first use, so that the CLI and ``import derive`` stay fast;
        # a bare Figure draws with Agg-based canvases and never touches pyplot or a display.
        import matplotlib
        from matplotlib.figure import Figure as MatplotlibFigure

        if fmt not in _METADATA:
            raise ValueError("figures render as svg, pdf or png, not %r" % fmt)
        with matplotlib.rc_context({**_STYLE, "svg.hashsalt": "backprop-%s" % name}):
            fig = MatplotlibFigure(figsize=size, layout="constrained")
            draw(fig)
            buffer = io.BytesIO()
            fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt], dpi=150 if fmt == "png" else 72)
        return buffer.getvalue()

    return Figure(name, caption, alt, lru_cache(maxsize=None)(render))


# --- the network --------------------------------------------------------------------------


def network_diagram(sizes: tuple[int, ...], layer_names: list[str], bias: bool) -> Figure:
    """Units (circles) and weights (lines) of an MLP, inputs on the left; biases as a unit "1" per layer."""
    shown = [_drawn_units(width) for width in sizes]
    rows = max(len(units) for units in shown) + (1 if bias else 0)
    height = max(2.2, 0.42 * rows + 0.9)

    def draw(fig):
        ax = fig.add_subplot()
        ax.set_axis_off()
        positions = []
        for layer, units in enumerate(shown):
            column = {}
            for row, unit in enumerate(units):
                column[unit] = (layer, (len(units) - 1) / 2 - row)
            positions.append(column)
        for layer in range(1, len(sizes)):
            for start in positions[layer - 1].values():
                for end in positions[layer].values():
                    ax.plot([start[0], end[0]], [start[1], end[1]], color=GREY, lw=0.6, alpha=0.7, zorder=1)
            if bias:
                top = max(y for _, y in positions[layer].values()) + 1
                anchor = (layer - 0.5, top)
                for end in positions[layer].values():
                    ax.plot([anchor[0], end[0]], [anchor[1], end[1]], color=ORANGE, lw=0.6, ls="--", zorder=1)
                ax.scatter([anchor[0]], [anchor[1]], s=200, marker="s", color="white", edgecolor=ORANGE, zorder=2)
                ax.text(anchor[0], anchor[1], "1", ha="center", va="center", color=ORANGE, zorder=3)
            middle = (layer - 0.5, min(y for _, y in positions[layer].values()) - 0.85)
            ax.text(*middle, "W%d" % layer + (", b%d" % layer if bias else ""), ha="center", va="top", color=GREY)
        for layer, column in enumerate(positions):
            for unit, (x, y) in column.items():
                if unit is None:
                    ax.text(x, y, "⋮", ha="center", va="center", fontsize=14)
                    continue
                ax.scatter([x], [y], s=330, color="white", edgecolor=BLUE if layer else GREY, linewidth=1.4, zorder=2)
                ax.text(x, y, str(unit), ha="center", va="center", fontsize=8, zorder=3)
            bottom = min(y for _, y in column.values())
            ax.text(layer, bottom - 1.45, layer_names[layer], ha="center", va="top", fontsize=8)
        ax.set_xlim(-0.6, len(sizes) - 0.4)
        ax.set_ylim(-(rows / 2) - 1.9, rows / 2 + 0.9)

    alt = "Diagram of the %s network: %s" % ("-".join(map(str, sizes)), "; ".join(layer_names))
    width = max(3.6, 1.55 * len(sizes))
    return figure("network", "The network: units numbered from 0 in each layer, every unit connected to every "
                  "unit of the next layer%s." % (", and a constant input 1 whose weights are the biases (dashed)"
                                                 if bias else ""), alt, (width, height), draw)


def _drawn_units(width: int) -> list[int | None]:
    """Units drawn for a layer of ``width``: all of them, or the first few, a gap (None) and the last two."""
    if width <= DRAWN_UNITS:
        return list(range(width))
    return list(range(DRAWN_UNITS - 3)) + [None, width - 2, width - 1]


# --- verification -------------------------------------------------------------------------


def step_size_plot(study: dict) -> Figure:
    """Relative error of central differences against the step h, with the chosen step marked.

    Args:
        study: Plain data: ``entry``, ``steps``, ``errors`` (relative), ``chosen_step``,
            ``chosen_error``, ``epsilon``, and optionally ``complex_step_error``.
    """
    steps, errors = np.asarray(study["steps"]), np.maximum(np.asarray(study["errors"]), 1e-18)

    def draw(fig):
        ax = fig.add_subplot()
        ax.loglog(steps, errors, "o-", color=BLUE, ms=3.5, label="central differences")
        big, small = steps.argmax(), steps.argmin()
        guide = np.geomspace(steps.min(), steps.max(), 50)
        ax.loglog(guide, errors[big] * (guide / steps[big]) ** 2, ":", color=GREY, lw=1,
                  label="truncation error ∝ h²")
        ax.loglog(guide, errors[small] * steps[small] / guide, "--", color=GREY, lw=1,
                  label="rounding error ∝ ε/h")
        ax.axvline(study["chosen_step"], color=ORANGE, lw=1)
        ax.loglog([study["chosen_step"]], [max(study["chosen_error"], 1e-18)], "D", color=ORANGE, ms=6,
                  label="chosen step h = ε^(1/3)·max(1, |w|)")
        bottom = max(errors.min() / 10, 1e-18)
        complex_error = study.get("complex_step_error")
        if complex_error is not None:
            ax.axhline(max(complex_error, bottom * 1.5), color=RED, lw=1, ls="-.",
                       label="complex step (h = 1e-20): %s" % ("exact here" if complex_error == 0
                                                               else "%.0e" % complex_error))
        ax.set_ylim(bottom, min(errors.max() * 10, 1e3))
        _plain_log_ticks(ax.xaxis, ax.yaxis)
        ax.set_xlabel("step h")
        ax.set_ylabel("relative error of ∂E/∂%s" % study["entry"])
        ax.legend(loc="upper center", fontsize=7, frameon=False)

    return figure("step-size", "Finite differences of %s against the symbolic gradient: too large a step h "
                  "leaves truncation error (∝ h², right), too small a step rounding error (∝ ε/h, left); the "
                  "chosen step sits near the bottom of the V." % study["entry"],
                  "Log-log plot of finite-difference error against step size for %s" % study["entry"],
                  (5.2, 3.3), draw)


def _plain_log_ticks(*axes) -> None:
    """Log axes with powers of ten labelled ``1e-8`` (mathtext labels cost most of a plot's drawing time)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator  # matplotlib is loaded: we are drawing

    label = FuncFormatter(lambda value, _: "1e%d" % round(math.log10(value)) if value > 0 else "")
    for axis in axes:
        axis.set_major_locator(LogLocator(numticks=8))
        axis.set_major_formatter(label)
        axis.set_minor_locator(NullLocator())


def hessian_plot(matrix: list[list[float]], labels: list[str]) -> Figure:
    """A dense Hessian as a heat map on a symmetric colour scale (red positive, blue negative)."""
    values = np.asarray(matrix, dtype=float)
    limit = float(np.abs(values).max()) or 1.0
    labelled = len(labels) <= 30

    def draw(fig):
        ax = fig.add_subplot()
        ax.grid(False)
        image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        if labelled:
            ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
            ax.set_yticks(range(len(labels)), labels, fontsize=6)
        else:
            ax.set_xlabel("parameter q (generated code's order)")
            ax.set_ylabel("parameter p")
        fig.colorbar(image, ax=ax, shrink=0.8, label="d2E / dp dq")

    return figure("hessian", "The Hessian at the worked example's starting point (red positive, blue negative, one "
                  "symmetric colour scale).", "Heat map of the dense Hessian", (5.2, 4.4), draw)


# --- training -----------------------------------------------------------------------------


def curves_plot(records: list[dict], best_epoch: int | None) -> Figure:
    """Loss (log scale) and accuracy per epoch, training and validation."""
    epochs = [r["epoch"] for r in records]

    def draw(fig):
        loss_axes, accuracy_axes = fig.subplots(1, 2)
        for key, axes, scale in (("loss", loss_axes, 1), ("accuracy", accuracy_axes, 100)):
            axes.plot(epochs, [r[key] * scale for r in records], color=BLUE, label="training")
            validation = [r.get("val_" + key) for r in records]
            if all(v is not None for v in validation):
                axes.plot(epochs, [v * scale for v in validation], color=ORANGE, label="validation")
            if best_epoch and best_epoch != epochs[-1]:
                axes.axvline(best_epoch, color=GREY, ls="--", lw=1, label="kept epoch %d" % best_epoch)
            axes.set_xlabel("epoch")
            axes.legend(fontsize=7, frameon=False)
        if all(r["loss"] > 0 for r in records):
            loss_axes.set_yscale("log")
            _plain_log_ticks(loss_axes.yaxis)
        loss_axes.set_ylabel("loss (mean over examples)")
        accuracy_axes.set_ylabel("accuracy (%)")

    return figure("curves", "Loss and accuracy after each epoch.", "Loss and accuracy curves per epoch",
                  (6.4, 2.7), draw)


def confusion_plot(matrix: list[list[int]], title: str) -> Figure:
    """A confusion matrix: rows the true class, columns the predicted one, counts in the cells."""
    counts = np.asarray(matrix)

    def draw(fig):
        ax = fig.add_subplot()
        ax.grid(False)
        image = ax.imshow(counts, cmap="Blues")
        limit = counts.max() / 2 if counts.size else 0
        for (row, column), value in np.ndenumerate(counts):
            ax.text(column, row, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > limit else "black")
        ax.set_xticks(range(len(counts)))
        ax.set_yticks(range(len(counts)))
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        fig.colorbar(image, ax=ax, shrink=0.8)

    size = min(5.5, 1.6 + 0.38 * len(counts))
    return figure("confusion", "Confusion matrix on the %s: how often each class (row) was predicted as each "
                  "class (column)." % title, "Confusion matrix on the %s" % title, (size + 0.8, size), draw)


def weight_images(W: np.ndarray) -> Figure:
    """Each hidden unit's incoming weights: as an image when the inputs are a square image, else one heat map."""
    W = np.asarray(W)
    side = math.isqrt(W.shape[1])
    square = side * side == W.shape[1] and side > 1
    limit = float(np.abs(W).max()) or 1.0

    def draw(fig):
        if not square:
            ax = fig.add_subplot()
            ax.grid(False)
            image = ax.imshow(W, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
            ax.set_xlabel("input unit i")
            ax.set_ylabel("hidden unit j")
            fig.colorbar(image, ax=ax, shrink=0.8, label="W1[j, i]")
            return
        columns = min(10, len(W))
        rows = math.ceil(len(W) / columns)
        axes = fig.subplots(rows, columns, squeeze=False)
        for unit, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if unit < len(W):
                ax.imshow(W[unit].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
                ax.set_title(str(unit), fontsize=7)

    if square:
        columns = min(10, len(W))
        size = (0.75 * columns + 0.3, 0.8 * math.ceil(len(W) / columns) + 0.2)
        caption = ("The weights into each hidden unit j, W1[j, :], drawn as a %d×%d image (red positive, blue "
                   "negative, one colour scale for all): the features the unit has learned to look for." % (side, side))
    else:
        size = (6.0, min(6.0, 1.5 + 0.15 * len(W)))
        caption = "The input-to-hidden weights W1 (red positive, blue negative)."
    return figure("weights", caption, "Input-to-hidden weights of each hidden unit", size, draw)
