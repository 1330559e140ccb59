"""reporting/markup.py: the page and its parts escape what they are given, long tables fold
away showing their shared parameters or first rows, a failure says why in one paragraph, and
figures are embedded byte for byte (or replaced by why they could not be drawn)."""

import base64
import re
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from pmfisher.errors import ConvergenceError
from pmfisher.reporting.markup import (
    FIRST_ROWS,
    LONG_TABLE,
    Figures,
    close_figure,
    failure_html,
    html_table,
    page,
    verdict_class,
)

HOSTILE = '<script>alert("x")</script> & co'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"


def test_the_page_escapes_its_name_source_and_titles():
    html = page(HOSTILE, HOSTILE, [(HOSTILE, "<p>kept as it is</p>")])
    assert "<script>" not in html
    assert f"<title>pmfisher report: {ESCAPED}</title>" in html
    assert f"<h1>pmfisher report: {ESCAPED}</h1>" in html
    assert f"<p>Model <code>{ESCAPED}</code> from {ESCAPED}.</p>" in html
    assert f"<h2>{ESCAPED}</h2>\n<p>kept as it is</p>" in html  # sections are HTML already
    assert html.startswith("<!DOCTYPE html>")
    assert " from " not in page("m", "", [])  # no source, no "from"


def _frame(labels):
    return pd.DataFrame({"mean": np.arange(len(labels), dtype=float)}, index=labels)


@pytest.mark.parametrize(
    ("labels", "visible", "summary"),
    [
        (["a", "b"], ["a", "b"], None),
        ([f"x[{k}]" for k in range(LONG_TABLE)], [f"x[{k}]" for k in range(LONG_TABLE)], None),
        # Two shared parameters beside 50 group effects: the shared ones are shown.
        (
            ["mu", "tau"] + [f"z[{k}]" for k in range(50)],
            ["mu", "tau"],
            "the shared parameters (2 of 52 rows) are shown above; click for all 52",
        ),
        # No shared parameters: the first rows.
        (
            [f"z[{k}]" for k in range(60)],
            [f"z[{k}]" for k in range(FIRST_ROWS)],
            f"the first {FIRST_ROWS} of 60 rows are shown above; click for all 60",
        ),
    ],
    ids=["short", "at-the-limit", "shared-parameters", "first-rows"],
)
def test_long_tables_fold_away(labels, visible, summary):
    html = html_table(_frame(labels))
    shown = html.split("<details>")[0]
    assert re.findall(r"<th>([^<]+)</th>\s*<td>", shown) == visible
    if summary is None:
        assert "<details>" not in html
    else:
        assert f"<summary>{summary}</summary>" in html
        folded = html.split("<details>")[1]
        assert re.findall(r"<th>([^<]+)</th>\s*<td>", folded) == labels


def test_numbers_have_four_significant_digits():
    html = html_table(pd.DataFrame({"v": [1.234567, 1234567.0]}, index=["a", "b"]))
    assert "<td>1.235</td>" in html
    assert "<td>1.235e+06</td>" in html


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            ConvergenceError("no mode <here>"),
            "Not available for this model: no mode &lt;here&gt; Try more draws.",
        ),
        (
            RuntimeError("first line\nsecond line"),
            "Not available for this model: pmfisher could not do this step (RuntimeError: first "
            "line). PyMC accepts the model, so this is a gap in pmfisher rather than a fault of "
            "the model; please report it with the model file. Try more draws.",
        ),
    ],
    ids=["pmfisher-error", "other-error"],
)
def test_a_failure_says_why_in_one_paragraph(error, expected):
    assert failure_html(error, "Try more draws.") == f'<p class="verdict failure">{expected}</p>'


@pytest.mark.parametrize(
    ("verdict", "css"),
    [
        ("Good: k̂ = 0.2", "good"),
        ("Usable: k̂ = 0.6", "good"),
        ("Agree: every mean", "good"),
        ("Unreliable: k̂ = 0.9", "bad"),
        ("Disagree: the largest", "bad"),
    ],
)
def test_verdict_classes(verdict, css):
    assert verdict_class(verdict) == css


def test_a_figure_is_embedded_byte_for_byte(tmp_path):
    drawn = []

    def draw(path):
        figure, axes = plt.subplots()
        axes.plot([0, 1], [1, 0])
        figure.savefig(path)
        drawn.append(figure.number)
        return figure

    html = Figures(tmp_path)(draw, "line.png", "A <line> & more")
    [encoded] = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(encoded) == (tmp_path / "line.png").read_bytes()
    assert 'alt="A &lt;line&gt; &amp; more"' in html
    assert "<figcaption>A &lt;line&gt; &amp; more</figcaption>" in html
    assert not plt.fignum_exists(drawn[0])  # closed once embedded


def test_a_figure_that_cannot_be_drawn_says_so_and_the_rest_goes_on(tmp_path):
    def draw(path):
        raise ValueError("no draws")

    html = Figures(tmp_path)(draw, "broken.png", "Broken")
    assert html.startswith('<p class="verdict failure">Not available for this model: pmfisher')
    assert "(ValueError: no draws)" in html
    assert html.endswith("(the figure “Broken”)</p>")
    assert not (tmp_path / "broken.png").exists()


def test_close_figure_closes_a_figure_or_a_plot_collections_figure():
    # By number: figures that other tests in this process left open are not these.
    figure = plt.figure()
    close_figure(figure)
    assert not plt.fignum_exists(figure.number)
    figure = plt.figure()
    held = np.empty((), dtype=object)
    held[()] = figure
    # What arviz-plots returns: a collection whose viz tree holds the figure.
    close_figure(types.SimpleNamespace(viz={"figure": xr.DataArray(held)}))
    assert not plt.fignum_exists(figure.number)
