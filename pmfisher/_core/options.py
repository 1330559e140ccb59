"""Every option that chooses a variant, as a ``Literal`` (one meaning each, everywhere it
appears: ARCHITECTURE.md's keyword table), and their check on entry to public functions."""

from typing import Literal, get_args

Space = Literal["constrained", "unconstrained"]
Terms = Literal["likelihood", "posterior"]
Structure = Literal["auto", "dense", "sparse"]
# How the expected information is computed.
Method = Literal["auto", "exact", "quadrature", "monte_carlo"]
# Which information matrix a result rests on (the sandwich: for the covariance J⁻¹KJ⁻¹).
Information = Literal["observed", "expected", "sandwich"]
# Which expected information a design criterion rests on (its closed forms, or quadrature).
DesignInformation = Literal["auto", "exact", "quadrature"]
# The criterion of an experimental design.
Criterion = Literal["D", "A", "E", "Ds", "c"]
# Which intervals a summary gives.
Interval = Literal["wald", "profile"]
NotPositiveDefinite = Literal["raise", "regularize"]
ImportanceSampling = Literal["psis"]
# How laplace(latent=...) treats the hyperparameters.
Hyper = Literal["gaussian", "quadrature", "nuts"]
# How laplace(latent=...) draws the latent variables given the hyperparameters.
Conditional = Literal["gaussian", "mean_corrected"]
# Which compiled backend a function gets (internal).
Backend = Literal["c", "python"]
# What a plot of an information matrix shows.
InformationView = Literal["information", "correlation"]


def check_option(name: str, value, allowed) -> None:
    """Raise a ``ValueError`` naming ``name`` and the allowed values unless ``value`` is one.

    ``allowed`` is a ``Literal`` type or an iterable of values.
    """
    choices = get_args(allowed) or tuple(allowed)
    if value not in choices:
        from pmfisher.errors import ArgumentError

        listed = ", ".join(repr(choice) for choice in choices)
        raise ArgumentError(f"{name}={value!r} is not allowed; choose one of {listed}.")
