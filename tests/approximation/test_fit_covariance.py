"""A Laplace fit's covariance read as stored: from the dense ``covariance_matrix``, or from the
sparse ``precision_matrix`` alone, the same variances, blocks and quadratic forms as the
inverse of the precision; a group that is not a fit is refused."""

import numpy as np
import pytest
import xarray as xr
from scipy import sparse

from pmfisher._core.model.labelled import sparse_square, square, vector
from pmfisher.approximation.fit_covariance import fit_covariance
from pmfisher.errors import ArgumentError

LABELS = ["mu", "tau_log__", "z[a]", "z[b]", "z[c]", "z[d]"]
# A sparse, non-diagonal precision: an arrow (mu, tau couple to every z) and a chain in z.
PRECISION = np.array(
    [
        [5.0, 0.3, 1.0, 1.0, 1.0, 1.0],
        [0.3, 4.0, -0.5, 0.2, -0.1, 0.4],
        [1.0, -0.5, 3.0, -1.0, 0.0, 0.0],
        [1.0, 0.2, -1.0, 3.5, -1.0, 0.0],
        [1.0, -0.1, 0.0, -1.0, 2.5, -0.7],
        [1.0, 0.4, 0.0, 0.0, -0.7, 2.0],
    ]
)
COVARIANCE = np.linalg.inv(PRECISION)


def fit_group(stored: str) -> xr.Dataset:
    fit = xr.Dataset({"mean_vector": vector(np.arange(6.0), LABELS, name="mean_vector")})
    if stored == "dense":
        fit["covariance_matrix"] = square(COVARIANCE, LABELS, name="covariance_matrix")
        fit["precision_matrix"] = square(PRECISION, LABELS, name="precision_matrix")
    else:
        fit["precision_matrix"] = sparse_square(
            sparse.csr_array(PRECISION), LABELS, name="precision_matrix"
        )
    return fit


@pytest.mark.parametrize("stored", ["dense", "sparse"])
def test_variances_blocks_and_quadratic_forms_are_those_of_the_inverse(stored):
    covariance = fit_covariance(fit_group(stored))
    assert covariance.labels == tuple(LABELS)
    assert (covariance.dense is None) is (stored == "sparse")
    np.testing.assert_allclose(covariance.variances(), np.diag(COVARIANCE), rtol=1e-12)
    chosen = [4, 0, 2]  # out of order: rows and columns follow the indices given
    np.testing.assert_allclose(
        covariance.block(chosen), COVARIANCE[np.ix_(chosen, chosen)], rtol=1e-12, atol=1e-15
    )
    rows = np.random.default_rng(5).normal(size=(4, 6))
    expected = np.array([row @ COVARIANCE @ row for row in rows])
    given = rows if stored == "dense" else sparse.csr_array(rows)
    np.testing.assert_allclose(covariance.quadratic_forms(given), expected, rtol=1e-12)


def test_a_sparse_fit_reads_a_datatree_node_too():
    tree = xr.DataTree.from_dict({"fit": fit_group("sparse")})
    np.testing.assert_allclose(
        fit_covariance(tree["fit"]).variances(), np.diag(COVARIANCE), rtol=1e-12
    )


def test_a_group_that_is_not_a_fit_is_refused():
    with pytest.raises(ArgumentError, match="neither a covariance_matrix nor a precision_matrix"):
        fit_covariance(fit_group("sparse").drop_vars("precision_matrix"))
    dense_precision_only = fit_group("dense").drop_vars("covariance_matrix")
    with pytest.raises(ArgumentError, match="precision_matrix is dense but there is no"):
        fit_covariance(dense_precision_only)
