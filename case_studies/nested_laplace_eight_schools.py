"""Eight schools with the school effects integrated out: nested Laplace against NUTS.

The joint Laplace approximation fails on eight schools (``laplace_eight_schools``): in
(μ, log τ, z) the posterior is a funnel, τ's Laplace mean is many NUTS sds off and k̂ > 0.7.
The fix the field knows (TMB's ``random=``, INLA, Stan's embedded Laplace) is to integrate the
eight school effects out given (μ, τ), where their conditional is Gaussian — so the Laplace
marginal p(y | μ, τ) is *exact* here — and to treat only the two hyperparameters by sampling
or by a Gaussian:

* ``laplace(latent=..., hyper="nuts")``: PyMC's NUTS on the Laplace marginal of (μ, log τ),
  driven by its exact implicit-function gradient, then each school's effect from its
  conditional Gaussian. Run on the **centred** model (latent θ) and the **non-centred** one
  (latent z): integrating the effects out removes the funnel from both, and both agree with
  NUTS on the whole non-centred model within Monte Carlo error.
* ``laplace(latent=..., hyper="gaussian")``: a Gaussian on (μ, log τ) at the marginal mode —
  better than the joint Laplace but still poor, because the marginal posterior of log τ is
  itself skewed: τ's sd comes out about twice NUTS's, and the joint k̂ is near or above 0.7.

The inner check (importance sampling of the exact marginal at a few values of (μ, τ)) finds
no error, as it must for a Gaussian conditional.

Outputs: ``nested_laplace_eight_schools.png`` (marginals of μ, τ and two schools' θ, nested
NUTS on the non-centred model against NUTS on the whole model) and
``nested_laplace_eight_schools.json``.

Run: ``python case_studies/nested_laplace_eight_schools.py --out results/case_studies``
(``--full`` for the full-scale run).
"""

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

from pmfisher import compare, laplace, plots
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.datasets import eight_schools
from pmfisher.reporting.nuts import sample_nuts

NAME = Path(__file__).stem
SEED = 13
HYPERPARAMETERS = ["mu", "tau"]


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    draws, chains = (300, 2) if smoke else (4000, 4)
    nested_draws, tune = (600, 300) if smoke else (4000, 1000)

    non_centred = eight_schools(centred=False)
    reference = sample_nuts(non_centred, draws=draws, chains=chains, seed=SEED)
    approximations = {
        "nuts, non-centred": laplace(
            model=non_centred,
            latent="z",
            hyper="nuts",
            draws=nested_draws,
            tune=tune,
            random_seed=SEED,
        ),
        "nuts, centred": laplace(
            model=eight_schools(centred=True),
            latent="theta",
            hyper="nuts",
            draws=nested_draws,
            tune=tune,
            random_seed=SEED,
        ),
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        approximations["gaussian, non-centred"] = laplace(
            model=non_centred, latent="z", draws=nested_draws, random_seed=SEED
        )
    gaussian_warned = any("Pareto k" in str(warning.message) for warning in caught)

    plots.plot_marginals(
        approximations["nuts, non-centred"],
        reference,
        var_names=[*HYPERPARAMETERS, "theta"],
        coords={"school": ["A", "C"]},
        names=("nested Laplace (NUTS on the marginal)", "NUTS, whole model"),
        path=out / f"{NAME}.png",
    )
    summary = {
        "case": "eight schools, school effects integrated out by Laplace",
        "smoke": smoke,
        "nuts_draws": draws * chains,
        "nested_draws": nested_draws,
        "gaussian_khat_warned": gaussian_warned,
        "gaussian_pareto_k": float(approximations["gaussian, non-centred"].fit["pareto_k"]),
    }
    for name, approx in approximations.items():
        table = compare(approx, reference, var_names=HYPERPARAMETERS)
        summary[name] = {
            "z_gap": {var: float(table["z_gap"].sel(param=var)) for var in HYPERPARAMETERS},
            "sd_ratio": {var: float(table["sd_ratio"].sel(param=var)) for var in HYPERPARAMETERS},
            "max_abs_inner_check_error": float(np.abs(approx.fit["inner_check_error"]).max()),
        }
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
