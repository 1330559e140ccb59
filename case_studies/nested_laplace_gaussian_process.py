"""A latent Gaussian process under Poisson counts: the function integrated out by Laplace.

Counts along a line, ``y_i ~ Poisson(exp(c + f(x_i)))``, with ``f`` a Gaussian process with
exponentiated-quadratic covariance ``η² exp(−(x − x')² / 2ℓ²)`` of unknown amplitude η and
length scale ℓ: the classic latent Gaussian model of INLA. Written in PyMC as it comes — an
``MvNormal`` with the covariance built from (η, ℓ) — ``laplace(latent="f", hyper="nuts")``
integrates the whole function out by Laplace given (η, ℓ, c), with the covariance's
derivatives taken exactly through the graph, and NUTS samples the three hyperparameters on
that Laplace marginal. The reference is NUTS on the whole model, non-centred
(``f = chol(K) z``), as NUTS prefers it.

Given the hyperparameters the conditional of ``f`` is a Gaussian prior times a log-concave
Poisson likelihood: close to Gaussian, so the inner check finds errors of about a tenth of
a nat, nearly the same at every φ it checks (smoke run: 0.03–0.15), and the hyperparameters,
the latent function and its band agree with NUTS.
NUTS on the marginal explores three parameters instead of three plus one per point.

Outputs: ``nested_laplace_gaussian_process.png`` (the rate ``exp(c + f)`` along the line:
means and 90% bands of both, and the counts), ``nested_laplace_gaussian_process_pair.png``
(pair plot of (log η, log ℓ, c), NUTS draws with the nested approximation's ellipses),
``nested_laplace_gaussian_process_marginals.png`` (marginals of η, ℓ, c and two values of
``f``) and ``nested_laplace_gaussian_process.json``.

Run: ``python case_studies/nested_laplace_gaussian_process.py --out results/case_studies``
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
import pytensor.tensor as pt
from matplotlib.figure import Figure

from pmfisher import laplace, plots
from pmfisher.reporting.case_studies import run_as_script
from pmfisher.reporting.nuts import sample_nuts
from pmfisher.reporting.plots import APPROX_COLOR, DPI, REFERENCE_COLOR
from pmfisher.reporting.verdicts import element_agreement, inner_check_summary, scalar_agreement

NAME = Path(__file__).stem
SEED = 34
HYPERPARAMETERS = ["eta", "ell", "c"]
# Added to the covariance's diagonal: the squared-exponential kernel is numerically singular.
JITTER = 1e-6


def simulate(points: int, rng) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(0.0, 10.0, points)
    log_rate = 1.0 + np.sin(x) + 0.5 * np.cos(2.3 * x)
    return x, rng.poisson(np.exp(log_rate))


def gaussian_process(x: np.ndarray, counts: np.ndarray, *, centred: bool) -> pm.Model:
    with pm.Model(coords={"x": x}) as model:
        eta = pm.HalfNormal("eta", 1.5)
        ell = pm.InverseGamma("ell", 5.0, 5.0)
        c = pm.Normal("c", 0.0, 2.0)
        distance = (x[:, None] - x[None, :]) ** 2
        covariance = eta**2 * pt.exp(-0.5 * distance / ell**2) + JITTER * np.eye(x.size)
        if centred:
            f = pm.MvNormal("f", mu=np.zeros(x.size), cov=covariance, dims="x")
        else:
            z = pm.Normal("z", 0.0, 1.0, dims="x")
            f = pm.Deterministic("f", pt.linalg.cholesky(covariance) @ z, dims="x")
        pm.Poisson("y", pm.math.exp(c + f), observed=counts, dims="x")
    return model


def main(out_dir, *, smoke: bool = False) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    points = 20 if smoke else 50
    draws, chains = (200, 2) if smoke else (1000, 4)
    nested_draws, tune = (300, 150) if smoke else (2000, 500)
    x, counts = simulate(points, np.random.default_rng(SEED))

    start = time.perf_counter()
    reference = sample_nuts(
        gaussian_process(x, counts, centred=False), draws=draws, chains=chains, seed=SEED
    )
    nuts_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        approx = laplace(
            model=gaussian_process(x, counts, centred=True),
            latent="f",
            hyper="nuts",
            draws=nested_draws,
            tune=tune,
            random_seed=SEED,
        )
    nested_seconds = time.perf_counter() - start

    names = ("nested Laplace (NUTS on the marginal)", "NUTS, whole model")
    _plot_function(approx, reference, x, counts, names, out / f"{NAME}.png")
    plots.plot_pair_ellipses(
        approx, reference, var_names=["eta_log__", "ell_log__", "c"], path=out / f"{NAME}_pair.png"
    )
    plots.plot_marginals(
        approx,
        reference,
        var_names=[*HYPERPARAMETERS, "f"],
        coords={"x": x[[points // 4, points // 2]]},
        names=names,
        path=out / f"{NAME}_marginals.png",
    )

    summary = {
        "case": "latent Gaussian process with Poisson counts, f integrated out by Laplace",
        "smoke": smoke,
        "points": points,
        "nuts_draws": draws * chains,
        "nested_draws": nested_draws,
        "nuts_seconds": nuts_seconds,
        "nested_seconds": nested_seconds,
        "nuts_divergences": int(reference["sample_stats"]["diverging"].sum()),
        "nested_divergences": int(approx["sample_stats"]["diverging"].sum()),
        "inner_warned": any("inner Laplace" in str(w.message) for w in caught),
        **inner_check_summary(approx),
        **scalar_agreement(approx, reference, HYPERPARAMETERS),
        "function": element_agreement(approx, reference, "f"),
    }
    (out / f"{NAME}.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _plot_function(approx, reference, x, counts, names, path) -> None:
    """The rate ``exp(c + f)`` along the line: each posterior's mean and 90% band."""
    figure = Figure(figsize=(8.0, 4.0), layout="constrained")
    axes = figure.subplots()
    for tree, name, colour in zip(
        (approx, reference), names, (APPROX_COLOR, REFERENCE_COLOR), strict=True
    ):
        posterior = tree["posterior"]
        rate = np.exp(posterior["c"] + posterior["f"]).stack(sample=("chain", "draw"))
        low, high = rate.quantile([0.05, 0.95], dim="sample").values
        axes.fill_between(x, low, high, color=colour, alpha=0.25, label=f"{name}, 90%")
        axes.plot(x, rate.mean("sample").values, color=colour, label=f"{name}, mean")
    axes.scatter(x, counts, s=12, color="0.2", label="counts", zorder=5)
    axes.set_xlabel("x")
    axes.set_ylabel("rate exp(c + f)")
    axes.legend(frameon=False, fontsize=8)
    figure.savefig(path, dpi=DPI)


if __name__ == "__main__":
    run_as_script(main, __doc__)
