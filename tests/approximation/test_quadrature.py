"""Gauss–Hermite rules: exact Gaussian moments up to their degree, product and sparse grids,
and the polynomial each integrates exactly."""

import itertools
from math import prod

import numpy as np
import pytest

from pmfisher.approximation.quadrature import PRODUCT_GRID_MAX_DIMENSION, rule
from pmfisher.errors import PMFisherError


def normal_moment(power: int) -> int:
    """E z^p for z ~ N(0, 1): (p - 1)!! for even p, 0 for odd."""
    return 0 if power % 2 else prod(range(power - 1, 0, -2))


@pytest.mark.parametrize(
    ("dimension", "nodes", "kind", "count"),
    [(1, 5, "product", 5), (2, 5, "product", 25), (3, 3, "product", 27), (4, 5, "smolyak", 49)],
)
def test_rules_are_exact_for_their_polynomials(dimension, nodes, kind, count):
    placed = rule(dimension=dimension, nodes=nodes)
    assert placed.kind == kind
    assert placed.nodes.shape == (count, dimension)
    for powers in itertools.product(range(2 * nodes), repeat=dimension):
        # The product grid: every power up to 2k - 1 in each coordinate; Smolyak: total
        # degree up to k, and any one coordinate alone up to 2k - 1.
        along_one_axis = sum(p > 0 for p in powers) <= 1
        if kind == "smolyak" and not (sum(powers) <= nodes or along_one_axis):
            continue
        estimate = placed.weights @ np.prod(placed.nodes ** np.array(powers), axis=1)
        exact = prod(normal_moment(p) for p in powers)
        assert abs(estimate - exact) <= 1e-9 * max(1, exact), powers


def test_the_sparse_grid_takes_over_above_the_stated_dimension():
    assert rule(dimension=PRODUCT_GRID_MAX_DIMENSION, nodes=5).kind == "product"
    sparse = rule(dimension=PRODUCT_GRID_MAX_DIMENSION + 1, nodes=5)
    assert sparse.kind == "smolyak"
    assert (sparse.weights < 0).any()
    assert len(rule(dimension=10, nodes=5).nodes) == 241


@pytest.mark.parametrize("dimension", [2, 4])
def test_the_interpolant_integrates_to_the_rule(dimension):
    """∫ N(z) P_g(z) dz is the rule's sum, checked by Monte Carlo within 4 standard errors;
    on the product grid P_g passes through g at the nodes."""
    placed = rule(dimension=dimension, nodes=5)
    g = np.exp(0.3 * np.sin(placed.nodes).sum(axis=1) + 0.1 * placed.nodes[:, 0] ** 2)
    z = np.random.default_rng(0).standard_normal((200_000, dimension))
    values = placed.interpolate(g, z)
    standard_error = values.std() / np.sqrt(z.shape[0])
    assert abs(values.mean() - placed.weights @ g) < 4 * standard_error
    if placed.kind == "product":
        np.testing.assert_allclose(placed.interpolate(g, placed.nodes), g, rtol=1e-10)


@pytest.mark.parametrize("nodes", [0, 2, 4, 2.5, -1])
def test_nodes_must_be_odd_and_positive(nodes):
    with pytest.raises(PMFisherError, match="odd positive integer"):
        rule(dimension=2, nodes=nodes)
