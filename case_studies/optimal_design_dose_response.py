"""Designing a dose-response experiment: evenly spaced doses against the D-optimal ones.

An Emax model, E(d) = E0 + Emax·d/(ED50 + d), is to be fitted to 24 responses (normal
error of known standard deviation, as from an assay's validation) at doses in [0, 150]. The
naive design spreads the subjects evenly over 8 doses, 0 to 150. The D-optimal approximate
design is known in closed form: three doses, 0, ED50·d_max/(2·ED50 + d_max) and d_max, a
third of the subjects each (Dette, Kiss, Bevanda and Bretz, *Biometrika* 2010).
``pmfisher.optimal_design`` finds it in the box, off any grid, and certifies it by the
equivalence theorem (its sensitivity never exceeds the number of parameters, 3); 8 subjects
at each of its doses is then the exact optimum of 24.

The naive design's D-efficiency, (det I_naive / det I_optimal)^(1/3), says what share of
its 24 subjects the optimal design would need for the same generalized variance.
``pmfisher.simulate_estimator`` simulates data sets under both, fits the MLE of each, and
confirms the bound: the optimal design's estimates have the smaller generalized variance.

Run: ``python case_studies/optimal_design_dose_response.py --out DIR`` (writes
``optimal_design_dose_response.png``, ``optimal_design_dose_response_simulation.png`` and
``optimal_design_dose_response.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pymc as pm

from pmfisher import cramer_rao_bound, design_criterion, optimal_design, simulate_estimator
from pmfisher.plots import plot_design
from pmfisher.reporting.case_studies import run_as_script

NAME = "optimal_design_dose_response"
SEED = 27
SUBJECTS = 24
DOSES = (0.0, 150.0)
POINT = {"E0": 1.0, "Emax": 10.0, "ED50": 25.0}
#: The assay's standard deviation, known from its validation.
ASSAY_ERROR = 1.0
NAIVE = np.repeat(np.linspace(*DOSES, 8), SUBJECTS // 8)


def emax(dose, e0, e_max, ed50):
    return e0 + e_max * dose / (ed50 + dose)


def dose_response_model() -> pm.Model:
    """Doses in a pm.Data container; the observed responses follow its length."""
    with pm.Model() as model:
        dose = pm.Data("dose", NAIVE)
        observed = pm.Data("response_observed", np.zeros(SUBJECTS))
        e0 = pm.Normal("E0", 0.0, 10.0)
        e_max = pm.Normal("Emax", 0.0, 20.0)
        ed50 = pm.LogNormal("ED50", np.log(30.0), 1.0)
        mean = pm.Deterministic("mean", e0 + e_max * dose / (ed50 + dose))
        pm.Normal("response", mean, ASSAY_ERROR, observed=observed, shape=dose.shape)
    return model


def study(model, doses, replicates, seed) -> dict:
    with model:
        pm.set_data({"dose": doses, "response_observed": np.zeros(doses.size)})
    bound = cramer_rao_bound(POINT, model=model)
    result = simulate_estimator(POINT, model=model, replicates=replicates, random_seed=seed)
    converged = result.estimates.values[result.converged.values]
    return {
        "doses": doses.tolist(),
        "bound_variance": np.diag(bound.values).tolist(),
        "variance": np.diag(result.covariance.values).tolist(),
        "variance_mcse": result.variance_mcse.values.tolist(),
        "generalized_variance_bound": float(np.linalg.det(bound.values) ** (1 / 3)),
        "generalized_variance": float(np.linalg.det(np.cov(converged, rowvar=False)) ** (1 / 3)),
        "converged": int(result.converged.values.sum()),
    }


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    replicates = 300 if smoke else 2000
    model = dose_response_model()
    best = optimal_design(model=model, design={"dose": DOSES}, point=POINT)
    # A third of the subjects at each support dose: the exact optimum of 24 runs.
    optimal_doses = np.repeat(best.support["dose"], SUBJECTS // best.weights.size)
    naive = design_criterion({"dose": NAIVE}, model=model, point=POINT)
    optimal = design_criterion({"dose": optimal_doses}, model=model, point=POINT)
    efficiency = best.efficiency(naive, SUBJECTS)
    seeds = np.random.SeedSequence(SEED).spawn(2)
    naive_study = study(model, NAIVE, replicates, seeds[0])
    optimal_study = study(model, optimal_doses, replicates, seeds[1])
    ed50, high = POINT["ED50"], DOSES[1]
    summary = {
        "point": POINT,
        "approximate_design": {
            "support": best.support["dose"].tolist(),
            "weights": best.weights.tolist(),
            "sensitivity_max": best.sensitivity_max,
            "bound": best.bound,
            "efficiency_bound": best.efficiency_bound,
        },
        "closed_form_support": [0.0, ed50 * high / (2 * ed50 + high), high],
        "log_det_naive": naive.value,
        "log_det_optimal": optimal.value,
        "naive_efficiency": efficiency,
        "optimal_efficiency": best.efficiency(optimal, SUBJECTS),
        "naive": naive_study,
        "optimal": optimal_study,
        "replicates": replicates,
    }

    plot_design(
        best,
        efficiencies={"8 evenly spaced doses": efficiency, "D-optimal, 8 per dose": 1.0},
        path=out_dir / f"{NAME}.png",
    )
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    grid = np.linspace(*DOSES, 400)
    left.plot(grid, emax(grid, *POINT.values()), color="black", label="E(d) at the design point")
    for doses, colour, label in [(NAIVE, "C0", "naive"), (optimal_doses, "C3", "D-optimal")]:
        unique = np.unique(doses)
        left.scatter(unique, emax(unique, *POINT.values()), color=colour, zorder=3,
                     label=f"{label}: {SUBJECTS // unique.size} subjects per dose")  # fmt: skip
    left.set(xlabel="dose", ylabel="response",
             title=f"naive design: D-efficiency {efficiency:.3f}")  # fmt: skip
    left.legend()
    positions = np.arange(len(POINT))
    for offset, (name, entry, colour) in enumerate(
        [("naive", naive_study, "C0"), ("optimal", optimal_study, "C3")]
    ):
        shift = positions + 0.15 * (offset - 0.5)
        scale = np.array(naive_study["bound_variance"])
        right.errorbar(shift, np.array(entry["variance"]) / scale,
                       yerr=2 * np.array(entry["variance_mcse"]) / scale, fmt="o",
                       color=colour, capsize=3, label=f"{name}: simulated")  # fmt: skip
        right.scatter(shift, np.array(entry["bound_variance"]) / scale, marker="_", s=300,
                      color=colour, label=f"{name}: Cramér–Rao bound")  # fmt: skip
    right.set_xticks(positions, list(POINT))
    right.set(yscale="log", ylabel="variance / naive design's bound",
              title=f"MLE variances over {replicates} simulated data sets (±2 MCSE)")  # fmt: skip
    right.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out_dir / f"{NAME}_simulation.png", dpi=110)
    plt.close(figure)
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
