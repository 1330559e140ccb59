"""CHOLMOD's factor of a sparse precision: exact log-determinant, draws with covariance
exactly the inverse (through the fill-reducing permutation), and failures that name the
parameters."""

import numpy as np
import pytest
from scipy import sparse

from pmfisher._core.linalg.sparse_cholesky import sparse_positive_definite
from pmfisher.errors import NotPositiveDefiniteError


def arrowhead(groups: int, seed: int = 0) -> sparse.csc_array:
    """The precision of a hierarchical model: group effects each coupled to three shared
    parameters (placed first, so that the natural order fills in completely and the
    permutation matters), with unequal, non-diagonal entries."""
    rng = np.random.default_rng(seed)
    size = groups + 3
    dense = np.zeros((size, size))
    shared = rng.normal(size=(3, 3))
    dense[:3, :3] = shared @ shared.T + groups * np.eye(3)
    coupling = rng.normal(size=(3, groups))
    dense[:3, 3:] = coupling
    dense[3:, :3] = coupling.T
    dense[3:, 3:] = np.diag(rng.uniform(2.0, 5.0, size=groups))
    return sparse.csc_array(dense)


def test_log_determinant_draws_and_solves_are_exact():
    precision = arrowhead(60)
    dense = precision.toarray()
    factor = sparse_positive_definite(precision, [f"p{i}" for i in range(63)], what="precision")
    np.testing.assert_allclose(factor.log_determinant, np.linalg.slogdet(dense)[1], rtol=1e-12)
    # Rows z = e_s give the columns of the square root S, and S Sᵀ must be the covariance.
    root = factor.deviations(np.eye(63)).T
    np.testing.assert_allclose(root @ root.T, np.linalg.inv(dense), atol=1e-12)
    vector = np.linspace(-1.0, 2.0, 63)
    np.testing.assert_allclose(factor.solve(vector), np.linalg.solve(dense, vector), atol=1e-12)


def test_fit_holds_the_labelled_sparse_precision_and_converts_back_to_scipy():
    precision = arrowhead(10)
    labels = [f"p{i}" for i in range(13)]
    [(name, array)] = (
        sparse_positive_definite(precision, labels, what="p").fit_variables(labels).items()
    )
    assert name == "precision_matrix"
    assert array.dims == ("param_i", "param_j")
    assert array["param_j"].values.tolist() == labels
    assert (array.data.to_scipy_sparse() != precision).nnz == 0
    assert float(array.sel(param_i="p0", param_j="p5")) == precision[0, 5]


@pytest.mark.parametrize("action", ["raise", "regularize"])
def test_an_indefinite_precision_is_reported_with_the_parameters_along_it(action):
    """Large enough for the Lanczos route; p7 alone curves the wrong way."""
    precision = sparse.lil_array(arrowhead(300))
    precision[7, 7] = -40.0
    labels = [f"p{i}" for i in range(303)]
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite") as raised:
        sparse_positive_definite(precision.tocsc(), labels, what="precision", action=action)
    assert raised.value.eigenvalues[0] < -30
    assert next(iter(raised.value.loadings)) == "p7"
    assert "structure='dense'" in str(raised.value)
