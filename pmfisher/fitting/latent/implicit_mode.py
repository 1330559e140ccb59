r"""The conditional mode as a symbolic node whose derivative is the implicit function
theorem's, and the Laplace marginal's graphs built with it (the dense latent route of
:mod:`pmfisher.fitting.laplace_marginal`, whose docstring has the math).

:math:`L(\varphi) = f(\hat u_\varphi, \varphi) - \tfrac12\log\det H + \tfrac{n_u}2\log 2\pi`
is written as a graph of :math:`\varphi` in which :math:`\hat u_\varphi` is the output of
:class:`ConditionalModeOp`; reverse-mode autodiff then gives the exact gradient (third
derivatives of :math:`f` contracted with :math:`H^{-1}`), and the node's output is replaced
by an input before compiling, so the compiled functions take :math:`(\hat u, \varphi)`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.replace import graph_replace

from pmfisher._core.curvature import derivatives
from pmfisher.fitting.latent.latent_split import LatentSplit

__all__ = ["ConditionalModeOp", "marginal_graphs"]


def marginal_graphs(split: LatentSplit, u_hat):
    """:math:`L` and :math:`\\nabla L` as graphs of ``(u_hat, phi)``: built with the
    implicit-function operation in place of ``u_hat``, differentiated, and the operation's
    output then replaced by ``u_hat``."""
    u, phi = split.u, split.phi
    gradient_u = derivatives.gradient(split.logp, u)
    hessian_uu = derivatives.hessian(split.logp, u)
    mixed = derivatives.jacobian_forward(gradient_u, phi)  # ∂²f/∂u∂φ, n_u × n_φ
    u_of_phi = ConditionalModeOp(u, phi, hessian_uu, mixed)(phi)
    logp, curvature = graph_replace([split.logp, hessian_uu], {u: u_of_phi}, strict=False)
    cholesky = pt.linalg.cholesky(-curvature)
    value = logp - pt.log(pt.diag(cholesky)).sum() + 0.5 * split.n_u * np.log(2 * np.pi)
    gradient = derivatives.gradient(value, phi)
    return graph_replace([value, gradient], {u_of_phi: u_hat}, strict=False)


class ConditionalModeOp(Op):
    """:math:`\\varphi \\mapsto \\hat u_\\varphi` as a symbolic node, for autodiff only.

    Its gradient is the implicit function theorem's,
    :math:`\\bar\\varphi = (\\nabla^2_{u\\varphi} f)^\\top H^{-1} \\bar u`, a graph of the
    node's own output and input, so that second derivatives flow through it again. The node
    is never computed: its output is replaced by an input before compiling.
    """

    def __init__(self, u, phi, hessian_uu, mixed):
        self.u, self.phi = u, phi
        self.hessian_uu, self.mixed = hessian_uu, mixed

    def make_node(self, phi):
        phi = pt.as_tensor(phi)
        return Apply(self, [phi], [self.u.type()])

    def perform(self, node, inputs, outputs):
        raise NotImplementedError("the conditional-mode node is replaced before compiling")

    def pullback(self, inputs, outputs, cotangents):
        [phi], [u_of_phi], [u_bar] = inputs, outputs, cotangents
        curvature, mixed = graph_replace(
            [self.hessian_uu, self.mixed], {self.u: u_of_phi, self.phi: phi}, strict=False
        )
        adjoint = pt.linalg.solve(-curvature, u_bar, assume_a="pos")
        return [mixed.T @ adjoint]
