"""The PyTensor closed forms equal exact_fisher's NumPy ones, entry by entry."""

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.model.model_graph import model_graph
from pmfisher.errors import UnsupportedModelError
from pmfisher.information.exact_fisher import CLOSED_FORMS
from pmfisher.information.symbolic_fisher import SYMBOLIC_FORMS, observation_information

# Parameter values per distribution, two observations each, away from symmetric points.
PARAMETERS = {
    "Normal": ([0.3, -1.2], [0.7, 2.1]),
    "StudentT": ([3.5, 9.0], [0.3, -1.0], [0.7, 1.9]),
    "Bernoulli": ([0.2, 0.85],),
    "Binomial": ([7.0, 12.0], [0.3, 0.6]),
    "Poisson": ([0.4, 6.0],),
    "Exponential": ([0.5, 3.0],),
    "Gamma": ([0.8, 4.0], [1.5, 0.3]),
    "Beta": ([0.7, 3.0], [2.5, 0.4]),
    "LogNormal": ([0.1, 1.0], [0.4, 1.3]),
}


@pytest.mark.parametrize("op", list(SYMBOLIC_FORMS), ids=lambda op: SYMBOLIC_FORMS[op].name)
def test_symbolic_form_equals_the_closed_form(op):
    symbolic, closed = SYMBOLIC_FORMS[op], CLOSED_FORMS[op]
    values = [np.asarray(v) for v in PARAMETERS[symbolic.name]]
    variables = [pt.vector(f"p{i}", dtype="float64") for i in range(len(values))]
    rows = symbolic.information(*variables)
    matrix = pt.stack(
        [
            pt.stack([pt.broadcast_to(pt.as_tensor(e, dtype="float64"), (2,)) for e in row], -1)
            for row in rows
        ],
        -2,
    )
    got = compile_function(variables, matrix)(*values)
    np.testing.assert_allclose(got, closed.information(*values), rtol=1e-12)
    assert symbolic.fixed == closed.fixed


def test_a_distribution_without_a_symbolic_form_is_named():
    with pm.Model() as model:
        mu = pm.HalfNormal("mu")
        pm.NegativeBinomial("counts", mu=mu, alpha=2.0, observed=np.array([1, 4, 2]))
    graph = model_graph(model, space="constrained", terms="likelihood")
    with pytest.raises(UnsupportedModelError, match="counts has a NegativeBinomial"):
        observation_information(graph)
