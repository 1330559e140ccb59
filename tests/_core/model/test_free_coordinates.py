"""Simplex and zero-sum variables: the constrained space uses their free coordinates."""

import numpy as np
import pymc as pm
import pytest

import pmfisher
from pmfisher._core.model.model_graph import model_graph
from pmfisher.testing import finite_difference_hessian

COUNTS = np.array([7, 12, 21])
P = np.array([0.25, 0.3, 0.45])  # not the MLE, so that the gradient term would show
CATEGORIES = np.repeat(np.arange(3), [5, 9, 6])
GROUPS = np.arange(14) % 4
GROUP_Y = np.random.default_rng(7).normal(np.array([0.5, -0.3, 0.1, -0.3])[GROUPS], 0.8)


@pytest.fixture(scope="module")
def multinomial():
    with pm.Model(coords={"category": ["a", "b", "c"]}) as model:
        p = pm.Dirichlet("p", a=np.array([2.0, 3.0, 4.0]), dims="category")
        pm.Multinomial("y", n=COUNTS.sum(), p=p, observed=COUNTS)
    return model


@pytest.fixture(scope="module")
def zero_sum():
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 5.0)
        effects = pm.ZeroSumNormal("effects", sigma=1.0, shape=4)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", a + effects[GROUPS], sigma, observed=GROUP_Y)
    return model


ZERO_SUM_POINT = {"a": 0.2, "effects": np.array([0.4, -0.5, 0.3, -0.2]), "sigma": 0.9}


def test_multinomial_information_is_the_textbook_form_over_the_first_k_minus_1(multinomial):
    info = pmfisher.observed_information({"p": P}, model=multinomial)
    n = COUNTS.sum()
    # -∂² log L over p_1, p_2 with p_3 = 1 - p_1 - p_2: diag(y_k / p_k²) + y_3 / p_3² 11ᵀ,
    # which is n (diag(1/p) + 11ᵀ / p_K) where p is the MLE y / n.
    at_point = np.diag(COUNTS[:2] / P[:2] ** 2) + COUNTS[2] / P[2] ** 2
    np.testing.assert_allclose(info.values, at_point, rtol=1e-10)
    mle = COUNTS / n
    textbook = n * (np.diag(1 / mle[:2]) + 1 / mle[2])
    at_mle = pmfisher.observed_information({"p": mle}, model=multinomial)
    np.testing.assert_allclose(at_mle.values, textbook, rtol=1e-10)
    assert list(info["param_i"].values) == ["p[a]", "p[b]"]


def test_categorical_information_at_any_point_is_closed_form():
    counts = np.bincount(CATEGORIES)
    with pm.Model() as model:
        p = pm.Dirichlet("p", a=np.ones(3))
        pm.Categorical("y", p=p, observed=CATEGORIES)
    info = pmfisher.observed_information({"p": P}, model=model)
    expected = np.diag(counts[:2] / P[:2] ** 2) + counts[2] / P[2] ** 2
    np.testing.assert_allclose(info.values, expected, rtol=1e-10)
    assert list(info["param_i"].values) == ["p[0]", "p[1]"]


@pytest.mark.parametrize("space", ["constrained", "unconstrained"])
def test_posterior_information_matches_finite_differences(multinomial, space):
    graph = model_graph(multinomial, space=space, terms="posterior")
    x = graph.flatten({"p": P})
    reference = -finite_difference_hessian(lambda x: graph.logp_and_grad_fn(x)[1], x)
    info = pmfisher.observed_information(
        {"p": P}, model=multinomial, terms="posterior", space=space
    )
    np.testing.assert_allclose(info.values, reference, rtol=1e-7)
    assert info.shape == (2, 2)


def test_tensor_law_holds_between_free_coordinates_and_the_simplex_transform(multinomial):
    check = pmfisher.check_tensor_law({"p": P}, model=multinomial, information="observed")
    assert check.max_error < 1e-10
    assert check.jacobian.shape == (2, 2)
    # The Jacobian of the simplex transform is not diagonal: a dropped cross term shows.
    assert abs(check.jacobian.values[0, 1]) > 0.01


def test_points_given_and_returned_hold_every_entry(multinomial):
    mode = pmfisher.find_mode(model=multinomial, terms="likelihood", space="constrained")
    np.testing.assert_allclose(mode.point["p"], COUNTS / COUNTS.sum(), rtol=1e-6)
    assert mode.x.shape == (2,)
    assert mode.labels == ("p[a]", "p[b]")
    tree = pmfisher.laplace(model=multinomial, draws=50, random_seed=1)
    draws = tree.posterior["p"]
    assert draws.sizes["category"] == 3
    np.testing.assert_allclose(draws.sum("category"), 1.0, rtol=1e-12)
    assert tree.unconstrained_posterior["p_simplex__"].shape[-1] == 2


def test_monte_carlo_fisher_information_in_free_coordinates(multinomial):
    fisher = pmfisher.fisher_information({"p": P}, model=multinomial, replicates=400, random_seed=3)
    expected = COUNTS.sum() * (np.diag(1 / P[:2]) + 1 / P[2])
    assert np.all(np.abs(fisher.matrix.values - expected) < 5 * fisher.mcse["matrix"].values)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0.2, 0.3, 0.6], "p must sum to one"),
        ([0.2, 0.3], r"p has shape \(2,\)"),
        ([0.7, 0.5, -0.2], "outside the support of p"),
    ],
)
def test_point_off_the_simplex_names_the_variable(multinomial, value, message):
    with pytest.raises(pmfisher.PointError, match=message):
        pmfisher.observed_information({"p": np.array(value)}, model=multinomial)


def test_zero_sum_effects_are_identified_in_free_coordinates(zero_sum):
    info = pmfisher.observed_information(ZERO_SUM_POINT, model=zero_sum)
    assert list(info["param_i"].values) == [
        "a",
        "effects[0]",
        "effects[1]",
        "effects[2]",
        "sigma",
    ]
    # The normal linear model with the last effect implied: X has the row [1, -1, -1, -1]
    # for group 3. -∂²ℓ over (β, σ) is [[XᵀX/σ², 2Xᵀr/σ³], [., 3Σr²/σ⁴ - n/σ²]].
    point = ZERO_SUM_POINT
    design = np.column_stack([np.ones(GROUPS.size), np.eye(4)[GROUPS][:, :3]])
    design[GROUPS == 3, 1:] = -1.0
    beta = np.array([point["a"], *point["effects"][:3]])
    residual = GROUP_Y - design @ beta
    sigma = point["sigma"]
    expected = np.zeros((5, 5))
    expected[:4, :4] = design.T @ design / sigma**2
    expected[:4, 4] = expected[4, :4] = 2 * design.T @ residual / sigma**3
    expected[4, 4] = 3 * (residual**2).sum() / sigma**4 - GROUPS.size / sigma**2
    np.testing.assert_allclose(info.values, expected, rtol=1e-10)


def test_zero_sum_point_must_sum_to_zero(zero_sum):
    point = dict(ZERO_SUM_POINT, effects=np.array([0.4, -0.5, 0.3, 0.0]))
    with pytest.raises(pmfisher.PointError, match="effects must sum to zero"):
        pmfisher.observed_information(point, model=zero_sum)


def test_zero_sum_tensor_law_and_unconstrained_space(zero_sum):
    check = pmfisher.check_tensor_law(ZERO_SUM_POINT, model=zero_sum, information="observed")
    assert check.max_error < 1e-10
    graph = model_graph(zero_sum, space="unconstrained", terms="posterior")
    x = graph.flatten(ZERO_SUM_POINT)
    reference = -finite_difference_hessian(lambda x: graph.logp_and_grad_fn(x)[1], x)
    info = pmfisher.observed_information(
        ZERO_SUM_POINT, model=zero_sum, terms="posterior", space="unconstrained"
    )
    np.testing.assert_allclose(info.values, reference, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(
        graph.constrained_point(x)["effects"], ZERO_SUM_POINT["effects"], atol=1e-12
    )
