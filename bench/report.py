"""Benchmark derivation reports (issue 10); not a timed test.

For the lecture's 2-2-1 network (its worked example, written entry by entry)
and for 784-100-10 relu/softmax with cross-entropy (a seeded random example,
summarised), prints in one run:

* the baseline: the time to derive the network (``Derivation(network)``,
  uncached), measured here;
* the time to build the report's content: evaluate the worked example for
  two steps, verify it (three-way gradient check, the engine's numbers, the
  finite-difference step study) and lay out the sections;
* the time to build that content and write each format (HTML, Markdown,
  LaTeX, notebook, and PDF when pdflatex is installed: figures drawn,
  formulas printed), and the whole of ``write_report`` for HTML (derivation
  cached, files written);

each as wall-clock time (perf_counter, best of ``--repeat``) and as a ratio
to the derivation time.  matplotlib and nbformat are imported before timing.

Usage:
    python bench/report.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from derive import Network  # noqa: E402
from derive.derivation import Derivation, clear_caches  # noqa: E402
from derive.report import lecture_example, random_example, render  # noqa: E402
from verify import write_report  # noqa: E402
from verify.report_writers import report_document  # noqa: E402

FORMATS = ("html", "markdown", "latex", "notebook") + (("pdf",) if shutil.which("pdflatex") else ())


def best(repeat: int, work) -> float:
    """The fastest of ``repeat`` runs of ``work()``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def bench(label: str, network: Network, start, repeat: int, folder: str) -> None:
    # Uncached: derivations are kept per network structure, so clear them before each run.
    derive_time = best(repeat, lambda: (clear_caches(), Derivation(network)))
    print("%s (%s parameters): derive %.3f s (the baseline, 1.00)" % (label, format(network.n_params, ","),
                                                                       derive_time))
    build_time = best(repeat, lambda: report_document(network, start))
    print("    %-34s %7.3f s  %6.2f x derive" % ("content (example, checks, sections)", build_time,
                                                   build_time / derive_time))
    for fmt in FORMATS:
        # Fresh content each time: a document draws its figures once per format and keeps them.
        seconds = best(1 if fmt == "pdf" else repeat, lambda: render(report_document(network, start), fmt, "r.x"))
        print("    %-34s %7.3f s  %6.2f x derive" % ("content + write " + fmt, seconds, seconds / derive_time))
    path = os.path.join(folder, "report.html")
    whole = best(repeat, lambda: write_report(path, network, start))
    print("    %-34s %7.3f s  %6.2f x derive" % ("write_report(.html), everything", whole, whole / derive_time))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best kept (default 3)")
    args = parser.parse_args(argv)
    lecture_network, lecture_start = lecture_example()
    large = Network([784, 100, 10], activation=["relu", "softmax"], loss="cross_entropy")
    with tempfile.TemporaryDirectory() as folder:
        render(report_document(lecture_network, lecture_start), "notebook", "warm.ipynb")  # import matplotlib, nbformat
        bench("2-2-1 sigmoid/sse, the lecture's example", lecture_network, lecture_start, args.repeat, folder)
        bench("784-100-10 relu/softmax/cross-entropy, summarised", large, random_example(large, 0), args.repeat,
              folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
