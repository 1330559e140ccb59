"""Compilation of PyTensor functions, in one place so that the backend is chosen once and
every compiled function outlives the process.

**Backend.** Chosen by measurement on this project's reference machine (2 cores), with a
logistic regression of 2000 rows and 200 coefficients (``benchmarks/hessian.py --latency``
measures the first call in a fresh process):

=====================  ===========================  =====================
linker                 first call of the Hessian    steady-state Hessian
=====================  ===========================  =====================
C (``cvm``), cached    0.6 s                        8.5 ms
C (``cvm``), cold      11.6 s (once per machine)    8.5 ms
numba (PyTensor 3's    56 s in every new process    3.5 ms
default)
=====================  ===========================  =====================

pmfisher compiles a handful of functions per model, each usually called a few times, so the
C backend's disk cache wins by two orders of magnitude; the environment variable
``PMFISHER_MODE`` (any PyTensor mode name, such as ``NUMBA``) overrides the choice for long
steady-state work. Either way the mode gains :mod:`pmfisher._core.compiled.rewrites`; the
modes themselves, and the rule that compiles a large graph without PyTensor's in-place
rewrite, are in :mod:`pmfisher._core.compiled.modes`.

On a machine that has not compiled a function before, its C modules cost gcc time: 16 s for
the gradient of a 6-parameter Poisson GLM, 38 s for the sparse Hessian of a hierarchical
model. A function its caller evaluates only a few times is therefore compiled with
``backend="python"`` (:func:`few_calls_backend`): PyTensor's virtual machine running each
node's Python ``perform`` (NumPy), without the fusion rewrites, whose ``Composite`` would loop
over elements in Python. It compiles in 1–5 s and costs up to 25× as much per call
(``benchmarks/first_call.py``). The cache key holds the backend. Where the caller's guess is
wrong — a Hessian evaluated in a loop — the function compiles its C twin after
``UPGRADE_CALLS`` calls and ``UPGRADE_SECONDS`` in them (counted across the processes that
load it, :mod:`~pmfisher._core.compiled.upgrade_rent`), and computes with it from then on; a
C function stored by any process is always preferred (tiered compilation, as JIT compilers do).

**Function cache.** PyTensor caches the compiled C code on disk, but every new process still
rewrites each graph before it finds that code, and the rewrites of a Hessian graph take
seconds. pmfisher therefore keeps the *rewritten* function too, pickled in
``<PyTensor compiledir>/pmfisher-functions`` (removed with PyTensor's own cache; the variable
``PMFISHER_FUNCTION_CACHE`` names another directory, or ``off``). A second process that asks
for the same function of the same model loads it instead of rewriting it: on a hierarchical
model the Hessian takes 1.44 s to compile and 0.18 s to load. Within a process, a model built
anew with the same graph (a notebook cell run again) reuses the loaded function itself.

Loading a function with C thunks in a new process would make PyTensor read every module of
its compile directory first; each stored function therefore carries the names of its own C
modules, and only those are read (:mod:`pmfisher._core.compiled.c_modules`).

The key is a digest of the graph the function is derived from
(:mod:`pmfisher._core.compiled.graph_digest`), together with a recipe name for how the outputs are
derived, the versions of everything involved, this package's source and the rewriting options. Two
graphs with the same digest compile to the same function; a graph that cannot be
digested (an operation that does not pickle) is simply compiled.

**Data are inputs.** Data containers (``pm.Data``) are shared variables: they become
explicit inputs fed with their current value at every call, so ``pm.set_data`` reaches loaded
functions as well. Observed arrays written into the model (constants of at least
:data:`~pmfisher._core.compiled.graph_digest.DATA_SIZE` entries) become explicit inputs too, fed
with the model's own values: the key does not hold their values, so a model built on a new data set
of the same shapes loads the functions compiled for the first one instead of rewriting them
(a new data set costs what a script run again costs). The price is that PyTensor cannot fold
a computation on the data alone into a constant (``gammaln(y + 1)`` of a Poisson
log-likelihood is computed at each call), which no derivative contains.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import sys
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytensor
from pytensor.compile.mode import Mode as CompileMode
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant, Variable
from pytensor.graph.rewriting.db import RewriteDatabaseQuery

from pmfisher._core.compiled.c_modules import read_modules, recording_modules
from pmfisher._core.compiled.graph_digest import (
    UndigestibleGraph,
    data_constants,
    graph_digest,
    shared_ancestors,
)
from pmfisher._core.compiled.modes import COMPILE_MODE, PYTHON_MODE, mode_for_size
from pmfisher._core.compiled.pickling import pickled
from pmfisher._core.compiled.static_shapes import static_shapes_from_types
from pmfisher._core.compiled.toolchain_probes import use_stored_probes
from pmfisher._core.compiled.upgrade_rent import Rent
from pmfisher._core.first_use import collector_paused
from pmfisher._core.options import Backend, check_option
from pmfisher._core.progress import slow_work_notice
from pmfisher.errors import warn

__all__ = [
    "Backend",
    "CompiledFunction",
    "compile_derived",
    "compile_function",
    "few_calls_backend",
    "statistics",
    "warn_if_no_blas",
]

_log = logging.getLogger(__name__)

#: A function compiled without C is compiled with C once it has been called this often and
#: spent this long (CPU seconds) in its calls: a loop, not the few calls of a first contact (an LKJ
#: model's push-forward of draws, 1.2 s a call, is as fast without C).
UPGRADE_CALLS = 100
UPGRADE_SECONDS = 5.0
#: ... or, for a large function, as long as its C compilation would take: seconds per node of
#: the function without C. Measured on a cold machine: the gradient pullback of a PK
#: population model's Laplace marginal (3,060 nodes) took about 220 s to compile with C,
#: 0.07 s a node, while its 150-replicate design study spent 120 s in all without C. Upgrading
#: once the calls have cost what the compilation will (as a ski rental) costs at most twice
#: the better of the two choices, whichever the number of calls still to come.
UPGRADE_SECONDS_PER_NODE = 0.07

#: Parameters, and observations per call, up to which a function evaluated a few times per
#: call of pmfisher is compiled without C (:func:`few_calls_backend`).
PYTHON_BACKEND_LIMIT = 400
PYTHON_BACKEND_OBSERVATIONS = 1_000_000


def few_calls_backend(size: int, *, observations: int = 0) -> Backend:
    """The backend of a function of ``size`` parameters that its caller evaluates a few times:
    once at a mode, or once per iteration of a mode search; ``observations`` is how many
    observations one call reads (a batch of draws times the data), if its caller knows.

    Without C it costs no C compilation on a machine that has not compiled it before, and
    more per call. Measured (``benchmarks/first_call.py``, cold): the gradient of the Poisson
    GLM (6 parameters) 1.5 s against 16.6 s to compile, 0.57 ms against 0.04 ms per call; the
    sparse Hessian of a hierarchical model of 50 groups 5 s against 38 s, 5 ms against
    0.2 ms (at 5,000 groups 11 ms against 1.9 ms). Above ``PYTHON_BACKEND_LIMIT`` parameters
    the hundreds of calls of a search cost more than the compilation they save. Laplace's
    push-forward of 1,000 draws costs 25 ms against 10 ms on the GLM's 300 rows, but on a
    logistic regression of 2,000 rows and 100 coefficients a warm ``laplace`` took 4.5 s
    against 2.3 s: above ``PYTHON_BACKEND_OBSERVATIONS`` a call costs seconds more.
    """
    small = size <= PYTHON_BACKEND_LIMIT and observations <= PYTHON_BACKEND_OBSERVATIONS
    return "python" if small else "c"


#: How many functions this process compiled, loaded from disk, reused from memory, or could
#: not cache.
statistics: Counter = Counter()

# A function whose pickle is larger than this (constants of a derived graph) is not stored.
_LARGEST_STORED_BYTES = 256 * 2**20

# The functions of this process, by cache entry, most recently used last: a model built anew
# (a notebook cell run again) finds them without reading the disk.
_IN_MEMORY: OrderedDict = OrderedDict()
_KEPT_IN_MEMORY = 256


class CompiledFunction:
    """A compiled function of explicit inputs; the model's data containers are passed after
    them at every call, with their current values, and then the model's data arrays.

    Models with equal graphs share one PyTensor function, which keeps its intermediate
    values in storage of its own, so calls from several threads take turns (its C code holds
    the interpreter lock anyway).

    A function compiled without C that turns out to be called in a loop (``UPGRADE_CALLS``
    calls and ``UPGRADE_SECONDS`` in them, more for a large function) is compiled with C by
    ``upgrade`` and replaced: a first call pays no C compilation, a loop pays it once (and
    later processes load it). The calls of earlier processes that loaded the same stored
    function count too (:mod:`~pmfisher._core.compiled.upgrade_rent`).
    """

    def __init__(
        self,
        function,
        shared: Sequence[SharedVariable],
        data: Sequence[Constant],
        lock: threading.Lock,
        upgrade: Callable[[], CompiledFunction] | None = None,
        *,
        path: Path | None = None,
    ):
        self.function = function
        self.shared = tuple(shared)
        self.data = tuple(array.data for array in data)
        self._lock = lock
        self._upgrade = upgrade
        self.path = path  # where the function is stored, if it is
        self._rent = Rent(None)

    def __call__(self, *inputs):
        containers = [container.get_value(borrow=True) for container in self.shared]
        with self._lock:
            if self._upgrade is None:
                return self.function(*inputs, *containers, *self.data)
            # CPU time of this thread: the time a loaded machine keeps a call waiting would
            # set off a C compilation that the calls themselves have not earned (a PK
            # model's pullback, 220 s of gcc, after calls that took 33 s of CPU).
            start = time.thread_time()
            try:
                result = self.function(*inputs, *containers, *self.data)
            except NotImplementedError:
                # An operation PyTensor runs only in C here (an elementwise graph of more than
                # 32 operands, as the derivatives of a Gaussian process's covariance make):
                # the C twin now, for this call and every later one.
                result = _NOT_RUN
            self._rent.add(time.thread_time() - start)
        if result is _NOT_RUN or (
            self._rent.calls >= UPGRADE_CALLS and self._rent.seconds >= self._upgrade_seconds()
        ):
            upgraded, self._upgrade = self._upgrade(), None
            self.function, self._lock = upgraded.function, upgraded._lock
            self._rent.close()
            if result is _NOT_RUN:
                return self(*inputs)
        return result

    def _upgrade_seconds(self) -> float:
        """Seconds of calls after which the C twin pays: ``UPGRADE_SECONDS``, or more for a
        large function (``UPGRADE_SECONDS_PER_NODE``)."""
        nodes = len(self.function.maker.fgraph.apply_nodes)
        return max(UPGRADE_SECONDS, UPGRADE_SECONDS_PER_NODE * nodes)


_NOT_RUN = object()  # a call the function without C could not make


def compile_function(inputs, outputs, *, backend: Backend = "c") -> CompiledFunction:
    """A compiled function of ``inputs`` (no updates, no random state), cached on disk;
    ``backend`` as in :func:`compile_derived`."""
    recipe = "as given" if isinstance(outputs, list | tuple) else "as given, one output"
    return compile_derived(inputs, outputs, lambda: outputs, recipe=recipe, backend=backend)


def compile_derived(
    inputs,
    sources,
    build: Callable[[], object],
    *,
    recipe: str,
    replaced: Sequence[Variable] = (),
    backend: Backend = "c",
) -> CompiledFunction:
    """A compiled function of ``inputs`` computing ``build()``, cached on disk.

    ``build`` derives the outputs from the graphs ``sources`` (and ``inputs``) alone, always
    in the same way, which ``recipe`` names; the cache is keyed on those, so a cached
    function is found without building its graph (a Hessian graph takes a while to build).
    ``replaced`` lists the symbolic inputs of ``sources`` that ``build`` substitutes (for
    instance a vector of parameters by a matrix of draws). ``backend`` is ``"python"`` for a
    function its caller calls only a few times, which then costs no C compilation on a
    machine that has not compiled it before, and ``"c"`` otherwise. A ``"python"`` function
    is the C one where that is stored already, and becomes it when called in a loop (a loop of
    Hessians: the logistic regression's costs 74 ms without C, 4.3 ms with).
    """
    check_option("backend", backend, Backend)
    use_stored_probes(cache_directory())
    warn_if_no_blas()
    sources = list(sources) if isinstance(sources, list | tuple) else [sources]
    shared, data = shared_ancestors(sources), data_constants(sources)
    if backend == "python" and PYTHON_MODE is not COMPILE_MODE:
        # A C function compiled before (by an upgrade, or another caller) is the better one.
        c_path = _cache_path([*inputs, *replaced], sources, shared, data, recipe, COMPILE_MODE)
        if c_path is not None and (c_path in _IN_MEMORY or c_path.exists()):
            return compile_derived(inputs, sources, build, recipe=recipe, replaced=replaced)
        compiled = _compile(inputs, sources, build, recipe, replaced, PYTHON_MODE)
        compiled._upgrade = functools.partial(
            compile_derived, inputs, sources, build, recipe=recipe, replaced=replaced
        )
        # The calls of earlier processes count toward the upgrade (upgrade_rent).
        compiled._rent = Rent.beside(compiled.path)
        return compiled
    return _compile(inputs, sources, build, recipe, replaced, COMPILE_MODE)


def _compile(inputs, sources, build, recipe, replaced, mode) -> CompiledFunction:
    """``compile_derived`` in ``mode``: from memory, from disk, or compiled and stored."""
    shared, data = shared_ancestors(sources), data_constants(sources)
    path = _cache_path([*inputs, *replaced], sources, shared, data, recipe, mode)
    if path in _IN_MEMORY:
        _IN_MEMORY.move_to_end(path)
        statistics["reused"] += 1
        function, lock = _IN_MEMORY[path]
        return CompiledFunction(function, shared, data, lock, path=path)
    function = _load(path) if path is not None else None
    if function is None:
        # No creation traces on the variables a build and its rewrites make (see
        # rewrites.FORGET_TRACES): recording one costs a stack walk per node. Static shapes
        # that the types give are read off them (static_shapes: 20-29 s of a 53-99 s first
        # latent mode of a pm.MvNormal model went to inferring them by rewriting).
        with (
            slow_work_notice(_compiling(recipe, inputs, kept=path is not None)),
            pytensor.config.change_flags(traceback__limit=0),
            static_shapes_from_types(),
        ):
            outputs = build()
            # A rewrite may meet the containers in another order (a container read for its
            # shape only, as ``shape=X.shape`` makes it), and a derivative may drop data its
            # sources read (a logistic regression's Hessian does not read the response): the
            # function's inputs follow ``shared``'s order, so only new containers are an error.
            read = shared_ancestors(outputs if isinstance(outputs, list | tuple) else [outputs])
            if not set(read) <= set(shared):
                raise RuntimeError(f"recipe {recipe!r} reads data its sources do not name")
            # Both kinds of data are replaced by inputs: the function holds none of them.
            placeholders = {variable: variable.type() for variable in (*shared, *data)}
            listed = outputs if isinstance(outputs, list | tuple) else [outputs]
            with recording_modules() as modules:
                function = pytensor.function(
                    [*inputs, *placeholders.values()],
                    outputs,
                    mode=mode_for_size(mode, [*inputs, *shared, *data], listed),
                    givens=placeholders,
                    on_unused_input="ignore",
                )
        statistics["compiled"] += 1
        if path is not None:
            _store(path, function, modules)
    compiled = CompiledFunction(function, shared, data, threading.Lock(), path=path)
    if path is not None:
        _IN_MEMORY[path] = (function, compiled._lock)
        while len(_IN_MEMORY) > _KEPT_IN_MEMORY:
            _IN_MEMORY.popitem(last=False)
    return compiled


def _compiling(recipe: str, inputs, *, kept: bool) -> str:
    """What a slow compile says it is doing: ``compiling the Hessian of 50,003 parameters``."""
    shape = getattr(getattr(inputs[0], "type", None), "shape", None) if inputs else None
    size = shape[-1] if shape else None
    what = "function" if recipe.startswith("as given") else recipe
    parameters = f" of {size:,} parameter{'s' * (size != 1)}" if size is not None else ""
    once = " (once: it is kept in the cache)" if kept else ""
    return f"compiling the {what}{parameters}{once}"


@functools.cache
def warn_if_no_blas() -> None:
    """Say once per process, in one line, what a PyTensor without BLAS costs and how to fix it.

    A ``UserWarning`` rather than a log record: it reaches a user who has configured no
    logging (a script, a notebook), Python shows it once per call site, and it can be
    filtered by its message like PyTensor's own warning, which stays visible too.
    """
    if not pytensor.config.blas__ldflags:
        warn(
            "pmfisher: PyTensor is linked to no BLAS, so every dot product in a compiled "
            "Hessian runs without one (7x slower on a 100-parameter logistic regression, "
            "benchmarks/blas.py); install OpenBLAS (Debian/Ubuntu: apt-get install "
            "libopenblas-dev libgfortran-12-dev, or `make` in a pmfisher checkout) and start "
            "a new Python process.",
            UserWarning,
        )


# -- the disk cache ---------------------------------------------------------------------------


def cache_directory() -> Path | None:
    setting = os.environ.get("PMFISHER_FUNCTION_CACHE")
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    return Path(pytensor.config.compiledir) / "pmfisher-functions"


def _cache_path(inputs, sources, shared, data, recipe, mode: CompileMode) -> Path | None:
    directory = cache_directory()
    if directory is None:
        return None
    try:
        digest = graph_digest(inputs, sources, shared, data)
    except UndigestibleGraph as reason:
        statistics["uncacheable"] += 1
        _log.debug("not cached: %s", reason)
        return None
    key = hashlib.blake2b(digest_size=20)
    for part in (cache_environment(), _mode_description(mode), recipe, digest):
        key.update(part.encode())
        key.update(b"\0")
    return directory / f"{key.hexdigest()}.pkl"


def _load(path: Path):
    try:
        with path.open("rb") as file:
            modules, payload = pickle.load(file)
        read_modules(modules)
        with collector_paused():
            function = pickle.loads(payload)
    except FileNotFoundError:
        return None
    except Exception as error:  # a stale or damaged entry is recompiled and replaced
        _log.debug("discarding cache entry %s: %s", path, error)
        path.unlink(missing_ok=True)
        return None
    statistics["loaded"] += 1
    return function


def _store(path: Path, function, modules: set[str]) -> None:
    """Store ``function`` with the names of the C modules it uses, which a new process reads
    before unpickling it instead of the whole compile directory
    (:mod:`pmfisher._core.compiled.c_modules`)."""
    try:
        payload = pickled(function)
    except Exception as error:  # an operation that does not pickle: the function still works
        _log.debug("not cached, does not pickle: %s", error)
        return
    if len(payload) > _LARGEST_STORED_BYTES:
        return
    payload = pickle.dumps((sorted(modules), payload), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as file:
            file.write(payload)
        os.replace(file.name, path)  # atomic: a concurrent reader sees all of it or nothing
    except OSError as error:  # a read-only or full disk costs speed, not correctness
        _log.debug("could not store %s: %s", path, error)


def package_sources() -> list[Path]:
    """Every module of pmfisher, whose source is part of each cache key: the whole package,
    not just this layer, because the recipes that derive a function's graph live in the
    layers above too."""
    package = Path(__file__).resolve().parents[2]  # pmfisher/_core/compiled/ → pmfisher
    return sorted(package.rglob("*.py"))


@functools.cache
def cache_environment() -> str:
    """Everything besides the graph that decides what a compiled function is."""
    import pymc

    use_stored_probes(cache_directory())  # before the BLAS flags below are read

    source = hashlib.blake2b(digest_size=20)
    for module in package_sources():
        source.update(module.read_bytes())
    config = pytensor.config
    return repr(
        (
            sys.version,
            np.__version__,
            pytensor.__version__,
            pymc.__version__,
            source.hexdigest(),
            config.floatX,
            # Without a BLAS the rewrites choose other operations for every dot product.
            config.blas__ldflags,
            config.optimizer,
            config.optimizer_excluding,
            config.optimizer_including,
            config.optimizer_requiring,
        )
    )


def _mode_description(mode: CompileMode) -> str:
    # str(mode) prints object ids; the query of rewrite tags (a private attribute, the only
    # place it is kept) and the linker with its C options are what decide the compiled
    # function.
    query = mode._optimizer
    if isinstance(query, RewriteDatabaseQuery):
        rewrites = (
            *(sorted(tags) for tags in (query.include, query.exclude, query.require)),
            [(_rewrite_name(rewrite), at) for rewrite, at in query.extra_rewrites],
        )
    else:
        rewrites = type(query).__qualname__
    linker = mode.linker
    c_options = (getattr(linker, "use_cloop", None), getattr(linker, "c_thunks", None))
    return repr((type(linker).__qualname__, c_options, rewrites))


def _rewrite_name(rewrite) -> str:
    """The class of the node rewriter a graph rewriter walks (ours, by name). Not the graph
    rewriter's ``name``: PyTensor gives an unnamed one ``<class ...>_<object id>`` the first
    time a mode holding it compiles, which differs between processes."""
    inner = getattr(rewrite, "node_rewriter", rewrite)
    return f"{type(inner).__module__}.{type(inner).__qualname__}"
