"""The memory guard: estimates, the decision, and the error that says what is needed."""

import pytest

from pmfisher._core.curvature import memory
from pmfisher.errors import InsufficientMemoryError, PMFisherError


def test_available_memory_is_positive():
    assert memory.available_bytes() > 0


def test_dense_hessian_estimate_is_d_times_the_intermediates():
    assert memory.dense_hessian_bytes(2003, 210_000) == 8 * 2003 * 210_000


def test_require_fits_raises_saying_what_it_needs(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    memory.require_fits(2**28, "a small array", instead="nothing to do.")
    with pytest.raises(InsufficientMemoryError, match=r"would need about 3\.0 GiB.*1\.0 GiB"):
        memory.require_fits(3 * 2**30, "the dense Hessian", instead="use the sparse route.")
    assert issubclass(InsufficientMemoryError, PMFisherError)


@pytest.mark.parametrize(
    ("nbytes", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (5 * 2**40, "5.0 TiB")]
)
def test_describe_bytes(nbytes, text):
    assert memory.describe_bytes(nbytes) == text


def test_chunk_length_fills_the_budget_and_takes_at_least_one(monkeypatch):
    monkeypatch.setattr(memory, "ELEMENT_BUDGET", 100)
    assert memory.chunk_length(50, 30, "x", instead="") == 3  # ⌊100 / 30⌋
    assert memory.chunk_length(2, 30, "x", instead="") == 2  # never more than there are
    assert memory.chunk_length(50, 300, "x", instead="") == 1  # over budget, but it fits
    monkeypatch.setattr(memory, "available_bytes", lambda: 4000)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    with pytest.raises(InsufficientMemoryError, match="one data set's scores would need about"):
        memory.chunk_length(50, 300, "one data set's scores", instead="use fewer.")


def test_batched_likelihood_graphs_raise_before_building_what_cannot_fit(monkeypatch):
    """Every batched route of the data likelihood (scores n × d, per-observation Hessians,
    Hessians of simulated data sets, the Monte Carlo Fisher information's chunks) asks the
    guard first: with 400 B available, each raises and names what it needed."""
    import numpy as np

    import pmfisher
    from pmfisher._core.data.data_likelihood import data_likelihood
    from tests.closed_forms import model_for, poisson

    model = model_for(poisson)  # 40 observations, d = 1
    like = data_likelihood(model)
    data = like.observed_batch(3)
    theta = np.full((3, 1), 2.0)
    monkeypatch.setattr(memory, "available_bytes", lambda: 400)
    monkeypatch.setattr(memory, "ALWAYS_FITS", 0)  # a machine this small
    routes = {  # what the error names, the float64 bytes it needs: route
        ("40 × 1 scores", 320): lambda: pmfisher.scores({"lam": 2.0}, model=model),
        ("per-observation scores of 3 data set", 960): lambda: like.observation_scores(theta, data),
        ("per-observation Hessians of 3 data set", 960): lambda: like.observation_hessians(
            theta, data
        ),
        ("Hessian of one data set's likelihood", 320): lambda: like.logp_grad_hessian(theta, data),
        ("one simulated data set", 320): lambda: pmfisher.fisher_information(
            {"lam": 2.0}, model=model, method="monte_carlo", replicates=4, progressbar=False
        ),
    }
    for (what, nbytes), route in routes.items():
        with pytest.raises(InsufficientMemoryError, match=f"{what}.*would need about {nbytes} B"):
            route()


def test_small_intermediates_fit_without_asking_the_operating_system(monkeypatch):
    """Reading ``/proc/meminfo`` cost a third of a small model's Hessian on every call."""

    def unread():
        raise AssertionError("the available memory was read")

    monkeypatch.setattr(memory, "available_bytes", unread)
    assert memory.fits(memory.ALWAYS_FITS)
    with pytest.raises(AssertionError, match="was read"):
        memory.fits(memory.ALWAYS_FITS + 1)
