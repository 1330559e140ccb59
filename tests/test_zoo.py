"""Every model class of the zoo through the public functions, in both spaces and both term
sets: equal to the finite-difference reference, or a typed error naming the variable."""

import warnings

import numpy as np
import pytest

import pmfisher
from pmfisher._core.compilation import compile_function
from pmfisher._core.data_likelihood import data_likelihood
from pmfisher._core.model_graph import model_graph
from pmfisher.geometry.kl import SUPPORTED as KL_FORMS
from pmfisher.information.exact_fisher import CLOSED_FORMS
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian
from tests.zoo import ROWS, SERIES, model_for

NAMES = list(ROWS)
SPACES = ("constrained", "unconstrained")
PER_OBSERVATION = [name for name, row in ROWS.items() if row.per_observation]
# Each row in the constrained-space likelihood and the unconstrained-space posterior; the
# mixed pairs for the rows whose transforms are not elementwise (where a space mix-up shows).
COMBINATIONS = [
    *((name, "constrained", "likelihood") for name in NAMES),
    *((name, "unconstrained", "posterior") for name in NAMES),
    *(
        (name, space, terms)
        for name in ("dirichlet_multinomial", "ordered_logistic", "lkj_mvnormal", "zero_sum_normal")
        for space, terms in (("constrained", "posterior"), ("unconstrained", "likelihood"))
    ),
]


def _gradient_reference(logp, x):
    """∇ log p by finite differences of the compiled log-density alone (independent of
    every derivative engine)."""
    return finite_difference_jacobian(lambda y: np.atleast_1d(logp(y)), x)[0]


def _expect(name: str, check: str, space: str = "constrained"):
    """``pytest.raises`` for the row's expected typed error, or ``None`` when the check
    must give a result (in the unconstrained space, the row's ``check:unconstrained`` entry
    where it has one)."""
    errors = ROWS[name].errors
    expected = errors.get(f"{check}:{space}", errors.get(check))
    return pytest.raises(expected[0], match=expected[1]) if expected else None


def _close(actual, reference, rtol=1e-5):
    scale = max(1.0, float(np.abs(reference).max()))
    np.testing.assert_allclose(actual, reference, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize(("name", "space", "terms"), COMBINATIONS)
def test_observed_information_matches_finite_differences(name, space, terms):
    row = ROWS[name]
    raises = _expect(name, terms)
    if raises is not None:
        with raises:
            pmfisher.observed_information(row.point, model=model_for(name), terms=terms)
        return
    model = model_for(name)
    info = pmfisher.observed_information(row.point, model=model, terms=terms, space=space)
    graph = model_graph(model, space=space, terms=terms)
    x = graph.flatten(row.point)
    reference = -finite_difference_hessian(lambda y: _gradient_reference(graph.logp_fn, y), x)
    assert list(info["param_i"].values) == list(graph.labels)
    _close(info.values, reference)


@pytest.mark.parametrize("name", PER_OBSERVATION)
def test_scores_sum_to_the_likelihood_gradient(name):
    row = ROWS[name]
    raises = _expect(name, "scores")
    if raises is not None:
        with raises:
            pmfisher.scores(row.point, model=model_for(name))
        return
    model = model_for(name)
    scores = pmfisher.scores(row.point, model=model)
    graph = model_graph(model, space="constrained", terms="likelihood")
    x = graph.flatten(row.point)
    _close(scores.values.sum(axis=0), _gradient_reference(graph.logp_fn, x))
    empirical = pmfisher.empirical_fisher(row.point, model=model)
    np.testing.assert_allclose(empirical.values, scores.values.T @ scores.values, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_find_mode_is_a_mode_or_says_why_not(name):
    raises = _expect(name, "mode")
    if raises is not None:
        with raises:
            pmfisher.find_mode(model=model_for(name))
        return
    model = model_for(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mode = pmfisher.find_mode(model=model, random_seed=1)
    assert np.isfinite(mode.logp)
    if mode.converged:
        assert mode.grad_norm < 1e-4 * max(1.0, abs(mode.logp))
    else:
        assert mode.message
    graph = model_graph(model, space="unconstrained", terms="posterior")
    # The point shows every entry, in the constrained space, and gives back the flat mode.
    np.testing.assert_allclose(graph.flatten(mode.point), mode.x, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["ar", "gaussian_random_walk"])
def test_saturated_latent_process_likelihood_warns_of_its_flat_directions(name):
    """As many latent states as data: the likelihood is maximized at x = y whatever the
    process's own parameters, which it does not contain — find_mode and the observed
    information say so, naming them in the flat directions' loadings."""
    model, hyper = (
        model_for(name),
        [label for label in ("sigma", "rho") if label in ROWS[name].point],
    )
    with pytest.warns(UserWarning, match="The mode is not unique") as record:
        mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    [message] = [str(w.message) for w in record if "not unique" in str(w.message)]
    flat = message.split("eigenvalue")[1:]
    assert len(flat) == len(hyper)  # one flat direction per process parameter, and no other
    assert all(any(label in clause for clause in flat) for label in hyper)
    assert mode.converged
    np.testing.assert_allclose(mode.point["x"], SERIES, atol=1e-6)  # the saturated fit
    with pytest.warns(UserWarning, match="observed information is singular") as record:
        info = pmfisher.observed_information(mode, model=model)
    assert all(label in str(record[-1].message) for label in hyper)
    # Elsewhere the information is the data's precision along the states (σ_y = 0.5).
    states = [label for label in info["param_i"].values if label.startswith("x")]
    np.testing.assert_allclose(info.sel(param_i=states, param_j=states), 4.0 * np.eye(10))


def test_ordered_logistic_information_matrix_test():
    """The per-observation Hessians (forward over forward, unbatched) equal finite
    differences of the per-observation scores, and the test drops the one indicator that
    vanishes identically (∂²ℓᵢ/∂c₁∂c₂ + sᵢ₁sᵢ₂ = 0 for log(F(c₂ − η) − F(c₁ − η)))."""
    row, model = ROWS["ordered_logistic"], model_for("ordered_logistic")
    like = data_likelihood(model)
    x = like.graph.flatten(row.point)
    data = like.observed_batch()
    hessians = like.observation_hessians(x[None], data)[0]  # (n, d, d)
    n, d = hessians.shape[:2]
    reference = finite_difference_jacobian(
        lambda y: like.observation_scores(y[None], data)[0].ravel(), x
    ).reshape(n, d, d)
    np.testing.assert_allclose(hessians, reference, rtol=1e-6, atol=1e-8)
    result = pmfisher.information_matrix_test(row.point, model=model, progressbar=False)
    assert result.degrees_of_freedom == d * (d + 1) // 2 - 1
    assert np.isfinite(result.statistic)
    assert 0.0 < result.p_value < 1.0


def _labelled_square(matrix, labels):
    assert list(matrix["param_i"].values) == list(labels)
    assert list(matrix["param_j"].values) == list(labels)
    assert np.all(np.isfinite(matrix.values))
    np.testing.assert_allclose(matrix.values, matrix.values.T, atol=1e-12 * np.abs(matrix).max())


# The LKJ row is left out here: its Monte Carlo information graphs cost minutes to compile
# (most of this test's time), and its information is checked by the Monte Carlo row above.
CHEAP_PER_OBSERVATION = [name for name in PER_OBSERVATION if name != "lkj_mvnormal"]


@pytest.mark.parametrize("name", CHEAP_PER_OBSERVATION)
def test_the_other_point_functions_are_checked_results_or_typed_errors(name, monkeypatch):
    """The sandwich, the Cramér–Rao bound, the natural gradient, the Gauss–Newton split and
    the KL curvature on the rows whose scores, Hessians and Monte Carlo graphs the tests
    above compiled (the per-graph cache shares them): each a result checked against another
    route, or a typed error that names the variable."""
    row, model = ROWS[name], model_for(name)
    # The bound and the natural gradient take the Monte Carlo information's defaults: 64
    # draws keep the row cheap, a seed keeps it deterministic (only definiteness and signs
    # are compared where the information is random).
    monkeypatch.setitem(pmfisher.fisher_information.__kwdefaults__, "draws", 64)
    monkeypatch.setitem(pmfisher.fisher_information.__kwdefaults__, "random_seed", 1)
    calls = {
        "sandwich": lambda: pmfisher.sandwich_covariance(row.point, model=model),
        "bound": lambda: pmfisher.cramer_rao_bound(row.point, model=model),
        "natural": lambda: pmfisher.natural_gradient(row.point, model=model),
        "gauss_newton": lambda: pmfisher.gauss_newton(row.point, model=model),
        "kl": lambda: pmfisher.kl_curvature(row.point, model=model),
    }
    # The row's error for the call, or for what the call needs (scores, the Fisher information).
    needs = {"sandwich": ("sandwich", "scores"), "gauss_newton": ("exact", "fisher")}
    needs |= {"bound": ("fisher",), "natural": ("fisher",), "kl": ("exact", "fisher")}
    results = {}
    for call, function in calls.items():
        raises = next((_expect(name, check) for check in needs[call] if check in row.errors), None)
        if raises is None:
            results[call] = function()
            continue
        with raises:
            function()
    if not results:
        return
    graph = model_graph(model, space="constrained", terms="likelihood")
    if "sandwich" in results:
        _labelled_square(results["sandwich"], graph.labels)
        bread = np.linalg.inv(pmfisher.observed_information(row.point, model=model).values)
        meat = pmfisher.empirical_fisher(row.point, model=model).values
        _close(results["sandwich"].values, bread @ meat @ bread, rtol=1e-8)
    if "bound" in results:
        _labelled_square(results["bound"], graph.labels)
        assert np.all(np.linalg.eigvalsh(results["bound"].values) > 0)
        # I⁻¹∇ℓ lies where the bound sends the gradient: ∇ℓᵀ I⁻¹ ∇ℓ > 0 (Monte Carlo I
        # differs between the two calls, so only the sign is compared).
        gradient = _gradient_reference(graph.logp_fn, graph.flatten(row.point))
        assert float(gradient @ results["natural"].values) > 0
    for call in ("gauss_newton", "kl"):
        if call in results:  # an exact Fisher information: both equal it
            exact = pmfisher.fisher_information(row.point, model=model, method="exact")
            matrix = results[call].gauss_newton if call == "gauss_newton" else results[call]
            _close(matrix.values, exact.matrix.values, rtol=1e-10)
    if name == "scalar":  # Poisson(λ) with one observation y = 3, at λ = 2.5
        np.testing.assert_allclose(results["bound"].values, [[2.5]], rtol=1e-12)  # λ / n
        np.testing.assert_allclose(results["natural"].values, [0.5], rtol=1e-12)  # y − λ
        np.testing.assert_allclose(results["kl"].values, [[0.4]], rtol=1e-12)  # 1 / λ


def test_information_matrix_test_without_degrees_of_freedom_says_so():
    """One observation: the indicator is a multiple of the score, so the statistic has no
    χ² reference (it was a NaN p-value)."""
    with pytest.raises(pmfisher.PMFisherError, match="test of y has no degrees of freedom"):
        pmfisher.information_matrix_test(
            ROWS["scalar"].point, model=model_for("scalar"), progressbar=False
        )


# The rows where Laplace, the delta method or compare meet something of their own: a simplex
# and a zero-sum vector (singular draws), a deterministic, a posterior without a mode, a
# CustomDist, one parameter, a discrete variable. benchmarks/zoo_sweep.py runs every row.
LAPLACE_ROWS = [
    "dirichlet_categorical",
    "zero_sum_normal",
    "uniform_halfcauchy",
    "gaussian_random_walk",
    "custom_dist",
    "scalar",
    "discrete_free_variable",
]


@pytest.mark.parametrize("name", LAPLACE_ROWS)
def test_laplace_delta_method_and_compare(name):
    """Laplace's precision is the negative Hessian of the unconstrained posterior at its
    mean (by finite differences of the log-density), the delta method's variance of each
    deterministic is ∇g Σ ∇gᵀ with ∇g by finite differences, and ``compare`` of two
    Laplace runs gives their draws' moments — or the row's typed errors."""
    model = model_for(name)
    raises = _expect(name, "mode") or _expect(name, "laplace")
    if raises is not None:
        with raises:
            pmfisher.laplace(model=model, draws=50, random_seed=1)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k̂ of 50 draws
        approx = pmfisher.laplace(model=model, draws=50, random_seed=1)
        other = pmfisher.laplace(model=model, draws=50, random_seed=2)
    graph = model_graph(model, space="unconstrained", terms="posterior")
    mean = approx.fit["mean_vector"].values
    reference = -finite_difference_hessian(lambda y: _gradient_reference(graph.logp_fn, y), mean)
    assert list(approx.fit["param_i"].values) == list(graph.labels)
    _close(approx.fit["precision_matrix"].values, reference)

    if not graph.deterministics:
        with pytest.raises(pmfisher.PMFisherError, match="no variables"):
            pmfisher.delta_method(approx, model=model)
    else:
        summary = pmfisher.delta_method(approx, model=model)
        covariance = approx.fit["covariance_matrix"].values
        for det_name, det_graph in graph.deterministics.items():
            function = compile_function([graph.theta], det_graph.ravel())
            jacobian = finite_difference_jacobian(function, mean)
            result = summary[det_name].values.reshape(2, -1)
            _close(result[0], function(mean), rtol=1e-10)
            sd = np.sqrt(np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian))
            np.testing.assert_allclose(result[1], sd, rtol=1e-6, atol=1e-9)

    raises = _expect(name, "compare")
    if raises is not None:
        with raises:
            pmfisher.compare(approx, other)
        return
    table = pmfisher.compare(approx, other)
    posterior = approx.posterior.to_dataset()
    means = [posterior[v].mean(("chain", "draw")).values.ravel() for v in posterior.data_vars]
    np.testing.assert_allclose(table["mean_approx"].values, np.concatenate(means), rtol=1e-12)
    assert np.all(np.isfinite(table["mahalanobis"].values))


def _closed_form_error(model, table, words):
    """``pytest.raises`` for a function that needs a closed form per observed variable
    (``table``: PyMC op type → form) when the model's likelihood has none, else ``None``."""
    missing = [rv.name for rv in model.observed_RVs if type(rv.owner.op) not in table]
    if not missing:
        return None
    return pytest.raises(pmfisher.UnsupportedModelError, match=words.format(missing[0]))


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
    raises = _expect(name, "scores", space)
    if raises is not None:
        with raises:
            pmfisher.sandwich_covariance(row.point, model=model, space=space)
        return
    graph = model_graph(model, space=space, terms="likelihood")
    scores = pmfisher.scores(row.point, model=model, space=space)
    _close(scores.values.sum(axis=0), _gradient_reference(graph.logp_fn, graph.flatten(row.point)))
    meat = pmfisher.empirical_fisher(row.point, model=model, space=space)
    np.testing.assert_allclose(meat.values, scores.values.T @ scores.values, rtol=1e-10)
    raises = _expect(name, "sandwich", space)
    if raises is not None:
        with raises:
            pmfisher.sandwich_covariance(row.point, model=model, space=space)
    else:
        sandwich = pmfisher.sandwich_covariance(row.point, model=model, space=space)
        _labelled_square(sandwich, graph.labels)
        info = pmfisher.observed_information(row.point, model=model, space=space)
        bread = np.linalg.inv(info.values)
        _close(sandwich.values, bread @ meat.values @ bread, rtol=1e-8)

    raises = _closed_form_error(model, CLOSED_FORMS, "method='exact' is not available: .*{}")
    if raises is not None:
        for function in (pmfisher.gauss_newton, pmfisher.kl_curvature):
            with raises:
                function(row.point, model=model, space=space)
    else:
        exact = pmfisher.fisher_information(row.point, model=model, space=space, method="exact")
        split = pmfisher.gauss_newton(row.point, model=model, space=space)
        curvature = pmfisher.kl_curvature(row.point, model=model, space=space)
        _close(split.gauss_newton.values, exact.matrix.values, rtol=1e-10)
        # The closed-form KL's Hessian is another route (on the Gamma GLM through the
        # trigamma of pmfisher's compilation mode, against SciPy's in the exact one).
        _close(curvature.values, exact.matrix.values, rtol=1e-10)
    if space == "unconstrained":
        return
    raises = _closed_form_error(model, KL_FORMS, r"variable\(s\) {} \(.*\) have no closed-form")
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
