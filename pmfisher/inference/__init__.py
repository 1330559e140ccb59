"""The answers a statistician reads off the information: estimates with standard errors,
z, p and intervals (Wald or profile likelihood), fixed effects, variance components and the
conditional modes of latent effects — :func:`pmfisher.summary`."""
