"""designed: a design set on the model's containers and dimensions for a `with` block, and
everything put back afterwards — the same arrays."""

import numpy as np
import pymc as pm
import pytest

from pmfisher.design.design_data import designed
from pmfisher.errors import ArgumentError


def mixed_model():
    with pm.Model(coords={"subject": ["s1", "s2"]}) as model:
        t = pm.Data("t", np.array([0.0, 1.0, 0.0, 1.0]))
        subject = pm.Data("subject_idx", np.array([0, 0, 1, 1]))
        y_observed = pm.Data("y_observed", np.array([0.5, 0.7, 0.4, 0.9]))
        u = pm.Normal("u", dims="subject")
        pm.Normal("y", u[subject] * t, 1.0, observed=y_observed, shape=t.shape)
    return model


def test_the_design_is_set_inside_and_the_same_arrays_are_back_after():
    model = mixed_model()
    before = {name: model[name].get_value(borrow=True) for name in ("t", "subject_idx")}
    observed_before = model["y_observed"].get_value(borrow=True)
    times = np.array([0.0, 2.0, 4.0, 0.0, 2.0, 4.0, 0.0, 2.0, 4.0])
    with designed(
        model, {"t": times, "subject_idx": np.repeat([0, 1, 2], 3), "subject": 3}, ("y_observed",)
    ):
        np.testing.assert_array_equal(model["t"].get_value(), times)
        # observed values of the old length become zeros of the new one
        np.testing.assert_array_equal(model["y_observed"].get_value(), np.zeros(9))
        assert model.dim_lengths["subject"].eval() == 3
        assert list(model.coords["subject"]) == [0, 1, 2]
    for name, values in before.items():
        assert model[name].get_value(borrow=True) is values
    assert model["y_observed"].get_value(borrow=True) is observed_before
    assert model.dim_lengths["subject"].eval() == 2
    assert model.coords["subject"] == ("s1", "s2")


def test_the_model_is_restored_when_the_block_raises():
    model = mixed_model()
    with (
        pytest.raises(RuntimeError, match="inside"),
        designed(model, {"t": np.ones(4)}, ("y_observed",)),
    ):
        raise RuntimeError("inside")
    np.testing.assert_array_equal(model["t"].get_value(), [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ({"times": np.ones(4)}, r"'times', which is neither a pm\.Data container"),
        ({"y_observed": np.ones(4)}, "observations are not a design"),
    ],
)
def test_what_is_not_a_design_is_refused(design, message):
    model = mixed_model()
    with pytest.raises(ArgumentError, match=message), designed(model, design, ("y_observed",)):
        pass
