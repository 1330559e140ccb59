"""The latent-variable wing of the Laplace marginal (:mod:`pmfisher.fitting.laplace_marginal`): the
split into latent and other variables, and the marginal's pieces when the latent Hessian is
dense (implicit mode), sparse or diagonal.
"""
