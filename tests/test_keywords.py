"""One vocabulary: every parameter of every public function has a row in ARCHITECTURE.md's
keyword table naming the function, with the function's default."""

import inspect
import re
from pathlib import Path

import pytest

import pmfisher

TABLE = Path(__file__).resolve().parent.parent / "ARCHITECTURE.md"


def _rows() -> list[tuple[str, str, str]]:
    """(keyword, default as written, where) per row of the keyword table."""
    text = TABLE.read_text()
    section = text.split("\n## Keywords\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`"), cells[2], cells[3]))
    return rows


def _functions() -> dict:
    return {
        name: getattr(pmfisher, name)
        for name in pmfisher.__all__
        if inspect.isfunction(getattr(pmfisher, name))
    }


def _written(default) -> str:
    """A default as the table writes it."""
    if default is inspect.Parameter.empty:
        return "required"
    return f"`{default!r}`".replace("'", '"')


def _listed(where: str, name: str) -> bool:
    return where.startswith("every") or f"`{name}`" in re.findall(r"`\w+`", where)


@pytest.mark.parametrize("name", sorted(_functions()))
def test_every_parameter_has_its_row(name):
    rows = _rows()
    for parameter in inspect.signature(_functions()[name]).parameters.values():
        written = _written(parameter.default)
        matching = [row for row in rows if row[0] == parameter.name and _listed(row[2], name)]
        assert matching, f"{name}({parameter.name}=...) has no row in the keyword table"
        assert [row[1] for row in matching] == [written], (
            f"{name}({parameter.name}={written}) but the table says {matching[0][1]}"
        )


def test_every_function_a_row_names_has_the_keyword_with_that_default():
    functions = _functions()
    for keyword, default, where in _rows():
        for name in re.findall(r"`(\w+)`", where):
            assert name in functions, f"the row of {keyword} names {name}, not a public function"
            parameters = inspect.signature(functions[name]).parameters
            assert keyword in parameters, f"the row of {keyword} names {name}, which lacks it"
            assert _written(parameters[keyword].default) == default, (keyword, name)


def test_options_are_keyword_only():
    """Only the point(s), the design and the results a function works on are positional."""
    positional = {"point", "other", "result", "results", "approx", "reference", "design"}
    for name, function in _functions().items():
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
                assert parameter.name in positional, f"{name}({parameter.name}) is positional"
