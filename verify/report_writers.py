"""Reports with their proof: the derivation, a worked example, and the verification, written to a file.

:func:`write_report` is the whole of ``backprop report`` as one call: derive
the network, evaluate the worked example, verify it (the three-way gradient
check, the engine's numbers, the finite-difference step study:
:mod:`verify.check.evidence`), build the report's content
(:func:`derive.report.build_report`) and write it in the format its file
name asks for, atomically (a failure leaves no half-written file)::

    from verify import write_report
    from derive.report import lecture_example

    network, start = lecture_example()
    write_report("report.html", network, start)

:func:`training_data` turns a training run (:class:`~verify.engine.training.History`)
into the plain data of a training report (``backprop train ... --report FILE``).
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from derive import InputError, Network, derive
from derive import files
from derive.files import atomic_write
from derive.report import Document, ExampleInput, build_report, format_for, render, worked_example
from derive.report.second_order import HESSIAN_SHOWN_LARGEST
from derive.report.writers import check_tools
from verify.check.evidence import LARGE_WORK, verification_data
from verify.check.second_order_evidence import hessian_data
from verify.engine import Dataset, Engine
from verify.engine.data import decode_classes, n_classes
from verify.engine.training import History


def report_document(network: Network | str, start: ExampleInput | None = None, *, verify: bool = True,
                    training: dict | None = None, order: int = 1) -> Document:
    """The content of a derivation report, verified.

    Args:
        network: A :class:`~derive.Network` or a spec (``"2-2-1"``).
        start: The worked example's numbers (:func:`derive.report.lecture_example`,
            :func:`derive.report.random_example`, or your own :class:`~derive.report.ExampleInput`);
            None for a report without a worked example.
        verify: Run the checks on the worked example and include them.
        training: Plain data of a training run (:func:`training_data`), for a training report.
        order: 2 adds the section "Second derivatives": the R-operator passes and, for a worked
            example of a small network, its dense Hessian checked against differences of the
            engine's gradients (:mod:`verify.check.second_order_evidence`).

    Raises:
        InputError: a bad network, numbers that do not fit it, an ``order`` other than 1 or 2,
            or (order 2) an activation whose second derivative SymPy cannot give.
    """
    check_order(order)
    derivation = derive(network)
    large = start is not None and derivation.network.n_params * len(start.X) > LARGE_WORK
    with _stages(large, derivation.network) as stage:
        stage("worked example")
        example = worked_example(derivation, start) if start is not None else None
        stage("its proof: the three-way check and the step-size study")
        verification = verification_data(example) if example is not None and verify else None
        hessian = None
        if order == 2 and start is not None and derivation.network.n_params <= HESSIAN_SHOWN_LARGEST:
            hessian = hessian_data(derivation, start.params, start.X, start.T)
        stage("the report's content")
        return build_report(derivation, example, verification, training, order=order, hessian=hessian)


@contextlib.contextmanager
def _stages(shown: bool, network: Network):
    """A progress bar on stderr over the report's stages, for a network large enough to take a while."""
    if not shown:
        yield lambda name: None
        return
    with tqdm(total=3, desc="report of %s" % "-".join(map(str, network.sizes)), unit="stage", file=sys.stderr,
              leave=False, dynamic_ncols=True) as bar:
        def stage(name: str) -> None:
            if bar.n < bar.total and bar.desc.endswith(")"):
                bar.update(1)
            bar.set_description("report of %s (%s)" % ("-".join(map(str, network.sizes)), name))
        yield stage


def check_order(order) -> None:
    """Refuse an ``order`` other than 1 (gradients) or 2 (also second derivatives)."""
    if order not in (1, 2) or isinstance(order, bool):
        raise InputError("order must be 1 (the gradients) or 2 (also the second derivatives), got %r" % (order,))


def write_report(path: str | Path, network: Network | str, start: ExampleInput | None = None, *,
                 fmt: str | None = None, verify: bool = True, training: dict | None = None,
                 order: int = 1) -> list[Path]:
    """Build a report and write it, in the format ``fmt`` or the one of ``path``'s extension.

    ``order=2`` adds the second derivatives (see :func:`report_document`).
    Markdown and LaTeX also write their figures to ``<stem>-figures/`` beside
    the report; every file is written atomically, and nothing is written when
    anything fails first.

    Returns:
        The files written, the report first.

    Raises:
        InputError: unknown format or extension, an output path that is a directory or
            cannot be written, bad network or numbers, or pdflatex missing for PDF.
    """
    check_order(order)
    return write_document(path, lambda: report_document(network, start, verify=verify, training=training,
                                                        order=order), fmt)


def write_document(path: str | Path, build: Callable[[], Document], fmt: str | None = None) -> list[Path]:
    """Write the document ``build()`` returns (a report, an exercise sheet) in the format ``fmt`` or the one of
    ``path``'s extension; a path that cannot be written or a missing tool is refused before ``build`` runs.

    Returns:
        The files written, the document first.

    Raises:
        InputError: as :func:`write_report`.
    """
    path = Path(path)
    check_writable(path)
    kind = format_for(path, fmt)
    check_tools(kind)
    files = render(build(), kind, path)
    if len(files) > 1 and path.exists() and not path.resolve().is_file():
        raise InputError("cannot write a %s report to %s: it is not a file, and a %s report writes its %d figure "
                         "files beside it (%s); give a file name, or use the HTML or PDF format, which hold their "
                         "figures" % (kind, path, kind, len(files) - 1, list(files)[1].split("/")[0] + "/"))
    return write_files(path, files)


def check_report_path(path: str | Path, fmt: str | None = None) -> None:
    """Refuse, before any work, a report path that cannot be written or whose format is unknown."""
    check_writable(Path(path))
    format_for(Path(path), fmt)


def check_writable(path: Path) -> None:
    """Refuse, before any work, a report path that cannot be written (:func:`derive.files.check_writable`).

    Raises:
        InputError: the path is a directory (naming a file to give instead), its folder does not exist,
            or the folder is not writable.
    """
    if path.is_dir():
        raise InputError("cannot write %s: it is a directory; give a file name such as %s"
                         % (path, path / "report.html"))
    files.check_writable(path)


def write_files(path: Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``render``'s files beside ``path``, figures first and the report last, each atomically."""
    names = list(files)
    written = []
    for name in names[1:] + names[:1]:
        target = path.parent / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, files[name])
        except OSError as exc:
            raise InputError("cannot write %s: %s" % (target, exc.strerror or exc)) from None
        written.append(target)
    return written[-1:] + written[:-1]


def training_data(history: History, splits: dict[str, Dataset | None], settings: dict[str, str],
                  code: str | None = None) -> dict:
    """A training run as the plain data of a training report (see :mod:`derive.report.training`).

    Args:
        history: What :func:`verify.train` returned.
        splits: ``{"train": ..., "validation": ..., "test": ...}``; None for a split not held out.
        settings: What to list as the run's settings (name -> text).
        code: Python that reruns the training (for the notebook).
    """
    network = history.network
    results = []
    for name, data in splits.items():
        if data is not None:
            loss, accuracy = history.evaluate(data)
            results.append({"split": name, "accuracy": accuracy, "correct": int(round(accuracy * len(data))),
                            "total": len(data), "loss": loss})
    on = next(name for name in ("test", "validation", "train") if splits.get(name) is not None)
    predicted = decode_classes(Engine(network).forward(history.params, splits[on].X), network)
    classes = n_classes(network)
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (splits[on].labels, predicted), 1)
    first = history.params["W1"] if network.depth > 1 else None
    return {"dataset": splits["train"].name.replace(" (train)", ""), "settings": settings,
            "records": history.to_dict()["records"], "best_epoch": history.best_epoch,
            "stopped_early": history.stopped_early, "results": results,
            "confusion": {"on": "%s set" % on, "matrix": matrix.tolist()},
            "weights": None if first is None else first.tolist(), "code": code}
