"""Profile-likelihood against Wald intervals in a small-sample logistic regression.

With 25 observations and a strong effect, the log-likelihood of a logistic regression is far
from quadratic in its coefficients: it flattens on the side away from zero (large
coefficients push the fitted probabilities towards 0 and 1, where more data would be needed
to tell them apart) and bends down sharply towards zero. The Wald interval β̂ ± 1.96·se reads
only the curvature at the top and is symmetric; the profile-likelihood interval (MASS's
``confint.glm``, lme4's ``confint(method="profile")``) follows the likelihood itself and is
not.

We simulate 25 rows with one covariate (β = (−0.5, 2.0)), compute ``pmfisher.summary`` with
``ci="wald"`` and ``ci="profile"``, check each profile interval against an independent one
(statsmodels GLMs with the profiled coefficient as an offset, the ends found by SciPy's
Brent), and estimate the coverage of both intervals for the slope over replicate data sets
drawn from the same design (``pm.set_data`` on the response: the mode search and the
profiles rerun at every replicate, on the functions compiled once). The figure shows the
profiles — signed root deviance against each coefficient — beside the Wald lines, as lme4's
``xyplot`` of a profile does: where they part, the intervals differ.

Run: ``python case_studies/profile_vs_wald.py --out DIR`` (writes ``profile_vs_wald.png``
and ``profile_vs_wald.json``).
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pymc as pm
import statsmodels.api as sm
from scipy import optimize, stats

import pmfisher
from pmfisher.plots import plot_profile
from pmfisher.reporting.case_studies import run_as_script

NAME = "profile_vs_wald"
SEED = 2031
ROWS = 25
TRUE_BETA = np.array([-0.5, 2.0])
COEFS = ["intercept", "slope"]
REPLICATES, SMOKE_REPLICATES = 100, 4


def logistic_model(X, y) -> pm.Model:
    with pm.Model(coords={"coef": COEFS, "obs": np.arange(ROWS)}) as model:
        design = pm.Data("X", X, dims=("obs", "coef"))
        response = pm.Data("response", y, dims="obs")
        beta = pm.Normal("beta", 0.0, 10.0, dims="coef")
        pm.Bernoulli("y", logit_p=pm.math.dot(design, beta), observed=response, dims="obs")
    return model


def statsmodels_profile_interval(X, y, j: int, level: float = 0.95) -> tuple[float, float]:
    """Coefficient ``j``'s profile interval from statsmodels alone (offset GLMs, Brent)."""
    family = sm.families.Binomial()
    full = sm.GLM(y, X, family=family).fit(tol=1e-13)
    others = np.delete(X, j, axis=1)

    def signed_root(b):
        llf = sm.GLM(y, others, family=family, offset=X[:, j] * b).fit(tol=1e-13).llf
        return np.sign(b - full.params[j]) * np.sqrt(max(0.0, 2 * (full.llf - llf)))

    quantile = stats.norm.ppf(0.5 + level / 2)
    estimate, error = full.params[j], full.bse[j]
    lower = optimize.brentq(lambda b: signed_root(b) + quantile, estimate - 5 * error, estimate)
    upper = optimize.brentq(lambda b: signed_root(b) - quantile, estimate, estimate + 5 * error)
    return lower, upper


def simulate(rng, X) -> np.ndarray:
    """A response the covariate does not separate completely, so that the MLE exists."""
    while True:
        y = rng.binomial(1, 1 / (1 + np.exp(-X @ TRUE_BETA)))
        ordered = y[np.argsort(X[:, 1])]
        separated = np.all(np.diff(ordered) >= 0) or np.all(np.diff(ordered) <= 0)
        if not separated:
            return y


def main(out_dir, *, smoke: bool = False) -> dict:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    X = np.column_stack([np.ones(ROWS), rng.normal(size=ROWS)])
    y = simulate(rng, X)
    model = logistic_model(X, y)

    wald = pmfisher.summary(model=model)
    profile = pmfisher.summary(model=model, ci="profile")
    print(wald, profile, sep="\n\n")
    summary = {"rows": ROWS, "true_beta": TRUE_BETA.tolist(), "coefficients": {}}
    for j, name in enumerate(COEFS):
        label = f"beta[{name}]"
        estimate = float(profile.table["estimate"].sel(param=label))
        lower, upper = (float(profile.table[end].sel(param=label)) for end in ("lower", "upper"))
        wald_ends = [float(wald.table[end].sel(param=label)) for end in ("lower", "upper")]
        independent = statsmodels_profile_interval(X, y, j)
        summary["coefficients"][label] = {
            "estimate": estimate,
            "se": float(wald.table["se"].sel(param=label)),
            "wald": wald_ends,
            "profile": [lower, upper],
            "statsmodels_profile": list(independent),
            "profile_vs_statsmodels": max(abs(lower - independent[0]), abs(upper - independent[1])),
            # 1 for a symmetric interval; the profile's upper arm over its lower one.
            "profile_asymmetry": (upper - estimate) / (estimate - lower),
            "largest_end_gap_in_se": max(abs(lower - wald_ends[0]), abs(upper - wald_ends[1]))
            / float(wald.table["se"].sel(param=label)),
        }
    plot_profile(profile, path=out_dir / f"{NAME}.png")

    # Coverage over the replicates where both intervals exist; a profile end that could not
    # be computed (the others' re-maximization failing far out on a nearly separated data
    # set) leaves its replicate out, and is counted.
    covered = {"wald": 0, "profile": 0}
    replicates = SMOKE_REPLICATES if smoke else REPLICATES
    missing = 0
    for _ in range(replicates):
        with model:
            pm.set_data({"response": simulate(rng, X)})
        rows = {
            kind: pmfisher.summary(model=model, ci=kind).table.sel(param="beta[slope]")
            for kind in covered
        }
        ends = {kind: (float(row["lower"]), float(row["upper"])) for kind, row in rows.items()}
        if not np.isfinite(np.ravel(list(ends.values()))).all():
            missing += 1
            continue
        for kind, (lower, upper) in ends.items():
            covered[kind] += int(lower <= TRUE_BETA[1] <= upper)
    used = replicates - missing
    summary["coverage"] = {
        kind: {
            "replicates": used,
            "coverage": count / max(used, 1),
            "mcse": float(np.sqrt(0.95 * 0.05 / max(used, 1))),
        }
        for kind, count in covered.items()
    }
    summary["replicates_without_both_intervals"] = missing
    (out_dir / f"{NAME}.json").write_text(json.dumps(summary, indent=2))
    return summary


if __name__ == "__main__":
    run_as_script(main, __doc__)
