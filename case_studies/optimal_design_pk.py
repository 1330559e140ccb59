"""Designing a pharmacokinetic sampling schedule: a naive schedule against the D-optimal one.

A one-compartment model with first-order absorption, C(t) = D·ka/(V(ka − k))·(e^{−kt} −
e^{−ka·t}), observed with a proportional (log-normal) error, is to be sampled 8 times in the
24 hours after a dose. The naive schedule samples every three hours; ``pmfisher.optimal_design``
finds the D-optimal approximate design on [0.1, 24] h (certified by the equivalence theorem:
its sensitivity never exceeds the number of parameters, 3) and the exact D-optimal schedule of
8 samples, by L-BFGS-B on the exact gradient of log det I with respect to the sampling times.

The naive schedule's D-efficiency, (det I_naive / det I_optimal)^(1/3), says how many optimal
samples its 8 are worth. ``pmfisher.simulate_estimator`` then simulates data sets under each
schedule, fits the MLE of each, and confirms what the bound predicts: the optimal schedule's
estimates have the smaller generalized variance, each schedule near its own Cramér–Rao bound.

Run: ``python case_studies/optimal_design_pk.py --out DIR`` (writes ``optimal_design_pk.png``
and ``optimal_design_pk.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import cramer_rao_bound, design_criterion, optimal_design, simulate_estimator
from pmfisher.reporting.case_studies import run_as_script

NAME = "optimal_design_pk"
SEED = 27
DOSE = 100.0
SAMPLES = 8
WINDOW = (0.1, 24.0)
POINT = {"V": 20.0, "k": 0.15, "ka": 1.2}
#: The assay's proportional error (log scale), known from its validation.
ASSAY_ERROR = 0.2
NAIVE = np.linspace(3.0, 24.0, SAMPLES)


def concentration(t, volume, k, ka):
    return DOSE * ka / (volume * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))


def pk_model() -> pm.Model:
    """Sampling times in a pm.Data container; the observed concentrations follow its length."""
    with pm.Model() as model:
        t = pm.Data("t", NAIVE)
        y_obs = pm.Data("y_obs", np.ones(SAMPLES))
        volume = pm.LogNormal("V", 3.0, 0.5)
        k = pm.LogNormal("k", -2.0, 0.5)
        ka = pm.LogNormal("ka", 0.0, 0.5)
        conc = pm.Deterministic(
            "conc", DOSE * ka / (volume * (ka - k)) * (pm.math.exp(-k * t) - pm.math.exp(-ka * t))
        )
        pm.LogNormal("y", pm.math.log(conc), ASSAY_ERROR, observed=y_obs, shape=t.shape)
    return model


def study(model, times, replicates, seed) -> dict:
    with model:
        pm.set_data({"t": times, "y_obs": np.ones(times.size)})
    bound = cramer_rao_bound(POINT, model=model)
    result = simulate_estimator(POINT, model=model, replicates=replicates, random_seed=seed)
    converged = result.estimates.values[result.converged.values]
    covariance = np.cov(converged, rowvar=False)
    return {
        "times": times.tolist(),
        "bound_variance": np.diag(bound.values).tolist(),
        "variance": np.diag(result.covariance.values).tolist(),
        "variance_mcse": result.variance_mcse.values.tolist(),
        "generalized_variance_bound": float(np.linalg.det(bound.values) ** (1 / 3)),
        "generalized_variance": float(np.linalg.det(covariance) ** (1 / 3)),
        "converged": int(result.converged.values.sum()),
    }


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    replicates = 300 if smoke else 2000
    model = pk_model()
    approximate = optimal_design(model=model, design={"t": WINDOW}, point=POINT)
    exact = optimal_design(
        model=model, design={"t": WINDOW}, point=POINT, runs=SAMPLES, random_seed=SEED
    )
    optimal_times = exact.support["t"]
    naive_d = design_criterion({"t": NAIVE}, model=model, point=POINT).value
    optimal_d = design_criterion({"t": optimal_times}, model=model, point=POINT).value
    parameters = len(POINT)
    efficiency = float(np.exp((naive_d - optimal_d) / parameters))
    seeds = np.random.SeedSequence(SEED).spawn(2)
    naive_study = study(model, NAIVE, replicates, seeds[0])
    optimal_study = study(model, optimal_times, replicates, seeds[1])
    summary = {
        "point": POINT,
        "approximate_design": {
            "support": approximate.support["t"].tolist(),
            "weights": approximate.weights.tolist(),
            "sensitivity_max": approximate.sensitivity_max,
            "bound": approximate.bound,
            "efficiency_bound": approximate.efficiency_bound,
        },
        "exact_design": optimal_times.tolist(),
        "log_det_naive": naive_d,
        "log_det_optimal": optimal_d,
        "naive_efficiency": efficiency,
        "naive": naive_study,
        "optimal": optimal_study,
        "replicates": replicates,
    }

    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.5))
    grid = np.linspace(0.0, WINDOW[1], 400)
    curve = concentration(grid, POINT["V"], POINT["k"], POINT["ka"])
    left.plot(grid, curve, color="black", label="C(t) at the design point")
    for times, colour, label in [(NAIVE, "C0", "naive"), (optimal_times, "C3", "D-optimal")]:
        left.scatter(times, concentration(times, POINT["V"], POINT["k"], POINT["ka"]),
                     color=colour, zorder=3, label=f"{label} schedule")  # fmt: skip
    # The optimal schedule replicates its support points: say how many samples each holds.
    unique, counts = np.unique(np.round(optimal_times, 3), return_counts=True)
    for time, count in zip(unique, counts, strict=True):
        level = concentration(time, POINT["V"], POINT["k"], POINT["ka"])
        left.annotate(f"×{count}", (time, level), xytext=(6, 6), textcoords="offset points",
                      color="C3")  # fmt: skip
    left.set(xlabel="time after dose (h)", ylabel="concentration",
             title=f"naive schedule: D-efficiency {efficiency:.2f}")  # fmt: skip
    left.legend()
    candidates = approximate.sensitivity["t"].values
    middle.plot(candidates, approximate.sensitivity.values, color="C0", label="sensitivity")
    middle.axhline(approximate.bound, color="black", linestyle="--", label="bound p = 3")
    middle.vlines(approximate.support["t"], 0, approximate.bound * approximate.weights * 3,
                  color="C3", label="support (height ∝ weight)")  # fmt: skip
    middle.set(xlabel="time after dose (h)", ylabel="d(t, ξ*)",
               title=f"equivalence theorem: max = {approximate.sensitivity_max:.5f}")  # fmt: skip
    middle.legend(loc="lower right")
    labels = list(POINT)
    positions = np.arange(len(labels))
    for offset, (name, entry, colour) in enumerate(
        [("naive", naive_study, "C0"), ("optimal", optimal_study, "C3")]
    ):
        ratio = np.array(entry["variance"]) / np.array(entry["bound_variance"])
        error = 2 * np.array(entry["variance_mcse"]) / np.array(entry["bound_variance"])
        relative = np.array(entry["bound_variance"]) / np.array(naive_study["bound_variance"])
        right.errorbar(positions + 0.15 * (offset - 0.5), relative * ratio, yerr=relative * error,
                       fmt="o", color=colour, capsize=3, label=f"{name}: simulated")  # fmt: skip
        right.scatter(positions + 0.15 * (offset - 0.5), relative, marker="_", s=300,
                      color=colour, label=f"{name}: Cramér–Rao bound")  # fmt: skip
    right.set_xticks(positions, labels)
    right.set(yscale="log", ylabel="variance / naive schedule's bound",
              title=f"MLE variances over {replicates} simulated data sets (±2 MCSE)")  # fmt: skip
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
