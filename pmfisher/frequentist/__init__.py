"""Sampling distributions of estimators: the Cramér–Rao bound and simulation studies."""
