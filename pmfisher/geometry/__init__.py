"""Information as geometry: the tensor law, natural gradients, KL curvature and the
Gauss–Newton split of a Hessian."""
