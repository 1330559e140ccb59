"""Modes: the MLE or MAP of one model (:mod:`.mode`) and of many data sets at once
(:mod:`.batch_fit`); the Laplace marginal over latent variables (:mod:`.laplace_marginal`)
and its latent wing (:mod:`.latent`)."""
