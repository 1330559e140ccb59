"""The compile modes: the in-place rewrite kept on small graphs and left out of large ones,
with the same values either way."""

from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt
import pytest

from pmfisher._core.compiled import compilation, modes
from pmfisher._core.compiled.compilation import compile_function


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache of the test's own, so each compile is a compile."""
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", str(tmp_path))
    monkeypatch.setattr(compilation, "_IN_MEMORY", OrderedDict())


def writes_in_place(function) -> bool:
    return any(node.op.destroy_map for node in function.function.maker.fgraph.apply_nodes)


def graph():
    """An elementwise node after a cumulative sum: it may overwrite the sum's output."""
    x = pt.vector("x")
    return x, pt.sin(pt.cumsum(pt.exp(x))) + 1.0


@pytest.mark.parametrize(("limit", "in_place"), [(modes.INPLACE_NODE_LIMIT, True), (2, False)])
def test_the_in_place_rewrite_follows_the_size_of_the_graph(cache, monkeypatch, limit, in_place):
    monkeypatch.setattr(modes, "INPLACE_NODE_LIMIT", limit)
    x, y = graph()
    function = compile_function([x], y)
    assert writes_in_place(function) == in_place
    values = np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(function(values), np.sin(np.cumsum(np.exp(values))) + 1.0)


def test_only_the_c_mode_changes_with_size():
    x, y = graph()
    assert modes.mode_for_size(modes.PYTHON_MODE, [x], [y]) is modes.PYTHON_MODE
    assert modes.mode_for_size(modes.COMPILE_MODE, [x], [y]) is modes.COMPILE_MODE
    large = y
    for _ in range(modes.INPLACE_NODE_LIMIT // 3 + 1):
        large = pt.cumsum(pt.sin(large) + 1.0)
    chosen = modes.mode_for_size(modes.COMPILE_MODE, [x], [large])
    assert chosen is not modes.COMPILE_MODE
    assert "inplace_elemwise" in chosen.provided_optimizer.exclude
