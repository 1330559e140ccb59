"""Every model class of the zoo through the public functions, in both spaces and both term
sets: equal to the finite-difference reference, or a typed error naming the variable."""

import warnings

import numpy as np
import pytest

import pmfisher
from pmfisher._core.model_graph import model_graph
from pmfisher.testing import finite_difference_hessian, finite_difference_jacobian
from tests.zoo import ROWS, model_for

NAMES = list(ROWS)
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


def _expect(name: str, check: str):
    """``pytest.raises`` for the row's expected typed error, or ``None`` when the check
    must give a result."""
    expected = ROWS[name].errors.get(check)
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


@pytest.mark.parametrize("name", PER_OBSERVATION)
def test_monte_carlo_fisher_information_is_a_result_or_a_typed_error(name):
    row = ROWS[name]
    raises = _expect(name, "fisher")
    if raises is not None:
        with raises:
            pmfisher.fisher_information(
                row.point, model=model_for(name), method="monte_carlo", draws=32
            )
        return
    fisher = pmfisher.fisher_information(
        row.point, model=model_for(name), method="monte_carlo", draws=32, random_seed=1
    )
    matrix = fisher.matrix.values
    assert np.all(np.isfinite(matrix))
    np.testing.assert_allclose(matrix, matrix.T, atol=1e-10 * np.abs(matrix).max())


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
