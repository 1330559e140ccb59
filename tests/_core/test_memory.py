"""The memory guard: estimates, the decision, and the error that says what is needed."""

import pytest

from pmfisher._core import memory
from pmfisher.errors import InsufficientMemoryError, PMFisherError


def test_available_memory_is_positive():
    assert memory.available_bytes() > 0


def test_dense_hessian_estimate_is_d_times_the_intermediates():
    assert memory.dense_hessian_bytes(2003, 210_000) == 8 * 2003 * 210_000


def test_require_fits_raises_saying_what_it_needs(monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**30)
    memory.require_fits(2**28, "a small array", instead="nothing to do.")
    with pytest.raises(InsufficientMemoryError, match=r"would need about 3\.0 GiB.*1\.0 GiB"):
        memory.require_fits(3 * 2**30, "the dense Hessian", instead="use the sparse route.")
    assert issubclass(InsufficientMemoryError, PMFisherError)


@pytest.mark.parametrize(
    ("nbytes", "text"), [(512, "512 B"), (1536, "1.5 KiB"), (5 * 2**40, "5.0 TiB")]
)
def test_describe_bytes(nbytes, text):
    assert memory.describe_bytes(nbytes) == text
