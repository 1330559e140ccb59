"""The information-matrix test on the zoo's model classes: a result or a typed error."""

import pytest

import pmfisher
from tests.zoo import ROWS, model_for


def test_ordered_logistic_gets_a_typed_error_not_a_broadcasting_assertion():
    # PyTensor's batched per-observation Hessians of OrderedLogistic fail their run-time
    # broadcasting check; the user gets a pmfisher error naming y instead.
    row = ROWS["ordered_logistic"]
    with pytest.raises(pmfisher.UnsupportedModelError, match="derivatives of y cannot be"):
        pmfisher.information_matrix_test(row.point, model=model_for(row.name))
