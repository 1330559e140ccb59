"""Models with sparse Hessians, at moderate size, shared by the sparse-engine tests.

Each factory returns a model whose Hessian has a known shape: per-group effects touching only
their own rows and the shared parameters (hierarchical, random slopes), two crossed families of
effects, a banded latent random walk, and a dense regression block next to group effects.
Group sizes are uneven so that no structure is accidentally regular.
"""

import functools

import numpy as np
import pymc as pm

from pmfisher._core.model.model_graph import model_graph

RNG = np.random.default_rng(20261130)

J = 12
SIZES = RNG.integers(2, 7, size=J)
GROUP = np.repeat(np.arange(J), SIZES)
X = RNG.normal(size=GROUP.size)
Y = RNG.normal(0.5 + RNG.normal(size=J)[GROUP] + 0.7 * X, 1.0)


def hierarchical(groups: int = J):
    """Non-centred hierarchical normal: d = groups + 3, about 7·groups nonzeros."""
    sizes = np.resize(SIZES, groups)
    index = np.repeat(np.arange(groups), sizes)
    y = np.resize(Y, index.size)
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfNormal("tau", 2.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        z = pm.Normal("z", 0.0, 1.0, shape=groups)
        pm.Normal("y", mu + tau * z[index], sigma, observed=y)
    return model


def random_slopes():
    """Centred random intercepts and slopes per group, with their own means and scales."""
    with pm.Model() as model:
        mu_a = pm.Normal("mu_a", 0.0, 5.0)
        mu_b = pm.Normal("mu_b", 0.0, 5.0)
        tau_a = pm.HalfNormal("tau_a", 2.0)
        tau_b = pm.HalfNormal("tau_b", 2.0)
        a = pm.Normal("a", mu_a, tau_a, shape=J)
        b = pm.Normal("b", mu_b, tau_b, shape=J)
        sigma = pm.Exponential("sigma", 1.0)
        pm.Normal("y", a[GROUP] + b[GROUP] * X, sigma, observed=Y)
    return model


ROWS, COLUMNS = 7, 5
CELL_ROW = RNG.integers(0, ROWS, size=30)
CELL_COLUMN = RNG.integers(0, COLUMNS, size=30)
CROSSED_Y = RNG.normal(size=30)


def crossed():
    """Crossed effects: each observation touches one row effect and one column effect."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau_u = pm.HalfNormal("tau_u", 1.0)
        tau_v = pm.HalfNormal("tau_v", 1.0)
        u = pm.Normal("u", 0.0, tau_u, shape=ROWS)
        v = pm.Normal("v", 0.0, tau_v, shape=COLUMNS)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu + u[CELL_ROW] + v[CELL_COLUMN], sigma, observed=CROSSED_Y)
    return model


STEPS = 15
WALK_Y = np.cumsum(RNG.normal(size=STEPS))


def random_walk():
    """Latent Gaussian random walk observed with noise: tridiagonal in the states."""
    with pm.Model() as model:
        step = pm.HalfNormal("step", 1.0)
        noise = pm.HalfNormal("noise", 1.0)
        states = pm.GaussianRandomWalk(
            "states", sigma=step, init_dist=pm.Normal.dist(0.0, 2.0), steps=STEPS - 1
        )
        pm.Normal("y", states, noise, observed=WALK_Y)
    return model


DESIGN = RNG.normal(size=(GROUP.size, 4))
BINARY = RNG.binomial(1, 0.4, size=GROUP.size)


def regression_with_groups():
    """Logistic regression: a dense block of four coefficients next to group effects."""
    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, 1.0, shape=4)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, tau, shape=J)
        pm.Bernoulli("y", logit_p=DESIGN @ beta + z[GROUP], observed=BINARY)
    return model


STRUCTURED = {
    "hierarchical": hierarchical,
    "random-slopes": random_slopes,
    "crossed": crossed,
    "random-walk": random_walk,
    "regression-groups": regression_with_groups,
}


@functools.cache
def structured_model(name: str) -> pm.Model:
    """One model per name for the whole test session."""
    return STRUCTURED[name]()


def random_point(graph, seed: int = 0) -> np.ndarray:
    """A flat point of ``graph`` near the model's initial point, away from symmetries,
    perturbed in the unconstrained space so that it stays in the support."""
    unconstrained = model_graph(graph.model, space="unconstrained", terms=graph.terms)
    start = unconstrained.flatten(graph.model.initial_point())
    moved = start + np.random.default_rng(seed).normal(scale=0.4, size=start.size)
    return graph.flatten(unconstrained.constrained_point(moved))
