"""The ``structure`` route: ``choose_structure``'s rule (size, memory, pattern density,
colours) case by case, and ``hessian_structure`` on models whose patterns are read."""

from types import SimpleNamespace

import pytest

from pmfisher._core.curvature import memory, structure
from pmfisher._core.curvature.structure import (
    AUTO_COLOURS_PER_SIZE,
    AUTO_MIN_SIZE,
    DENSE_PATTERN,
    choose_structure,
)
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import ArgumentError, InsufficientMemoryError, UnsupportedModelError
from tests.closed_forms import CASES
from tests.structured_models import hierarchical, structured_model


def pattern(density, intermediate_elements=10):
    return lambda: SimpleNamespace(density=density, intermediate_elements=intermediate_elements)


def unreadable():
    raise UnsupportedModelError("no pattern")


def never():
    raise AssertionError("not needed for this choice")


def choose(option, *, size, pattern=never, n_colours=never):
    return choose_structure(option, size=size, pattern=pattern, n_colours=n_colours, what="H")


SIZE = 4 * AUTO_MIN_SIZE


@pytest.mark.parametrize(
    ("option", "size", "pattern_of", "colours", "route"),
    [
        # Asked for sparse: sparse, without reading anything.
        ("sparse", 3, never, never, "sparse"),
        # Below the minimum size: dense, without reading the pattern.
        ("auto", AUTO_MIN_SIZE - 1, never, never, "dense"),
        ("dense", AUTO_MIN_SIZE - 1, never, never, "dense"),
        # No readable pattern: dense.
        ("auto", SIZE, unreadable, never, "dense"),
        # A pattern fuller than DENSE_PATTERN is not coloured.
        ("auto", SIZE, pattern(DENSE_PATTERN + 0.01), never, "dense"),
        # Few colours: sparse; the boundary n_colours * AUTO_COLOURS_PER_SIZE == size included.
        ("auto", SIZE, pattern(DENSE_PATTERN), lambda: SIZE // AUTO_COLOURS_PER_SIZE, "sparse"),
        ("auto", SIZE, pattern(0.01), lambda: SIZE // AUTO_COLOURS_PER_SIZE + 1, "dense"),
        # Asked for dense and it fits: dense, colours never counted.
        ("dense", SIZE, pattern(0.01), never, "dense"),
    ],
)
def test_the_route_chosen(option, size, pattern_of, colours, route):
    assert choose(option, size=size, pattern=pattern_of, n_colours=colours) == route


def test_auto_is_sparse_and_dense_raises_when_the_dense_route_would_not_fit(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    full = pattern(1.0, intermediate_elements=10**6)
    assert choose("auto", size=SIZE, pattern=full) == "sparse"
    with pytest.raises(InsufficientMemoryError, match=r"H \(a batched graph of 200 × 1000000"):
        choose("dense", size=SIZE, pattern=full)


def test_the_option_is_checked():
    with pytest.raises(ArgumentError, match="structure='banded' is not allowed"):
        choose("banded", size=3)


def test_auto_prefers_sparse_when_the_pattern_needs_few_colours(monkeypatch):
    monkeypatch.setattr(structure, "AUTO_MIN_SIZE", 1)
    graph = model_graph(hierarchical(200), space="constrained", terms="posterior")
    assert structure.hessian_structure(graph, "auto") == "sparse"
    # Twelve groups: 4 colours for 15 parameters, a pattern 41% full; dense is the better route.
    small = model_graph(structured_model("hierarchical"), space="constrained", terms="posterior")
    assert structure.hessian_structure(small, "auto") == "dense"
    dense_case = next(case for case in CASES if case.id == "logistic")
    dense_graph = model_graph(dense_case.model, space="constrained", terms="likelihood")
    assert structure.hessian_structure(dense_graph, "auto") == "dense"
