"""Small published data sets shared by the case studies and the tests, with their models.

Eight schools (Rubin 1981; Gelman et al., *Bayesian Data Analysis*, § 5.5): the estimated
effect of a coaching programme on SAT scores in eight schools, each with its standard error.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

__all__ = [
    "EIGHT_SCHOOLS",
    "EIGHT_SCHOOLS_EFFECTS",
    "EIGHT_SCHOOLS_STANDARD_ERRORS",
    "eight_schools",
]

EIGHT_SCHOOLS = ("A", "B", "C", "D", "E", "F", "G", "H")
EIGHT_SCHOOLS_EFFECTS = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SCHOOLS_STANDARD_ERRORS = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(*, centred: bool, non_centred_name: str = "z") -> pm.Model:
    """The hierarchical normal model of eight schools, with ``μ ~ N(0, 5²)``,
    ``τ ~ HalfCauchy(5)`` and ``y_j ~ N(θ_j, σ_j²)``: centred (``θ_j ~ N(μ, τ²)``) or
    non-centred (``θ = μ + τ z`` with ``z_j ~ N(0, 1)``, the free variable named
    ``non_centred_name``)."""
    with pm.Model(coords={"school": list(EIGHT_SCHOOLS)}) as model:
        mu = pm.Normal("mu", 0.0, 5.0)
        tau = pm.HalfCauchy("tau", 5.0)
        if centred:
            theta = pm.Normal("theta", mu, tau, dims="school")
        else:
            z = pm.Normal(non_centred_name, 0.0, 1.0, dims="school")
            theta = pm.Deterministic("theta", mu + tau * z, dims="school")
        pm.Normal(
            "y", theta, EIGHT_SCHOOLS_STANDARD_ERRORS, observed=EIGHT_SCHOOLS_EFFECTS, dims="school"
        )
    return model
