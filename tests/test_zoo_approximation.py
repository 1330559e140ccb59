"""The zoo through the fitting and approximation layers: find_mode on every row, and
Laplace, the delta method and compare on rows of each kind — each checked against finite
differences or the draws' moments, or the row's typed error."""

import warnings

import numpy as np
import pytest

import pmfisher
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import model_graph
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian
from tests.zoo import NAMES, close, expect, gradient_reference, model_for


@pytest.mark.parametrize("name", NAMES)
def test_find_mode_is_a_mode_or_says_why_not(name):
    raises = expect(name, "mode")
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


# The rows where Laplace, the delta method or compare meet something of their own: a simplex
# and a zero-sum vector (singular draws), ordered cutpoints and a mixture's ordered means
# (non-elementwise transforms), a deterministic, a posterior without a mode, a CustomDist, a
# Potential, imputed observations (constant draws of the posterior's y), heavy tails with an
# unknown ν, one parameter, a discrete variable. benchmarks/zoo_sweep.py runs every row.
LAPLACE_ROWS = [
    "dirichlet_categorical",
    "zero_sum_normal",
    "ordered_logistic",
    "normal_mixture_beta",
    "uniform_halfcauchy",
    "gaussian_random_walk",
    "custom_dist",
    "potential",
    "missing_observations",
    "student_t",
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
    raises = expect(name, "mode") or expect(name, "laplace")
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
    reference = -finite_difference_hessian(lambda y: gradient_reference(graph.logp_fn, y), mean)
    assert list(approx.fit["param_i"].values) == list(graph.labels)
    close(approx.fit["precision_matrix"].values, reference)

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
            close(result[0], function(mean), rtol=1e-10)
            sd = np.sqrt(np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian))
            np.testing.assert_allclose(result[1], sd, rtol=1e-6, atol=1e-9)

    raises = expect(name, "compare")
    if raises is not None:
        with raises:
            pmfisher.compare(approx, other)
        return
    table = pmfisher.compare(approx, other)
    posterior = approx.posterior.to_dataset()
    means = [posterior[v].mean(("chain", "draw")).values.ravel() for v in posterior.data_vars]
    np.testing.assert_allclose(table["mean_approx"].values, np.concatenate(means), rtol=1e-12)
    assert np.all(np.isfinite(table["mahalanobis"].values))
