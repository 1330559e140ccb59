"""find_mode on the sparse route: saddles are left, as on the dense route."""

import numpy as np
import pymc as pm

import pmfisher


def test_a_saddle_is_left_for_a_true_mode_on_the_sparse_route():
    # log p = -(x₀² - 1)² - (x₁ - 0.5)²: from x = 0 the Newton search reaches the saddle
    # (0, 0.5), where CHOLMOD cannot factorize the negative Hessian; restarts find (±1, 0.5).
    with pm.Model() as model:
        x = pm.Flat("x", shape=2)
        pm.Potential("double_well", -((x[0] ** 2 - 1) ** 2) - (x[1] - 0.5) ** 2)
    mode = pmfisher.find_mode(model=model, structure="sparse", random_seed=0)
    assert mode.converged
    np.testing.assert_allclose(np.abs(mode.x), [1.0, 0.5], rtol=1e-8)
