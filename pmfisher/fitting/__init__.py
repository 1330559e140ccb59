"""Modes: the MLE or MAP of one model (:mod:`.mode`) and of many data sets at once
(:mod:`.batch_fit`)."""
