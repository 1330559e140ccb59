"""Checking of ``Literal`` option values on entry to public functions."""

from typing import Literal, get_args

Space = Literal["constrained", "unconstrained"]
Terms = Literal["likelihood", "posterior"]
Structure = Literal["auto", "dense", "sparse"]


def check_option(name: str, value, allowed) -> None:
    """Raise a ``ValueError`` naming ``name`` and the allowed values unless ``value`` is one.

    ``allowed`` is a ``Literal`` type or an iterable of values.
    """
    choices = get_args(allowed) or tuple(allowed)
    if value not in choices:
        from pmfisher.errors import PMFisherError

        listed = ", ".join(repr(choice) for choice in choices)
        raise PMFisherError(f"{name}={value!r} is not allowed; choose one of {listed}.")
