"""The HTML report of ``pmfisher report``: is the Laplace picture of a model good enough?

:func:`build_report` writes ``report.html`` into a folder, beside the PNG figures it embeds
(base64, so the HTML file stands alone): the model's variables, its maximum-likelihood
estimate with the observed information and standard errors, the Laplace approximation of the
posterior with its Pareto :math:`\\hat k` and a verdict in plain words, the deterministics by
the delta method and, with a NUTS reference, the comparison table and overlaid pictures.
A step that cannot be done for this model (no MLE, no posterior mode) is reported in its
section, and the rest of the report goes on.
"""

from __future__ import annotations

import base64
import html
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from scipy import linalg

from pmfisher.approximation.compare import compare
from pmfisher.errors import PMFisherError

__all__ = [
    "Progress",
    "build_report",
    "comparison_summary",
    "comparison_verdict",
    "khat_verdict",
    "sample_nuts",
]

# Laplace and NUTS "agree" when every mean is within this many reference sds ...
Z_GAP_AGREEMENT = 0.25
# ... and every sd ratio within this factor of 1.
SD_RATIO_AGREEMENT = 1.25
# Pair plots with more parameters than this show only the first ones.
PAIR_PLOT_LIMIT = 6


@dataclass
class Progress:
    """One line per step on a stream (stderr by default): ``[2/5] Laplace … done (1.3 s)``."""

    total: int
    stream: object = field(default_factory=lambda: sys.stderr)
    step: int = 0

    def __call__(self, message: str):
        self.step += 1
        return _Step(self, f"[{self.step}/{self.total}] {message}")


class _Step:
    def __init__(self, progress, text):
        self.progress, self.text = progress, text

    def __enter__(self):
        print(f"{self.text} …", file=self.progress.stream, flush=True)
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, error, traceback):
        outcome = "failed" if error is not None else "done"
        elapsed = time.perf_counter() - self.start
        print(f"{self.text} {outcome} ({elapsed:.1f} s)", file=self.progress.stream, flush=True)
        return False


def khat_verdict(pareto_k: float, threshold: float = 0.7) -> str:
    r"""A plain-words reading of the Laplace approximation's Pareto :math:`\hat k`.

    Examples
    --------
    >>> khat_verdict(0.2).split(":")[0]
    'Good'
    >>> khat_verdict(0.9).split(":")[0]
    'Unreliable'
    """
    if not pareto_k >= 0.5:
        shown = (
            "−∞ (the log-density is exactly Gaussian)"
            if np.isneginf(pareto_k)
            else (f"{pareto_k:.2f}")
        )
        return (
            f"Good: k̂ = {shown} < 0.5, so the Gaussian is close to the posterior, tails "
            "included; the Laplace summary can be used as it is."
        )
    if pareto_k < threshold:
        return (
            f"Usable: k̂ = {pareto_k:.2f} is between 0.5 and {threshold:.2f}, so the tails differ "
            "somewhat; importance sampling (laplace(importance_sampling='psis')) corrects the "
            "moments, and a NUTS comparison (--nuts) is worth a look."
        )
    if pareto_k < 1:
        return (
            f"Unreliable: k̂ = {pareto_k:.2f} ≥ {threshold:.2f}, so the Gaussian is far from "
            "the posterior in the tails and importance sampling cannot repair it; do not use "
            "the Laplace summary, run NUTS (--nuts)."
        )
    return (
        f"Unreliable: k̂ = {pareto_k:.2f} ≥ 1, so the importance ratios posterior / Gaussian "
        "have no finite mean: the Gaussian misses the posterior's mass; run NUTS (--nuts)."
    )


def comparison_verdict(table: xr.Dataset) -> str:
    """A plain-words reading of a :func:`~pmfisher.compare` table."""
    z_gap = np.abs(table["z_gap"].to_series())
    ratio = table["sd_ratio"].to_series()
    off = np.maximum(ratio, 1 / ratio)
    worst_mean, worst_sd = z_gap.idxmax(), off.idxmax()
    if z_gap.max() < Z_GAP_AGREEMENT and off.max() < SD_RATIO_AGREEMENT:
        return (
            f"Agree: every mean is within {Z_GAP_AGREEMENT} NUTS sds of NUTS (largest "
            f"|z_gap| {z_gap.max():.2f}, at {worst_mean}) and every sd within a factor "
            f"{SD_RATIO_AGREEMENT} (largest {off.max():.2f}, at {worst_sd}): the Laplace "
            "picture is good enough for this model."
        )
    return (
        f"Disagree: the largest mean gap is {z_gap.max():.2f} NUTS sds (at {worst_mean}) and "
        f"the largest sd ratio a factor {off.max():.2f} (at {worst_sd}); beyond "
        f"{Z_GAP_AGREEMENT} sds or a factor {SD_RATIO_AGREEMENT} the Laplace picture is not "
        "good enough for this model: use the NUTS posterior."
    )


def comparison_summary(table: xr.Dataset) -> dict:
    """The headline numbers of a :func:`~pmfisher.compare` table as plain Python values
    (for JSON): k̂ when present, the largest gaps, the joint summaries, and per parameter
    ``z_gap`` and ``sd_ratio``."""
    z_gap = table["z_gap"].to_series()
    sd_ratio = table["sd_ratio"].to_series()
    summary = {"pareto_k": float(table["pareto_k"])} if "pareto_k" in table else {}
    return summary | {
        "max_abs_z_gap": float(np.abs(z_gap).max()),
        "max_sd_ratio": float(sd_ratio.max()),
        "min_sd_ratio": float(sd_ratio.min()),
        "mahalanobis": float(table["mahalanobis"]),
        "gaussian_kl": float(table["gaussian_kl"]),
        "joint_coverage": {
            f"{p:g}": float(v)
            for p, v in zip(
                table["interval_prob"].values, table["joint_coverage"].values, strict=True
            )
        },
        "z_gap": {str(k): float(v) for k, v in z_gap.items()},
        "sd_ratio": {str(k): float(v) for k, v in sd_ratio.items()},
    }


def build_report(
    model: pm.Model,
    out,
    *,
    name: str = "model",
    source: str = "",
    nuts: bool = False,
    draws: int = 2000,
    chains: int = 2,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write ``out/report.html`` (and its PNG figures) for ``model``; return the HTML path.

    With ``nuts=True`` the model is also sampled with NUTS (``chains`` × ``draws``) and the
    Laplace approximation, of ``chains × draws`` draws, is compared with it.
    """
    matplotlib.use("Agg")
    from pmfisher import plots  # after choosing a non-interactive backend

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = progress or Progress(total=4 + int(nuts))
    figures = _Figures(out)
    sections = [("Model", _variables_html(model))]

    with progress("maximum likelihood and observed information"):
        sections.append(("Maximum likelihood", _mle_html(model, figures, plots)))

    approx = None
    with progress(f"Laplace approximation of the posterior ({draws * chains} draws)"):
        try:
            approx = _laplace(model, draws * chains, seed)
            sections.append(("Laplace approximation", _laplace_html(approx, figures, plots)))
        except PMFisherError as error:
            sections.append(("Laplace approximation", _failure_html(error)))

    with progress("deterministics by the delta method"):
        sections.append(("Deterministics (delta method)", _delta_html(model, approx)))

    if nuts:
        with progress(f"NUTS reference ({chains} chains × {draws} draws)"):
            reference = sample_nuts(model, draws=draws, chains=chains, seed=seed)
        sections.append(("Laplace vs NUTS", _nuts_html(approx, reference, figures, plots)))

    with progress("writing the HTML report"):
        path = out / "report.html"
        path.write_text(_page(name, source, sections), encoding="utf-8")
    return path


# -- steps ----------------------------------------------------------------------------------


def _laplace(model, draws, seed):
    from pmfisher.approximation.laplace import laplace

    with warnings.catch_warnings():
        # The verdict says what the k̂ warning says, in the report itself.
        warnings.simplefilter("ignore", UserWarning)
        return laplace(model=model, draws=draws, random_seed=seed)


def sample_nuts(model, *, draws: int, chains: int, seed) -> xr.DataTree:
    """The NUTS reference posterior, quietly, with the unconstrained (transformed) values kept
    so that pair plots can show the Laplace ellipses in the space they were fitted in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pm.sample(
            model=model,
            draws=draws,
            tune=max(draws, 500),
            chains=chains,
            random_seed=seed,
            progressbar=sys.stderr.isatty(),
            idata_kwargs={"include_transformed": True},
        )


class _Figures:
    """Saves figures as PNGs in the report's folder and embeds them in the HTML."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, draw, filename: str, caption: str) -> str:
        path = self.folder / filename
        plot = draw(path)
        _close(plot)
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


def _close(plot):
    import matplotlib.pyplot as plt

    figure = plot
    if hasattr(plot, "viz"):
        figure = plot.viz["figure"].item()
    plt.close(figure)


def _variables_html(model) -> str:
    shapes = model.eval_rv_shapes()
    rows = []
    for kind, variables in (
        ("free", model.free_RVs),
        ("observed", model.observed_RVs),
        ("deterministic", model.deterministics),
    ):
        for variable in variables:
            transform = model.rvs_to_transforms.get(variable) if kind == "free" else None
            shape = shapes.get(variable.name)
            if shape is None:
                shape = tuple(variable.shape.eval())
            rows.append(
                {
                    "variable": variable.name,
                    "kind": kind,
                    "shape": str(tuple(int(n) for n in shape)),
                    "dims": ", ".join(model.named_vars_to_dims.get(variable.name) or ()) or "–",
                    "distribution": _distribution_name(variable)
                    if kind != "deterministic"
                    else "–",
                    "transform": type(transform).__name__ if transform is not None else "–",
                }
            )
    return _table(pd.DataFrame(rows).set_index("variable"))


def _distribution_name(variable) -> str:
    op = variable.owner.op
    return getattr(op, "name", None) or type(op).__name__


def _mle_html(model, figures, plots) -> str:
    from pmfisher._core.definiteness import positive_definite
    from pmfisher.fitting.mode import find_mode, require_converged
    from pmfisher.information.observed import observed_information

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mode = require_converged(
                find_mode(model=model, terms="likelihood", space="constrained")
            )
        # The figures show the dense matrix (the memory guard says so if it cannot be).
        information = observed_information(mode, model=model, structure="dense")
        precision = positive_definite(
            information.values, mode.labels, what="observed information at the MLE"
        )
    except PMFisherError as error:
        return _failure_html(error)
    identity = np.eye(len(mode.labels))
    errors = np.sqrt(np.diag(linalg.cho_solve((precision.cholesky, True), identity)))
    table = pd.DataFrame(
        {
            "estimate": mode.x,
            "std. error": errors,
            "95% Wald low": mode.x - 1.959964 * errors,
            "95% Wald high": mode.x + 1.959964 * errors,
        },
        index=pd.Index(mode.labels, name="parameter"),
    )
    text = (
        f"<p>Maximum-likelihood estimate (constrained space): log-likelihood "
        f"{mode.logp:.6g}, gradient norm {mode.grad_norm:.2g} after {mode.n_iter} Newton "
        "iterations. Standard errors are the square roots of the diagonal of the inverse "
        "observed information <i>J</i>(θ̂)⁻¹.</p>"
    )
    heat_maps = figures(
        lambda path: plots.plot_information(information, path=path),
        "observed_information.png",
        "Observed information at the MLE (colour: scale-free I_ij/√(I_ii I_jj)).",
    ) + figures(
        lambda path: plots.plot_information(information, view="correlation", path=path),
        "observed_information_correlation.png",
        "Correlations of the inverse observed information (the asymptotic covariance of θ̂).",
    )
    matrix = _table(information.to_pandas())
    return text + _table(table) + "<h3>Observed information</h3>" + matrix + heat_maps


def _laplace_html(approx, figures, plots) -> str:
    pareto_k = float(approx["fit"]["pareto_k"])
    draws = approx["posterior"].sizes["draw"]
    verdict = khat_verdict(pareto_k, plots.khat_threshold(draws))
    fit = approx["fit"]
    sd = np.sqrt(np.diag(fit["covariance_matrix"].values))
    gaussian = pd.DataFrame(
        {"mode": fit["mean_vector"].values, "sd": sd},
        index=pd.Index([str(label) for label in fit["param"].values], name="parameter"),
    )
    summary = _draw_summary(approx["posterior"].to_dataset(), _free_names(approx))
    text = (
        f'<p class="verdict {_verdict_class(verdict)}">{html.escape(verdict)}</p>'
        f"<p>The Gaussian N(θ̂, H⁻¹) of the log-posterior in the {approx.attrs['space']} space "
        f"(H its exact negative Hessian at the mode θ̂; log-posterior there "
        f"{approx.attrs['mode_logp']:.6g}).</p>"
    )
    pictures = (
        figures(
            lambda path: plots.plot_khat({"Laplace": approx}, path=path),
            "laplace_khat.png",
            "Pareto k̂ of the importance ratios posterior / Laplace, against the reliability bands.",
        )
        + figures(
            lambda path: plots.plot_information(fit["precision_matrix"], path=path),
            "laplace_precision.png",
            "Precision H of the Laplace approximation (the posterior's observed information).",
        )
        + figures(
            lambda path: plots.plot_information(
                fit["precision_matrix"], view="correlation", path=path
            ),
            "laplace_correlation.png",
            "Correlations of the Laplace approximation H⁻¹.",
        )
    )
    return (
        text
        + "<h3>Gaussian (mode and sd)</h3>"
        + _table(gaussian)
        + "<h3>Free variables from the Laplace draws (constrained space)</h3>"
        + _table(summary)
        + pictures
    )


def _delta_html(model, approx) -> str:
    if not model.deterministics:
        return "<p>The model has no deterministics.</p>"
    if approx is None:
        return "<p>No Laplace approximation, so no delta method.</p>"
    from pmfisher.approximation.delta import delta_method

    try:
        propagated = delta_method(approx, model=model)
    except PMFisherError as error:
        return _failure_html(error)
    rows = {}
    for name, variable in propagated.data_vars.items():
        means = variable.sel(stat="mean")
        sds = variable.sel(stat="sd")
        for label, mean, sd in zip(
            _element_labels(name, means), np.ravel(means.values), np.ravel(sds.values), strict=True
        ):
            rows[label] = {"mean (delta)": mean, "sd (delta)": sd}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("deterministic")
    return (
        "<p>First-order propagation through the Laplace Gaussian: g(θ̂) and "
        "√(∇gᵀ H⁻¹ ∇g).</p>" + _table(table, limit=40)
    )


def _nuts_html(approx, reference, figures, plots) -> str:
    divergences = int(reference["sample_stats"]["diverging"].sum())
    text = f"<p>NUTS reference: {divergences} divergent transitions"
    text += (
        " — the reference itself is biased where the sampler diverges; treat it with care.</p>"
        if divergences
        else ".</p>"
    )
    if approx is None:
        summary = _draw_summary(reference["posterior"].to_dataset(), None)
        return text + "<p>No Laplace approximation to compare.</p>" + _table(summary)
    names = _free_names(approx)
    table = compare(approx, reference)
    verdict = comparison_verdict(table)
    per_parameter = table[
        [
            "mean_approx",
            "mean_reference",
            "sd_approx",
            "sd_reference",
            "z_gap",
            "sd_ratio",
            "wasserstein",
        ]
    ].to_dataframe()
    per_parameter["coverage 95%"] = table["coverage"].sel(interval_prob=0.95).values
    joint = (
        f"<p>Jointly over {', '.join(table.attrs['joint_params'])}: Mahalanobis distance of "
        f"the means {float(table['mahalanobis']):.3g}, Gaussian KL(Laplace ‖ NUTS) "
        f"{float(table['gaussian_kl']):.3g}, NUTS mass inside the Laplace central 50% / 90% / "
        f"95% regions {' / '.join(f'{v:.2f}' for v in table['joint_coverage'].values)}.</p>"
    )
    value_names = list(approx["unconstrained_posterior"].data_vars)
    pair_names, pair_coords = _pair_selection(approx, value_names)
    names_pair = ("Laplace", "NUTS")
    pictures = (
        figures(
            lambda path: plots.plot_marginals(
                approx, reference, var_names=names, names=names_pair, path=path
            ),
            "marginals.png",
            "Marginal densities: Laplace (blue) and NUTS (orange).",
        )
        + figures(
            lambda path: plots.plot_forest(
                approx, reference, var_names=names, names=names_pair, path=path
            ),
            "forest.png",
            "Means with 50% and 94% intervals: Laplace and NUTS.",
        )
        + figures(
            lambda path: plots.plot_pair_ellipses(
                approx, reference, var_names=pair_names, coords=pair_coords, path=path
            ),
            "pair_ellipses.png",
            "NUTS draws with the Laplace 50% and 95% ellipses, in the unconstrained space "
            "where the Laplace approximation is Gaussian.",
        )
    )
    return (
        f'<p class="verdict {_verdict_class(verdict)}">{html.escape(verdict)}</p>'
        + text
        + _table(per_parameter, limit=60)
        + joint
        + pictures
    )


def _pair_selection(approx, value_names):
    """At most ``PAIR_PLOT_LIMIT`` parameters: whole variables first, then the first
    coordinates of the remaining dimension."""
    posterior = approx["unconstrained_posterior"]
    chosen, count, coords = [], 0, {}
    for name in value_names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        size = int(np.prod([variable.sizes[dim] for dim in extra])) if extra else 1
        room = PAIR_PLOT_LIMIT - count
        if room <= 0:
            break
        if size > room:
            if len(extra) != 1 or extra[0] not in variable.coords:
                continue
            coords[extra[0]] = variable[extra[0]].values[:room].tolist()
            size = room
        chosen.append(name)
        count += size
    return chosen, coords or None


def _free_names(approx) -> list[str]:
    """The free variables' names in the approximation's posterior (not the deterministics)."""
    bases = {str(label).partition("[")[0] for label in approx["fit"]["param"].values}
    return [
        name
        for name in approx["posterior"].data_vars
        if any(
            base == name or (base.startswith(f"{name}_") and base.endswith("__")) for base in bases
        )
    ]


def _draw_summary(posterior: xr.Dataset, names) -> pd.DataFrame:
    names = list(posterior.data_vars) if names is None else names
    rows = {}
    for name in names:
        variable = posterior[name]
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        flat = variable.stack(sample=("chain", "draw")).transpose(*extra, "sample")
        values = flat.values.reshape(-1, flat.sizes["sample"])
        for label, row in zip(_element_labels(name, flat.isel(sample=0)), values, strict=True):
            low, high = np.quantile(row, [0.03, 0.97])
            rows[label] = {"mean": row.mean(), "sd": row.std(ddof=1), "3%": low, "97%": high}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("parameter")


def _element_labels(name, array: xr.DataArray) -> list[str]:
    from pmfisher._core.model_graph import element_labels

    coords = {dim: array[dim].values for dim in array.dims if dim in array.coords}
    return list(element_labels(name, array.shape, list(array.dims), coords))


# -- HTML -----------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
.verdict { padding: .6em 1em; border-left: 5px solid; }
.good { border-color: #2a9d3a; background: #eef8ef; }
.bad { border-color: #c0392b; background: #fbeeee; }
.failure { border-color: #b36b00; background: #fff5e6; }
"""


def _page(name, source, sections) -> str:
    body = "".join(f"<h2>{html.escape(title)}</h2>\n{content}\n" for title, content in sections)
    title = f"pmfisher report: {name}"
    origin = f" from {html.escape(source)}" if source else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Model <code>{html.escape(name)}</code>{origin}.</p>"
        f"{body}</body></html>\n"
    )


def _table(frame: pd.DataFrame, *, limit: int | None = None) -> str:
    note = ""
    if limit is not None and len(frame) > limit:
        note = f"<p>(first {limit} of {len(frame)} rows)</p>"
        frame = frame.iloc[:limit]
    return frame.to_html(float_format=lambda v: f"{v:.4g}", border=0) + note


def _failure_html(error) -> str:
    return f'<p class="verdict failure">Not available for this model: {html.escape(str(error))}</p>'


def _verdict_class(verdict: str) -> str:
    return "good" if verdict.startswith(("Good", "Usable", "Agree")) else "bad"
