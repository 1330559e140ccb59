"""Labels and labelled results: ``element_labels`` in C order with coordinate values where a
dimension is named and fits; square, sparse and vector results with their dims; the names of
distributions as a person knows them."""

import numpy as np
import pymc as pm
import pytest
import sparse
from scipy import sparse as scipy_sparse

from pmfisher._core.curvature import memory
from pmfisher._core.model import labelled
from pmfisher._core.model.labelled import (
    distribution_name,
    element_labels,
    is_sparse,
    sparse_square,
    square,
    vector,
)

COORDS = {"school": ["A", "B", "C"], "year": [2020, 2021], "unused": ["x"]}


@pytest.mark.parametrize(
    ("shape", "dims", "labels"),
    [
        ((), None, ("theta",)),
        ((3,), ("school",), ("theta[A]", "theta[B]", "theta[C]")),
        ((3,), None, ("theta[0]", "theta[1]", "theta[2]")),
        # C order: the last axis runs fastest; a named and an unnamed dimension.
        (
            (3, 2),
            ("school", None),
            (
                "theta[A, 0]",
                "theta[A, 1]",
                "theta[B, 0]",
                "theta[B, 1]",
                "theta[C, 0]",
                "theta[C, 1]",
            ),
        ),
        (
            (2, 3),
            ("year", "school"),
            (
                "theta[2020, A]",
                "theta[2020, B]",
                "theta[2020, C]",
                "theta[2021, A]",
                "theta[2021, B]",
                "theta[2021, C]",
            ),
        ),
        # Coordinates of the wrong length, and fewer dims than axes: positions instead.
        ((2,), ("school",), ("theta[0]", "theta[1]")),
        (
            (2, 2),
            ("year",),
            ("theta[2020, 0]", "theta[2020, 1]", "theta[2021, 0]", "theta[2021, 1]"),
        ),
        ((1,), ("unused",), ("theta[x]",)),
    ],
)
def test_element_labels(shape, dims, labels):
    assert element_labels("theta", shape, dims, COORDS) == labels


def test_labels_follow_the_models_dims_and_coords():
    with pm.Model(coords={"school": ["A", "B", "C"]}) as model:
        pm.Normal("theta", dims="school")
    dims = model.named_vars_to_dims["theta"]
    assert element_labels("theta", (3,), dims, model.coords) == ("theta[A]", "theta[B]", "theta[C]")


MATRIX = np.array([[2.0, -0.5, 0.0], [-0.5, 1.0, 0.25], [0.0, 0.25, 3.0]])
LABELS = ["mu", "tau", "z[A]"]


def test_square_and_vector_are_labelled_on_both_axes():
    result = square(MATRIX, LABELS, name="information", estimator="negative_hessian")
    assert result.dims == ("param_i", "param_j")
    assert list(result.param_i.values) == list(result.param_j.values) == LABELS
    assert result.name == "information"
    assert result.attrs == {"estimator": "negative_hessian"}
    # Asymmetric lookups: row and column labels are not swapped.
    assert float(result.sel(param_i="tau", param_j="z[A]")) == 0.25
    assert float(result.sel(param_i="mu", param_j="tau")) == -0.5
    assert not is_sparse(result)
    values = vector([1.0, 2.0], ["y[0]", "y[1]"], name="score", dim="observation")
    assert values.dims == ("observation",)
    assert float(values.sel(observation="y[1]")) == 2.0


def test_a_sparse_result_is_dense_unless_asked_for_or_too_large(monkeypatch):
    matrix = scipy_sparse.csr_array(MATRIX)
    dense = sparse_square(matrix, LABELS, name="H", requested="auto")
    assert not is_sparse(dense)
    np.testing.assert_array_equal(dense.values, MATRIX)
    asked = sparse_square(matrix, LABELS, name="H")
    assert is_sparse(asked)
    assert isinstance(asked.data, sparse.COO)
    np.testing.assert_array_equal(asked.data.todense(), MATRIX)
    np.testing.assert_array_equal(asked.data.tocsr().toarray(), MATRIX)
    assert float(asked.sel(param_i="tau", param_j="z[A]")) == 0.25
    # Above DENSE_RESULT_BYTES (or what memory allows) it stays sparse whatever was asked.
    monkeypatch.setattr(labelled, "DENSE_RESULT_BYTES", 8 * 9 - 1)
    assert is_sparse(sparse_square(matrix, LABELS, name="H", requested="auto"))
    monkeypatch.setattr(labelled, "DENSE_RESULT_BYTES", 8 * 9)
    assert not is_sparse(sparse_square(matrix, LABELS, name="H", requested="auto"))
    monkeypatch.setattr(memory, "available_bytes", lambda: 0)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    assert is_sparse(sparse_square(matrix, LABELS, name="H", requested="auto"))


ASYMMETRIC = np.array([[0.0, -0.5, 4.0], [1.5, 0.0, 0.25], [0.0, 2.0, 3.0]])


@pytest.mark.parametrize(
    "given",
    [
        scipy_sparse.csc_array(ASYMMETRIC),
        scipy_sparse.csr_array(ASYMMETRIC),
        # Unsorted, with a duplicate entry that sums to 3.0 (not canonical).
        scipy_sparse.coo_array(
            ([1.0, 2.0, 4.0, 1.5, -0.5, 0.25, 2.0], ([2, 2, 0, 1, 0, 1, 2], [2, 2, 2, 0, 1, 2, 1])),
            shape=(3, 3),
        ),
    ],
    ids=["csc", "csr", "coo-with-duplicates"],
)
def test_a_sparse_result_holds_the_matrix_in_any_scipy_format(given):
    result = sparse_square(given, LABELS, name="H")
    assert isinstance(result.data, sparse.COO)
    np.testing.assert_array_equal(result.data.todense(), ASYMMETRIC)
    # Rows stay rows: an asymmetric entry is read where it was written.
    assert float(result.sel(param_i="mu", param_j="z[A]")) == 4.0
    assert float(result.sel(param_i="z[A]", param_j="mu")) == 0.0
    # The result shares no memory with the matrix it was given.
    given.data[:] = 0.0
    np.testing.assert_array_equal(result.data.todense(), ASYMMETRIC)


def test_results_over_the_same_labels_are_labelled_alike_and_independently():
    first = square(MATRIX, tuple(LABELS), name="H")
    second = square(2 * MATRIX, tuple(LABELS), name="H")
    assert list(second.param_i.values) == list(first.param_j.values) == LABELS
    renamed = first.assign_coords(param_i=["a", "b", "c"])
    assert list(second.param_i.values) == LABELS
    assert list(renamed.param_i.values) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        (pm.Normal.dist(0.0, 1.0), "Normal"),
        (pm.HalfNormal.dist(1.0), "HalfNormal"),
        (pm.NegativeBinomial.dist(mu=2.0, alpha=1.5), "NegativeBinomial"),
        (pm.MvNormal.dist(np.zeros(2), np.eye(2)), "MultivariateNormal"),
        (pm.Dirichlet.dist(np.ones(3)), "Dirichlet"),
    ],
)
def test_distribution_names(variable, name):
    assert distribution_name(variable) == name
