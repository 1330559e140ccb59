"""The HTML report of ``pmfisher report``, on model files written for the test, rendered in
headless Chromium."""

import base64
import re
import shutil
import subprocess

import pytest

from pmfisher.reporting.cli import main

GLM_FILE = """
import numpy as np, pymc as pm
rng = np.random.default_rng(4)
x = rng.normal(size=60)
y = rng.poisson(np.exp(0.5 + 0.6 * x))
with pm.Model(coords={"obs": range(60)}) as glm:
    a = pm.Normal("a", 0.0, 5.0)
    b = pm.Normal("b", 0.0, 5.0)
    rate = pm.Deterministic("rate", pm.math.exp(a + b * x), dims="obs")
    pm.Poisson("y", rate, observed=y, dims="obs")
"""

CENTRED_SCHOOLS_FILE = """
import numpy as np, pymc as pm
with pm.Model() as schools:
    mu = pm.Normal("mu", 0.0, 5.0)
    tau = pm.HalfCauchy("tau", 5.0)
    theta = pm.Normal("theta", mu, tau, shape=8)
    pm.Normal("y", theta, [15, 10, 16, 11, 9, 11, 10, 18], observed=[28, 8, -3, 7, -1, 1, 18, 12])
"""

FIGURES_WITH_NUTS = {
    "observed_information.png",
    "observed_information_correlation.png",
    "laplace_khat.png",
    "laplace_precision.png",
    "laplace_correlation.png",
    "marginals.png",
    "forest.png",
    "pair_ellipses.png",
}


@pytest.fixture(scope="module")
def glm_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("glm")
    path = folder / "glm_model.py"
    path.write_text(GLM_FILE)
    out = folder / "out"
    arguments = ["report", f"{path}:glm", "--out", str(out), "--nuts"]
    arguments += ["--draws", "300", "--chains", "2", "--seed", "3"]
    return main(arguments), out


def test_report_with_nuts_writes_a_self_contained_page(glm_report):
    code, out = glm_report
    assert code == 0
    html = (out / "report.html").read_text()
    assert {path.name for path in out.glob("*.png")} == FIGURES_WITH_NUTS
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    on_disk = {(out / name).read_bytes() for name in FIGURES_WITH_NUTS}
    assert {base64.b64decode(image) for image in embedded} == on_disk
    for heading in (
        "Model",
        "Maximum likelihood",
        "Laplace approximation",
        "Deterministics (delta method)",
        "Laplace vs NUTS",
    ):
        assert f"<h2>{heading}</h2>" in html
    # A Poisson GLM with 60 counts: Laplace is good, and agrees with NUTS.
    assert "Good: k̂ = " in html
    assert "Agree: every mean is within 0.25 NUTS sds" in html
    # Deterministics by the delta method, labelled; long tables fold away under a click.
    assert "<th>rate[39]</th>" in html
    assert "the first 10 of 60 rows are shown above; click for all 60</summary>" in html
    assert "src=" not in html.replace('src="data:image/png;base64,', "")  # nothing external


def test_report_shows_progress_per_step(tmp_path, capsys):
    path = tmp_path / "glm_model.py"
    path.write_text(GLM_FILE)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    steps = [line for line in captured.err.splitlines() if re.match(r"\[\d/4\] .* done \(", line)]
    assert [line[:5] for line in steps] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert "estimates with standard errors" in captured.out  # the printed report is kept
    assert not (tmp_path / "out" / "marginals.png").exists()  # no NUTS, no overlays


def test_a_model_without_modes_still_gets_a_report(tmp_path, capsys):
    path = tmp_path / "schools.py"
    path.write_text(CENTRED_SCHOOLS_FILE)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    # The likelihood does not involve mu and tau: they are flat directions of it, so it has no
    # standard errors; the posterior has no mode (tau → 0). Both sections say why, and the
    # report goes on.
    no_errors = re.search(
        r"Not available for this model: the observed information at the MLE is not positive "
        r"definite: ([^<]*)",
        html,
    )
    assert "along mu (+1.00)" in no_errors[1]
    assert "along tau (+1.00)" in no_errors[1]
    assert "the parameters are not identified" in no_errors[1]
    assert "Not available for this model: the posterior has no mode to centre a Gaussian" in html
    assert "maximum likelihood: not available" in capsys.readouterr().out


def test_bad_inputs_give_one_line_errors_with_the_new_options(tmp_path, capsys):
    good = tmp_path / "glm_model.py"
    good.write_text(GLM_FILE)
    broken = tmp_path / "broken.py"
    broken.write_text("import pymc as pm\nwith pm.Model() as m:\n    pm.Normal('x', sigma=-)\n")
    options = ["--out", str(tmp_path / "out"), "--nuts", "--draws", "50"]
    cases = {
        str(tmp_path / "missing.py"): "no model file at",
        f"{good}:other": "defines no model named 'other' (models found: glm)",
        str(broken): "failed to build: SyntaxError",
    }
    for spec, message in cases.items():
        assert main(["report", spec, *options]) == 1
        error = capsys.readouterr().err
        assert message in error
        assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.images = images.length;
  document.body.dataset.rendered = images.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.width = Math.min(...images.map(i => i.naturalWidth));
});
</script></body>"""


@pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium (apt-get install -y chromium) to render the HTML"
)
def test_report_renders_in_headless_chromium(glm_report, tmp_path):
    _, out = glm_report
    page = tmp_path / "probed.html"
    page.write_text((out / "report.html").read_text().replace("</body>", PROBE))
    completed = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    body = re.search(r"<body([^>]*)>", completed.stdout).group(1)
    attributes = dict(re.findall(r'data-(\w+)="(\d+)"', body))
    assert attributes["images"] == str(len(FIGURES_WITH_NUTS))
    assert attributes["rendered"] == attributes["images"]  # every figure decoded and laid out
    assert int(attributes["width"]) > 300
    assert "pmfisher report: glm" in completed.stdout
