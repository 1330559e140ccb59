"""reporting/standard_errors.py: the report's table is the summary at the MLE, with profile
intervals up to ``PROFILE_LIMIT`` parameters and Wald intervals above — on group means of
unit-variance normals, whose log-likelihood is quadratic, so both are ȳ_g ± q/√n_g."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from pmfisher.fitting.mode_cache import current_mode
from pmfisher.reporting.standard_errors import PROFILE_LIMIT, mle_summary

PER_GROUP = 3


def group_means(groups: int):
    rng = np.random.default_rng(groups)
    index = np.repeat(np.arange(groups), PER_GROUP)
    y = rng.normal(np.arange(groups, dtype=float)[index], 1.0)
    with pm.Model(coords={"group": np.arange(groups), "obs": np.arange(y.size)}) as model:
        group = pm.Data("group_index", index, dims="obs")
        mu = pm.Normal("mu", 0.0, 10.0, dims="group")
        pm.Normal("y", mu[group], 1.0, observed=y, dims="obs")
    return model, y.reshape(groups, PER_GROUP).mean(axis=1)


@pytest.mark.parametrize(
    ("groups", "ci"), [(PROFILE_LIMIT, "profile"), (PROFILE_LIMIT + 1, "wald")]
)
def test_profile_intervals_up_to_the_limit(groups, ci):
    model, means = group_means(groups)
    mode = current_mode(model, terms="likelihood", space="constrained")
    table = mle_summary(mode, model).table
    assert table.attrs["ci"] == ci
    assert table.attrs["estimator"] == "maximum likelihood"
    half = stats.norm.ppf(0.975) / np.sqrt(PER_GROUP)
    np.testing.assert_allclose(table["estimate"], means, atol=1e-8)
    np.testing.assert_allclose(table["se"], np.full(groups, 1 / np.sqrt(PER_GROUP)), rtol=1e-8)
    np.testing.assert_allclose(table["lower"], means - half, atol=1e-7)
    np.testing.assert_allclose(table["upper"], means + half, atol=1e-7)
