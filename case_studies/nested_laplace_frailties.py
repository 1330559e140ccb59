"""Student-t frailties in a Poisson model: nested Laplace against NUTS, and the inner check.

Counts per group, ``y_j ~ Poisson(E_j exp(α + σ z_j))``, with heavy-tailed group effects
``z_j ~ Student-t(ν = 3)``: a latent variable with a non-Gaussian density. Stan's embedded
Laplace and INLA take only a Gaussian prior on the latent field (written in their own form),
TMB a C++ template; pmfisher takes the PyMC model as it is and integrates the frailties out
by Laplace given (α, σ) — ``laplace(latent="z", hyper="nuts")`` — and NUTS samples the two
hyperparameters on that Laplace marginal.

The Laplace marginal is no longer exact: each group's conditional density of ``z_j`` is the
Poisson likelihood times a Student-t, which is Gaussian only when the likelihood dominates.
The same model is run on two data sets with the same number of groups:

* **many counts** (exposure ``E = 40``, dozens of events per group): the likelihood dominates,
  the conditionals are close to Gaussian, and α, σ and every frailty agree with NUTS on the
  whole model;
* **few counts** (``E = 0.3``, mostly zeros): the conditionals are the heavy-tailed prior,
  the Laplace marginal is off by nats and by amounts that change with σ, and σ's posterior
  is shifted.

The inner check (importance sampling of the exact marginal at the mode and a few draws of
(α, σ)) tells which is which: its errors are small and nearly constant in (α, σ) with many
counts — a constant offset in :math:`L(\\varphi)` does not change the posterior of φ — and
large and varying with few counts, where pmfisher warns.

Outputs: ``nested_laplace_frailties.png`` (marginals of α, σ and two frailties, many counts),
``nested_laplace_frailties_few_counts.png`` (the same, few counts),
``nested_laplace_frailties_pair.png`` (pair plot of (α, log σ), NUTS draws with the nested
approximation's ellipses, many counts), ``nested_laplace_frailties_groups.png`` and
``nested_laplace_frailties_groups_few_counts.png`` (every frailty's mean and sd, nested
against NUTS) and
``nested_laplace_frailties.json``.

Run: ``python case_studies/nested_laplace_frailties.py --out results/case_studies``
(``--full`` for the full-scale run).
"""

import json
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pymc as pm

from pmfisher import laplace, plots
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.verdicts import element_agreement, inner_check_summary, scalar_agreement

NAME = Path(__file__).stem
SEED = 21
NU = 3.0
TRUE_ALPHA, TRUE_SIGMA = 0.3, 0.5
EXPOSURES = {"many counts": 40.0, "few counts": 0.3}
HYPERPARAMETERS = ["alpha", "sigma"]


def simulate(groups: int, exposure: float, rng) -> np.ndarray:
    frailties = TRUE_SIGMA * rng.standard_t(NU, size=groups)
    return rng.poisson(exposure * np.exp(TRUE_ALPHA + frailties))


def frailty_model(groups: int) -> pm.Model:
    """Non-centred (``b = σ z``), which NUTS on the whole model prefers when counts are few;
    the nested Laplace integrates ``z`` out. The counts and the exposure are data containers,
    so that both data sets share one model and its compiled functions."""
    with pm.Model(coords={"group": np.arange(groups)}) as model:
        counts = pm.Data("counts", np.zeros(groups, dtype="int64"), dims="group")
        exposure = pm.Data("exposure", 1.0)
        alpha = pm.Normal("alpha", 0.0, 2.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        z = pm.StudentT("z", nu=NU, mu=0.0, sigma=1.0, dims="group")
        b = pm.Deterministic("b", sigma * z, dims="group")
        pm.Poisson("y", exposure * pm.math.exp(alpha + b), observed=counts, dims="group")
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    groups = 40 if smoke else 200
    draws, chains = (300, 2) if smoke else (1000, 4)
    nested_draws, tune = (600, 300) if smoke else (2000, 500)
    rng = np.random.default_rng(SEED)

    summary = {
        "case": "Poisson counts with Student-t frailties, frailties integrated out by Laplace",
        "smoke": smoke,
        "groups": groups,
        "nu": NU,
        "nuts_draws": draws * chains,
        "nested_draws": nested_draws,
    }
    fits = {}
    model = frailty_model(groups)
    for regime, exposure in EXPOSURES.items():
        counts = simulate(groups, exposure, rng)
        pm.set_data({"counts": counts, "exposure": exposure}, model=model)
        start = time.perf_counter()
        reference = sample_nuts(model, draws=draws, chains=chains, seed=SEED)
        nuts_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            approx = laplace(
                model=model,
                latent="z",
                hyper="nuts",
                draws=nested_draws,
                tune=tune,
                random_seed=SEED,
            )
        nested_seconds = time.perf_counter() - start
        fits[regime] = approx, reference
        summary[regime] = {
            "exposure": exposure,
            "mean_count": float(counts.mean()),
            "share_of_zeros": float(np.mean(counts == 0)),
            "nuts_seconds": nuts_seconds,
            "nested_seconds": nested_seconds,
            "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
            "nested_divergences": int(approx["sample_stats"]["diverging"].sum()),
            "inner_warned": any("inner Laplace" in str(w.message) for w in caught),
            **inner_check_summary(approx),
            **scalar_agreement(approx, reference, HYPERPARAMETERS),
            "frailties": element_agreement(approx, reference, "b"),
        }

    approx, reference = fits["many counts"]
    names = ("nested Laplace (NUTS on the marginal)", "NUTS, whole model")
    shown = {"group": [0, 1]}
    plots.plot_marginals(
        approx,
        reference,
        var_names=[*HYPERPARAMETERS, "b"],
        coords=shown,
        names=names,
        path=out / f"{NAME}.png",
    )
    plots.plot_pair_ellipses(
        approx, reference, var_names=["alpha", "sigma_log__"], path=out / f"{NAME}_pair.png"
    )
    plots.plot_marginals(
        *fits["few counts"],
        var_names=[*HYPERPARAMETERS, "b"],
        coords=shown,
        names=names,
        path=out / f"{NAME}_few_counts.png",
    )
    plots.plot_group_comparison(
        approx, reference, var_names="b", names=names, path=out / f"{NAME}_groups.png"
    )
    plots.plot_group_comparison(
        *fits["few counts"], var_names="b", names=names, path=out / f"{NAME}_groups_few_counts.png"
    )
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
