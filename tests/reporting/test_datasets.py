"""reporting/datasets.py: eight schools as published (Gelman et al., *Bayesian Data Analysis*,
Table 5.2) and its two models, whose log-densities are the sums written here with SciPy."""

import numpy as np
import pytensor
import pytest
from scipy import stats

from pmfisher.reporting.datasets import (
    EIGHT_SCHOOLS,
    EIGHT_SCHOOLS_EFFECTS,
    EIGHT_SCHOOLS_STANDARD_ERRORS,
    eight_schools,
)

MU, TAU = 4.0, 3.5
THETA = np.array([10.0, 7.0, 1.0, 6.0, 2.0, 3.0, 12.0, 8.0])


def test_the_published_data():
    assert EIGHT_SCHOOLS == ("A", "B", "C", "D", "E", "F", "G", "H")
    assert EIGHT_SCHOOLS_EFFECTS.tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    assert EIGHT_SCHOOLS_STANDARD_ERRORS.tolist() == [15, 10, 16, 11, 9, 11, 10, 18]


def _prior_of_mu_and_tau():
    return stats.norm.logpdf(MU, 0, 5) + stats.halfcauchy.logpdf(TAU, scale=5)


def _likelihood():
    return stats.norm.logpdf(EIGHT_SCHOOLS_EFFECTS, THETA, EIGHT_SCHOOLS_STANDARD_ERRORS).sum()


@pytest.mark.parametrize(
    ("centred", "name", "free", "values", "log_density"),
    [
        (
            True,
            "z",
            ["mu", "tau", "theta"],
            {"theta": THETA},
            _prior_of_mu_and_tau() + stats.norm.logpdf(THETA, MU, TAU).sum() + _likelihood(),
        ),
        (
            False,
            "z",
            ["mu", "tau", "z"],
            {"z": (THETA - MU) / TAU},
            _prior_of_mu_and_tau() + stats.norm.logpdf((THETA - MU) / TAU).sum() + _likelihood(),
        ),
        (
            False,
            "eta",
            ["mu", "tau", "eta"],
            {"eta": (THETA - MU) / TAU},
            _prior_of_mu_and_tau() + stats.norm.logpdf((THETA - MU) / TAU).sum() + _likelihood(),
        ),
    ],
    ids=["centred", "non-centred", "non-centred-renamed"],
)
def test_the_models_log_densities(centred, name, free, values, log_density):
    model = eight_schools(centred=centred, non_centred_name=name)
    assert [rv.name for rv in model.free_RVs] == free
    assert model.named_vars_to_dims["theta"] == ("school",)
    assert list(model.coords["school"]) == list(EIGHT_SCHOOLS)
    point = {"mu": MU, "tau_log__": np.log(TAU), **values}
    found = model.compile_logp(jacobian=False)(point)
    # PyMC's normalizing constants differ from SciPy's by ~3e-8 a term (measured: Normal and
    # HalfCauchy), far below any change of the model.
    assert found == pytest.approx(log_density, abs=1e-6)
    if not centred:  # θ = μ + τ z is kept as a deterministic
        inputs = [model["mu"], model["tau"], model[name]]
        theta = pytensor.function(inputs, model["theta"])(MU, TAU, values[name])
        np.testing.assert_allclose(theta, THETA, rtol=1e-14)
