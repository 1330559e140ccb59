"""The summary as a plain-text table (laid out like statsmodels' ``summary()``, sectioned
like lme4's) and as an HTML table for notebooks and the report."""

from __future__ import annotations

import html as html_escape

import numpy as np

__all__ = ["html", "text"]

WIDTH = 86
COLUMN = 12
# Conditional modes printed before "… n more".
SHOWN_EFFECTS = 10
SECTIONS = (
    ("fixed effect", "Fixed effects"),
    ("variance component", "Variance components (scales as written in the model)"),
    ("derived", "Deterministics (delta method)"),
)


def number(value: float) -> str:
    """A table entry: four decimals, or scientific notation for very small or large values,
    and ``—`` where there is none.

    Examples
    --------
    >>> number(0.123456), number(1.5e-7), number(float("nan"))
    ('0.1235', '1.500e-07', '—')
    """
    if not np.isfinite(value):
        return "—" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if value != 0 and not 1e-4 <= abs(value) < 1e5:
        return f"{value:.3e}"
    return f"{value:.4f}"


def header_rows(summary) -> list[tuple[str, ...]]:
    """The header: the density differentiated on a line of its own, then pairs."""
    attrs = summary.table.attrs
    kind = "profile likelihood" if attrs["ci"] == "profile" else "Wald"
    return [
        ("Density:", attrs["density"]),
        ("Information:", attrs["information"], "Observations:", str(attrs["n_obs"])),
        ("Intervals:", f"{kind}, {attrs['level']:.0%}", "Log-density:", f"{attrs['logp']:.4f}"),
        ("Estimate:", attrs["estimator"], "Converged:", "yes" if attrs["converged"] else "no"),
    ]


def _columns(summary) -> list[str]:
    level = summary.table.attrs["level"]
    low, high = (1 - level) / 2, (1 + level) / 2
    return ["estimate", "se", "z", "P>|z|", f"[{low:.3g}", f"{high:.3g}]"]


def _sections(summary):
    roles = summary.table["role"].values
    for role, title in SECTIONS:
        rows = [k for k, found in enumerate(roles) if found == role]
        if rows:
            yield title, rows


def text(summary) -> str:
    """The plain-text table."""
    data = summary.table
    labels = [str(label) for label in data["param"].values]
    name_width = max([len(label) + 3 for label in labels] + [16])
    width = max(WIDTH, name_width + 6 * COLUMN)
    lines = ["pmfisher.summary".center(width), "=" * width]
    half = width // 2
    for row in header_rows(summary):
        line = f"{row[0]:<14}{row[1]}"
        if len(row) == 4:
            line = f"{line:<{half}}"[:half] + f"{row[2]:<17}{row[3]:>{width - half - 17}}"
        lines.append(line)
    lines.append("=" * width)
    heading = " " * name_width + "".join(f"{column:>{COLUMN}}" for column in _columns(summary))
    keys = ("estimate", "se", "z", "p", "lower", "upper")
    for title, rows in _sections(summary):
        lines += [title, heading, "-" * width]
        for k in rows:
            entries = "".join(f"{number(float(data[key].values[k])):>{COLUMN}}" for key in keys)
            mark = str(data["note"].values[k])
            lines.append(f"{labels[k] + (' ' + mark if mark else ''):<{name_width}}{entries}")
        lines.append("=" * width)
    lines += _effects_text(summary, width)
    for mark, reason in summary.notes.items():
        lines.append(f"[{mark}] {reason}")
    return "\n".join(lines)


def _effects_text(summary, width: int) -> list[str]:
    effects = summary.conditional_modes
    if effects is None:
        return []
    labels = [str(label) for label in effects["effect"].values]
    name_width = max([len(label) + 2 for label in labels[:SHOWN_EFFECTS]] + [16])
    lines = [
        f"Conditional modes of {', '.join(effects.attrs['latent'])} "
        f"({len(labels)} effects; result.conditional_modes)",
        " " * name_width + f"{'mode':>{COLUMN}}{'cond. se':>{COLUMN}}",
        "-" * width,
    ]
    for k, label in enumerate(labels[:SHOWN_EFFECTS]):
        mode, se = float(effects["mode"].values[k]), float(effects["se"].values[k])
        lines.append(f"{label:<{name_width}}{number(mode):>{COLUMN}}{number(se):>{COLUMN}}")
    if len(labels) > SHOWN_EFFECTS:
        lines.append(f"… {len(labels) - SHOWN_EFFECTS} more")
    return [*lines, "=" * width]


def html(summary) -> str:
    """The HTML table (a header table and one table per section, like statsmodels')."""
    escape = html_escape.escape
    data = summary.table
    parts = ['<div class="pmfisher-summary">', "<table><caption>pmfisher.summary</caption>"]
    for row in header_rows(summary):
        cells = [
            f"<th>{escape(entry)}</th>" if k % 2 == 0 else f"<td>{escape(entry)}</td>"
            for k, entry in enumerate(row)
        ]
        span = ' colspan="3"' if len(row) == 2 else ""
        parts.append(
            f"<tr>{cells[0]}{cells[1].replace('<td>', f'<td{span}>')}{''.join(cells[2:])}</tr>"
        )
    parts.append("</table>")
    keys = ("estimate", "se", "z", "p", "lower", "upper")
    heading = "".join(f"<th>{escape(column)}</th>" for column in _columns(summary))
    for title, rows in _sections(summary):
        parts.append(f"<table><caption>{escape(title)}</caption><tr><th></th>{heading}</tr>")
        for k in rows:
            label = escape(str(data["param"].values[k]))
            mark = str(data["note"].values[k])
            if mark:
                label += f" <sup>{escape(mark)}</sup>"
            cells = "".join(f"<td>{number(float(data[key].values[k]))}</td>" for key in keys)
            parts.append(f"<tr><th>{label}</th>{cells}</tr>")
        parts.append("</table>")
    effects = summary.conditional_modes
    if effects is not None:
        parts.append(
            f"<table><caption>Conditional modes of {escape(', '.join(effects.attrs['latent']))}"
            f" ({effects.sizes['effect']} effects)</caption>"
            "<tr><th></th><th>mode</th><th>cond. se</th></tr>"
        )
        for k in range(min(SHOWN_EFFECTS, effects.sizes["effect"])):
            parts.append(
                f"<tr><th>{escape(str(effects['effect'].values[k]))}</th>"
                f"<td>{number(float(effects['mode'].values[k]))}</td>"
                f"<td>{number(float(effects['se'].values[k]))}</td></tr>"
            )
        parts.append("</table>")
    if summary.notes:
        parts.append("<p>")
        parts += [
            f"<sup>{escape(mark)}</sup> {escape(reason)}<br>"
            for mark, reason in summary.notes.items()
        ]
        parts.append("</p>")
    parts.append("</div>")
    return "\n".join(parts)
