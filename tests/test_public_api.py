"""The public surface is exactly what DESIGN.md promises so far."""

import pmfisher


def test_public_names():
    assert sorted(pmfisher.__all__) == sorted(
        [
            "Mode",
            "NotPositiveDefiniteError",
            "PMFisherError",
            "PointError",
            "UnsupportedModelError",
            "find_mode",
            "observed_information",
        ]
    )
    for name in pmfisher.__all__:
        assert hasattr(pmfisher, name)
