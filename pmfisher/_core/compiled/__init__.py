"""Compiled functions, built once and stored across processes: compilation, graph digests,
pickling, the C module cache, stored results, rewrites.
"""
