"""The NUTS reference: a warm start from a Laplace fit puts PyMC's mass matrix where the fit is."""

import numpy as np
import pymc as pm
from pymc.blocking import DictToArrayBijection

from pmfisher import laplace
from pmfisher.reporting.nuts import _warm_started


def test_a_warm_start_gives_each_value_variable_its_own_variances():
    """Two vector variables of scales 100 apart, one log-transformed, in an order other than
    the alphabet: the step's initial mass matrix, in PyMC's own raveling of its variables,
    holds each variable's Laplace variances (a mix-up of order or of spaces shows)."""
    rng = np.random.default_rng(3)
    with pm.Model() as model:
        wide = pm.Normal("wide", 0.0, 100.0, shape=2)
        scale = pm.HalfNormal("scale", 1.0, shape=3)
        pm.Normal("y", wide.sum(), 5.0, observed=rng.normal(size=4))
        pm.Normal("z", 0.0, scale, observed=rng.normal(0.0, [0.5, 1.0, 2.0], size=(20, 3)))
    fit = laplace(model=model, draws=400, random_seed=1)
    started = _warm_started(model, fit, seed=1)
    step = started["step"]
    draws = fit["unconstrained_posterior"]
    variances = {
        var.name: draws[var.name].var(("chain", "draw"), ddof=1).values for var in step.vars
    }
    expected = DictToArrayBijection.map(variances).data
    np.testing.assert_allclose(step.potential._initial_diag, expected, rtol=1e-12)
    assert expected[:2].min() > 100 * expected[2:].max()  # the scales really differ
    means = fit["posterior"].mean(("chain", "draw"))
    np.testing.assert_allclose(started["initvals"]["scale"], means["scale"].values)
    assert np.all(started["initvals"]["scale"] > 0)  # constrained values, as PyMC takes them
