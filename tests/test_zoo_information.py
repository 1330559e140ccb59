"""The zoo through the information layer: the observed information against finite
differences in both spaces and both term sets, scores and the empirical Fisher information,
the saturated latent processes' flat directions, and the information-matrix test — each a
checked result or the row's typed error naming the variable."""

import numpy as np
import pytest

import pmfisher
from pmfisher._core.data.data_likelihood import data_likelihood
from pmfisher._core.model.model_graph import model_graph
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian
from tests.zoo import (
    NAMES,
    PER_OBSERVATION,
    ROWS,
    SERIES,
    close,
    expect,
    gradient_reference,
    model_for,
)

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


@pytest.mark.parametrize(("name", "space", "terms"), COMBINATIONS)
def test_observed_information_matches_finite_differences(name, space, terms):
    row = ROWS[name]
    raises = expect(name, terms)
    if raises is not None:
        with raises:
            pmfisher.observed_information(row.point, model=model_for(name), terms=terms)
        return
    model = model_for(name)
    info = pmfisher.observed_information(row.point, model=model, terms=terms, space=space)
    graph = model_graph(model, space=space, terms=terms)
    x = graph.flatten(row.point)
    reference = -finite_difference_hessian(lambda y: gradient_reference(graph.logp_fn, y), x)
    assert list(info["param_i"].values) == list(graph.labels)
    close(info.values, reference)


@pytest.mark.parametrize("name", PER_OBSERVATION)
def test_scores_sum_to_the_likelihood_gradient(name):
    row = ROWS[name]
    raises = expect(name, "scores")
    if raises is not None:
        with raises:
            pmfisher.scores(row.point, model=model_for(name))
        return
    model = model_for(name)
    scores = pmfisher.scores(row.point, model=model)
    graph = model_graph(model, space="constrained", terms="likelihood")
    x = graph.flatten(row.point)
    close(scores.values.sum(axis=0), gradient_reference(graph.logp_fn, x))
    empirical = pmfisher.empirical_fisher(row.point, model=model)
    np.testing.assert_allclose(empirical.values, scores.values.T @ scores.values, rtol=1e-10)


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


# The information-matrix test on rows of each kind, where its per-observation Hessians
# (forward over forward) compile in seconds: ordered cutpoints (an indicator that vanishes
# identically), a zero-inflated count, a Weibull GLM, a CustomDist, one observation (no degrees
# of freedom), a Potential and a discrete variable (typed errors). The censored, hurdle,
# mixture, multinomial and LKJ rows' Hessians take 15 s to minutes to compile: they are run by
# benchmarks/zoo_sweep.py.
IM_ROWS = [
    "ordered_logistic",
    "zero_inflated_poisson",
    "weibull_glm",
    "custom_dist",
    "scalar",
    "potential",
    "discrete_free_variable",
]
# Singular values of the column-normalized design below this fraction of the largest are
# collinear indicators in the reference (the derivatives are accurate to ~1e-8 at least).
RANK_TOLERANCE = 1e-6


def _explained_ones(design):
    """1ᵀZ(ZᵀZ)⁺Zᵀ1 and the rank of Z, by an SVD of the column-normalized design."""
    norms = np.linalg.norm(design, axis=0)
    design = design[:, norms > RANK_TOLERANCE * norms.max()]
    left, singular, _ = np.linalg.svd(design / np.linalg.norm(design, axis=0), full_matrices=False)
    keep = singular > RANK_TOLERANCE * singular.max()
    return float(np.sum(left[:, keep].sum(axis=0) ** 2)), int(keep.sum())


@pytest.mark.parametrize("name", IM_ROWS)
def test_information_matrix_test_is_whites_statistic_or_says_why_not(name):
    """At the MLE, the statistic is n R² of ones regressed on [S, vech(ssᵀ + ∇²ℓᵢ)] and its
    degrees of freedom the rank the indicators add to the scores', from the public scores
    and per-observation Hessians by finite differences of the per-observation scores (of a
    separate graph); p in (0, 1) — or the row's typed error."""
    row, model = ROWS[name], model_for(name)
    raises = expect(name, "scores") or expect(name, "im_test")
    if raises is not None:
        with raises:
            pmfisher.information_matrix_test(row.point, model=model, progressbar=False)
        return
    mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    result = pmfisher.information_matrix_test(mode, model=model, progressbar=False)
    like = data_likelihood(model)
    x = like.graph.flatten(mode.point)
    scores = pmfisher.scores(mode, model=model).values  # (n, d)
    n, d = scores.shape
    hessians = finite_difference_jacobian(
        lambda y: like.observation_scores(y[None], like.observed_batch())[0].ravel(), x
    ).reshape(n, d, d)
    upper = np.triu_indices(d)
    indicators = (hessians + scores[:, :, None] * scores[:, None, :])[:, upper[0], upper[1]]
    statistic, rank = _explained_ones(np.concatenate([scores, indicators], axis=1))
    assert result.n_observations == n
    assert result.degrees_of_freedom == rank - _explained_ones(scores)[1]
    if name == "ordered_logistic":  # ∂²ℓᵢ/∂c₁∂c₂ + sᵢ₁sᵢ₂ = 0 for log(F(c₂ − η) − F(c₁ − η))
        assert result.degrees_of_freedom == d * (d + 1) // 2 - 1
    np.testing.assert_allclose(result.statistic, statistic, rtol=1e-5)
    assert 0.0 < result.p_value < 1.0
    discrepancy = (hessians + scores[:, :, None] * scores[:, None, :]).mean(axis=0)
    close(result.discrepancy.values, discrepancy, rtol=1e-5)
