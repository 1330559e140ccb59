"""The zoo through the geometry and frequentist layers and the sandwich: the tensor law
between the two spaces on every row, the sandwich, Cramér–Rao bound, natural gradient,
Gauss–Newton split, KL curvature and divergence in both spaces, and simulated estimators —
each checked against another route, or the row's typed error naming the variable."""

import numpy as np
import pytest

import pmfisher
from pmfisher._core.model.model_graph import model_graph
from pmfisher.geometry.kl import SUPPORTED as KL_FORMS
from pmfisher.information.exact_fisher import CLOSED_FORMS
from pmfisher.testing import finite_difference_jacobian
from tests.zoo import (
    NAMES,
    PER_OBSERVATION,
    ROWS,
    SPACES,
    close,
    closed_form_error,
    expect,
    gradient_reference,
    labelled_square,
    model_for,
    seeded_monte_carlo,
)

# The LKJ row is left out here: its Monte Carlo information graphs cost minutes to compile
# (most of this test's time); its observed information, scores and tensor law are checked.
CHEAP_PER_OBSERVATION = [name for name in PER_OBSERVATION if name != "lkj_mvnormal"]


@pytest.mark.parametrize(("name", "space"), [(n, s) for n in CHEAP_PER_OBSERVATION for s in SPACES])
def test_the_other_point_functions_are_checked_results_or_typed_errors(name, space, monkeypatch):
    """The sandwich, the Cramér–Rao bound, the natural gradient, the Gauss–Newton split and
    the KL curvature in both spaces on the per-observation rows: each a result checked
    against another route, or a typed error that names the variable."""
    row, model = ROWS[name], model_for(name)
    # 64 draws keep the row cheap; a seed makes the two calls' information the same matrix.
    seeded_monte_carlo(monkeypatch)
    at = {"model": model, "space": space}
    calls = {
        "sandwich": lambda: pmfisher.sandwich_covariance(row.point, **at),
        "bound": lambda: pmfisher.cramer_rao_bound(row.point, **at),
        "natural": lambda: pmfisher.natural_gradient(row.point, **at),
        "gauss_newton": lambda: pmfisher.gauss_newton(row.point, **at),
        "kl": lambda: pmfisher.kl_curvature(row.point, **at),
    }
    # The row's error for the call, or for what the call needs (scores, the Fisher information).
    needs = {"sandwich": ("sandwich", "scores"), "gauss_newton": ("exact", "fisher")}
    needs |= {"bound": ("fisher",), "natural": ("fisher",), "kl": ("exact", "fisher")}
    results = {}
    for call, function in calls.items():
        raises = next(
            (expect(name, check, space) for check in needs[call] if check in row.errors), None
        )
        if raises is None:
            results[call] = function()
            continue
        with raises:
            function()
    if not results:
        return
    graph = model_graph(model, space=space, terms="likelihood")
    if "sandwich" in results:
        labelled_square(results["sandwich"], graph.labels)
        info = pmfisher.observed_information(row.point, **at).values
        bread = np.linalg.inv(info)
        meat = pmfisher.empirical_fisher(row.point, **at).values
        close(results["sandwich"].values, bread @ meat @ bread, rtol=1e-8)
    if "bound" in results:
        labelled_square(results["bound"], graph.labels)
        assert np.all(np.linalg.eigvalsh(results["bound"].values) > 0)
        # I⁻¹∇ℓ, with ∇ℓ by finite differences and I⁻¹ the bound (the same seeded I).
        gradient = gradient_reference(graph.logp_fn, graph.flatten(row.point))
        close(results["natural"].values, results["bound"].values @ gradient, rtol=1e-6)
    for call in ("gauss_newton", "kl"):
        if call in results:  # an exact Fisher information: both equal it
            exact = pmfisher.fisher_information(row.point, **at, method="exact")
            matrix = results[call].gauss_newton if call == "gauss_newton" else results[call]
            close(matrix.values, exact.matrix.values, rtol=1e-10)
    if name == "scalar":  # Poisson(λ) with one observation y = 3, at λ = 2.5 (η = log λ)
        lam, y = 2.5, 3.0
        if space == "unconstrained":  # I_η = λ, ∂ℓ/∂η = y − λ
            bound, natural, kl = (1 / lam, (y - lam) / lam, lam)
        else:  # I_λ = 1/λ, ∂ℓ/∂λ = y/λ − 1
            bound, natural, kl = (lam, y - lam, 1 / lam)
        np.testing.assert_allclose(results["bound"].values, [[bound]], rtol=1e-12)
        np.testing.assert_allclose(results["natural"].values, [natural], rtol=1e-12)
        np.testing.assert_allclose(results["kl"].values, [[kl]], rtol=1e-12)


# Rows of each kind: dimension-changing and non-elementwise transforms, a singular
# information, closed-form Fisher information and KL divergence (Gamma, Binomial,
# Normal, Poisson), a Potential, imputed data. benchmarks/zoo_sweep.py runs every row.
POINT_ROWS = [
    "dirichlet_categorical",
    "ordered_logistic",
    "zero_sum_normal",
    "gaussian_random_walk",
    "gamma_glm",
    "binomial",
    "uniform_halfcauchy",
    "scalar",
    "potential",
    "missing_observations",
]


@pytest.mark.parametrize(("name", "space"), [(n, s) for n in POINT_ROWS for s in SPACES])
def test_scores_sandwich_and_closed_forms_in_both_spaces(name, space):
    """Scores sum to the likelihood's gradient (finite differences) and the empirical
    Fisher information is SᵀS; the sandwich is A⁻¹BA⁻¹ with A the observed information; the
    exact Gauss–Newton split and KL curvature equal the exact Fisher information, and the KL
    divergence vanishes at its own point and grows as ½δᵀIδ nearby — in both spaces, or the
    row's typed errors (a likelihood without a closed form: one naming the variable)."""
    row, model = ROWS[name], model_for(name)
    raises = expect(name, "scores", space)
    if raises is not None:
        with raises:
            pmfisher.sandwich_covariance(row.point, model=model, space=space)
        return
    graph = model_graph(model, space=space, terms="likelihood")
    scores = pmfisher.scores(row.point, model=model, space=space)
    close(scores.values.sum(axis=0), gradient_reference(graph.logp_fn, graph.flatten(row.point)))
    meat = pmfisher.empirical_fisher(row.point, model=model, space=space)
    np.testing.assert_allclose(meat.values, scores.values.T @ scores.values, rtol=1e-10)
    raises = expect(name, "sandwich", space)
    if raises is not None:
        with raises:
            pmfisher.sandwich_covariance(row.point, model=model, space=space)
    else:
        sandwich = pmfisher.sandwich_covariance(row.point, model=model, space=space)
        labelled_square(sandwich, graph.labels)
        info = pmfisher.observed_information(row.point, model=model, space=space)
        bread = np.linalg.inv(info.values)
        close(sandwich.values, bread @ meat.values @ bread, rtol=1e-8)

    raises = closed_form_error(model, CLOSED_FORMS, "method='exact' is not available: .*{}")
    if raises is not None:
        for function in (pmfisher.gauss_newton, pmfisher.kl_curvature):
            with raises:
                function(row.point, model=model, space=space)
    else:
        exact = pmfisher.fisher_information(row.point, model=model, space=space, method="exact")
        split = pmfisher.gauss_newton(row.point, model=model, space=space)
        curvature = pmfisher.kl_curvature(row.point, model=model, space=space)
        close(split.gauss_newton.values, exact.matrix.values, rtol=1e-10)
        # The closed-form KL's Hessian is another route (on the Gamma GLM through the
        # trigamma of pmfisher's compilation mode, against SciPy's in the exact one).
        close(curvature.values, exact.matrix.values, rtol=1e-10)
    if space == "unconstrained":
        return
    raises = closed_form_error(model, KL_FORMS, r"variable\(s\) {} \(.*\) have no closed-form")
    if raises is not None:
        with raises:
            pmfisher.kl_divergence(row.point, row.point, model=model)
        return
    assert pmfisher.kl_divergence(row.point, row.point, model=model) == 0.0
    # Along the first free coordinate: KL(θ, θ + h e₁) = ½ h² I₁₁ + O(h³).
    step = 1e-4
    moved = graph.constrained_point(graph.flatten(row.point) + step * np.eye(len(graph.labels))[0])
    kl = pmfisher.kl_divergence(row.point, moved, model=model)
    np.testing.assert_allclose(2 * kl / step**2, curvature.values[0, 0], rtol=1e-3)


# The rows whose back-transform mixes coordinates (a simplex's stick-breaking of three
# entries, the ordered transform's cumulative sum, the zero-sum basis): J = ∂θ/∂φ is not
# diagonal. Except on the zero-sum vector, whose basis is symmetric, a transposed J in the
# tensor law gives another matrix. (PyMC's packed LKJ Cholesky factor takes the log of its
# diagonal entries only, and a two-entry simplex has one free coordinate: diagonal maps.)
NON_DIAGONAL = {
    "dirichlet_multinomial",
    "dirichlet_categorical",
    "ordered_logistic",
    "normal_mixture_dirichlet",
    "normal_mixture_beta",
    "zero_sum_normal",
}
SYMMETRIC = {"zero_sum_normal"}


@pytest.mark.parametrize("name", NAMES)
def test_tensor_law_between_the_two_spaces(name):
    """The observed information of the likelihood in the unconstrained space equals
    Jᵀ(−∇²ℓ)J − Σₖ ∂ℓ/∂θₖ ∇²θₖ from the constrained one, with J = ∂θ/∂φ over the free
    coordinates equal to finite differences of the model's back-transform; on the rows where
    J is not diagonal, the law with Jᵀ in J's place fails by far. The expected information
    (rows with a closed form) obeys Jᵀ I J, without the gradient term."""
    row, model = ROWS[name], model_for(name)
    raises = expect(name, "likelihood")
    if raises is not None:
        with raises:
            pmfisher.check_tensor_law(row.point, model=model, information="observed")
        return
    check = pmfisher.check_tensor_law(row.point, model=model, information="observed")
    assert check.max_error < 1e-10
    theta_graph = model_graph(model, space="constrained", terms="likelihood")
    phi_graph = model_graph(model, space="unconstrained", terms="likelihood")
    assert list(check.jacobian["theta"].values) == list(theta_graph.labels)
    assert list(check.jacobian["phi"].values) == list(phi_graph.labels)
    phi = phi_graph.flatten(row.point)
    jacobian = finite_difference_jacobian(
        lambda y: theta_graph.flatten(phi_graph.constrained_point(y)), phi
    )
    np.testing.assert_allclose(check.jacobian.values, jacobian, rtol=1e-7, atol=1e-9)
    close(
        check.direct.values,
        pmfisher.observed_information(row.point, model=model, space="unconstrained").values,
        rtol=1e-12,
    )
    off_diagonal = np.abs(jacobian - np.diag(np.diag(jacobian))).max()
    assert (off_diagonal > 1e-3) == (name in NON_DIAGONAL)
    asymmetry = np.abs(jacobian - jacobian.T).max()
    assert (asymmetry > 1e-3) == (name in NON_DIAGONAL - SYMMETRIC)
    if name in NON_DIAGONAL - SYMMETRIC:
        theta_information = pmfisher.observed_information(row.point, model=model).values
        jac = check.jacobian.values
        transposed = jac @ theta_information @ jac.T - check.gradient_term.values
        assert np.abs(check.direct.values - transposed).max() > 1e-3 * np.abs(check.direct).max()

    raises = closed_form_error(model, CLOSED_FORMS, "method='exact' is not available: .*{}")
    if raises is not None:
        with raises:
            pmfisher.check_tensor_law(row.point, model=model, information="expected")
        return
    expected = pmfisher.check_tensor_law(row.point, model=model, information="expected")
    assert expected.max_error < 1e-10
    np.testing.assert_array_equal(expected.gradient_term.values, 0.0)


# A proportion and a Gamma GLM (closed-form bounds), a simplex (a Monte Carlo bound over its
# free coordinates), and a likelihood without a forward sampler (a typed error).
SIMULATE_ROWS = ["binomial", "gamma_glm", "dirichlet_multinomial", "custom_dist"]


@pytest.mark.parametrize("name", SIMULATE_ROWS)
def test_simulate_estimator_fits_each_replicate_or_says_why_not(name, monkeypatch):
    """Three replicates: each converged, near the truth on the scale of the bound, moved
    from it by its own data, with finite standard errors; the bound is the Cramér–Rao bound
    at the truth, and the data sets do not depend on how the replicates are chunked."""
    row, model = ROWS[name], model_for(name)
    seeded_monte_carlo(monkeypatch)
    options = {"model": model, "replicates": 3, "random_seed": 2, "progressbar": False}
    raises = expect(name, "fisher") or expect(name, "simulate")
    if raises is not None:
        with raises:
            pmfisher.simulate_estimator(row.point, **options)
        return
    study = pmfisher.simulate_estimator(row.point, **options)
    graph = model_graph(model, space="constrained", terms="likelihood")
    truth = graph.flatten(row.point)
    np.testing.assert_array_equal(study.truth.values, truth)
    # The bound's Monte Carlo information (where it has no exact form) draws from the child
    # of the seed after the replicates'.
    bound_seed = np.random.SeedSequence(2).spawn(4)[3]
    bound = pmfisher.cramer_rao_bound(row.point, model=model, random_seed=bound_seed).values
    np.testing.assert_allclose(study.bound.values, bound, rtol=1e-12)
    assert study.replicates == 3
    estimates, errors = study.estimates.values, study.standard_errors.values
    assert np.all(np.isfinite(errors))
    assert np.all(errors > 0)
    assert np.all(np.abs(estimates - truth) < 6 * np.sqrt(np.diag(bound)))
    assert np.all(np.abs(estimates - truth).max(axis=1) > 1e-6)
    one_by_one = pmfisher.simulate_estimator(row.point, **options, chunk_size=1)
    np.testing.assert_allclose(one_by_one.estimates.values, estimates, rtol=1e-6, atol=1e-9)
