"""Where a mode search stops on no interior mode: at the edge of the support (a variance
component at 0) or at infinity along a ray (perfect separation), each named in the message
(a Uniform's bound: ``test_mode``)."""

import warnings

import numpy as np
import pymc as pm
import pytest

import pmfisher


def test_a_marginal_search_ending_on_a_variance_boundary_says_so():
    """Every group's mean is the same, so the between-group sd's maximum likelihood estimate
    is 0: the search over the Laplace marginal stops there, where the gradient in τ vanishes
    too. Once this message crashed (the marginal had no ``space``); then restarts found a
    point near 0 whose small gradient passed for an interior mode."""
    group = np.repeat(np.arange(6), 4)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        tau = pm.HalfNormal("tau", 2.0)
        b = pm.Normal("b", 0.0, tau, shape=6)
        pm.Normal("y", mu + b[group], 1.0, observed=2.0 + np.tile([-1.0, 1.0, -0.5, 0.5], 6))
    with pytest.warns(UserWarning, match="did not converge.*from 5 start"):
        mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained", latent="b")
    assert not mode.converged
    assert "boundary of the support" in mode.message
    assert "at tau = " in mode.message
    assert float(mode.point["tau"]) < 1e-3
    np.testing.assert_allclose(mode.point["mu"], 2.0, rtol=1e-6)


SEPARATING_X = np.array([-2.0, -1.5, -1.0, -0.5, -0.3, 0.2, 0.5, 1.0, 1.5, 2.0])


@pytest.mark.parametrize(
    ("labels", "separated"),
    [
        ((SEPARATING_X > 0).astype(int), True),  # the sign of x predicts every outcome
        (np.r_[(SEPARATING_X[:-1] > 0).astype(int), 0], False),  # one outcome against it
        (np.r_[1, (SEPARATING_X[1:] > 0).astype(int)], False),
    ],
)
def test_perfect_separation_is_no_mode_as_statsmodels_says(labels, separated):
    """A logistic log-likelihood whose supremum lies at infinity along a separating direction
    has a vanishing gradient far out; find_mode must not call that a mode. statsmodels'
    own separation check is the independent judge of which data separate."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sm.Logit(labels, sm.add_constant(SEPARATING_X)).fit(disp=0, maxiter=200)
    assert any(issubclass(w.category, PerfectSeparationWarning) for w in caught) == separated

    with pm.Model() as model:
        x = pm.Data("x", SEPARATING_X)
        a = pm.Normal("a", 0.0, 10.0)
        b = pm.Normal("b", 0.0, 10.0)
        pm.Bernoulli("y", logit_p=a + b * x, observed=labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mode = pmfisher.find_mode(model=model, terms="likelihood", space="constrained")
    assert mode.converged == (not separated)
    if separated:
        assert "b" in mode.boundary
        assert "perfect separation" in mode.message
        assert any("no finite maximum" in str(w.message) for w in caught)
    else:
        assert mode.boundary == ()
    # A prior bounds the posterior along the same ray: its mode is interior either way.
    posterior = pmfisher.find_mode(model=model, terms="posterior", space="unconstrained")
    assert posterior.converged
