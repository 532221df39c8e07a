"""A property run: what it checks and how it splits into parts, the same in every process that runs a piece of it.

A :class:`PropertyRun` is plain data (``backprop proptest`` builds one from
its options): the number of examples, the Hypothesis profile, the seed, the
fixed network or the options of the random ones, the candidate (the engine,
or a user's ``MODULE:FN``) and the order (gradients, or Hessian-vector
products).  Everything that runs a property check derives from it alone:

* **parts** (:meth:`PropertyRun.parts`): the run is split into independent
  Hypothesis tests, one per part, each with its own seed, its own share of
  the examples (the shares differ by at most one and sum to ``examples``) and
  its own networks: the pool of random networks is split *by structure*
  (every width of a structure in the same part, so a process that runs a
  part derives each of its structures once); there are at least
  :data:`MIN_PARTS` parts of at most :data:`EXAMPLES_PER_PART` examples (fewer
  parts for small runs: none has fewer than :data:`MIN_EXAMPLES_PER_PART`);
* **shards** (:meth:`PropertyRun.shard`): shard K of N runs the parts
  ``K-1, K-1+N, ...``, so the N shards together run exactly the parts, and
  so exactly the examples, of the unsharded run, each about 1/N of them;
* the **fingerprint** (:meth:`PropertyRun.fingerprint`): a hash of the run and
  of the toolkit's code, which tells whether results belong to one run.

How a run reaches the property suite when pytest runs it (``backprop
proptest`` runs ``pytest --pyargs verify.testing.property_suite``, with
pytest-xdist for ``-n``): one environment variable, :data:`ENVIRONMENT`,
holding JSON ``{"run": {...}, "shard": [K, N], "results": DIR, "database":
DIR}`` (:meth:`Execution.to_environment`).  Without it the suite runs the
default run of the Hypothesis profile that ``BACKPROP_HYPOTHESIS_PROFILE``
picks (:func:`verify.testing.profiles.profile_name`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from derive import InputError, Network
from verify.check.layouts import Layout

#: The keys of a run's ``layout`` (:class:`verify.Layout`'s fields).
LAYOUT_FIELDS = tuple(item.name for item in dataclasses.fields(Layout))

#: The environment variable through which a run reaches the property suite (JSON; see the module docstring).
ENVIRONMENT = "BACKPROP_PROPTEST"
#: Examples of a run by profile, when none are given.
TOTAL_EXAMPLES = {"dev": 200, "ci": 2000, "thorough": 20000}
#: How many random networks a run draws from (about a third as many structures).
POOL_SIZE = 300
#: Parts a run is split into: at least MIN_PARTS (more shards than parts would leave some empty), with at most
#: EXAMPLES_PER_PART examples each; and fewer parts for a small run, so that none has fewer than
#: MIN_EXAMPLES_PER_PART examples.
MIN_PARTS = 24
EXAMPLES_PER_PART = 250
MIN_EXAMPLES_PER_PART = 3
#: The options that restrict random networks (keyword arguments of :func:`verify.strategies.network_pool`).
POOL_OPTIONS = ("activations", "losses", "max_depth", "max_width", "bias", "decay", "reduction")


@dataclass(frozen=True)
class PropertyRun:
    """One property run, as plain data; see the module docstring.

    Attributes:
        examples: Examples in all, over every part.
        profile: Hypothesis profile (``dev``, ``ci``, ``thorough``: its phases and health checks).
        seed: The seed every part's seed derives from; None lets Hypothesis pick each part's at random.
        network: The fixed network (:meth:`derive.Network.to_dict`), or None for random networks.
        networks: Options of the random networks (:data:`POOL_OPTIONS`), when ``network`` is None.
        candidate: The user's function as ``MODULE:FN`` or ``path/file.py:FN``; None checks the engine
            (order 1) or the generated ``hvp`` (order 2).
        order: 1 checks gradients, 2 Hessian-vector products.
        layout: How the candidate takes and returns arrays (:meth:`verify.Layout.to_dict`: the fields that
            differ from the toolkit's own layout).
        labels: Targets given to the candidate as integer class labels (N,), as classifiers' code takes them.
        one_hot: The targets of a softmax output drawn one-hot only (each example's likeliest class), for code
            that takes the class as ``T.argmax(1)``; by default soft probability rows are drawn too.
    """

    examples: int
    profile: str = "ci"
    seed: int | None = None
    network: dict | None = None
    networks: dict = field(default_factory=dict)
    candidate: str | None = None
    order: int = 1
    layout: dict = field(default_factory=dict)
    labels: bool = False
    one_hot: bool = False

    def __post_init__(self):
        if (self.layout or self.labels or self.one_hot) and not self.candidate:
            raise InputError("a layout, class labels and one-hot targets describe the candidate's code: give one "
                             "(--grad or --hvp)")
        if not isinstance(self.layout, dict) or not set(self.layout) <= set(LAYOUT_FIELDS):
            raise InputError("not a layout: %r; accepted keys: %s" % (self.layout, ", ".join(LAYOUT_FIELDS)))
        Layout(**self.layout)  # a bad name pattern or learning rate: one line now
        if isinstance(self.examples, bool) or not isinstance(self.examples, int) or self.examples < 1:
            raise InputError("a property run needs at least 1 example, got %r" % (self.examples,))
        unknown = set(self.networks) - set(POOL_OPTIONS)
        if unknown:
            raise InputError("unknown option %r of random networks; accepted: %s" % (sorted(unknown)[0],
                                                                                    ", ".join(POOL_OPTIONS)))

    # --- plain data ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The run as JSON-ready data (what :meth:`from_dict` reads)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PropertyRun":
        """The run of :meth:`to_dict`'s data.

        Raises:
            InputError: data that is not a run.
        """
        names = {item.name for item in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not set(data) <= names or "examples" not in data:
            raise InputError("not a property run: expected a mapping with the keys %s" % ", ".join(sorted(names)))
        return cls(**data)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A hash of the run and of the toolkit that runs it: equal for the shards of one run, only."""
        text = json.dumps({"run": self.to_dict(), "toolkit": toolkit()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    # --- parts and shards ---------------------------------------------------------------------

    @property
    def parts(self) -> int:
        """How many parts the run is split into: one per :data:`EXAMPLES_PER_PART` examples, at least
        :data:`MIN_PARTS`, but none with fewer than :data:`MIN_EXAMPLES_PER_PART` (each part's first example is
        Hypothesis' simplest: zeros)."""
        return max(1, min(self.examples // MIN_EXAMPLES_PER_PART,
                          max(MIN_PARTS, -(-self.examples // EXAMPLES_PER_PART))))

    def part_examples(self, part: int) -> int:
        """Part ``part``'s share of the examples: the shares differ by at most one and sum to :attr:`examples`."""
        return self.examples // self.parts + (1 if part < self.examples % self.parts else 0)

    def part_seed(self, part: int) -> int | None:
        """Part ``part``'s Hypothesis seed (distinct for every part of every seed), or None (random)."""
        return None if self.seed is None else self.seed * self.parts + part

    def part_networks(self, part: int) -> list[Network]:
        """The networks part ``part`` draws from: the fixed one, or its group of the pool's structures.

        The pool's structures, smallest first, are dealt out to
        ``min(parts, structures)`` groups in turn; part p takes group
        ``p mod groups``, every width of each of its structures, in the pool's order.
        """
        if self.network is not None:
            return [Network.from_dict(self.network)]
        groups = _groups(json.dumps(self.networks, sort_keys=True), self.parts)
        return list(groups[part % len(groups)])

    def shard(self, index: int, count: int) -> list[int]:
        """The parts of shard ``index`` of ``count`` (1-based): every ``count``-th part from ``index - 1``.

        Raises:
            InputError: not ``1 <= index <= count``, or more shards than parts.
        """
        if not 1 <= index <= count:
            raise InputError("--shard %d/%d: K must be between 1 and N" % (index, count))
        if count > self.parts:
            raise InputError("--shard %d/%d: this run of %d examples has %d parts, so it splits into at most %d "
                             "shards; use fewer shards or more --examples (a run has one part per %d examples, at "
                             "least %d, none under %d examples)" % (index, count, self.examples, self.parts,
                                                                    self.parts, EXAMPLES_PER_PART, MIN_PARTS,
                                                                    MIN_EXAMPLES_PER_PART))
        return list(range(index - 1, self.parts, count))

    # --- what a reader sees -------------------------------------------------------------------

    def describe(self) -> str:
        """``3-4-2, tanh, sse (sum), bias`` for a fixed network, else ``N architectures`` is the caller's."""
        return Network.from_dict(self.network).describe() if self.network is not None else "random networks"

    def command(self, shard: tuple[int, int] | None = None) -> str:
        """The ``backprop proptest`` command line that runs this search (shard ``(K, N)`` of it)."""
        words = ["backprop proptest"]
        if self.network is not None:
            network = Network.from_dict(self.network)
            words += ["-".join(map(str, network.sizes))] + network.command_options()
        words.append("--examples %d" % self.examples)
        if self.candidate:
            words.append("--%s %s" % ("hvp" if self.order == 2 else "grad", self.candidate))
            words += Layout(**self.layout).command_options() + (["--labels"] if self.labels else [])
            words += ["--one-hot"] if self.one_hot else []
        elif self.order == 2:
            words.append("--order 2")
        for key, value in sorted(self.networks.items()):
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                words.append("%s %s" % (flag, "yes" if value else "no"))
            elif isinstance(value, list):
                words.append("%s %s" % (flag, ",".join(value)))
            else:
                words.append("%s %s" % (flag, value))
        if self.seed is not None:
            words.append("--seed %d" % self.seed)
        if self.profile != "ci":
            words.append("--profile %s" % self.profile)
        if shard is not None and shard[1] > 1:
            words.append("--shard %d/%d" % shard)
        return " ".join(words)


@functools.lru_cache(maxsize=4)
def _groups(options: str, parts: int) -> tuple[tuple[Network, ...], ...]:
    """The pool of random networks (:func:`verify.strategies.network_pool` of ``options``) dealt out by structure
    into ``min(parts, structures)`` groups (see :meth:`PropertyRun.part_networks`)."""
    from verify.testing import strategies

    pool = strategies.network_pool(POOL_SIZE, **json.loads(options))
    structure = {network: network.structure for network in pool}
    structures = list(dict.fromkeys(structure.values()))
    count = min(parts, len(structures))
    groups = [set(structures[group::count]) for group in range(count)]
    return tuple(tuple(network for network in pool if structure[network] in mine) for mine in groups)


def storage_directory() -> Path:
    """Where property runs keep their files: Hypothesis' own (never the working directory's ``.hypothesis/``) and
    the examples a user's function failed on.

    ``$XDG_CACHE_HOME/backprop/proptest``, else ``~/.cache/backprop/proptest``;
    without a home directory, ``backprop-proptest`` in the system's temporary directory.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return Path(tempfile.gettempdir()) / "backprop-proptest"
    return Path(base) / "backprop" / "proptest"


@functools.lru_cache(maxsize=1)
def toolkit() -> dict:
    """The toolkit that runs a property check: its version and a hash of the code of ``derive`` and ``verify``."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in ("derive", "verify"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        version = importlib.metadata.version("backprop")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"version": version, "source": digest.hexdigest()[:16]}


@dataclass(frozen=True)
class Execution:
    """How one process runs (part of) a run: which shard, where results, progress and the database go.

    Not part of the run's identity: shards on other machines have other
    directories.

    Attributes:
        shard: ``(K, N)``: shard K of N (``(1, 1)``: the whole run).
        results: A directory for each part's result (``part-P.json``) and progress (``progress-P``), or None.
        database: Hypothesis' example database directory (failing examples replayed first next time), or None.
        directory: Where a relative ``--grad`` path or a module name is found (default: the working directory).
    """

    shard: tuple[int, int] = (1, 1)
    results: str | None = None
    database: str | None = None
    directory: str | None = None

    def to_environment(self, run: PropertyRun) -> dict[str, str]:
        """``{ENVIRONMENT: json}``: the run and this execution, for a child process (pytest and its workers)."""
        data = {"run": run.to_dict(), "shard": list(self.shard), "results": self.results, "database": self.database,
                "directory": self.directory}
        return {ENVIRONMENT: json.dumps(data)}


def from_environment() -> tuple[PropertyRun, Execution]:
    """The run and execution :data:`ENVIRONMENT` holds; without it, the default run of the profile in use.

    Raises:
        InputError: the variable holds something else, or ``BACKPROP_HYPOTHESIS_PROFILE`` names no profile.
    """
    text = os.environ.get(ENVIRONMENT)
    if not text:
        from verify.testing.profiles import profile_name, profile_settings

        profile = profile_name()
        return (PropertyRun(TOTAL_EXAMPLES[profile], profile, 0 if profile_settings(profile).derandomize else None),
                Execution())
    try:
        data = json.loads(text)
        shard = tuple(data["shard"])
        return PropertyRun.from_dict(data["run"]), Execution(shard, data.get("results"), data.get("database"),
                                                             data.get("directory"))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError("$%s is not a property run (%s); backprop proptest sets it" % (ENVIRONMENT, exc)) from None
