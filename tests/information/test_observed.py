"""observed_information against the closed forms of the seed text."""

import numpy as np
import pytest

import pmfisher
from tests.closed_forms import CASES, NORMAL_Y, POISSON_Y, model_for, normal, poisson


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_matches_closed_form(case):
    info = pmfisher.observed_information(
        case.point, model=case.model, terms=case.terms, space=case.space
    )
    np.testing.assert_allclose(info.values, case.information, rtol=1e-8, atol=1e-10)
    assert list(info.param_i.values) == list(case.labels)
    assert list(info.param_j.values) == list(case.labels)
    assert info.attrs == {"terms": case.terms, "space": case.space, "structure": "dense"}


def test_default_point_is_the_mle():
    info = pmfisher.observed_information(model=model_for(poisson))
    np.testing.assert_allclose(info.values, [[POISSON_Y.size / POISSON_Y.mean()]], rtol=1e-8)


def test_mode_object_is_accepted_as_point():
    model = model_for(normal)
    mode = pmfisher.find_mode(model=model, terms="likelihood", space="unconstrained")
    info = pmfisher.observed_information(mode, model=model, space="unconstrained")
    n, sigma = NORMAL_Y.size, NORMAL_Y.std()
    np.testing.assert_allclose(info.values, np.diag([n / sigma**2, 2.0 * n]), rtol=1e-7, atol=1e-6)


def test_model_from_context():
    model = model_for(poisson)
    with model:
        info = pmfisher.observed_information({"lam": 2.0})
    np.testing.assert_allclose(info.values, [[POISSON_Y.sum() / 4.0]], rtol=1e-10)
