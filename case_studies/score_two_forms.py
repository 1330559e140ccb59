"""The score's two moments: E[s sᵀ] and −E[∇²ℓ] are the same matrix.

Seed text, section 1. The score s = ∇ log p_θ(x) has mean zero and covariance I(θ), and
differentiating once more gives the same matrix as the negative expected Hessian:
I(θ) = E[s sᵀ] = −E[∇² log p_θ(x)] — a variance and a curvature.

``pmfisher.fisher_information(method="monte_carlo")`` simulates data sets from the PyMC
model at the point and reports both estimators with their Monte Carlo standard errors.
Left: one Poisson observation at λ = 3, as the number of simulated data sets grows; both
estimators close in on the closed form 1/λ inside their ±2 MCSE bands. The table in the
JSON summary repeats the check at the largest number of draws for four models — Poisson,
Bernoulli, Exponential and Normal (μ, σ) — against their closed forms and against the exact
information (``method="exact"``); the right panel shows each diagonal entry of both
estimators as a ratio to its closed form, with ±2 MCSE bars around 1.

Run: ``python case_studies/score_two_forms.py --out DIR`` (writes ``score_two_forms.png``
and ``score_two_forms.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import fisher_information
from pmfisher.reporting.case_studies import run_as_script

NAME = "score_two_forms"
SEED = 1
RATE = 3.0


def one_observation(distribution, **priors) -> pm.Model:
    """A model with one observation of ``distribution(**parameters)``."""
    with pm.Model() as model:
        parameters = {name: prior(name) for name, prior in priors.items()}
        distribution("y", **parameters, observed=np.zeros(1))
    return model


def positive(name):
    return pm.HalfNormal(name, 10.0)


def unit(name):
    return pm.Beta(name, 1.0, 1.0)


def real(name):
    return pm.Normal(name, 0.0, 10.0)


MODELS = {
    "poisson": (
        lambda: one_observation(pm.Poisson, mu=positive),
        {"mu": RATE},
        np.array([[1 / RATE]]),
    ),
    "bernoulli": (
        lambda: one_observation(pm.Bernoulli, p=unit),
        {"p": 0.3},
        np.array([[1 / (0.3 * 0.7)]]),
    ),
    "exponential": (
        lambda: one_observation(pm.Exponential, lam=positive),
        {"lam": 2.0},
        np.array([[1 / 2.0**2]]),
    ),
    "normal": (
        lambda: one_observation(pm.Normal, mu=real, sigma=positive),
        {"mu": 1.0, "sigma": 2.0},
        np.diag([1 / 2.0**2, 2 / 2.0**2]),
    ),
}


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    draw_counts = (30, 300, 3000) if smoke else (10, 30, 100, 300, 1000, 3000, 10000)
    seeds = iter(
        np.random.SeedSequence(SEED).generate_state(len(draw_counts) + len(MODELS)).tolist()
    )
    models = {name: (factory(), point, closed) for name, (factory, point, closed) in MODELS.items()}

    poisson, point, closed = models["poisson"]
    path = []
    for draws in draw_counts:
        info = fisher_information(
            point, model=poisson, method="monte_carlo", replicates=draws, random_seed=next(seeds)
        )
        path.append(
            {
                "draws": draws,
                "score_covariance": float(info.score_covariance.values[0, 0]),
                "score_covariance_mcse": float(info.mcse["score_covariance"].values[0, 0]),
                "negative_hessian": float(info.negative_hessian.values[0, 0]),
                "negative_hessian_mcse": float(info.mcse["negative_hessian"].values[0, 0]),
            }
        )

    table = {}
    for name, (model, point, closed) in models.items():
        info = fisher_information(
            point,
            model=model,
            method="monte_carlo",
            replicates=draw_counts[-1],
            random_seed=next(seeds),
        )
        exact = fisher_information(point, model=model, method="exact").matrix.values
        entry = {"closed_form": closed.tolist(), "exact": exact.tolist()}
        for estimator in ("score_covariance", "negative_hessian"):
            estimate = getattr(info, estimator).values
            mcse = info.mcse[estimator].values
            entry[estimator] = estimate.tolist()
            entry[f"{estimator}_mcse"] = mcse.tolist()
            # Entries that are exact in every replicate (zero MCSE) carry no Monte Carlo error.
            varying = mcse > 0
            z = (estimate[varying] - closed[varying]) / mcse[varying]
            entry[f"{estimator}_max_abs_z"] = float(np.abs(z).max(initial=0.0))
        table[name] = entry

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    counts = np.array([row["draws"] for row in path])
    for offset, (estimator, label, color) in enumerate(
        [
            ("score_covariance", "score variance  E[s²]", "C0"),
            ("negative_hessian", "negative Hessian  −E[∂²ℓ]", "C2"),
        ]
    ):
        values = np.array([row[estimator] for row in path])
        errors = np.array([row[f"{estimator}_mcse"] for row in path])
        shifted = counts * (1.08 if offset else 1 / 1.08)  # side by side, not on top
        left.errorbar(shifted, values, yerr=2 * errors, fmt="o-", color=color, capsize=3,
                      label=f"{label} ± 2 MCSE")  # fmt: skip
    left.axhline(1 / RATE, color="C1", ls="--", label="closed form 1/λ")
    left.set(xscale="log", xlabel="simulated data sets", ylabel="Fisher information")
    left.set_title(f"Poisson, one observation at λ = {RATE:g}")
    left.legend()
    rows = [
        (name, estimator, symbol, k)
        for name, (_, _, closed) in models.items()
        for k in range(closed.shape[0])
        for estimator, symbol in (("score_covariance", "E[s²]"), ("negative_hessian", "−E[∂²ℓ]"))
    ]
    labels = []
    for position, (name, estimator, symbol, k) in enumerate(rows):
        entry = table[name]
        closed_value = entry["closed_form"][k][k]
        ratio = entry[estimator][k][k] / closed_value
        error = 2 * entry[f"{estimator}_mcse"][k][k] / closed_value
        color = "C0" if estimator == "score_covariance" else "C2"
        right.errorbar(ratio, position, xerr=error, fmt="o", color=color, capsize=3)
        entry_label = f" [{k},{k}]" if len(entry["closed_form"]) > 1 else ""
        labels.append(f"{name}{entry_label}: {symbol}")
    right.axvline(1.0, color="C1", ls="--")
    right.set_yticks(range(len(rows)), labels, fontsize=8)
    right.invert_yaxis()
    right.set(
        xlabel="estimate / closed form (± 2 MCSE)",
        title=f"Four models, {draw_counts[-1]} simulated data sets",
    )
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    summary = {"rate": RATE, "poisson_path": path, "four_models": table}
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
