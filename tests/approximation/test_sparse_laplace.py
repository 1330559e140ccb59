"""laplace and find_mode on the sparse route: the same Gaussian as the dense route, exact
log q through CHOLMOD's permutation, the sparse precision in ``fit``, and draws pushed
forward in chunks that change nothing."""

import numpy as np
import pymc as pm
import pytest
import sparse
from scipy import stats

from pmfisher._core.curvature import structure
from pmfisher._core.curvature.sparse_hessian import SparseHessian
from pmfisher._core.model.model_graph import model_graph
from pmfisher.approximation import laplace as laplace_module
from pmfisher.approximation import laplace_draws
from pmfisher.approximation.laplace import laplace
from pmfisher.errors import NotPositiveDefiniteError, PMFisherError
from pmfisher.fitting.mode import find_mode

GROUPS = 25
RNG = np.random.default_rng(20)
# Unequal group sizes, so that a permuted or transposed block would show.
INDEX = np.sort(RNG.integers(0, GROUPS, size=160))
SCALE = 0.7
Y = RNG.normal(0.5 + SCALE * RNG.normal(size=GROUPS)[INDEX], 1.0)


def gaussian_hierarchy():
    """Known scales: the log-posterior is quadratic, so the mode and the precision are
    closed forms, and the Gaussian is exact."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        z = pm.Normal("z", 0.0, 1.0, shape=GROUPS)
        pm.Normal("y", mu + SCALE * z[INDEX], 1.0, observed=Y)
    design = np.column_stack([np.ones(Y.size), SCALE * np.eye(GROUPS)[INDEX]])
    precision = design.T @ design + np.diag([1 / 4.0] + [1.0] * GROUPS)
    mode = np.linalg.solve(precision, design.T @ Y)
    return model, mode, precision


def hierarchy():
    """Estimated scales with a log and a logodds (interval) transform, and a deterministic
    over the observations."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        tau = pm.Uniform("tau", 0.0, 3.0)
        z = pm.Normal("z", 0.0, 1.0, shape=GROUPS)
        sigma = pm.HalfNormal("sigma", 2.0)
        location = pm.Deterministic("location", mu + tau * z[INDEX])
        pm.Normal("y", location, sigma, observed=Y)
    return model


def gaussian_log_density(draws, mean, precision):
    return stats.multivariate_normal(mean, np.linalg.inv(precision)).logpdf(draws)


@pytest.fixture(scope="module")
def gaussian():
    model, mode, precision = gaussian_hierarchy()
    results = {
        route: laplace(model=model, draws=400, structure=route, random_seed=5)
        for route in ("dense", "sparse")
    }
    # As for a model above DENSE_FIT_LIMIT parameters: the sparse precision alone.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(laplace_module, "DENSE_FIT_LIMIT", GROUPS)
        results["large"] = laplace(model=model, draws=400, structure="sparse", random_seed=5)
    return results, mode, precision


def test_both_routes_give_the_closed_form_gaussian(gaussian):
    results, mode, precision = gaussian
    for result in results.values():
        # trust-exact and trust-krylov stop within their tolerance of the exact mode.
        np.testing.assert_allclose(result.fit["mean_vector"], mode, rtol=1e-8, atol=1e-10)
        assert result.fit.attrs["pareto_k"] == -np.inf  # log p - log q is constant: exact
    covariance = np.linalg.inv(precision)
    for route in ("dense", "sparse"):
        fit = results[route].fit
        np.testing.assert_allclose(fit["precision_matrix"], precision, rtol=1e-10)
        np.testing.assert_allclose(fit["covariance_matrix"], covariance, rtol=1e-9, atol=1e-12)
        assert results[route].attrs["structure"] == route
    large = results["large"].fit
    assert isinstance(large["precision_matrix"].data, sparse.COO)
    np.testing.assert_allclose(large["precision_matrix"].data.todense(), precision, rtol=1e-10)
    assert "covariance_matrix" not in large


def test_log_q_is_the_gaussian_density_of_each_draw_on_both_routes(gaussian):
    """CHOLMOD permutes the parameters: a draw or a log-determinant that forgot the
    permutation would not have this density."""
    results, _, precision = gaussian
    for result in results.values():
        flat = result.unconstrained_posterior
        draws = np.column_stack([flat["mu"].values[0], flat["z"].values[0]])
        np.testing.assert_allclose(
            result.sample_stats["log_q"].values[0],
            gaussian_log_density(draws, result.fit["mean_vector"].values, precision),
            rtol=1e-11,
        )


def test_sparse_draws_have_the_gaussian_mean_and_covariance(gaussian):
    results, mode, precision = gaussian
    covariance = np.linalg.inv(precision)
    posterior = results["sparse"].posterior
    draws = np.column_stack([posterior["mu"].values[0], posterior["z"].values[0]])
    sd = np.sqrt(np.diag(covariance))
    z_scores = (draws.mean(axis=0) - mode) / (sd / np.sqrt(draws.shape[0]))
    assert np.abs(z_scores).max() < 4.5  # 26 means; a 4.5-MCSE miss has odds ~1e-4
    # Variance of a sample variance of normals: 2σ⁴ / (n − 1).
    variance_z = (draws.var(axis=0, ddof=1) - sd**2) / (sd**2 * np.sqrt(2 / (draws.shape[0] - 1)))
    assert np.abs(variance_z).max() < 4.5


@pytest.mark.filterwarnings("ignore:Pareto k̂")  # about the tails; not what is tested here
def test_routes_agree_on_a_non_gaussian_hierarchy():
    model = hierarchy()
    dense = laplace(model=model, draws=200, structure="dense", random_seed=1)
    sparse_route = laplace(model=model, draws=200, structure="sparse", random_seed=1)
    # The two Newton iterations stop within the gradient tolerance of the same mode.
    np.testing.assert_allclose(
        sparse_route.fit["mean_vector"], dense.fit["mean_vector"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        sparse_route.fit["precision_matrix"], dense.fit["precision_matrix"], rtol=1e-4, atol=1e-6
    )
    # At its own mode, the sparse precision is the exact negative Hessian there.
    graph = model_graph(model, space="unconstrained", terms="posterior")
    x = sparse_route.fit["mean_vector"].values
    np.testing.assert_allclose(
        sparse_route.fit["precision_matrix"],
        -graph.hessian_fn(x),
        rtol=1e-10,
        atol=1e-10,
    )
    location = sparse_route.posterior["location"].values[0]
    expected = (
        sparse_route.posterior["mu"].values[0][:, None]
        + sparse_route.posterior["tau"].values[0][:, None]
        * sparse_route.posterior["z"].values[0][:, INDEX]
    )
    np.testing.assert_allclose(location, expected, rtol=1e-12)


def test_find_mode_takes_the_sparse_route_and_reaches_the_closed_form(monkeypatch):
    model, mode, _ = gaussian_hierarchy()
    calls = []
    original = SparseHessian.__call__
    monkeypatch.setattr(
        SparseHessian,
        "__call__",
        lambda self, x, **options: calls.append(1) or original(self, x, **options),
    )
    found = {route: find_mode(model=model, structure=route) for route in ("dense", "sparse")}
    assert calls  # the sparse Hessian is only formed on the sparse route ...
    count = len(calls)
    find_mode(model=model, structure="dense")
    assert len(calls) == count  # ... and never on the dense one
    for result in found.values():
        assert result.converged
        np.testing.assert_allclose(result.x, mode, rtol=1e-8, atol=1e-10)


def test_structure_is_checked_and_auto_keeps_small_models_dense():
    """Which large models ``auto`` sends down the sparse route is the chooser's own test."""
    graph = model_graph(gaussian_hierarchy()[0], space="unconstrained", terms="posterior")
    assert structure.hessian_structure(graph, "auto") == "dense"  # 26 parameters
    assert structure.hessian_structure(graph, "sparse") == "sparse"
    with pytest.raises(PMFisherError, match=r"structure='banded'.*'auto', 'dense', 'sparse'"):
        laplace(model=gaussian_hierarchy()[0], structure="banded")
    with pytest.raises(PMFisherError, match=r"structure='banded'"):
        find_mode(model=gaussian_hierarchy()[0], structure="banded")


@pytest.mark.filterwarnings("ignore:Pareto k̂")  # 41 draws: the tails are not the point
def test_chunked_push_forward_gives_the_same_draws_as_one_batch(monkeypatch):
    """Uneven chunks (41 draws in chunks of 6: the last holds 5) and the same result."""
    model = hierarchy()
    whole = laplace(model=model, draws=41, structure="sparse", random_seed=2)
    pushforward = laplace_draws.Pushforward
    sizes = []
    original = pushforward.__call__
    monkeypatch.setattr(
        pushforward,
        "__call__",
        lambda self, thetas: sizes.append(len(thetas)) or original(self, thetas),
    )
    size, observations = GROUPS + 3, Y.size
    # Normals and draws; outputs (log p, both spaces, the deterministic); intermediates.
    floats_per_draw = 2 * size + (1 + 2 * size + observations) + 8 * observations
    monkeypatch.setattr(laplace_draws, "PUSHFORWARD_BYTES", 8 * floats_per_draw * 6)
    chunked = laplace(model=model, draws=41, structure="sparse", random_seed=2)
    assert sizes == [1, 6, 6, 6, 6, 6, 6, 4]
    for name in ("mu", "tau", "z", "sigma", "location"):
        np.testing.assert_array_equal(chunked.posterior[name], whole.posterior[name])
    np.testing.assert_array_equal(chunked.sample_stats["log_q"], whole.sample_stats["log_q"])


def test_a_singular_precision_on_the_sparse_route_names_the_parameters():
    with pm.Model() as model:
        a = pm.Flat("a")
        b = pm.Flat("b")
        pm.Normal("y", a + b, 1.0, observed=[0.3, -0.1, 0.5])
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite") as raised:
        laplace(model=model, terms="likelihood", structure="sparse", random_seed=0)
    assert set(raised.value.loadings) == {"a", "b"}
