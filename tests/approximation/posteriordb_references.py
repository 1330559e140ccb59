"""Posterior means and sds from posteriordb's reference draws (Magnusson et al.,
*posteriordb*, github.com/stan-dev/posteriordb, commit
28f8d3d6e975315f42aa274a8399f21e07a43b30): 10 chains × 1,000 thinned draws of Stan's NUTS,
bulk ESS about 10,000 for every quantity, so each mean carries a Monte Carlo error of about
0.01 sd. Computed from the files named below (the sd with ``ddof=1``); only these numbers are
kept here.

- ``posterior_database/reference_posteriors/draws/draws/
  eight_schools-eight_schools_noncentered.json.zip``: μ ~ N(0, 5²), τ ~ HalfCauchy(5),
  θ_j ~ N(μ, τ²), y_j ~ N(θ_j, σ_j²) (posteriordb keeps no reference for the centred form,
  whose posterior of (μ, τ, θ) is the same);
- ``posterior_database/reference_posteriors/draws/draws/gp_pois_regr-gp_pois_regr.json.zip``
  with ``posterior_database/data/data/gp_pois_regr.json.zip``: ρ ~ Gamma(25, rate 4),
  α ~ HalfNormal(2), f = chol(K_ρ,α + 1e-10 I) f̃, f̃ ~ N(0, I), k_i ~ Poisson(exp f_i), K the
  exponentiated quadratic kernel α² exp(−(x_i − x_j)²/(2ρ²)).
"""

#: (mean, sd) of μ, τ and θ_1..θ_8 (in school order).
EIGHT_SCHOOLS = {
    "mu": (4.410518, 3.309296),
    "tau": (3.60206, 3.198478),
    "theta": [
        (6.150502, 5.615863),
        (4.939581, 4.645578),
        (3.905906, 5.280712),
        (4.796017, 4.770938),
        (3.614436, 4.614721),
        (4.051148, 4.796248),
        (6.31717, 5.002855),
        (4.883997, 5.317692),
    ],
}

GP_X = [-10, -8, -6, -4, -2, 0, 2, 4, 6, 8, 10]
GP_COUNTS = [40, 37, 29, 12, 4, 3, 9, 19, 77, 82, 33]
#: (mean, sd) of ρ, α and f_1..f_11.
GP_POISSON = {
    "rho": (5.666529, 0.679021),
    "alpha": (2.921344, 0.792822),
    "f": [
        (3.635741, 0.152096),
        (3.688612, 0.126267),
        (3.254666, 0.143188),
        (2.409168, 0.196953),
        (1.561533, 0.246876),
        (1.295262, 0.2662),
        (1.931203, 0.224594),
        (3.179607, 0.143872),
        (4.252921, 0.096065),
        (4.415099, 0.091621),
        (3.506817, 0.1631),
    ],
}
