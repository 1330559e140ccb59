"""Progress on long work: shown when on and watched, silent when switched off."""

import time

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from pmfisher import fisher_information, information_matrix_test, simulate_estimator
from pmfisher._core import progress
from pmfisher._core.compiled.compilation import compile_function
from pmfisher._core.progress import progress_bar, progress_wanted, quiet, slow_work_notice


@pytest.fixture
def watched(monkeypatch):
    """As if stderr were a terminal, outside CI."""
    monkeypatch.setattr(progress, "_watched", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PMFISHER_PROGRESS", raising=False)


def test_progress_is_off_when_asked_unwatched_in_ci_or_switched_off(watched, monkeypatch):
    assert progress_wanted(True)
    assert not progress_wanted(False)
    with quiet(False):
        assert not progress_wanted(True)  # an enclosing progressbar=False silences nested work
    assert progress_wanted(True)
    monkeypatch.setenv("PMFISHER_PROGRESS", "off")
    assert not progress_wanted(True)
    monkeypatch.delenv("PMFISHER_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_wanted(True)
    monkeypatch.delenv("CI")
    monkeypatch.setattr(progress, "_watched", lambda: False)
    assert not progress_wanted(True)


def test_a_bar_shows_its_description_and_completion(watched, capsys):
    with progress_bar("simulating data sets", total=4) as bar:
        for _ in range(4):
            bar.advance()
    shown = capsys.readouterr().err
    assert "simulating data sets" in shown
    assert "100%" in shown
    with progress_bar("simulating data sets", total=4, progressbar=False) as bar:
        bar.advance(4)
    assert capsys.readouterr().err == ""


def test_slow_work_gets_a_notice_and_fast_work_none(watched, capsys):
    with slow_work_notice("compiling the Hessian of 3 parameters", after=0.05):
        time.sleep(0.4)
    assert "compiling the Hessian of 3 parameters … done (" in capsys.readouterr().err
    with slow_work_notice("loading", after=5.0):
        pass
    assert capsys.readouterr().err == ""


def test_slow_work_inside_a_bar_is_told_in_the_bar(watched, capsys):
    with progress_bar("Monte Carlo", total=1) as bar:
        with slow_work_notice("compiling the Hessian", after=0.05):
            time.sleep(0.3)
            during = bar.progress.tasks[0].description
        after = bar.progress.tasks[0].description
        bar.advance()
    assert during == "Monte Carlo (compiling the Hessian …)"
    assert after == "Monte Carlo"


def test_a_slow_compile_says_what_it_compiles(watched, capsys, monkeypatch):
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", "off")  # compiled, not loaded
    monkeypatch.setattr(progress, "NOTICE_AFTER_SECONDS", 0.0)
    theta = pt.vector("theta", shape=(3,))
    compile_function([theta], [pt.sum(theta**2) + 0.123456])
    assert "compiling the function of 3 parameters … done (" in capsys.readouterr().err
    with quiet(False):
        compile_function([theta], [pt.sum(theta**2) + 0.123457])
    assert capsys.readouterr().err == ""


def _poisson_model():
    with pm.Model() as model:
        lam = pm.Exponential("lam", 1.0)
        pm.Poisson("y", lam, observed=np.array([2, 4, 3, 1, 5, 2]))
    return model


@pytest.mark.parametrize(
    ("call", "shown"),
    [
        (
            lambda model, **switch: fisher_information(
                {"lam": 2.0},
                model=model,
                method="monte_carlo",
                replicates=40,
                random_seed=1,
                **switch,
            ),
            "Fisher information from 40 simulated data sets",
        ),
        (
            lambda model, **switch: simulate_estimator(
                {"lam": 2.0}, model=model, replicates=20, chunk_size=5, random_seed=1, **switch
            ),
            "fitting 20 simulated data sets",
        ),
        (
            lambda model, **switch: information_matrix_test(model=model, **switch),
            "information-matrix test",
        ),
    ],
    ids=["monte_carlo_fisher", "simulate_estimator", "information_matrix_test"],
)
def test_long_calls_show_progress_unless_switched_off(watched, capsys, call, shown):
    model = _poisson_model()
    off = call(model, progressbar=False)
    assert capsys.readouterr().err == ""
    on = call(model)
    printed = capsys.readouterr().err
    assert shown in printed
    assert "100%" in printed
    # The switch changes what is shown, never the numbers.
    assert type(on) is type(off)
    for field in ("matrix", "estimates", "statistic"):
        if hasattr(on, field):
            np.testing.assert_array_equal(np.asarray(getattr(on, field)), getattr(off, field))
