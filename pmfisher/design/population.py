r"""The population (mixed-effects) information of a design, with the random effects
integrated out.

With latent variables :math:`u` (random effects) and the rest :math:`\varphi`, the
information of a population study at design :math:`x` is that of the marginal likelihood
:math:`p(y \mid \varphi, x) = \int p(y \mid u, \varphi, x)\, p(u \mid \varphi)\, du`,

.. math::

    M(\varphi, x) = E_{y \mid \varphi, x}\!\left[-\nabla^2_\varphi L(\varphi; y, x)\right],

with :math:`L` the Laplace marginal of :mod:`pmfisher.fitting.laplace_marginal` (exact where
:math:`u \mid y` is Gaussian: a linear mixed model). The expectation is a Monte Carlo average
over ``replicates`` data sets simulated at :math:`\varphi` (random effects drawn from
their distribution, then the data from the model's forward graph), each contributing the
exact negative Hessian of :math:`L` at the true :math:`\varphi`; ``mcse`` is the standard
error of each entry. Blocks whose negative Hessian does not depend on the data — the fixed
effects of a linear mixed model, :math:`\sum_i X_i^\top V_i^{-1} X_i` — come out exact.

This is the information PopED and PFIM approximate by linearizing the model in the random
effects (first order, FO; Mentré, Mallet and Baccar 1997): here the model is not
linearized, so the two differ where the random effects enter nonlinearly. On a
one-compartment pharmacokinetic model with log-normal random effects of sd 0.3
(``tests/design/test_population_pk.py``), it agrees with the reduced (block-diagonal) FO
information, PopED's default, to Monte Carlo error, while the full FO information credits
the fixed effects with 2.4 times the information the model delivers.

The criterion of a design is :math:`\Psi(\bar M)` with its Monte Carlo standard error by the
delta method, :math:`\mathrm{sd}_r \langle \partial\Psi/\partial M, M_r \rangle / \sqrt R`.
Its gradient with respect to the design is not available: the simulated data sets depend on
the design, and the adjoint of that dependence through the inner mode is not implemented.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.data.seeds import child_seeds
from pmfisher._core.data.simulation import simulator
from pmfisher._core.linalg.definiteness import positive_definite, require_finite
from pmfisher._core.model.model_graph import model_graph
from pmfisher.design.criteria import criterion_graph
from pmfisher.design.design_data import designed
from pmfisher.design.evaluation import CriterionSpec, criterion_spec
from pmfisher.errors import ArgumentError, PointError, UnsupportedModelError
from pmfisher.fitting.laplace_marginal import laplace_marginal

__all__ = [
    "NO_DESIGN_GRADIENT",
    "PopulationInformation",
    "criterion_mcse",
    "observed_containers",
    "population_criterion",
    "population_information",
    "population_spec",
]

#: Why an exact design, or a design gradient, through the latent route is refused.
NO_DESIGN_GRADIENT = (
    "the population information with latent variables is an expectation over data sets "
    "simulated at the design, whose derivative with respect to the design (through the "
    "simulated data and the inner mode) pmfisher does not compute"
)


@dataclass(frozen=True)
class PopulationInformation:
    """The information of the marginal likelihood per simulated data set, ``(R, d, d)``."""

    replicates: np.ndarray
    labels: tuple[str, ...]

    @property
    def matrix(self) -> np.ndarray:
        """The Monte Carlo average :math:`\\bar M`."""
        return self.replicates.mean(axis=0)

    @property
    def mcse(self) -> np.ndarray:
        """The standard error of each entry of :math:`\\bar M`."""
        count = self.replicates.shape[0]
        return self.replicates.std(axis=0, ddof=1) / np.sqrt(count)


def marginal(model: pm.Model, latent):
    """The Laplace marginal log-likelihood with ``latent`` integrated out, constrained
    space."""
    return laplace_marginal(model, latent, space="constrained", terms="likelihood")


def population_spec(model: pm.Model, latent, criterion, parameters) -> CriterionSpec:
    """:func:`~pmfisher.design.evaluation.criterion_spec` over the marginal's parameters."""
    if criterion == "c" and isinstance(parameters, str):
        raise UnsupportedModelError(
            f"criterion='c' with the deterministic {parameters!r} and latent variables: its "
            "gradient would be taken with the random effects held at values that the marginal "
            "does not have; give parameters= a mapping label → coefficient."
        )
    target = marginal(model, latent)
    view = SimpleNamespace(
        labels=target.labels, blocks=target.split.phi_blocks, size=target.size, deterministics={}
    )
    return criterion_spec(view, criterion, parameters)


def observed_containers(model: pm.Model) -> tuple[str, ...]:
    """The containers holding the observed values, which simulated data sets replace."""
    graph = model_graph(model, space="constrained", terms="likelihood")
    names = []
    for rv_name, value in graph.data_inputs.items():
        if not isinstance(value, SharedVariable):
            raise UnsupportedModelError(
                f"the population information simulates data sets of {rv_name}, whose observed "
                "values are constants; declare them in a pm.Data container "
                f"(pm.Data('{rv_name}_observed', values)) and pass it as observed=."
            )
        names.append(value.name)
    return tuple(names)


def population_information(
    model: pm.Model,
    latent,
    point: Mapping,
    design: Mapping,
    *,
    replicates: int,
    random_seed,
) -> PopulationInformation:
    """:math:`-\\nabla^2 L` at ``point`` for ``replicates`` data sets simulated at
    ``design`` (which is set on the model for the call and then undone)."""
    if int(replicates) < 2:
        raise ArgumentError(f"replicates={replicates}: a Monte Carlo average needs at least 2.")
    observed = observed_containers(model)
    with designed(model, design, observed):
        target = marginal(model, latent)
        phi = target.flatten(point)
        thetas = _full_parameters(model, target, phi, int(replicates), random_seed)
        data = simulator(model).draw(thetas, child_seeds(random_seed, 2)[1])
        graph = model_graph(model, space="constrained", terms="likelihood")
        containers = [graph.data_inputs[rv.name] for rv in graph.observed_rvs]
        matrices = []
        for r in range(int(replicates)):
            for rv, container in zip(graph.observed_rvs, containers, strict=True):
                container.set_value(data[rv.name][r].astype(container.dtype), borrow=True)
            matrices.append(-target.hessian(phi))
    matrices = np.array(matrices)
    require_finite(matrices.reshape(-1), ["population information"] * matrices.size, "the design")
    return PopulationInformation(matrices, tuple(target.labels))


def _full_parameters(model, target, phi, replicates: int, random_seed) -> np.ndarray:
    """Flat constrained θ per replicate: ``phi`` and random effects drawn given it."""
    fixed = target.constrained_point(phi)
    fixed = {name: value for name, value in fixed.items() if name not in target.split.latent}
    try:
        intervened = pm.do(model, fixed)
    except Exception as error:  # pm.do's own errors are not PyMC-specific types
        raise PointError(f"the random effects cannot be drawn given the point: {error}") from None
    seed = np.random.default_rng(child_seeds(random_seed, 2)[0])
    draws = pm.draw([intervened[name] for name in target.split.latent], replicates, seed)
    graph = model_graph(model, space="constrained", terms="likelihood")
    rows = []
    for r in range(replicates):
        latent = {name: draw[r] for name, draw in zip(target.split.latent, draws, strict=True)}
        rows.append(graph.flatten(fixed | latent))
    return np.array(rows)


@functools.lru_cache(maxsize=32)
def _matrix_criterion(criterion: str, nuisance, size: int):
    """The compiled map ``(M[, c])`` → ``(Ψ(M), ∂Ψ/∂M)``."""
    matrix = pt.matrix("information", dtype="float64", shape=(size, size))
    inputs = [matrix]
    contrast = None
    if criterion == "c":
        contrast = pt.vector("contrast", dtype="float64", shape=(size,))
        inputs.append(contrast)
    value = criterion_graph(
        matrix,
        criterion,
        nuisance=None if nuisance is None else np.asarray(nuisance),
        contrast=contrast,
    )
    return compile_function(inputs, [value, pt.grad(value, matrix)])


def population_criterion(
    spec: CriterionSpec, matrix: np.ndarray, labels
) -> tuple[float, np.ndarray]:
    """:math:`\\Psi(M)` and :math:`\\partial\\Psi/\\partial M`; a singular ``matrix`` raises
    naming the parameters it cannot determine."""
    function = _matrix_criterion(spec.criterion, spec.nuisance, matrix.shape[0])
    extra = [spec.contrast] if spec.contrast is not None else []
    value, gradient = function(matrix, *extra)
    if not np.isfinite(value):
        positive_definite(
            matrix,
            labels,
            what="population information at this design",
            advice="Add subjects or samples where these parameters change the data.",
        )
        raise UnsupportedModelError(
            f"the criterion {spec.criterion!r} is not finite at this design although its "
            "information is positive definite."
        )
    return float(value), np.asarray(gradient)


def criterion_mcse(gradient: np.ndarray, information: PopulationInformation) -> float:
    """The delta-method standard error of :math:`\\Psi(\\bar M)`."""
    linear = np.einsum("ij,rij->r", gradient, information.replicates)
    return float(linear.std(ddof=1) / np.sqrt(linear.size))
