"""reporting/sections.py: each section's HTML holds the numbers it says it holds — the model's
variables, the MLE of a Poisson rate with its information n/λ̂, the Laplace Gaussian and the
delta method read off the fit, the comparison with NUTS on draws made here — and draws the
figures it names; a step that cannot be done raises the error that says why."""

import re
from html import escape

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

import pmfisher
from pmfisher.approximation.compare import compare
from pmfisher.errors import ConvergenceError, NotPositiveDefiniteError
from pmfisher.reporting import sections
from pmfisher.reporting.verdicts import comparison_verdict

COUNTS = np.array([2, 4, 3, 5, 1, 0, 3])


class Figures:
    """Records each figure a section asks for and runs its drawing on ``Plots``."""

    def __init__(self):
        self.files, self.plots = [], Plots()

    def __call__(self, draw, filename, caption):
        self.files.append(filename)
        draw(filename)
        return f"<figure>{filename}</figure>"


class Plots:
    """Stands in for ``pmfisher.reporting.plots``: records what each call was given."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def rows(html: str) -> dict[str, list[str]]:
    """Row label → its cells, from an HTML table."""
    found = re.findall(r"<tr>\s*<th>([^<]*)</th>(.*?)</tr>", html, re.S)
    table = {label: re.findall(r"<td>([^<]*)</td>", cells) for label, cells in found}
    return {label: cells for label, cells in table.items() if cells}  # not the index's name


@pytest.fixture(scope="module")
def poisson():
    with pm.Model(coords={"obs": np.arange(COUNTS.size)}) as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Deterministic("twice", 2 * lam)
        pm.Poisson("y", lam, observed=COUNTS, dims="obs")
    return model


def test_the_variables_table(poisson):
    table = rows(sections.variables_html(poisson))
    assert table == {
        "lam": ["free", "()", "–", "Exponential", "LogTransform"],
        "y": ["observed", "(7,)", "obs", "Poisson", "–"],
        "twice": ["deterministic", "()", "–", "–", "–"],
    }


def test_the_mle_section_of_a_poisson_rate(poisson):
    figures = Figures()
    html = sections.mle_html(poisson, figures, figures.plots)
    rate = COUNTS.mean()
    logp = stats.poisson.logpmf(COUNTS, rate).sum()
    assert f"log-likelihood {logp:.6g}" in html
    assert "profile-likelihood intervals" in html  # one parameter: profiled
    assert "pmfisher-summary" in html  # the summary's own HTML table
    assert rows(html.split("<h3>Observed information</h3>")[1])["lam"] == [
        f"{COUNTS.size / rate:.4g}"
    ]
    assert figures.files == ["observed_information.png", "observed_information_correlation.png"]
    (_, (shown,), plain), (_, (inverted,), correlation) = figures.plots.calls
    np.testing.assert_allclose(shown.values, [[COUNTS.size / rate]], rtol=1e-9)
    assert correlation["view"] == "correlation"
    assert inverted is shown
    assert "view" not in plain


def test_no_mle_without_a_maximum():
    """Equal observations: the likelihood grows without bound as σ → 0."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 5.0)
        pm.Normal("y", mu, sigma, observed=np.full(4, 1.5))
    with pytest.raises(ConvergenceError, match="no maximum-likelihood estimate was found"):
        sections.mle_html(model, Figures(), Plots())


def test_no_standard_errors_where_the_likelihood_leaves_a_parameter_flat():
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Normal("unused", 0.0, 1.0)
        pm.Poisson("y", lam, observed=COUNTS)
    with (
        pytest.raises(NotPositiveDefiniteError, match="unused") as raised,
        pytest.warns(UserWarning, match="singular at this point"),
    ):
        sections.mle_html(model, Figures(), Plots())
    assert sections.NO_MLE in str(raised.value)


@pytest.fixture(scope="module")
def approx(poisson):
    return pmfisher.laplace(model=poisson, draws=400, random_seed=2, progressbar=False)


def test_the_laplace_section_reads_the_fit(approx):
    figures = Figures()
    html = sections.laplace_html(approx, figures, figures.plots)
    fit = approx["fit"]
    pareto_k = float(fit["pareto_k"])
    opening = "Good" if pareto_k < 0.5 else "Usable" if pareto_k < 0.7 else "Unreliable"
    css = "bad" if opening == "Unreliable" else "good"
    assert f'<p class="verdict {css}">{opening}: k̂ = {pareto_k:.2f}' in html
    assert f"log-posterior there {approx.attrs['mode_logp']:.6g}" in html
    gaussian = rows(html.split("<h3>Gaussian (mode and sd)</h3>")[1].split("<h3>")[0])
    mode, sd = float(fit["mean_vector"][0]), np.sqrt(float(fit["covariance_matrix"][0, 0]))
    assert gaussian == {"lam_log__": [f"{mode:.4g}", f"{sd:.4g}"]}
    draws = approx["posterior"]["lam"].values.ravel()
    drawn = rows(html.split("constrained space)</h3>")[1])
    assert drawn["lam"] == [f"{value:.4g}" for value in (draws.mean(), draws.std(ddof=1))] + [
        f"{value:.4g}" for value in np.quantile(draws, [0.03, 0.97])
    ]
    assert figures.files == ["laplace_khat.png", "laplace_precision.png", "laplace_correlation.png"]


def test_the_delta_method_section(poisson, approx):
    html = sections.delta_html(poisson, approx)
    mode, sd = (
        float(approx["fit"]["mean_vector"][0]),
        np.sqrt(float(approx["fit"]["covariance_matrix"][0, 0])),
    )
    # 2λ = 2 exp(x) at the unconstrained mode x̂, sd 2 exp(x̂)·sd(x).
    assert rows(html)["twice"] == [f"{2 * np.exp(mode):.4g}", f"{2 * np.exp(mode) * sd:.4g}"]


@pytest.mark.parametrize(
    ("deterministics", "approximation", "message"),
    [
        (False, True, "<p>The model has no deterministics.</p>"),
        (True, False, "<p>No Laplace approximation, so no delta method.</p>"),
    ],
)
def test_the_delta_method_section_says_why_it_is_empty(
    poisson, approx, deterministics, approximation, message
):
    model = poisson
    if not deterministics:
        with pm.Model() as model:
            pm.Normal("x")
    assert sections.delta_html(model, approx if approximation else None) == message


def _trees(divergences: int):
    """An approximation with a fit group and a NUTS-like reference over (mu, z[3])."""
    labels = ["mu", "z[a]", "z[b]", "z[c]"]
    mean, covariance = np.array([0.5, 1.0, 2.0, 3.0]), np.diag([1.0, 0.5, 0.5, 0.5])
    rng = np.random.default_rng(9)  # the same draws whichever test asks first
    approx_draws = rng.multivariate_normal(mean, covariance, size=(1, 600))
    reference_draws = rng.multivariate_normal(mean + 0.05, covariance, size=(2, 500))

    def posterior(draws):
        return xr.Dataset(
            {
                "mu": (("chain", "draw"), draws[..., 0]),
                "z": (("chain", "draw", "g"), draws[..., 1:]),
            },
            coords={"g": ["a", "b", "c"]},
        )

    fit = xr.Dataset(
        {
            "mean_vector": ("param", mean),
            "covariance_matrix": (("param_i", "param_j"), covariance),
            "precision_matrix": (("param_i", "param_j"), np.linalg.inv(covariance)),
            "pareto_k": 0.2,
        },
        coords={"param": labels, "param_i": labels, "param_j": labels},
    )
    approx = xr.DataTree.from_dict(
        {
            "posterior": posterior(approx_draws),
            "unconstrained_posterior": posterior(approx_draws),
            "fit": fit,
        }
    )
    diverging = np.zeros((2, 500), dtype=bool)
    diverging[0, :divergences] = True
    reference = xr.DataTree.from_dict(
        {
            "posterior": posterior(reference_draws),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), diverging)}),
        }
    )
    return approx, reference


@pytest.mark.parametrize("divergences", [0, 3])
def test_the_nuts_section_compares_the_draws(divergences):
    approx, reference = _trees(divergences)
    figures = Figures()
    html = sections.nuts_html(approx, reference, figures, figures.plots)
    table = compare(approx, reference)
    assert html.startswith(f'<p class="verdict good">{escape(comparison_verdict(table))}</p>')
    if divergences:
        assert f"NUTS reference: {divergences} divergent transitions" in html
    else:
        assert "NUTS reference: no divergent transitions." in html
    per_parameter = rows(html)
    for label in ("mu", "z[a]", "z[b]", "z[c]"):
        z_gap = float(table["z_gap"].sel(param=label))
        assert per_parameter[label][4] == f"{z_gap:.4g}"
    assert f"Mahalanobis distance of the means {float(table['mahalanobis']):.3g}" in html
    assert figures.files == ["marginals.png", "forest.png", "pair_ellipses.png"]


def test_the_nuts_section_without_an_approximation_summarizes_nuts():
    _, reference = _trees(0)
    reference["posterior"] = (
        reference["posterior"].to_dataset().assign(z_log__=reference["posterior"]["z"])
    )
    html = sections.nuts_html(None, reference, Figures(), Plots())
    assert "<p>No Laplace approximation to compare.</p>" in html
    table = rows(html)
    assert list(table) == ["mu", "z[a]", "z[b]", "z[c]"]  # not the transformed copies
    mu = reference["posterior"]["mu"].values.ravel()
    assert table["mu"][0] == f"{mu.mean():.4g}"


@pytest.mark.parametrize(
    ("sizes", "shared", "groups"),
    [
        ({"mu": 1, "z": 20}, ["mu", "z"], []),  # 21 scalars: every variable drawn
        ({"mu": 1, "tau": 1, "z": 30}, ["mu", "tau"], ["z"]),
        ({"mu": 12, "z": 13}, ["mu"], ["z"]),  # at most GROUP_SIZE elements: shared
    ],
)
def test_shared_parameters_and_group_effects(sizes, shared, groups):
    posterior = xr.Dataset(
        {name: (("chain", "draw", f"{name}_dim"), np.zeros((1, 2, n))) for name, n in sizes.items()}
    )
    assert sections._shared_and_groups(posterior, list(sizes)) == (shared, groups)
    assert sections._scalar_count(posterior, list(sizes)) == sum(sizes.values())


@pytest.mark.parametrize(
    ("sizes", "chosen", "coords"),
    [
        ({"mu": 1, "tau": 1}, ["mu", "tau"], None),
        ({"mu": 1, "z": 8}, ["mu", "z"], {"g": [0, 1, 2, 3, 4]}),  # the first 5 of z
        ({"a": 3, "b": 3, "c": 1}, ["a", "b"], None),  # full at 6
    ],
)
def test_the_pair_plot_takes_at_most_six_parameters(sizes, chosen, coords):
    posterior = xr.Dataset(
        {
            name: (("chain", "draw", "g"), np.zeros((1, 2, n)))
            if n > 1
            else (("chain", "draw"), np.zeros((1, 2)))
            for name, n in sizes.items()
        }
    )
    posterior = (
        posterior.assign_coords(g=np.arange(posterior.sizes["g"]))
        if "g" in posterior.dims
        else posterior
    )
    approx = xr.DataTree.from_dict({"unconstrained_posterior": posterior})
    assert sections._pair_selection(approx, list(sizes)) == (chosen, coords)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["a", "b"], "a, b"),
        ([f"p{k}" for k in range(13)], "all 13 parameters (p0, p1, p2, p3, p4, p5, …)"),
    ],
)
def test_joint_names(names, shown):
    assert sections._joint_names(names) == shown
