"""The results of a property run: one document per shard, merged into one verdict over all shards.

Each part's result is plain data (:meth:`verify.testing.part.Tally.to_dict`).
:func:`shard_result` puts the parts a process ran into one document, what
``backprop proptest --json`` prints::

    {"format": "backprop-proptest-result/1", "toolkit": {"version": ..., "source": ...},
     "fingerprint": ..., "run": {...}, "shard": {"index": K, "count": N}, "command": "backprop proptest ...",
     "verdict": "ok" | "disagree" | "error" | "incomplete", "examples": ..., "architectures": ...,
     "structures": ..., "disagreements": ..., "counterexamples": [{"part": P, "network": ..., "command": ...,
     "text": ...}],
     "input_errors": [...], "missing_parts": [...], "seconds": ..., "workers": ..., "parts": [...]}

:func:`merge` checks that documents are the shards of one run (one
fingerprint: the same run, options and toolkit; every shard 1..N exactly
once) and combines them; :func:`summary` is the text a reader sees for one
shard or for the merged run.
"""

from __future__ import annotations

import json
from pathlib import Path

from derive import ACTIVATIONS, LOSSES, InputError
from verify.check.check_report import SOURCES
from verify.testing.runs import PropertyRun, toolkit

FORMAT = "backprop-proptest-result/1"
#: Exit status of each verdict, as ``backprop proptest`` returns it.
EXIT_STATUS = {"ok": 0, "disagree": 1, "incomplete": 1, "error": 2}


def shard_result(run: PropertyRun, shard: tuple[int, int], parts: list[dict], seconds: float,
                 workers: str = "0") -> dict:
    """The document of one shard (``(1, 1)``: the whole run) from the results of the parts it ran."""
    parts = sorted(parts, key=lambda part: part["part"])
    done = {part["part"] for part in parts}
    document = {"format": FORMAT, "toolkit": toolkit(), "fingerprint": run.fingerprint, "run": run.to_dict(),
                "shard": {"index": shard[0], "count": shard[1]}, "command": run.command(shard),
                "missing_parts": [p for p in run.shard(*shard) if p not in done], "seconds": seconds,
                "workers": workers, "parts": parts}
    return {**document, **_totals(parts, document["missing_parts"])}


def _totals(parts: list[dict], missing: list[int]) -> dict:
    """Counts over ``parts``, their counterexamples and errors, and the verdict."""
    counterexamples = [{"part": part["part"], "network": part["counterexample"].split("\n", 1)[0],
                        "command": part["command"], "text": part["counterexample"]}
                       for part in parts if part["counterexample"]]
    errors = [part["input_error"] for part in parts if part["input_error"]]
    verdict = "error" if errors else "disagree" if counterexamples else "incomplete" if missing else "ok"
    return {"verdict": verdict, "examples": sum(part["examples"] for part in parts),
            "architectures": len(set().union(*(part["networks"] for part in parts))),
            "structures": len(set().union(*(part["structures"] for part in parts))),
            "disagreements": len(counterexamples), "counterexamples": counterexamples, "input_errors": errors}


def read_results(paths: list[str]) -> list[tuple[str, dict]]:
    """The documents of ``paths``, each checked to be a shard result.

    Raises:
        InputError: a file that cannot be read or is not a ``backprop proptest --json`` result.
    """
    documents = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("cannot read %s: %s" % (path, getattr(exc, "strerror", None) or exc)) from None
        except ValueError:
            raise InputError("%s is not JSON; --merge takes the output of backprop proptest --json" % path) from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise InputError("%s is not a result of backprop proptest --json (format %s)" % (path, FORMAT))
        documents.append((path, document))
    return documents


def merge(documents: list[tuple[str, dict]]) -> dict:
    """One document over all the shards of a run, from ``(path, document)`` pairs.

    Raises:
        InputError: the documents are not the shards of one run: different
            runs (seed, options), toolkits or shard counts, a shard given
            twice, or one missing; the message names the files and what differs.
    """
    if not documents:
        raise InputError("--merge needs the result files of the shards (backprop proptest ... --json > FILE)")
    first_path, first = documents[0]
    seen: dict[int, str] = {}
    for path, document in documents:
        if document["fingerprint"] != first["fingerprint"]:
            raise InputError("%s and %s are not shards of one run: %s" % (first_path, path, _difference(first,
                                                                                                      document)))
        if document["shard"]["count"] != first["shard"]["count"]:
            raise InputError("%s is shard %d/%d but %s is shard %d/%d: shards of one run share N" % (
                first_path, first["shard"]["index"], first["shard"]["count"], path, document["shard"]["index"],
                document["shard"]["count"]))
        index = document["shard"]["index"]
        if index in seen:
            raise InputError("shard %d/%d is given twice: %s and %s" % (index, first["shard"]["count"], seen[index],
                                                                       path))
        seen[index] = path
    count = first["shard"]["count"]
    missing = [index for index in range(1, count + 1) if index not in seen]
    if missing:
        raise InputError("shard %s of %d %s missing (given: %s); run it with --shard %d/%d --json" % (
            ", ".join(map(str, missing)), count, "is" if len(missing) == 1 else "are",
            ", ".join(map(str, sorted(seen))), missing[0], count))
    parts = [part for _, document in documents for part in document["parts"]]
    run = PropertyRun.from_dict(first["run"])
    merged = shard_result(run, (1, 1), parts, sum(d["seconds"] for _, d in documents), first["workers"])
    merged["missing_parts"] = sorted(p for _, d in documents for p in d["missing_parts"])
    merged.update(_totals(merged["parts"], merged["missing_parts"]))
    merged["shards"] = {"count": count, "longest_seconds": max(d["seconds"] for _, d in documents)}
    return merged


def _difference(first: dict, other: dict) -> str:
    """What makes two results different runs, in the words of the command line."""
    if first["toolkit"] != other["toolkit"]:
        return "toolkit %s (source %s) vs %s (source %s)" % (first["toolkit"]["version"], first["toolkit"]["source"],
                                                            other["toolkit"]["version"], other["toolkit"]["source"])
    for key in first["run"]:
        if first["run"][key] != other["run"].get(key):
            return "%s %s vs %s" % ("--" + key.replace("_", "-") if key != "network" else "SPEC",
                                    json.dumps(first["run"][key]), json.dumps(other["run"].get(key)))
    return "different runs"


def summary(document: dict) -> str:
    """The text a reader sees for a shard's or a merged result: coverage, largest errors, what they mean."""
    run, parts = PropertyRun.from_dict(document["run"]), document["parts"]
    where = run.describe() if run.network is not None else "%d architectures" % document["architectures"]
    how = ("%d shards merged: %.1f s of work, longest shard %.1f s" % (
        document["shards"]["count"], document["seconds"], document["shards"]["longest_seconds"])
        if "shards" in document else "%.1f s (workers: %s)" % (document["seconds"], document["workers"]))
    shard = document["shard"]
    lines = ["proptest%s: %s example%s on %s in %s" % (
        " shard %d/%d" % (shard["index"], shard["count"]) if shard["count"] > 1 else "",
        format(document["examples"], ","), "" if document["examples"] == 1 else "s", where, how)]
    if run.seed is not None:
        lines.append("  %-34s %d (every run with it draws the same examples)" % ("seed", run.seed))
    if any(part["counterexample"] for part in parts):
        lines.append("  the last example failed; %s smaller variants of it were checked while shrinking it"
                     % format(sum(part["shrinks"] for part in parts), ","))
    if document["missing_parts"]:
        lines.append("  %d of %d parts did not finish (stopped at the first failure, or interrupted)"
                     % (len(document["missing_parts"]), len(parts) + len(document["missing_parts"])))
    if run.network is None:
        for label, registry, key in (("activations covered", ACTIVATIONS, "activations"),
                                     ("losses covered", LOSSES, "losses")):
            covered = sorted(set().union(*(part[key] for part in parts)))
            lines.append("  %-34s %s (%d of %d registered)" % (label, ", ".join(covered) or "-", len(covered),
                                                               len(registry)))
    lines += ["  %-34s %d" % ("finite differences flagged at kinks", sum(part["flagged"] for part in parts)),
              "  %-42s %10s %12s" % ("largest error over every example checked:", "relative", "of allowed")]
    errors, ratios = _largest(parts, "max_errors"), _largest(parts, "max_ratios")
    for pair, value in sorted(errors.items()):
        first, second = pair.split("-")
        lines.append("    %-40s %10.2e %12.2g" % ("%s vs %s" % (SOURCES[first], SOURCES[second]), value,
                                                  ratios.get(pair, 0.0)))
    lines += ["  (relative: to the size of the entry; of allowed: as a fraction of the error the pair's tolerance",
              "  allows, so 1 or less agrees. Finite differences approximate: they are allowed their method's",
              "  tolerance plus twice their own error estimate, hence their larger relative errors.)"]
    return "\n".join(lines)


def _largest(parts: list[dict], key: str) -> dict[str, float]:
    largest: dict[str, float] = {}
    for part in parts:
        for pair, value in part[key].items():
            largest[pair] = max(largest.get(pair, 0.0), value)
    return largest


def verdict_line(document: dict) -> str:
    """The last line: OK and what agreed, or the minimal counterexample, or why there is no verdict."""
    run = PropertyRun.from_dict(document["run"])
    if document["counterexamples"]:
        return "FAILED: minimal counterexample\n" + min((c["text"] for c in document["counterexamples"]), key=len)
    if document["verdict"] == "incomplete":
        return "NO VERDICT: parts %s did not finish, so they prove nothing" % ", ".join(
            map(str, document["missing_parts"]))
    if run.order == 2:
        return ("OK: %s, the generated hvp and differences of the engine's gradients agree on every example."
                % ("your hvp function %s" % run.candidate if run.candidate else "the derivation's H V"))
    candidate = "your gradient function %s" % run.candidate if run.candidate else "the engine"
    return "OK: %s, the generated code and finite differences agree on every example." % candidate

