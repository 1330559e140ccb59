"""Approximate posteriors: Laplace, the delta method, and comparing an approximation with a
reference posterior."""
