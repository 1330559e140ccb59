"""Pictures of an approximate posterior beside a reference one, on ArviZ 1.x (arviz-plots).

The public home of the reporting layer's plots (:mod:`pmfisher.reporting.plots` holds them).
"""

from pmfisher.reporting.plots import (
    khat_threshold,
    plot_forest,
    plot_group_comparison,
    plot_information,
    plot_khat,
    plot_marginals,
    plot_pair_ellipses,
    plot_profile,
    save_laplace_figures,
)

__all__ = [
    "khat_threshold",
    "plot_forest",
    "plot_group_comparison",
    "plot_information",
    "plot_khat",
    "plot_marginals",
    "plot_pair_ellipses",
    "plot_profile",
    "save_laplace_figures",
]
