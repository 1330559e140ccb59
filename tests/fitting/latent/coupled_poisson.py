"""A Poisson model whose latent effects meet in pairs (a tridiagonal, non-Gaussian conditional),
and its Laplace marginal computed densely and independently of pmfisher's routes: reference
values for ``implicit_mode`` and ``sparse_latent``."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from pmfisher._core.model.model_graph import model_graph
from pmfisher.fitting.latent.latent_split import latent_split

COUNTS = np.array([1, 3, 0, 2, 5])
PHI = np.array([0.3, np.log(0.8)])  # (a, log tau)


def coupled_poisson() -> pm.Model:
    """y_i ~ Poisson(exp(a + z_i + ½ z_{i+1})), z ~ N(0, τ²): each count couples two effects."""
    with pm.Model() as model:
        a = pm.Normal("a", 0.0, 2.0)
        tau = pm.HalfNormal("tau", 1.0)
        z = pm.Normal("z", 0.0, tau, shape=COUNTS.size + 1)
        pm.Poisson("y", pm.math.exp(a + z[:-1] + 0.5 * z[1:]), observed=COUNTS)
    return model


class DenseReference:
    """L(φ) = f(û, φ) − ½ log det H + (n_u/2) log 2π with plain PyTensor derivatives, NumPy
    Newton steps and NumPy's log-determinant."""

    def __init__(self, model: pm.Model):
        graph = model_graph(model, space="unconstrained", terms="likelihood")
        self.split = split = latent_split(graph, "z")
        u, phi = split.u, split.phi
        gradient = pytensor.grad(split.logp, u)
        hessian = pytensor.gradient.hessian(split.logp, u)
        mixed = pytensor.gradient.jacobian(gradient, phi)
        self.f = pytensor.function([u, phi], [split.logp, gradient, hessian, mixed])
        self.n_u = split.n_u
        self.u_type = pt.vector("u_hat", dtype="float64", shape=(split.n_u,))

    def mode(self, phi) -> np.ndarray:
        u = np.zeros(self.n_u)
        for _ in range(50):
            _, gradient, hessian, _ = self.f(u, phi)
            step = np.linalg.solve(-hessian, gradient)
            u = u + step
            if np.abs(step).max() < 1e-14:
                break
        return u

    def pieces(self, phi):
        """û, H = −∇²_uu f and M = ∇²_uφ f at (û, φ)."""
        u = self.mode(phi)
        _, _, hessian, mixed = self.f(u, phi)
        return u, -hessian, mixed

    def marginal(self, phi) -> float:
        u = self.mode(phi)
        logp, _, hessian, _ = self.f(u, phi)
        log_det = np.linalg.slogdet(-hessian)[1]
        return float(logp - 0.5 * log_det + 0.5 * self.n_u * np.log(2 * np.pi))
