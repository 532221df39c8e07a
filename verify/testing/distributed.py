"""Running a property run on a Dask cluster: each part of the run is one task, the results merged as shards are.

``backprop proptest ... --dask tcp://scheduler:8786`` submits the parts of the
run (or of ``--shard K/N``) as tasks to a running Dask distributed scheduler;
``--dask local:W`` starts a ``LocalCluster`` of W single-threaded worker
processes on this machine and closes it afterwards.  Each task runs
:func:`verify.testing.part.run_part` on a worker and returns the part's result
(plain data), so the merged verdict is the one ``--merge`` gives.

* Progress: a bar over the examples, advanced as tasks complete.
* Retries: a task that raises is run again (:data:`RETRIES`); a worker that
  dies has its tasks rescheduled by the scheduler on other workers (Dask's
  ``distributed.scheduler.allowed-failures``); a task that kills every worker
  it runs on ends the run with one line.
* Ctrl-C cancels the tasks not yet done.
* The first counterexample (or bad input) cancels the remaining tasks, as
  ``-x`` does for the local run.

Workers need the same toolkit (each task reports its version and source
hash, checked here) and the candidate function: the same path, or the module
importable on the worker.  Workers on one machine or on a shared file system
share the module cache (``~/.cache/backprop/modules``); others derive their
own.  Dask is an optional extra: ``pip install 'backprop[dask]'``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import uuid
import warnings

from derive import InputError
from verify.testing.part import run_part
from verify.testing.runs import Execution, PropertyRun, storage_directory, toolkit

#: How often a task that raises is run again before the run gives up.
RETRIES = 2
INSTALL = "pip install 'backprop[dask]'"


def parse_address(text: str) -> tuple[str | None, int | None]:
    """``(address, None)`` for a scheduler address, ``(None, W)`` for ``local:W``.

    Raises:
        InputError: ``local:`` without a positive number of workers, or an empty address.
    """
    text = text.strip()
    if text.startswith("local:"):
        count = text[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise InputError("--dask local:W needs a number of workers W >= 1, got %r" % text)
        return None, int(count)
    if not text:
        raise InputError("--dask needs a scheduler address such as tcp://scheduler:8786, or local:W")
    return text, None


def run_on_dask(run: PropertyRun, execution: Execution, address: str, progress: bool = True) -> list[dict]:
    """Run ``execution.shard`` of ``run`` on the Dask cluster at ``address`` (or ``local:W``); the parts' results.

    Raises:
        InputError: Dask is not installed, the scheduler cannot be reached, a
            worker runs another toolkit, or a part keeps killing its workers.
        KeyboardInterrupt: Ctrl-C, after cancelling the tasks.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--dask needs Dask's distributed scheduler, which is not installed: %s" % INSTALL) from None
    scheduler, workers = parse_address(address)
    cluster = (LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR) if workers else None)
    try:
        try:
            client = Client(cluster if cluster is not None else scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError("cannot reach the Dask scheduler at %s: %s" % (scheduler, exc)) from None
        with client:
            return _submit(client, run, execution, progress)
    finally:
        if cluster is not None:
            cluster.close()


def _submit(client, run: PropertyRun, execution: Execution, progress: bool) -> list[dict]:
    import dask
    from dask.distributed import as_completed
    from distributed.scheduler import KilledWorker
    from tqdm import tqdm

    parts = run.shard(*execution.shard)
    token = uuid.uuid4().hex[:8]
    futures = {client.submit(_task, run.to_dict(), part, dataclasses.asdict(execution), retries=RETRIES, pure=False,
                             key="backprop-proptest-%s-part-%d" % (token, part)): part for part in parts}
    results: list[dict] = []
    bar = tqdm(total=sum(run.part_examples(part) for part in parts), unit="example", desc="proptest (dask)",
               file=sys.stderr, disable=None if progress else True)
    try:
        for future in as_completed(futures):
            try:
                result = future.result()
            except KilledWorker:
                raise InputError("part %d of the run killed the Dask worker it ran on, %d times: the candidate may "
                                 "end the process (os._exit, a crash) or exhaust its memory"
                                 % (futures[future], dask.config.get("distributed.scheduler.allowed-failures") + 1)
                                 ) from None
            if result.pop("toolkit") != toolkit():
                raise InputError("a Dask worker runs another backprop (version or code) than this one: install "
                                 "the same on every worker")
            results.append(result)
            bar.update(result["examples"])
            bar.set_postfix_str("%d/%d parts" % (len(results), len(futures)))
            if result["counterexample"] or result["input_error"]:
                break  # as -x: the remaining tasks are cancelled
    finally:
        bar.close()
        client.cancel(list(futures))  # a no-op for the tasks done; Ctrl-C and failures stop the others
    return results


def _task(run: dict, part: int, execution: dict) -> dict:
    """What a worker runs: one part, its result, and which toolkit computed it.

    A Dask worker's own threads use the ``random`` module while the part
    draws its examples, which Hypothesis (watching that module's state around
    each draw) takes for a strategy using it and warns about; the part's
    draws come from its own seeded generator, so the warning is silenced here.
    """
    from hypothesis.configuration import set_hypothesis_home_dir
    from hypothesis.errors import HypothesisDeprecationWarning

    set_hypothesis_home_dir(storage_directory() / "hypothesis")  # not the worker's working directory
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Do not use the `random` module inside strategies",
                                HypothesisDeprecationWarning)
        result = run_part(PropertyRun.from_dict(run), part, Execution(**{**execution,
                                                                          "shard": tuple(execution["shard"])}))
    return {**result, "toolkit": toolkit()}
