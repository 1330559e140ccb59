"""Star colourings: valid on random patterns, few colours on hub-and-spoke patterns."""

import numpy as np
import pytest
import scipy.sparse as sp

from pmfisher._core.curvature.colouring import is_star_colouring, recovery_sources, star_colouring
from pmfisher._core.curvature.sparse_hessian import hessian_pattern
from pmfisher._core.model.model_graph import model_graph
from tests.structured_models import hierarchical


@pytest.mark.parametrize("seed", range(40))
def test_greedy_colouring_is_a_star_colouring_of_random_patterns(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 40))
    dense = rng.random((d, d)) < rng.uniform(0.02, 0.6)
    dense = dense | dense.T | np.eye(d, dtype=bool)
    pattern = sp.csr_array(dense)
    colours = star_colouring(pattern)
    assert is_star_colouring(pattern, colours)


def test_a_proper_colouring_that_is_not_a_star_colouring_is_rejected():
    """The path 0-1-2-3 coloured 0, 1, 0, 1 is proper, but H[1, 2] is mixed with H[1, 0] in
    row 1 and with H[2, 3] in row 2: it cannot be recovered."""
    path = sp.diags([1, 1, 1], [-1, 0, 1], shape=(4, 4), dtype=bool)
    assert not is_star_colouring(path, np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="not a star colouring"):
        recovery_sources(path, np.array([0, 1, 0, 1]))
    assert is_star_colouring(path, star_colouring(path))


def test_arrow_needs_two_colours():
    arrow = np.eye(6, dtype=bool)
    arrow[0, :] = arrow[:, 0] = True
    assert star_colouring(sp.csr_array(arrow)).max() == 1


@pytest.mark.parametrize("groups", [20, 2000, 20000])
def test_hierarchical_model_needs_four_colours_whatever_the_groups(groups):
    graph = model_graph(hierarchical(groups), space="unconstrained", terms="posterior")
    pattern = hessian_pattern(graph)
    colours = star_colouring(pattern)
    assert colours.max() + 1 == 4
    assert is_star_colouring(pattern, colours)


def test_banded_pattern_needs_a_bounded_number_of_colours():
    for size in (50, 5000):
        band = sp.diags([1] * 5, [-2, -1, 0, 1, 2], shape=(size, size), dtype=bool)
        colours = star_colouring(band)
        assert is_star_colouring(band, colours)
        assert colours.max() + 1 <= 6
