"""``check_option``: a value among the ``Literal``'s choices passes, any other raises an
``ArgumentError`` naming the option, the value and every allowed choice."""

import pytest

from pmfisher._core.options import Conditional, Hyper, Space, Structure, check_option
from pmfisher.errors import ArgumentError, PMFisherError


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("space", "constrained", Space),
        ("space", "unconstrained", Space),
        ("structure", "sparse", Structure),
        ("hyper", "nuts", Hyper),
        ("conditional", "mean_corrected", Conditional),
        ("kind", 2, [1, 2, 3]),
    ],
)
def test_an_allowed_value_passes(name, value, allowed):
    assert check_option(name, value, allowed) is None


@pytest.mark.parametrize(
    ("name", "value", "allowed", "message"),
    [
        (
            "structure",
            "banded",
            Structure,
            "structure='banded' is not allowed; choose one of 'auto', 'dense', 'sparse'.",
        ),
        (
            "space",
            "Constrained",  # case matters
            Space,
            "space='Constrained' is not allowed; choose one of 'constrained', 'unconstrained'.",
        ),
        (
            "hyper",
            None,
            Hyper,
            "hyper=None is not allowed; choose one of 'gaussian', 'quadrature', 'nuts'.",
        ),
        ("kind", 4, (1, 2, 3), "kind=4 is not allowed; choose one of 1, 2, 3."),
    ],
)
def test_any_other_value_raises_an_argument_error_listing_the_choices(
    name, value, allowed, message
):
    with pytest.raises(ArgumentError) as raised:
        check_option(name, value, allowed)
    assert str(raised.value) == message
    assert isinstance(raised.value, PMFisherError)
    assert isinstance(raised.value, ValueError)
