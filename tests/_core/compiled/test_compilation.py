"""The on-disk cache of compiled functions: keys that are equal exactly for equal graphs,
loaded functions that compute what compiled ones do, and data that stays live."""

import os
import subprocess
import sys
import textwrap
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor import scalar as ps
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import add as scalar_add
from pytensor.tensor.elemwise import Elemwise

from pmfisher._core.compiled import compilation, upgrade_rent
from pmfisher._core.compiled.compilation import compile_derived, compile_function
from pmfisher._core.curvature import derivatives
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.model.model_graph import ModelGraph


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory of the test's own, and no functions kept in memory."""
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", str(tmp_path))
    monkeypatch.setattr(compilation, "_IN_MEMORY", OrderedDict())
    return tmp_path


def forget_functions_in_memory():
    """As in a new process: only the disk cache remains."""
    compilation._IN_MEMORY.clear()


def counts():
    return dict(compilation.statistics)


def delta(before, key):
    return compilation.statistics[key] - before.get(key, 0)


def data_model(values):
    with pm.Model() as model:
        x = pm.Data("x", values)
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu * x, 1.0, observed=np.array([1.0, 2.0, 4.0]))
    return model


# -- keys -----------------------------------------------------------------------------------


def test_keys_are_equal_across_processes_and_hash_seeds():
    """Object ids and string hashing differ between processes; the key must not."""
    script = textwrap.dedent(
        """
        import numpy as np, pymc as pm
        from pmfisher._core.compiled import compilation
        from pmfisher._core.curvature import derivatives
        from pmfisher._core.compiled import graph_digest
        from pmfisher._core.model.model_graph import model_graph
        with pm.Model(coords={"g": ["a", "b"]}) as model:
            x = pm.Data("x", np.arange(20.0))
            s = pm.HalfNormal("s", dims="g")
            pm.Normal("y", s[0] * x, s[1], observed=np.linspace(0.0, 1.0, 20))
        graph = model_graph(model, space="unconstrained", terms="posterior")
        shared = graph_digest.shared_ancestors([graph.logp])
        data = graph_digest.data_constants([graph.logp])
        assert len(data) == 1
        for mode in (compilation.COMPILE_MODE, compilation.PYTHON_MODE):
            path = compilation._cache_path(
                [graph.theta], [graph.logp], shared, data, "Hessian", mode
            )
            print(path.name)
        """
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    [key] = keys
    c_key, python_key = key.split()
    assert c_key.endswith(".pkl")
    assert python_key != c_key  # each backend its own function


def test_keys_do_not_change_once_the_mode_has_compiled_a_function():
    """PyTensor names an unnamed graph rewriter after its object id the first time a mode
    holding it compiles: the key must not read that name (a function stored after such a
    compile was never found by another process)."""
    x = pt.vector("x")
    pytensor.function([x], pt.exp(x), mode=compilation.COMPILE_MODE)
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pmfisher._core.compiled import compilation as c; print(c.cache_environment())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert compilation.cache_environment.__wrapped__() == fresh


# -- the cache ------------------------------------------------------------------------------


def test_equal_graph_is_reused_in_this_process_and_loaded_in_the_next(cache):
    before = counts()
    first = compile_function(*_cube_sum())
    second = compile_function(*_cube_sum())
    forget_functions_in_memory()
    third = compile_function(*_cube_sum())
    assert [delta(before, key) for key in ("compiled", "reused", "loaded")] == [1, 1, 1]
    assert len(list(cache.glob("*.pkl"))) == 1
    point = np.array([1.0, -2.0, 0.5])
    assert third(point) == second(point) == first(point) == pytest.approx(np.sum(point**3))


def test_derived_function_is_found_without_building_its_graph(cache):
    x = pt.vector("x", shape=(2,))
    source = (x**2).sum()
    built = []

    def gradient():
        built.append(True)
        return pt.grad(source, x)

    compile_derived([x], [source], gradient, recipe="gradient")
    forget_functions_in_memory()
    again = compile_derived([x], [source], gradient, recipe="gradient")
    assert len(built) == 1
    np.testing.assert_array_equal(again(np.array([1.0, 3.0])), [2.0, 6.0])
    other = compile_derived([x], [source], lambda: source * 2, recipe="twice")
    assert other(np.array([1.0, 3.0])) == 20.0  # another recipe is another function


def test_a_derivative_may_drop_data_its_source_reads(cache):
    """A logistic regression's Hessian does not read the response: with the response in a
    pm.Data container, the Hessian is still compiled, and reads the design as it is."""
    design = np.array([[1.0, 0.5], [1.0, -1.0], [1.0, 2.0]])
    with pm.Model() as model:
        X = pm.Data("X", design)
        response = pm.Data("response", np.array([1, 0, 1]))
        beta = pm.Normal("beta", 0.0, 5.0, shape=2)
        pm.Bernoulli("y", logit_p=pm.math.dot(X, beta), observed=response)
    graph = ModelGraph(model, space="constrained", terms="likelihood", jacobian=False)
    point = np.array([0.2, -0.4])
    p = 1 / (1 + np.exp(-design @ point))
    weighted_gram = design.T @ (design * (p * (1 - p))[:, None])
    np.testing.assert_allclose(-graph.hessian_fn(point), weighted_gram, rtol=1e-12)


@pytest.mark.parametrize("from_disk", [False, True], ids=["reused", "loaded"])
def test_data_containers_stay_live_and_each_models_own(cache, from_disk):
    """pm.Data values are read at every call, from the model the function was asked for,
    also when an equal model's function is reused or loaded from disk."""
    point = np.array([0.7])
    compiled = ModelGraph(data_model([1.0, 2.0, 3.0]), **_posterior()).logp_fn
    before_change = compiled(point)
    if from_disk:
        forget_functions_in_memory()
    model = data_model([1.0, 2.0, 3.0])
    before = counts()
    shared = ModelGraph(model, **_posterior()).logp_fn
    assert delta(before, "loaded" if from_disk else "reused") == 1
    assert shared(point) == before_change
    with model:
        pm.set_data({"x": [0.0, 0.0, 0.0]})
    expected = pm.logp(pm.Normal.dist(0.0, 10.0), 0.7).eval() + np.sum(
        pm.logp(pm.Normal.dist(0.0, 1.0), np.array([1.0, 2.0, 4.0])).eval()
    )
    assert shared(point) == pytest.approx(expected, rel=1e-12)
    assert compiled(point) == before_change  # the first model's data did not change


def _observed_model(y):
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, 2.0, observed=y)
    return model


@pytest.mark.parametrize("from_disk", [False, True], ids=["reused", "loaded"])
def test_observed_arrays_are_inputs_so_new_data_of_the_same_shape_reuse_a_function(
    cache, from_disk
):
    """A model on a new data set of the same shape gets the function compiled for the first
    one (no rewrite, no compile), fed its own data; another shape gets its own function."""
    rng = np.random.default_rng(3)
    first_y, second_y = rng.normal(size=40), rng.normal(size=40)

    def logp(y, mu=0.3):
        return float(
            pm.logp(pm.Normal.dist(0.0, 10.0), mu).eval()
            + pm.logp(pm.Normal.dist(mu, 2.0), y).sum().eval()
        )

    first = ModelGraph(_observed_model(first_y), **_posterior()).logp_fn
    if from_disk:
        forget_functions_in_memory()
    before = counts()
    second = ModelGraph(_observed_model(second_y), **_posterior()).logp_fn
    assert delta(before, "loaded" if from_disk else "reused") == 1
    assert delta(before, "compiled") == 0
    np.testing.assert_allclose(second(np.array([0.3])), logp(second_y), rtol=1e-13)
    np.testing.assert_allclose(first(np.array([0.3])), logp(first_y), rtol=1e-13)
    before = counts()
    longer = ModelGraph(_observed_model(rng.normal(size=41)), **_posterior()).logp_fn
    assert delta(before, "compiled") == 1
    assert np.isfinite(longer(np.array([0.3])))


def test_damaged_entry_is_recompiled_and_replaced(cache):
    compile_function(*_cube_sum())
    [entry] = cache.glob("*.pkl")
    entry.write_bytes(b"not a pickle")
    forget_functions_in_memory()
    before = counts()
    function = compile_function(*_cube_sum())
    assert delta(before, "compiled") == 1
    assert function(np.ones(3)) == 3.0
    assert entry.read_bytes() != b"not a pickle"


def test_cache_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", "off")
    before = counts()
    compile_function(*_cube_sum())
    compile_function(*_cube_sum())
    assert delta(before, "compiled") == 2


def test_graph_with_an_operation_that_does_not_pickle_is_compiled_every_time(cache):
    class LocalDouble(Op):  # defined in a function: pickle cannot find it by name
        def make_node(self, x):
            x = pt.as_tensor(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, outputs):
            outputs[0][0] = 2 * inputs[0]

    before = counts()
    for _ in range(2):
        x = pt.vector("x", shape=(3,))
        function = compile_function([x], LocalDouble()(x))
        np.testing.assert_array_equal(function(np.arange(3.0)), [0.0, 2.0, 4.0])
    assert (delta(before, "uncacheable"), delta(before, "compiled")) == (2, 2)
    assert not list(cache.glob("*.pkl"))


def test_batched_linear_algebra_is_stored_and_loaded(cache):
    """A ``Blockwise`` node (a batch of Cholesky factors, as in an LKJ model) carries a closure
    made at link time, which does not pickle: it is set aside when storing, made again when
    loading, and kept by the compiled function."""
    a = pt.tensor3("a", shape=(2, 3, 3))
    batch = np.stack([np.eye(3) * 4.0, np.diag([1.0, 9.0, 16.0])])
    expected = np.sqrt(batch)  # the Cholesky factor of a diagonal matrix
    before = counts()
    compiled = compile_function([a], pt.linalg.cholesky(a))
    np.testing.assert_allclose(compiled(batch), expected)
    forget_functions_in_memory()
    loaded = compile_function([a], pt.linalg.cholesky(a))
    np.testing.assert_allclose(loaded(batch), expected)
    np.testing.assert_allclose(compiled(batch), expected)  # its closure was given back
    assert (delta(before, "compiled"), delta(before, "loaded")) == (1, 1)


# -- backends -------------------------------------------------------------------------------


def _glm_graph():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 2.0)
        beta = pm.Normal("beta", 0.0, 1.0, shape=3)
        s = pm.HalfNormal("s", 1.0)
        pm.Poisson("y", pm.math.exp(a + pm.math.dot(X, beta) * s), observed=rng.poisson(2.0, 30))
    return ModelGraph(model, **_posterior())


def upgrade_rule(monkeypatch, *, calls: int, seconds: float, per_node: float) -> None:
    """The upgrade to C after ``calls`` calls and ``seconds`` CPU seconds in them, or
    ``per_node`` seconds a node of the function if that is more."""
    monkeypatch.setattr(compilation, "UPGRADE_CALLS", calls)
    monkeypatch.setattr(compilation, "UPGRADE_SECONDS", seconds)
    monkeypatch.setattr(compilation, "UPGRADE_SECONDS_PER_NODE", per_node)


def _glm_log_density_and_hessian(graph, backend):
    return compile_derived(
        [graph.theta],
        [graph.logp],
        lambda: [graph.logp, derivatives.hessian(graph.logp, graph.theta)],
        recipe="test: log-density and Hessian",
        backend=backend,
    )


def test_python_backend_computes_what_the_c_backend_computes_on_a_model(cache):
    """The log-density, gradient and Hessian of a GLM, compiled without C, equal the C
    backend's to rounding; each backend is a function of its own in the cache, the Python one
    holds no fused ``Composite`` (which would loop over elements in Python) and no C thunk;
    once a C function is stored, asking for the Python one gives the C one."""
    graph = _glm_graph()
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    before = counts()
    python = _glm_log_density_and_hessian(graph, "python")
    nodes = python.function.maker.fgraph.toposort()
    assert not any(
        type(getattr(node.op, "scalar_op", None)).__name__ == "Composite" for node in nodes
    )
    assert not python.function.maker.linker.c_thunks
    values = python(x)
    # Python's perform has run (a reduction then keeps its NumPy ufunc): the key is the same.
    forget_functions_in_memory()
    loaded = _glm_log_density_and_hessian(graph, "python")
    assert delta(before, "loaded") == 1
    assert not loaded.function.maker.linker.c_thunks
    c = _glm_log_density_and_hessian(graph, "c")
    assert delta(before, "compiled") == 2
    assert len(list(cache.glob("*.pkl"))) == 2
    for expected, value in zip(c(x), values, strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)
    forget_functions_in_memory()
    assert _glm_log_density_and_hessian(graph, "python").function.maker.linker.c_thunks


def test_a_python_function_called_often_is_compiled_with_c(cache, monkeypatch):
    """After ``UPGRADE_CALLS`` calls (three here) taking ``UPGRADE_SECONDS`` (none) the
    function compiles its C twin, stores it and computes with it from then on, the same
    values."""
    upgrade_rule(monkeypatch, calls=3, seconds=0.0, per_node=0.0)
    graph = _glm_graph()
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    function = _glm_log_density_and_hessian(graph, "python")
    first = function(x)
    function(x)
    assert not function.function.maker.linker.c_thunks
    function(x)
    assert function.function.maker.linker.c_thunks
    assert len(list(cache.glob("*.pkl"))) == 2
    for expected, value in zip(function(x), first, strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


def test_a_large_function_waits_as_long_as_its_c_compilation_would_take(cache, monkeypatch):
    """The calls must first have cost what compiling the C twin would (seconds per node of
    the function): a PK model's 3,060-node pullback took 220 s to compile cold, more than
    its whole design study without C."""
    upgrade_rule(monkeypatch, calls=3, seconds=0.0, per_node=1e6)
    function = _glm_log_density_and_hessian(_glm_graph(), "python")
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    for _ in range(5):
        function(x)
    assert not function.function.maker.linker.c_thunks
    monkeypatch.setattr(compilation, "UPGRADE_SECONDS_PER_NODE", 0.0)
    function(x)
    assert function.function.maker.linker.c_thunks


def test_the_calls_of_earlier_processes_count_toward_the_upgrade(cache, monkeypatch):
    """A loop that spans processes earns the C twin: two calls in one process and one in the
    next, which loads the stored function, make the three calls of the upgrade; then the
    account beside the stored function is gone, and the next process loads the C twin."""
    upgrade_rule(monkeypatch, calls=3, seconds=0.0, per_node=0.0)
    monkeypatch.setattr(upgrade_rent, "WRITE_EVERY_SECONDS", 0.0)
    graph = _glm_graph()
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    function = _glm_log_density_and_hessian(graph, "python")
    function(x)
    function(x)
    assert len(list(cache.glob("*.rent.json"))) == 1
    forget_functions_in_memory()
    before = counts()
    loaded = _glm_log_density_and_hessian(graph, "python")
    assert delta(before, "loaded") == 1
    assert not loaded.function.maker.linker.c_thunks
    loaded(x)
    assert loaded.function.maker.linker.c_thunks
    assert list(cache.glob("*.rent.json")) == []
    forget_functions_in_memory()
    assert _glm_log_density_and_hessian(graph, "python").function.maker.linker.c_thunks


def test_time_a_call_waits_does_not_count_toward_the_upgrade(cache, monkeypatch):
    """The calls' CPU time counts, not their wall time: on a loaded machine a call waits
    for a core, and that wait would set off a C compilation the calls have not earned."""
    upgrade_rule(monkeypatch, calls=3, seconds=0.05, per_node=0.0)
    function = _glm_log_density_and_hessian(_glm_graph(), "python")
    compute = function.function
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])

    def waiting(*inputs):
        time.sleep(0.03)  # 0.15 s of waiting in five calls, no CPU
        return compute(*inputs)

    waiting.maker = compute.maker
    function.function = waiting
    for _ in range(5):
        function(x)
    assert function.function is waiting  # not replaced by the C twin


def test_a_small_models_search_functions_are_compiled_without_c(cache):
    """The dense Hessian, the gradient and the sparse Hessian a mode search forms on a small
    model, and its log-density and point, take the Python backend; the two Hessians agree to
    rounding."""
    graph = _glm_graph()
    x = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    sparse = graph.companion(SparseHessian)
    for compiled in (graph.hessian_fn, graph.logp_and_grad_fn, graph.logp_fn, graph.point_fn):
        assert not compiled.function.maker.linker.c_thunks
    by_products = sparse(x, backend=compilation.few_calls_backend(graph.size)).toarray()
    assert not sparse._functions["python"].function.maker.linker.c_thunks
    np.testing.assert_allclose(by_products, graph.hessian_fn(x), rtol=1e-12, atol=1e-12)


def test_an_unknown_backend_is_refused():
    from pmfisher.errors import PMFisherError

    with pytest.raises(PMFisherError, match="backend='numba'"):
        compile_derived(*_cube_sum(), lambda: None, recipe="x", backend="numba")


def test_few_calls_backend_is_python_for_small_models_and_batches_only():
    limit = compilation.PYTHON_BACKEND_LIMIT
    assert compilation.few_calls_backend(limit) == "python"
    assert compilation.few_calls_backend(limit + 1) == "c"
    many = compilation.PYTHON_BACKEND_OBSERVATIONS
    assert compilation.few_calls_backend(limit, observations=many) == "python"
    assert compilation.few_calls_backend(limit, observations=many + 1) == "c"


def _cube_sum():
    x = pt.vector("x", shape=(3,))
    return [x], (x**3).sum()


def _posterior():
    return {"space": "unconstrained", "terms": "posterior", "jacobian": True}


def test_cache_keys_cover_every_layer_of_the_package():
    package = Path(compilation.__file__).resolve().parents[2]
    sources = {path.relative_to(package).as_posix() for path in compilation.package_sources()}
    assert {
        "fitting/mode.py",
        "approximation/laplace.py",
        "_core/compiled/compilation.py",
    } <= sources


# -- BLAS -----------------------------------------------------------------------------------


BLAS_PROBE = textwrap.dedent(
    """
    import warnings
    import numpy as np, pytensor
    import pytensor.tensor as pt
    from pmfisher._core.compiled.compilation import compile_function
    x = pt.vector("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for power in (2, 3):  # two compilations, one message
            compile_function([x], pt.dot(x, x) ** power)(np.ones(3))
    for warning in caught:
        if str(warning.message).startswith("pmfisher:"):
            print(repr(str(warning.message)))
    print("ldflags", repr(pytensor.config.blas__ldflags))
    """
)


def _probe_blas(flags: str) -> list[str]:
    environment = {**os.environ, "PMFISHER_FUNCTION_CACHE": "off", "PYTENSOR_FLAGS": flags}
    completed = subprocess.run(
        [sys.executable, "-c", BLAS_PROBE],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout.splitlines()


def test_pytensor_finds_a_blas_in_the_projects_environment():
    """The project's set-up (Makefile) installs OpenBLAS where PyTensor's detection finds it,
    and pmfisher then says nothing."""
    *messages, flags = _probe_blas("")
    assert messages == []
    assert "-lopenblas" in flags or "-lblas" in flags or "-lmkl" in flags


def test_a_pytensor_without_blas_is_told_once_in_one_line_what_it_costs():
    *messages, flags = _probe_blas("blas__ldflags=")
    assert flags == "ldflags ''"
    [message] = messages
    assert "\\n" not in message
    assert "no BLAS" in message
    assert "apt-get install libopenblas-dev" in message


def test_a_function_python_cannot_run_is_run_in_c():
    """PyTensor's Python VM cannot run an elementwise node of more than 32 operands (NumPy's
    limit), which a fused loop of a Gaussian process's covariance derivatives can be: a
    function compiled without C makes that call, and every later one, with its C twin."""
    x = pt.vector("x", shape=(40,))
    scalars = [ps.float64(f"s{i}") for i in range(40)]
    loop = ps.Composite(scalars, [ps.add(*[ps.exp(s) * (i + 1.0) for i, s in enumerate(scalars)])])
    function = compile_function([x], Elemwise(loop)(*[x[i] for i in range(40)]), backend="python")
    values = np.linspace(0.0, 1.0, 40)
    expected = np.sum(np.exp(values) * np.arange(1.0, 41.0))
    np.testing.assert_allclose(function(values), expected, rtol=1e-14)
    assert function._upgrade is None  # the C twin from now on
    np.testing.assert_allclose(function(values), expected, rtol=1e-14)


def test_a_wide_sum_runs_without_c():
    """A sum of 40 operands (the accumulated derivatives of a Laplace marginal's Hessian
    sum 48) is split into sums Python's VM can run: no C compilation, the same value."""
    x = pt.vector("x", shape=(40,))
    terms = [pt.exp(x[i]) * (i + 1.0) for i in range(40)]
    function = compile_function([x], Elemwise(scalar_add)(*terms), backend="python")
    values = np.linspace(0.0, 1.0, 40)
    np.testing.assert_allclose(
        function(values), np.sum(np.exp(values) * np.arange(1.0, 41.0)), rtol=1e-14
    )
    assert function._upgrade is not None  # still the function without C
    assert not function.function.maker.linker.c_thunks
    widest = max(len(node.inputs) for node in function.function.maker.fgraph.apply_nodes)
    assert widest <= 31


def test_a_rewrite_that_returns_an_input_does_not_double_its_trace(cache):
    """``switch(c, a, a) → a`` copies the switch's traces, ``a``'s among them, onto ``a``:
    with PyTensor's own rewrites alone, twelve of them leave lists of six traces here (in a
    Laplace marginal's gradient through an ``LKJCholeskyCov`` such lists ran a compile out of
    memory). The compiled graph starts without traces; the model's variables keep theirs."""
    x = pt.vector("x", shape=(3,))
    value = exponential = pt.exp(x)
    for _ in range(12):
        value = pt.switch(x > 0, value, value) * 1.0
    traced = list(exponential.tag.trace)
    function = compile_function([x], value.sum(), backend="python")
    np.testing.assert_allclose(function(np.array([0.1, 0.2, 0.3])), np.exp([0.1, 0.2, 0.3]).sum())
    for variable in function.function.maker.fgraph.variables:
        assert len(getattr(variable.tag, "trace", [])) <= 1
    assert traced
    assert exponential.tag.trace == traced
