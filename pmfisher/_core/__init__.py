"""The model as a function of one flat θ for a space and a set of terms, in rooms:

- :mod:`.model` — the model graph, its points and labels, and the target density a call is
  about;
- :mod:`.compiled` — compiling functions once and storing them across processes;
- :mod:`.curvature` — derivative engines, sparsity patterns, colourings, sparse Hessians, the
  ``structure`` rule and the memory estimates behind it;
- :mod:`.linalg` — positive definiteness, CHOLMOD factors, selected inverses;
- :mod:`.data` — simulating data sets, the likelihood as a function of the data, seeds;

and the options and progress every layer shares. Everything here works on flat NumPy arrays
(labels are attached once, at the public edge, by :mod:`.model.labelled`); nothing here
imports from the layers above.
"""
