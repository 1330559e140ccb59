"""Linear algebra of precision matrices: definiteness, CHOLMOD factors, selected inverses."""
