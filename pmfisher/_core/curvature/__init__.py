"""Exact curvature: derivative engines, Hessian sparsity patterns and colourings, sparse Hessians,
the ``structure`` rule and the memory estimates behind it.
"""
