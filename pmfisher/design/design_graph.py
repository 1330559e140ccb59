r"""The Fisher information as a graph of the parameters *and* of the design.

A design is the values of some of the model's ``pm.Data`` containers, one entry per run
(a sampling time, a dose). :func:`design_graph` replaces those containers by symbolic inputs
in the exact per-observation information of :mod:`pmfisher.information.symbolic_fisher`, so
that

.. math::

    M(\theta, x) = \sum_i J_i(\theta, x)^\top F(\eta_i(\theta, x))\, J_i(\theta, x)

is a graph of the flat :math:`\theta` and of the design values :math:`x`, which PyTensor
differentiates with respect to :math:`x` — through the model's deterministics and whatever
else reads the containers. The design may have another number of runs than the model's
data: observed values held in containers of the design's length (the ``shape=x.shape``
idiom) and coordinates of that length follow it, since their values do not enter the
expected information. Nothing is set on the model.

Two aggregates are compiled (:meth:`DesignGraph.function`):

* ``"total"``: :math:`M` of the whole data set, the other data as they are;
* ``"weighted"``: :math:`M(\xi) = \sum_r w_r I_r(\theta, x_r)` for per-run weights :math:`w`
  (an approximate design), whose gradient with respect to :math:`w` is the sensitivity
  function of the equivalence theorem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors

from pmfisher._core.compiled.compilation import CompiledFunction, compile_function
from pmfisher._core.model.model_graph import ModelGraph
from pmfisher._core.options import Criterion, DesignInformation
from pmfisher.design.criteria import criterion_graph
from pmfisher.errors import ArgumentError, UnsupportedModelError
from pmfisher.information.symbolic_fisher import (
    SYMBOLIC_FORMS,
    closed_form_information,
    observation_information,
)
from pmfisher.information.symbolic_quadrature import (
    FIRST_SUPPORT,
    LARGEST_SUPPORT,
    TAIL_MASS,
    quadrature_observation_information,
    quadrature_reason,
)

__all__ = ["DesignGraph", "design_graph"]

Aggregate = Literal["total", "weighted"]


@dataclass
class DesignGraph:
    """The information of ``graph``'s model as a graph of ``graph.theta`` and one symbolic
    input per design container (``inputs``, in the order of ``names``)."""

    graph: ModelGraph
    names: tuple[str, ...]
    inputs: tuple[pt.TensorVariable, ...]
    current_length: int
    per_variable: dict[str, pt.TensorVariable]
    following: dict[str, bool]
    fixed_of_design_length: tuple[str, ...]
    replacements: dict
    information: DesignInformation = "exact"
    support: int = FIRST_SUPPORT
    tail: pt.TensorVariable | None = None
    grown: DesignGraph | None = None
    _functions: dict = field(default_factory=dict)

    def current(self) -> DesignGraph:
        """This graph, or the one it grew into (a longer discrete support)."""
        return self if self.grown is None else self.grown.current()

    def grow(self) -> DesignGraph:
        """The same design graph with twice the discrete quadrature support."""
        if self.support >= LARGEST_SUPPORT:
            raise UnsupportedModelError(
                f"the quadrature of a discrete observation leaves more than {TAIL_MASS:g} of its "
                f"mass beyond {self.support:,}: its tail is too heavy to sum, or it has mass on "
                "negative integers."
            )
        self.grown = design_graph(
            self.graph, self.names, information=self.information, support=2 * self.support
        )
        return self.grown

    @property
    def runs(self):
        return self.inputs[0].shape[0]

    def total(self):
        """:math:`M` of the whole data set at the design, ``(d, d)``."""
        d = self.graph.size
        return pt.add(*[info.reshape((-1, d, d)).sum(0) for info in self.per_variable.values()])

    def per_run(self):
        """The information of each run, ``(runs, d, d)``; every observed variable must follow
        the design's runs along its first axis."""
        d = self.graph.size
        fixed = [name for name, follows in self.following.items() if not follows]
        if fixed:
            raise UnsupportedModelError(
                f"the observed variable(s) {', '.join(fixed)} do not depend on the design "
                f"({', '.join(self.names)}), so the information is not a sum over its runs: an "
                "approximate design weighs runs, and needs every observation to be one of them."
            )
        per_run = [
            info.reshape((info.shape[0], -1, d, d)).sum(1) for info in self.per_variable.values()
        ]
        return pt.add(*per_run) if len(per_run) > 1 else per_run[0]

    def per_run_function(self) -> CompiledFunction:
        """The compiled map ``(theta, *design)`` → ``(I_r (runs, d, d), tail)``: every run's
        information, for a criterion that needs the matrices themselves (E-optimal
        approximate designs, :mod:`pmfisher.design.e_optimal`)."""
        if "per_run" not in self._functions:
            tail = self.tail if self.tail is not None else pt.constant(0.0)
            self._functions["per_run"] = compile_function(
                [self.graph.theta, *self.inputs], [self.per_run(), tail]
            )
        return self._functions["per_run"]

    def contrast(self, deterministic: str):
        """:math:`\\nabla_\\theta g` of a scalar deterministic, a graph of θ and the design."""
        [value] = graph_replace(
            [self.graph.deterministics[deterministic]], self.replacements, strict=False
        )
        return pt.grad(pt.cast(value, "float64").sum(), self.graph.theta)

    def function(
        self,
        aggregate: Aggregate,
        criterion: Criterion,
        *,
        nuisance: tuple[int, ...] | None = None,
        deterministic: str | None = None,
        gradient: bool = True,
    ) -> CompiledFunction:
        """The compiled map ``(theta, *design[, weights][, c])`` → ``(value, matrix, tail,
        *gradients)``: the criterion, :math:`M`, the mass a discrete quadrature left out, and
        (with ``gradient``) the criterion's gradient with respect to each design input and,
        for ``"weighted"``, to the weights. ``c`` is an
        input for ``"c"`` without a ``deterministic``."""
        key = (aggregate, criterion, nuisance, deterministic, gradient)
        if key not in self._functions:
            inputs = [self.graph.theta, *self.inputs]
            if aggregate == "total":
                matrix = self.total()
                wrt = list(self.inputs)
            else:
                weights = pt.vector("weights", dtype="float64")
                matrix = pt.tensordot(weights, self.per_run(), axes=1)
                inputs.append(weights)
                wrt = [*self.inputs, weights]
            contrast = None
            if criterion == "c":
                if deterministic is not None:
                    contrast = self.contrast(deterministic)
                else:
                    contrast = pt.vector("contrast", dtype="float64")
                    inputs.append(contrast)
            value = criterion_graph(
                matrix,
                criterion,
                nuisance=None if nuisance is None else np.asarray(nuisance),
                contrast=contrast,
            )
            outputs = [value, matrix, self.tail if self.tail is not None else pt.constant(0.0)]
            if gradient:
                outputs += pt.grad(value, wrt, disconnected_inputs="ignore")
            self._functions[key] = compile_function(inputs, outputs)
        return self._functions[key]

    def check_length(self, length: int) -> None:
        """Refuse a design of another length when a container of the model's current run
        length, which is not part of the design, enters the information."""
        if length != self.current_length and self.fixed_of_design_length:
            raise ArgumentError(
                f"the design has {length} runs, but the container(s) "
                f"{', '.join(self.fixed_of_design_length)} hold one value per run of the "
                f"model's {self.current_length} and enter the information: give them in the "
                "design too."
            )


def data_containers(model) -> dict[str, SharedVariable]:
    """The model's ``pm.Data`` containers by name."""
    return {variable.name: variable for variable in model.data_vars}


def design_graph(
    graph: ModelGraph,
    names: tuple[str, ...],
    *,
    information: DesignInformation = "auto",
    support: int = FIRST_SUPPORT,
) -> DesignGraph:
    """The :class:`DesignGraph` of ``graph``'s model for the design containers ``names``,
    built once per graph, set of names, information route and support.

    ``information``: ``"exact"`` the closed forms of
    :mod:`~pmfisher.information.symbolic_fisher`, ``"quadrature"`` the quadrature of
    :mod:`~pmfisher.information.symbolic_quadrature` for every observed variable, ``"auto"``
    the closed form where one exists and quadrature elsewhere.
    """
    cache = graph.companion(_DesignGraphs)
    key = (names, information, support)
    if key not in cache:
        cache[key] = _build(graph, names, information, support)
    return cache[key]


def _observation_information(graph: ModelGraph, information: DesignInformation, support: int):
    """Observed-variable name → per-observation information graph, and the tails."""
    graph.require_observations()
    closed = all(type(rv.owner.op) in SYMBOLIC_FORMS for rv in graph.observed_rvs)
    if information == "exact" or (information == "auto" and closed):
        try:
            return graph.companion(observation_information), []
        except UnsupportedModelError as error:
            if closed or quadrature_reason(graph) is not None:
                raise
            raise UnsupportedModelError(
                f"{error} information='quadrature' (or 'auto') computes it by quadrature."
            ) from None
    reason = quadrature_reason(graph)
    if reason is not None:
        raise UnsupportedModelError(f"the information as a function of the design: {reason}.")
    informations, tails = {}, []
    for rv in graph.observed_rvs:
        if information == "auto" and type(rv.owner.op) in SYMBOLIC_FORMS:
            informations[rv.name] = closed_form_information(graph, rv)
            continue
        informations[rv.name], tail = quadrature_observation_information(graph, rv, support)
        if tail is not None:
            tails.append(tail)
    return informations, tails


class _DesignGraphs(dict):
    def __init__(self, graph):
        super().__init__()


def _build(
    graph: ModelGraph, names: tuple[str, ...], information_route: DesignInformation, support: int
) -> DesignGraph:
    model = graph.model
    containers = data_containers(model)
    observed_containers = {
        value.name: rv_name
        for rv_name, value in graph.data_inputs.items()
        if isinstance(value, SharedVariable)
    }
    for name in names:
        if name not in containers:
            known = ", ".join(sorted(containers)) or "none"
            raise ArgumentError(
                f"the design names {name!r}, which is not a pm.Data container of the model "
                f"(its containers: {known})."
            )
        if name in observed_containers:
            raise ArgumentError(
                f"the design names {name!r}, which holds the observed values of "
                f"{observed_containers[name]}: observations are not a design."
            )
        if not np.issubdtype(containers[name].get_value(borrow=True).dtype, np.floating):
            raise ArgumentError(
                f"the design container {name!r} holds integers; a design is differentiated, so "
                f"declare it with floating-point values (pm.Data({name!r}, values.astype(float)))."
            )
    lengths = {name: np.shape(containers[name].get_value(borrow=True)) for name in names}
    if any(len(shape) == 0 for shape in lengths.values()):
        scalar = [name for name, shape in lengths.items() if len(shape) == 0]
        raise ArgumentError(
            f"the design container(s) {', '.join(scalar)} are scalars; a design holds one "
            "value per run."
        )
    if len({shape[0] for shape in lengths.values()}) > 1:
        raise ArgumentError(
            f"the design containers have different numbers of runs: {lengths}; each holds one "
            "value per run."
        )
    current_length = next(iter(lengths.values()))[0]
    inputs = tuple(
        pt.tensor(f"design_{name}", dtype="float64", shape=(None,) * len(lengths[name]))
        for name in names
    )
    runs = inputs[0].shape[0]
    replacements = dict(zip((containers[name] for name in names), inputs, strict=True))
    information, tails = _observation_information(graph, information_route, support)
    read = set(ancestors(list(information.values())))
    fixed_of_design_length = []
    for name, container in containers.items():
        if name in names or container not in read:
            continue
        shape = np.shape(container.get_value(borrow=True))
        if len(shape) == 0 or shape[0] != current_length:
            continue
        if name in observed_containers:  # its values do not enter the information
            replacements[container] = pt.zeros((runs, *shape[1:]), dtype=container.dtype)
        else:
            fixed_of_design_length.append(name)
    for length in model.dim_lengths.values():
        if (
            isinstance(length, SharedVariable)
            and length in read
            and int(length.get_value()) == current_length
        ):
            replacements[length] = pt.cast(runs, length.dtype)
    replaced = graph_replace([*information.values(), *tails], replacements, strict=False)
    per_variable = dict(zip(information, replaced[: len(information)], strict=True))
    tail = pt.max(pt.stack(replaced[len(information) :])) if tails else None
    unused = [
        name
        for name, variable in zip(names, inputs, strict=True)
        if variable not in ancestors(list(per_variable.values()))
    ]
    if unused:
        raise ArgumentError(
            f"the design container(s) {', '.join(unused)} do not enter the distribution of any "
            "observed variable, so they do not change the likelihood nor its information."
        )
    following = {
        name: any(variable in ancestors([info]) for variable in inputs)
        for name, info in per_variable.items()
    }
    return DesignGraph(
        graph,
        names,
        inputs,
        current_length,
        per_variable,
        following,
        tuple(fixed_of_design_length),
        replacements,
        information_route,
        support,
        tail,
    )
