"""What pmfisher cannot do with a model, said before anything is built: discrete free
variables, nothing to estimate, imputed observations or no observations under
``terms="likelihood"``.

What ``terms="likelihood"`` holds: the observed variables' densities, nothing else. A
``pm.Potential`` is a term of the posterior only (pmfisher cannot tell data from prior inside
it), and a model whose data enter only through potentials has no likelihood. Missing
observations that PyMC imputes (``y_unobserved``) are free variables whose density is a prior
under ``terms="posterior"``; the likelihood of the observed values does not depend on them,
so ``terms="likelihood"`` rejects such a model, naming them, rather than return an information
matrix with their rows zero."""

from __future__ import annotations

import pymc as pm

from pmfisher.errors import UnsupportedModelError

__all__ = ["require_supported"]


def require_supported(model: pm.Model, terms: str) -> None:
    discrete = [
        rv.name for rv in model.free_RVs if rv.type.dtype.startswith(("int", "uint", "bool"))
    ]
    if discrete:
        raise UnsupportedModelError(
            f"free variable(s) {', '.join(discrete)} are discrete: pmfisher differentiates the "
            "log-density and needs every free variable continuous. Marginalize them out "
            "(pymc_extras.marginalize) or fix them with pm.do."
        )
    if not model.free_RVs:
        raise UnsupportedModelError(
            "the model has no free variables: there is nothing to estimate."
        )
    imputed = [
        rv.name
        for rv in model.free_RVs
        if rv.name.endswith("_unobserved")
        and rv.name.removesuffix("_unobserved") + "_observed" in model.named_vars
    ]
    if terms == "likelihood" and imputed:
        raise UnsupportedModelError(
            f"free variable(s) {', '.join(imputed)} are imputed missing observations: the "
            "likelihood of the observed values does not depend on them, so they are not "
            "parameters of terms='likelihood'. Drop the missing entries from the data, or use "
            "terms='posterior', where their density enters as a prior."
        )
    if terms == "likelihood" and not model.observed_RVs:
        described = (
            f" (its Potential terms {', '.join(p.name or '?' for p in model.potentials)} are not "
            "likelihood terms)"
            if model.potentials
            else ""
        )
        raise UnsupportedModelError(
            "terms='likelihood' needs observed variables, and the model has none"
            + described
            + "; use terms='posterior' or observe data with pm.<Distribution>(..., observed=...)."
        )
