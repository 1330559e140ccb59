"""The model seen as a function of one flat parameter vector: its graph, its points and labels, and
the target density a public call is about.
"""
