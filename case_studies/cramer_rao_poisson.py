"""The inverse information is a covariance: the Poisson MLE against the Cramér–Rao floor.

Seed text, section 3. No unbiased estimator has a variance below the inverse information,
Var(λ̂) ≥ 1/(n I₁(λ)) = λ/n for the Poisson model, and the MLE λ̂ = ȳ attains it (here
exactly, at every n). Its rescaled error √n(λ̂ − λ) tends to N(0, I₁⁻¹) = N(0, λ).

For each sample size n, ``pmfisher.simulate_estimator`` simulates data sets from the PyMC
model at λ = 3, fits the MLE of each by Newton steps on the model's own likelihood graph,
and reports the variance of the estimates with its Monte Carlo standard error, next to
``pmfisher.cramer_rao_bound``. Left: the variance tracks the floor λ/n across n. Right: at
the largest n the rescaled error follows N(0, λ). The Wald intervals λ̂ ± 1.96 √(λ̂/n) cover
λ about 95% of the time.

Run: ``python case_studies/cramer_rao_poisson.py --out DIR`` (writes
``cramer_rao_poisson.png`` and ``cramer_rao_poisson.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm
from scipy import stats

from pmfisher import cramer_rao_bound, simulate_estimator
from pmfisher.reporting.case_studies import run_as_script

NAME = "cramer_rao_poisson"
SEED = 3
RATE = 3.0


def poisson_model(n: int) -> pm.Model:
    """Poisson counts of length n; the observed values only fix the shape of the data."""
    with pm.Model() as model:
        lam = pm.HalfNormal("lam", 10.0)
        pm.Poisson("y", lam, observed=pm.Data("counts", np.zeros(n, dtype="int64")))
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = (10, 40) if smoke else (5, 10, 20, 50, 100, 200)
    replicates = 200 if smoke else 2000
    seeds = np.random.SeedSequence(SEED).spawn(len(sizes))
    rows, last_study = [], None
    for n, seed in zip(sizes, seeds, strict=True):
        model = poisson_model(n)
        point = {"lam": RATE}
        bound = float(cramer_rao_bound(point, model=model).values[0, 0])
        study = simulate_estimator(point, model=model, replicates=replicates, random_seed=seed)
        rows.append(
            {
                "n": n,
                "bound": bound,
                "bound_closed_form": RATE / n,
                "variance": float(study.covariance.values[0, 0]),
                "variance_mcse": float(study.variance_mcse.values[0]),
                "bias": float(study.bias.values[0]),
                "bias_mcse": float(study.bias_mcse.values[0]),
                "coverage": float(study.coverage.values[0]),
                "replicates": study.replicates,
            }
        )
        last_study = study

    n_last = sizes[-1]
    rescaled = np.sqrt(n_last) * (last_study.estimates.values[:, 0] - RATE)
    normality = last_study.normality.isel(param=0)
    summary = {
        "rate": RATE,
        "replicates": replicates,
        "by_sample_size": rows,
        "rescaled_error": {
            "n": n_last,
            "variance": float(rescaled.var(ddof=1)),
            "asymptotic_variance": RATE,
            "ks_pvalue": float(normality["ks_pvalue"]),
            "shapiro_pvalue": float(normality["shapiro_pvalue"]),
            "skewness": float(normality["skewness"]),
        },
    }

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    n_values = np.array([row["n"] for row in rows])
    variances = np.array([row["variance"] for row in rows])
    errors = np.array([row["variance_mcse"] for row in rows])
    grid = np.geomspace(n_values.min() * 0.8, n_values.max() * 1.25, 100)
    left.plot(grid, RATE / grid, color="C1", label="Cramér–Rao floor λ/n")
    left.errorbar(
        n_values, variances, yerr=2 * errors, fmt="o", color="C0", capsize=3,
        label=f"variance of λ̂ over {replicates} data sets (±2 MCSE)",
    )  # fmt: skip
    left.set(xscale="log", yscale="log", xlabel="sample size n", ylabel="Var(λ̂)")
    left.set_title("Poisson MLE variance tracks the floor")
    left.legend()
    # λ̂ = k/n lives on a lattice of spacing 1/√n after rescaling: bins hold whole lattice
    # points, so that the histogram shows the law rather than aliasing.
    spacing = 1 / np.sqrt(n_last)
    bins = np.arange(rescaled.min() - spacing / 2, rescaled.max() + spacing, 5 * spacing)
    right.hist(rescaled, bins=bins, density=True, color="C0", alpha=0.6,
               label=f"√n(λ̂ − λ), n = {n_last}")  # fmt: skip
    line = np.linspace(rescaled.min(), rescaled.max(), 200)
    right.plot(line, stats.norm.pdf(line, scale=np.sqrt(RATE)), color="C1",
               label="N(0, I₁⁻¹) = N(0, λ)")  # fmt: skip
    right.set(xlabel="rescaled error", ylabel="density", title="Asymptotic normality")
    right.legend()
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
