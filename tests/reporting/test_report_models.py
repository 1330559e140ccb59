"""``pmfisher report --nuts`` on models that broke it: a hierarchical model with 203 parameters,
a Dirichlet model, a model with no posterior mode whose NUTS run diverges. Each page is
rendered in headless Chromium; the screenshots are kept in ``results/report_screenshots/``
to be looked at."""

import html as html_module
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pmfisher.reporting import nuts, steps
from pmfisher.reporting.cli import main

SCREENSHOTS = Path(__file__).resolve().parents[2] / "results" / "report_screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HIERARCHICAL_FILE = """
import numpy as np, pymc as pm
rng = np.random.default_rng(7)
groups = 200
group = np.repeat(np.arange(groups), 3)
y = rng.normal(1.0 + rng.normal(0.0, 0.7, size=groups)[group], 1.0)
with pm.Model(coords={"group": np.arange(groups)}) as hierarchical:
    mu = pm.Normal("mu", 0.0, 5.0)
    tau = pm.HalfNormal("tau", 2.0)
    sigma = pm.HalfNormal("sigma", 2.0)
    z = pm.Normal("z", 0.0, 1.0, dims="group")
    pm.Normal("y", mu + tau * z[group], sigma, observed=y)
"""

DIRICHLET_FILE = """
import numpy as np, pymc as pm
counts = np.array([12, 30, 8, 50])
with pm.Model(coords={"category": ["a", "b", "c", "d"]}) as shares:
    p = pm.Dirichlet("p", a=np.ones(4), dims="category")
    pm.Multinomial("y", n=counts.sum(), p=p, observed=counts, dims="category")
"""

CENTRED_SCHOOLS_FILE = """
import numpy as np, pymc as pm
with pm.Model() as schools:
    mu = pm.Normal("mu", 0.0, 5.0)
    tau = pm.HalfCauchy("tau", 5.0)
    theta = pm.Normal("theta", mu, tau, shape=8)
    pm.Normal("y", theta, [15, 10, 16, 11, 9, 11, 10, 18], observed=[28, 8, -3, 7, -1, 1, 18, 12])
"""

SECTIONS = (
    "Model",
    "Maximum likelihood",
    "Laplace approximation",
    "Deterministics (delta method)",
    "Laplace vs NUTS",
)


def _report(tmp_path_factory, name, source, seed=3):
    folder = tmp_path_factory.mktemp(name)
    path = folder / f"{name}.py"
    path.write_text(source)
    out = folder / "out"
    arguments = ["report", str(path), "--out", str(out), "--nuts"]
    code = main([*arguments, "--draws", "100", "--chains", "1", "--seed", str(seed)])
    return code, out


@pytest.fixture(scope="module")
def hierarchical(tmp_path_factory):
    return _report(tmp_path_factory, "hierarchical", HIERARCHICAL_FILE)


@pytest.fixture(scope="module")
def dirichlet(tmp_path_factory):
    return _report(tmp_path_factory, "dirichlet", DIRICHLET_FILE)


@pytest.fixture(scope="module")
def schools(tmp_path_factory):
    # With this seed the 100 draws after 500 tuning steps include divergent transitions.
    return _report(tmp_path_factory, "schools", CENTRED_SCHOOLS_FILE, seed=2)


def _sections(page: str) -> dict[str, str]:
    parts = re.split(r"<h2>(.*?)</h2>", page)
    titles, bodies = parts[1::2], parts[2::2]
    return {html_module.unescape(t): body for t, body in zip(titles, bodies, strict=True)}


def _complete(out: Path) -> dict[str, str]:
    page = (out / "report.html").read_text()
    sections = _sections(page)
    assert tuple(sections) == SECTIONS
    assert "Traceback" not in page
    for body in sections.values():
        assert body.strip()
    return sections


def test_a_model_with_203_parameters_is_summarized(hierarchical):
    code, out = hierarchical
    assert code == 0
    sections = _complete(out)
    # Shared parameters drawn one by one, the 200 group effects all at once.
    assert (out / "marginals.png").exists()
    assert (out / "group_effects.png").exists()
    assert "Group effects (z), every element at once" in sections["Laplace vs NUTS"]
    # Long tables fold away, showing the shared parameters; the 203 × 203 matrix is a picture.
    laplace = sections["Laplace approximation"]
    assert "<th>mu</th>" in laplace
    assert "click for all 203</summary>" in laplace
    assert "<th>z[150]</th>" in laplace  # in the folded table
    assert (out / "laplace_precision.png").exists()
    # mu, tau and z are not identified by the likelihood alone: said in its section.
    assert (
        "Not available for this model: the observed information at the MLE is not"
        in (sections["Maximum likelihood"])
    )
    # The page stays a page: no table of 203 × 203 numbers.
    assert (out / "report.html").stat().st_size < 3_000_000


def test_a_dirichlet_model_gets_a_report(dirichlet):
    code, out = dirichlet
    assert code == 0
    sections = _complete(out)
    # The simplex of 4 shares has 3 free coordinates; until the constrained space handles
    # that, the maximum-likelihood step says why it is not available, without a traceback.
    mle = sections["Maximum likelihood"]
    assert "<table" in mle or "Not available for this model:" in mle
    # The posterior side works in the unconstrained coordinates; the 4 shares summing to
    # one cannot have a joint covariance, so the comparison says where it was made.
    comparison = sections["Laplace vs NUTS"]
    assert "Compared in the unconstrained coordinates" in comparison
    assert "p_simplex__[0]" in comparison


def test_no_posterior_mode_and_divergent_nuts_are_reported(schools):
    code, out = schools
    assert code == 0
    sections = _complete(out)
    laplace = sections["Laplace approximation"]
    assert "Not available for this model: the posterior has no mode to centre a Gaussian" in laplace
    assert "non-centred parameterization" in laplace  # advice the reader can follow
    assert "Pass a point" not in laplace  # advice a report reader cannot follow
    comparison = sections["Laplace vs NUTS"]
    divergences = int(re.search(r"NUTS reference: (\d+) divergent transitions", comparison)[1])
    assert divergences > 0
    assert "No Laplace approximation to compare." in comparison
    assert "<th>theta[7]</th>" in comparison  # the NUTS summary stands alone


def test_the_nuts_step_says_how_far_it_is_when_stderr_is_not_a_terminal(capsys):
    # pm.sample calls this after every iteration when PyMC's own bar is not drawn.
    lines = nuts.NutsLines(steps.Progress(total=1), total=600)
    lines.last -= nuts.NUTS_LINE_SECONDS
    draw = type("Draw", (), {"stats": [{"diverging": True}], "tuning": False})()
    lines(trace=None, draw=draw)
    printed = capsys.readouterr().err
    assert re.search(r"NUTS: 1/600 iterations of all chains \(0%\), 1 divergent so far", printed)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install -y chromium)")
@pytest.mark.parametrize("name", ["hierarchical", "dirichlet", "schools"])
def test_each_page_renders_in_chromium(name, request, tmp_path):
    _, out = request.getfixturevalue(name)
    probe = """<script>
    window.addEventListener("load", () => {
      const images = [...document.images];
      document.body.dataset.images = images.length;
      document.body.dataset.rendered = images.filter(i => i.complete && i.naturalWidth > 0).length;
      const wide = document.documentElement.scrollWidth > window.innerWidth;
      document.body.dataset.overflow = wide ? 1 : 0;
    });
    </script></body>"""
    page = tmp_path / "probed.html"
    page.write_text((out / "report.html").read_text().replace("</body>", probe))
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [
            *command,
            "--window-size=1280,900",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    attributes = dict(re.findall(r'data-(\w+)="(\d+)"', re.search(r"<body([^>]*)>", dom)[1]))
    assert attributes["images"] == str(page.read_text().count("<img "))
    assert attributes["rendered"] == attributes["images"]  # every figure decoded
    assert attributes["overflow"] == "0"  # nothing wider than the window: readable as is
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENSHOTS / f"{name}.png"
    subprocess.run(
        [*command, "--window-size=1280,7000", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True,
        timeout=180,
        check=True,
    )
    assert screenshot.stat().st_size > 10_000
