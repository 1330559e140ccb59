"""cramer_rao_bound against closed forms; simulate_estimator within Monte Carlo error."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher.errors import NotPositiveDefiniteError, PMFisherError
from pmfisher.frequentist.cramer_rao import EstimatorStudy, cramer_rao_bound, simulate_estimator
from tests.closed_forms import LOGIT_X, NORMAL_Y, POISSON_Y, logistic, model_for, normal, poisson

RATE, N = 3.0, 40
REPLICATES = 400


def poisson_counts():
    with pm.Model() as model:
        lam = pm.HalfNormal("lam", 10.0)
        pm.Poisson("y", lam, observed=np.zeros(N, dtype="int64"))
    return model


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_poisson_bound_is_rate_over_n():
    bound = cramer_rao_bound({"lam": 2.5}, model=model_for(poisson))
    assert float(bound.values[0, 0]) == pytest.approx(2.5 / POISSON_Y.size, rel=1e-12)
    assert bound.attrs == {"space": "constrained", "method": "exact"}


def test_normal_bound_is_the_inverse_of_the_diagonal_information():
    bound = cramer_rao_bound({"mu": 0.2, "sigma": 1.3}, model=model_for(normal))
    n = NORMAL_Y.size
    np.testing.assert_allclose(bound.values, np.diag([1.3**2 / n, 1.3**2 / (2 * n)]), rtol=1e-10)
    assert list(bound.param_i.values) == ["mu", "sigma"]


def test_bound_in_the_unconstrained_space():
    bound = cramer_rao_bound(
        {"mu": 0.2, "sigma": 1.3}, model=model_for(normal), space="unconstrained"
    )
    n = NORMAL_Y.size
    np.testing.assert_allclose(bound.values, np.diag([1.3**2 / n, 1 / (2 * n)]), rtol=1e-10)


def test_logistic_bound_is_the_inverse_of_xtwx():
    beta = np.array([0.3, -0.8, 0.1])
    p = _sigmoid(LOGIT_X @ beta)
    information = LOGIT_X.T @ (LOGIT_X * (p * (1 - p))[:, None])
    bound = cramer_rao_bound({"beta": beta}, model=model_for(logistic))
    np.testing.assert_allclose(bound.values, np.linalg.inv(information), rtol=1e-10)


def test_unidentified_parameters_are_named():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 1.0)
        b = pm.Normal("b", 0.0, 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", a + b, sigma, observed=[0.1, 0.4])
    with pytest.raises(NotPositiveDefiniteError) as error:
        cramer_rao_bound({"a": 0.0, "b": 0.0, "sigma": 1.0}, model=model)
    assert set(error.value.loadings) == {"a", "b"}


@pytest.fixture(scope="module")
def study():
    return simulate_estimator(
        {"lam": RATE}, model=model_for(poisson_counts), replicates=REPLICATES, random_seed=11
    )


def test_study_shapes_and_labels(study):
    assert isinstance(study, EstimatorStudy)
    assert study.estimates.dims == ("replicate", "param")
    assert study.estimates.shape == (REPLICATES, 1)
    assert list(study.estimates.param.values) == ["lam"]
    assert study.replicates == REPLICATES
    assert float(study.bound.values[0, 0]) == pytest.approx(RATE / N, rel=1e-12)


def test_mle_is_the_sample_mean(study):
    """Regenerate replicate 7's data from its seed: its MLE is its mean (to the Newton
    search's gradient tolerance, which leaves ~1e-7 relative)."""
    seed = np.random.SeedSequence(11).spawn(REPLICATES)[7]
    from pmfisher._core.data.simulation import simulate_data

    counts = simulate_data(model_for(poisson_counts), {"lam": RATE}, 1, random_seed=seed)["y"]
    assert float(study.estimates.values[7, 0]) == pytest.approx(counts.mean(), rel=1e-6)
    # The Wald standard error is √(λ̂/n), the inverse observed information at the MLE.
    assert float(study.standard_errors.values[7, 0]) == pytest.approx(
        np.sqrt(counts.mean() / N), rel=1e-6
    )


def test_variance_matches_the_bound_within_monte_carlo_error(study):
    variance = float(study.covariance.values[0, 0])
    assert abs(variance - RATE / N) < 4 * float(study.variance_mcse.values[0])
    assert abs(float(study.bias.values[0])) < 4 * float(study.bias_mcse.values[0])


def test_wald_coverage_is_near_95_percent(study):
    binomial_mcse = np.sqrt(0.95 * 0.05 / REPLICATES)
    assert abs(float(study.coverage.values[0]) - 0.95) < 4 * binomial_mcse


def test_rescaled_error_is_standard_normal(study):
    z = study.standardized_errors.values[:, 0]
    np.testing.assert_allclose(z, (study.estimates.values[:, 0] - RATE) / np.sqrt(RATE / N))
    normality = study.normality.sel(param="lam")
    assert float(normality["ks_pvalue"]) > 1e-3
    assert float(normality["ks_pvalue"]) == pytest.approx(stats.kstest(z, "norm").pvalue)


def test_thread_pool_reproduces_the_serial_numbers(study):
    with ThreadPoolExecutor(max_workers=2) as executor:
        threaded = simulate_estimator(
            {"lam": RATE},
            model=model_for(poisson_counts),
            replicates=REPLICATES,
            random_seed=11,
            executor=executor,
        )
    np.testing.assert_array_equal(threaded.estimates.values, study.estimates.values)
    np.testing.assert_array_equal(threaded.standard_errors.values, study.standard_errors.values)


def test_dask_cluster_reproduces_the_serial_numbers(study):
    """A local Dask cluster with one worker process: the model travels by cloudpickle."""
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = simulate_estimator(
            {"lam": RATE},
            model=model_for(poisson_counts),
            replicates=REPLICATES,
            random_seed=11,
            executor=client.get_executor(),
        )
    np.testing.assert_array_equal(remote.estimates.values, study.estimates.values)
    np.testing.assert_array_equal(remote.coverage.values, study.coverage.values)


def test_data_sets_do_not_depend_on_the_chunking(study):
    rechunked = simulate_estimator(
        {"lam": RATE},
        model=model_for(poisson_counts),
        replicates=REPLICATES,
        random_seed=11,
        chunk_size=7,
    )
    np.testing.assert_allclose(rechunked.estimates.values, study.estimates.values, rtol=1e-12)


@pytest.mark.parametrize(
    ("options", "message"),
    [({"replicates": 1}, "at least 2 replicates"), ({"chunk_size": 0}, "chunks of at least 1")],
)
def test_bad_sizes_are_refused(options, message):
    with pytest.raises(PMFisherError, match=message):
        simulate_estimator({"lam": RATE}, model=model_for(poisson_counts), **options)


def weibull_model() -> pm.Model:
    """A Weibull likelihood: no closed-form Fisher information in pmfisher's table, so the
    bound comes from the Monte Carlo estimator."""
    y = stats.weibull_min(1.5, scale=2.0).rvs(size=30, random_state=3)
    with pm.Model() as model:
        alpha = pm.HalfNormal("alpha", 5.0)
        beta = pm.HalfNormal("beta", 5.0)
        pm.Weibull("y", alpha=alpha, beta=beta, observed=y)
    return model


def test_a_seed_reaches_the_monte_carlo_bound():
    """Once the bound's Monte Carlo information drew a fresh entropy seed at every call, so
    that the same seed gave another bound each time."""
    point = {"alpha": 1.5, "beta": 2.0}
    model = weibull_model()
    first = simulate_estimator(point, model=model, replicates=4, random_seed=1)
    again = simulate_estimator(point, model=model, replicates=4, random_seed=1)
    assert first.bound.attrs["method"] == "monte_carlo"
    np.testing.assert_array_equal(first.bound.values, again.bound.values)
    bound = cramer_rao_bound(point, model=model, random_seed=7, replicates=200)
    np.testing.assert_array_equal(
        bound.values, cramer_rao_bound(point, model=model, random_seed=7, replicates=200).values
    )
    assert not np.array_equal(
        bound.values, cramer_rao_bound(point, model=model, random_seed=8, replicates=200).values
    )
