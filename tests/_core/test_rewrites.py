"""pmfisher's own rewrites: exact, and doing the work they are there for."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode
from pytensor.scalar.basic import Composite
from pytensor.scalar.math import Softplus
from scipy.special import log_expit

from pmfisher._core.compilation import COMPILE_MODE, compile_function


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
