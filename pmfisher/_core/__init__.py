"""The model as a function of one flat θ for a space and a set of terms.

Labels, the data side (simulating data sets, the likelihood as a function of the data),
compiled functions and their cache, graph digests and rewrites, derivative engines and
positive-definiteness checks. Everything here works on flat NumPy arrays; nothing here
imports from the layers above.
"""
