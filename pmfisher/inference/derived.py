r"""Deterministics by the delta method: :math:`g(\hat\theta)` with variance
:math:`\nabla g^\top \Sigma\, \nabla g`, the gradient by exact autodiff in the constrained
space (the Jacobians of :mod:`pmfisher.approximation.delta`)."""

from __future__ import annotations

import numpy as np
import pymc as pm

from pmfisher._core.model.labelled import element_labels
from pmfisher._core.model.model_graph import model_graph
from pmfisher.approximation.delta import _Propagation
from pmfisher.errors import ArgumentError
from pmfisher.inference.components import DERIVED, VARIANCE
from pmfisher.inference.fits import Fit

__all__ = ["derived_rows"]


def derived_rows(
    fit: Fit, model: pm.Model, terms: str, var_names
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Labels, values, standard errors, an ``unidentified`` flag and a role per element of
    the deterministics ``var_names`` at the fit's point: ``"variance component"`` for the
    elements of a deterministic that reads variance components only (the standard deviations
    and correlations of an ``LKJCholeskyCov``), else ``"derived"``.

    With latent variables the covariance is that of :math:`\\hat\\varphi` alone: a
    deterministic that reads a latent variable is refused (its uncertainty would need the
    joint one)."""
    if isinstance(var_names, str):
        var_names = [var_names]
    available = [variable.name for variable in model.deterministics]
    unknown = [name for name in var_names if name not in available]
    if unknown:
        raise ArgumentError(
            f"{', '.join(unknown)}: summary's var_names names deterministics, and the model's "
            f"are {', '.join(available) or 'none'}."
        )
    graph = model_graph(model, space="constrained", terms=terms)
    values = graph.companion(_Propagation)(graph.flatten(fit.point))
    columns = np.arange(graph.size) if fit.marginal is None else fit.marginal.split.phi_index
    latent_columns = np.setdiff1d(np.arange(graph.size), columns)
    covariance = np.nan_to_num(fit.covariance.matrix)
    labels, estimates, errors, unidentified, roles = [], [], [], [], []
    scales = np.array([role == VARIANCE for role in fit.roles], dtype=bool)
    for name in var_names:
        value, jacobian = values[name]
        jacobian = np.asarray(jacobian).reshape(value.size, graph.size)
        if np.any(jacobian[:, latent_columns] != 0):
            raise ArgumentError(
                f"{name} depends on the latent variables "
                f"{', '.join(fit.marginal.split.latent)}: its delta-method standard error "
                "would need their joint uncertainty with the others; summary reports "
                "deterministics of the remaining parameters only."
            )
        gradient = jacobian[:, columns]
        labels += element_labels(
            name, value.shape, model.named_vars_to_dims.get(name), model.coords
        )
        estimates.append(value.ravel())
        errors.append(np.sqrt(np.einsum("ij,jk,ik->i", gradient, covariance, gradient)))
        unidentified.append((gradient[:, fit.covariance.unidentified] != 0).any(axis=1))
        # Whole variables: a correlation matrix's constant diagonal stays with its entries.
        reads = (gradient != 0).any(axis=0)
        of_scales = reads.any() and not (reads & ~scales).any()
        roles += [VARIANCE if of_scales else DERIVED] * value.size
    errors = np.concatenate(errors)
    unidentified = np.concatenate(unidentified)
    errors[unidentified] = np.nan
    return labels, np.concatenate(estimates), errors, unidentified, roles
