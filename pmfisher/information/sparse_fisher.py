r"""The exact Fisher information from compressed sparse Jacobians.

:mod:`pmfisher.information.exact_fisher` forms :math:`I = \sum_i J_i^\top F(\eta_i) J_i` from
dense Jacobians :math:`J_a = \partial \eta_a / \partial \theta` of every distribution parameter
:math:`\eta_a` (one entry per observation), ``n × d`` each: 200 GB for a hierarchical model of
50,000 groups of 10 rows. Each row of :math:`J_a` has only the few nonzeros the graph says
(:class:`~pmfisher.information.exact_fisher.FisherSparsity`: an observation's parameters
depend on the shared parameters and on its own group's effects), so with a column colouring
of the pattern (no two columns of one colour share an observation) and the seed
:math:`S` (``d × c``, column :math:`c` the indicator of the columns coloured :math:`c`), the
compressed Jacobian :math:`B_a = J_a S` holds every entry exactly,
:math:`(J_a)_{ij} = (B_a)_{i,\,\mathrm{colour}(j)}`. All the :math:`B_a` come from one compiled
function: ``c`` forward-mode products batched over the colours, sharing the primal pass, so
the cost is about ``c`` evaluations of the parameters' graph whatever ``d`` is (``c`` is the
number of shared parameters plus one per kind of group effect). Then, with
:math:`W_{ab} = \operatorname{diag}_i F(\eta_i)_{ab}` (block diagonal over observations),

.. math::

    I = \sum_{a, b} J_a^\top W_{ab} J_b

in SciPy's sparse arithmetic. No step forms an ``n × d`` or ``d × d`` dense array.
"""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from scipy import sparse

from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.curvature import derivatives, memory
from pmfisher._core.curvature.colouring import recover_jacobian
from pmfisher.information.exact_fisher import distribution_parameters, fisher_sparsity

__all__ = ["SparseFisher"]

_FLOAT = 8


class SparseFisher:
    """The exact Fisher information of ``graph``'s likelihood as a SciPy CSC array. Build it
    once per graph: ``graph.companion(SparseFisher)``.

    Attributes
    ----------
    sparsity : FisherSparsity
        The Jacobian patterns, the information's pattern and the column colouring.
    n_colours : int
        Forward-mode products per evaluation.

    Examples
    --------
    With unit variance, :math:`I = J^\top J` counts the observations each pair of
    parameters shares:

    >>> import numpy as np, pymc as pm
    >>> from pmfisher._core.model.model_graph import model_graph
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu")
    ...     z = pm.Normal("z", shape=3)
    ...     y = pm.Normal("y", mu + z[[0, 0, 1, 2]], 1.0, observed=[0.1, 0.2, 0.3, 0.4])
    >>> graph = model_graph(model, space="constrained", terms="likelihood")
    >>> fisher = graph.companion(SparseFisher)
    >>> fisher.n_colours
    2
    >>> fisher(np.zeros(4)).toarray()
    array([[4., 2., 1., 1.],
           [2., 2., 0., 0.],
           [1., 0., 1., 0.],
           [1., 0., 0., 1.]])
    """

    def __init__(self, graph):
        self.graph = graph
        self.parameters = graph.companion(distribution_parameters)
        self.sparsity = graph.companion(fisher_sparsity)
        self.n_colours = self.sparsity.n_colours
        # The batched forward pass copies every θ-dependent intermediate once per colour.
        memory.require_fits(
            _FLOAT * max(self.n_colours, 1) * self.sparsity.intermediate_elements,
            f"the compressed Jacobians of the exact Fisher information ({self.n_colours} "
            f"colours × {self.sparsity.intermediate_elements} elements)",
            instead="use fewer observations, or a machine with more memory.",
        )
        self._seed = np.zeros((self.n_colours, graph.size))
        self._seed[self.sparsity.colours, np.arange(graph.size)] = 1.0

    @functools.cached_property
    def _function(self):
        """θ, seed → per variable, its parameters per observation and, per free parameter,
        its compressed Jacobian ``(c, n)``."""
        graph = self.graph
        seed = pt.matrix("seed", dtype="float64", shape=(self.n_colours, graph.size))
        outputs = []
        for index, params in enumerate(self.parameters.params):
            outputs += params
            outputs += [
                derivatives.jacobian_matrix_product(params[position], graph.theta, seed)
                for position in self.parameters.free(index)
            ]
        return compile_function([graph.theta, seed], outputs)

    def __call__(self, x: np.ndarray) -> sparse.csc_array:
        """The exact Fisher information at flat ``x``, exact to rounding."""
        values = iter(self._function(np.asarray(x, dtype="float64"), self._seed))
        d = self.graph.size
        information = sparse.csr_array((d, d))
        for form, params, patterns in zip(
            self.parameters.forms, self.parameters.params, self.sparsity.jacobians, strict=True
        ):
            params = [next(values) for _ in params]
            jacobians = [
                recover_jacobian(np.asarray(next(values)), pattern, self.sparsity.colours)
                for pattern in patterns
            ]
            weights = form.information(*params)  # (n, k, k) over the free parameters
            for a, left in enumerate(jacobians):
                for b, right in enumerate(jacobians):
                    weighted = sparse.csr_array(right.multiply(weights[:, a, b][:, None]))
                    information = information + left.T @ weighted
        return sparse.csc_array(0.5 * (information + information.T))
