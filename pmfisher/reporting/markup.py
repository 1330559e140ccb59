"""The HTML of a report: the page, its tables, its embedded figures and its failure notes."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from pmfisher.errors import PMFisherError

__all__ = ["Figures", "close_figure", "failure_html", "html_table", "page", "verdict_class"]

# Tables longer than this fold away, showing their shared parameters or first FIRST_ROWS rows.
LONG_TABLE = 40
FIRST_ROWS = 10
# Variables of at most this many elements are a model's shared parameters; larger ones are
# group effects.
GROUP_SIZE = 12


class Figures:
    """Saves figures as PNGs in the report's folder and embeds them in the HTML."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __call__(self, draw, filename: str, caption: str) -> str:
        path = self.folder / filename
        try:
            plot = draw(path)
        except Exception as error:  # one picture that cannot be drawn does not stop the rest
            return failure_html(error, f"(the figure “{caption}”)")
        close_figure(plot)
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )


def close_figure(plot):
    import matplotlib.pyplot as plt

    figure = plot
    if hasattr(plot, "viz"):
        figure = plot.viz["figure"].item()
    plt.close(figure)


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #555; }
caption { text-align: left; font-weight: 600; padding: .2em 0; }
details { margin: .5em 0 1em; } summary { cursor: pointer; color: #1764f4; }
.scroll { max-height: 28em; overflow: auto; border: 1px solid #eee; }
.verdict { padding: .6em 1em; border-left: 5px solid; }
.good { border-color: #2a9d3a; background: #eef8ef; }
.bad { border-color: #c0392b; background: #fbeeee; }
.failure { border-color: #b36b00; background: #fff5e6; }
"""


def page(name, source, sections) -> str:
    body = "".join(f"<h2>{html.escape(title)}</h2>\n{content}\n" for title, content in sections)
    title = f"pmfisher report: {name}"
    origin = f" from {html.escape(source)}" if source else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>Model <code>{html.escape(name)}</code>{origin}.</p>"
        f"{body}</body></html>\n"
    )


def html_table(frame: pd.DataFrame) -> str:
    """An HTML table; one longer than ``LONG_TABLE`` rows shows its shared parameters (or its
    first rows) and folds the whole table away under a click."""

    def html_of(rows):
        return rows.to_html(float_format=lambda v: f"{v:.4g}", border=0)

    if len(frame) <= LONG_TABLE:
        return html_of(frame)
    bases = pd.Series([str(label).partition("[")[0] for label in frame.index])
    counts = bases.map(bases.value_counts())
    shared = frame[(counts <= GROUP_SIZE).to_numpy()]
    if 0 < len(shared) <= LONG_TABLE:
        visible = shared
        shown = f"the shared parameters ({len(shared)} of {len(frame)} rows)"
    else:
        visible, shown = frame.iloc[:FIRST_ROWS], f"the first {FIRST_ROWS} of {len(frame)} rows"
    return (
        html_of(visible)
        + f"<details><summary>{shown} are shown above; click for all {len(frame)}</summary>"
        f'<div class="scroll">{html_of(frame)}</div></details>'
    )


def failure_html(error, advice: str = "") -> str:
    """Why a step is not available: pmfisher's own message, or for any other error its type
    and first line with what to do about it."""
    if isinstance(error, PMFisherError):
        reason = str(error)
    else:
        first = (str(error).strip().splitlines() or [""])[0]
        reason = (
            f"pmfisher could not do this step ({type(error).__name__}: {first}). PyMC accepts "
            "the model, so this is a gap in pmfisher rather than a fault of the model; please "
            "report it with the model file."
        )
    text = f"Not available for this model: {reason}"
    if advice:
        text += f" {advice}"
    return f'<p class="verdict failure">{html.escape(text)}</p>'


def verdict_class(verdict: str) -> str:
    return "good" if verdict.startswith(("Good", "Usable", "Agree")) else "bad"
