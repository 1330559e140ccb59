"""The information-matrix test on the zoo's model classes: a result or a typed error."""

import numpy as np
import pytest

import pmfisher
from tests.zoo import ROWS, model_for


def test_ordered_logistic_gets_a_typed_error_not_a_broadcasting_assertion():
    row = ROWS["ordered_logistic"]
    try:
        result = pmfisher.information_matrix_test(row.point, model=model_for(row.name))
    except pmfisher.UnsupportedModelError as error:
        assert "y" in str(error)
        assert "cannot be evaluated in batches" in str(error)
    else:
        assert np.isfinite(result.statistic)
        assert 0.0 <= result.p_value <= 1.0
