"""The selected inverse (Takahashi's equations) equals the dense inverse on the pattern of
diagonal, block-diagonal, banded and irregular sparse matrices, in CHOLMOD's ordering."""

import warnings

import numpy as np
import pytest
from scipy import sparse
from sksparse.cholmod import cholesky

from pmfisher._core.linalg.selected_inverse import selected_inverse

RNG = np.random.default_rng(7)


def _diagonal(n):
    return sparse.diags(RNG.uniform(0.5, 2.0, n))


def _blocks(n):
    blocks = [RNG.normal(size=(2, 2)) for _ in range(n // 2)]
    return sparse.block_diag([b @ b.T + np.eye(2) for b in blocks])


def _band(n):
    off = RNG.uniform(-0.4, 0.4, n - 1)
    return sparse.diags([off, RNG.uniform(1.0, 2.0, n), off], [-1, 0, 1])


def _irregular(n):
    factor = sparse.random(n, n, density=0.03, random_state=3)
    return factor @ factor.T + sparse.identity(n)


@pytest.mark.parametrize("build", [_diagonal, _blocks, _band, _irregular])
def test_selected_inverse_equals_the_dense_inverse_on_the_pattern(build):
    matrix = sparse.csc_matrix(build(120))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        factor = cholesky(matrix, mode="simplicial")
    position = np.argsort(factor.P())
    rows, cols = matrix.nonzero()
    entries = selected_inverse(factor.L(), (position[rows], position[cols]))
    dense = np.linalg.inv(matrix.toarray())[rows, cols]
    np.testing.assert_allclose(entries, dense, rtol=1e-12, atol=1e-14)


def test_an_entry_outside_the_filled_pattern_is_refused():
    lower = sparse.csc_array(np.linalg.cholesky(np.diag([1.0, 2.0, 3.0])))
    with pytest.raises(ValueError, match="filled pattern"):
        selected_inverse(lower, (np.array([2]), np.array([0])))
