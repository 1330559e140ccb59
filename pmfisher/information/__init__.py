"""Information matrices: observed, expected (Monte Carlo and exact), per-observation scores
and the empirical Fisher, the sandwich covariance and the information-matrix test."""
