"""pmfisher's own rewrites: exact, and doing the work they are there for."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from pytensor.graph.traversal import apply_ancestors
from pytensor.scalar.basic import Composite
from pytensor.scalar.math import BetaInc, Softplus
from scipy.special import betainc, log_expit, polygamma

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.compiled.modes import COMPILE_MODE
from pmfisher._core.compiled.rewrites import unit_b_betainc


def softplus_count(function) -> int:
    """Softplus evaluations per element in a compiled function, inside fused loops too."""
    count = 0
    for node in function.function.maker.fgraph.apply_nodes:
        scalar = getattr(node.op, "scalar_op", None)
        if isinstance(scalar, Composite):
            count += sum(isinstance(inner.op, Softplus) for inner in scalar.fgraph.apply_nodes)
        count += isinstance(scalar, Softplus)
    return count


@pytest.mark.parametrize("unary", [pt.exp, pt.log1p, pt.sigmoid, pt.softplus, pt.neg])
def test_sinking_a_function_into_a_switch_is_exact(unary):
    condition = pt.vector("condition", dtype="bool")
    a, b = pt.vector("a"), pt.vector("b")
    rng = np.random.default_rng(3)
    values = (rng.random(50) < 0.5, rng.normal(size=50), rng.normal(size=50))
    rewritten = pytensor.function(
        [condition, a, b], pt.switch(condition, unary(a), unary(b)), mode=COMPILE_MODE
    )
    reference = pytensor.function([a, b], [unary(a), unary(b)], mode=Mode(linker="cvm"))
    left, right = reference(*values[1:])
    np.testing.assert_array_equal(rewritten(*values), np.where(values[0], left, right))


def test_bernoulli_log_density_evaluates_one_softplus_per_observation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    y = rng.integers(0, 2, size=30)
    with pm.Model() as model:
        beta = pm.Normal("beta", 0.0, 1.0, shape=2)
        pm.Bernoulli("y", logit_p=X @ beta, observed=y)
    value = model.rvs_to_values[model["beta"]]
    logp = model.logp(vars=[model["y"]], sum=False)[0]
    function = compile_function([value], logp)
    assert softplus_count(function) == 1
    point = np.array([0.3, -1.2])
    eta = X @ point
    np.testing.assert_allclose(
        function(point), np.where(y == 1, log_expit(eta), log_expit(-eta)), rtol=1e-13
    )


def test_branches_of_different_dtypes_are_left_alone():
    condition = pt.vector("condition", dtype="bool")
    a, b = pt.vector("a", dtype="float32"), pt.vector("b", dtype="float64")
    function = compile_function([condition, a, b], pt.switch(condition, pt.exp(a), pt.exp(b)))
    result = function(np.array([True, False]), np.ones(2, "float32"), np.ones(2))
    assert result.dtype == np.float64
    # exp in float32 first (e rounded to float32), not exp of the upcast value (e itself)
    np.testing.assert_array_equal(result, [np.float64(np.float32(np.e)), np.e])


def _betainc_count(graphs) -> int:
    return sum(
        isinstance(getattr(node.op, "scalar_op", None), BetaInc) for node in apply_ancestors(graphs)
    )


def test_betainc_with_unit_b_becomes_a_power_with_the_same_value_and_derivatives():
    """I_x(a, 1) = x^a: against SciPy's betainc, its finite differences in a and x, and
    its second difference in a (the derivative PyTensor could not form)."""
    a, x, y = pt.vector("a"), pt.vector("x"), pt.vector("y")
    # b as PyMC's negative binomial CDF at 0 writes it: 1 in the shape of the data.
    b = pt.floor(pt.second(y, 0.0)) + 1
    [rewritten] = unit_b_betainc([pt.betainc(a, b, x)])
    assert _betainc_count([rewritten]) == 0
    by_a, by_x = pytensor.grad(rewritten.sum(), [a, x])
    second_by_a = pytensor.grad(by_a.sum(), a)
    function = pytensor.function([a, x, y], [rewritten, by_a, by_x, second_by_a])
    rng = np.random.default_rng(5)
    at_a, at_x, data = rng.uniform(0.3, 5.0, 6), rng.uniform(0.02, 0.98, 6), np.arange(6.0)
    value, d_a, d_x, d2_a = function(at_a, at_x, data)
    np.testing.assert_allclose(value, betainc(at_a, 1.0, at_x), rtol=1e-13)
    h = 1e-6
    np.testing.assert_allclose(
        d_a, (betainc(at_a + h, 1, at_x) - betainc(at_a - h, 1, at_x)) / (2 * h), rtol=1e-7
    )
    np.testing.assert_allclose(
        d_x, (betainc(at_a, 1, at_x + h) - betainc(at_a, 1, at_x - h)) / (2 * h), rtol=1e-7
    )
    h = 1e-4
    second = (betainc(at_a + h, 1, at_x) - 2 * value + betainc(at_a - h, 1, at_x)) / h**2
    np.testing.assert_allclose(d2_a, second, rtol=1e-5)
    # Outside the domain both are NaN; b carries the shape when a and x are scalars.
    outside = function([2.0, -1.0], [1.5, 0.5], [0.0, 0.0])[0]
    assert np.all(np.isnan(outside))
    assert np.all(np.isnan(betainc([2.0, -1.0], 1, [1.5, 0.5])))
    [broadcast] = unit_b_betainc([pt.betainc(pt.scalar("s"), b, pt.scalar("t"))])
    assert broadcast.eval({"s": 2.0, "t": 0.5, y: np.zeros(4)}).shape == (4,)


@pytest.mark.parametrize("b", [2.0, "data"])
def test_betainc_with_b_other_than_one_is_left_alone(b):
    a, x, y = pt.vector("a"), pt.vector("x"), pt.vector("y")
    b = y if b == "data" else pt.floor(pt.second(y, 1.0)) + 1
    graph = pt.betainc(a, b, x)
    [rewritten] = unit_b_betainc([graph])
    assert rewritten is graph


def test_trigamma_is_accurate_to_rounding():
    """PyTensor's C trigamma is off by up to 6e-9 relative near x = 5 (and 0 for x ≤ 0);
    through pmfisher's compilation mode both ``tri_gamma`` and ``polygamma(1, ·)``, and the
    second derivative of ``gammaln``, equal SciPy's to rounding."""
    x = pt.vector("x")
    values = np.concatenate([np.geomspace(1e-6, 1e8, 300), [2.5, 5.0], -np.linspace(0.1, 7.9, 20)])
    reference = polygamma(1, values)
    plain = pytensor.function([x], pt.tri_gamma(x), mode=Mode(linker="cvm"))
    assert np.abs(plain(values[:302]) / reference[:302] - 1).max() > 1e-9
    second_derivative = pytensor.grad(pytensor.grad(pt.gammaln(x).sum(), x).sum(), x)
    for graph in (pt.tri_gamma(x), pt.polygamma(1, x), second_derivative):
        accurate = compile_function([x], graph)(values)
        np.testing.assert_allclose(accurate[:302], reference[:302], rtol=2e-15, atol=0)
        np.testing.assert_allclose(accurate[302:], reference[302:], rtol=1e-12, atol=0)
    assert np.all(np.isinf(compile_function([x], pt.tri_gamma(x))(np.array([0.0, -2.0]))))
