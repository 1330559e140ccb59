"""The ``pmfisher report`` command on model files written for the test."""

import numpy as np
import pytest

from pmfisher.reporting.cli import main

MODEL_FILE = """
import numpy as np, pymc as pm
y = np.array([2, 4, 3, 5, 1])
with pm.Model() as counts:
    lam = pm.Gamma("lam", 2.0, 1.0)
    pm.Poisson("y", lam, observed=y)
"""


def test_report_prints_mle_information_and_standard_errors(tmp_path, capsys):
    path = tmp_path / "counts.py"
    path.write_text(MODEL_FILE)
    assert main(["report", f"{path}:counts", "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    # MLE 3.0, information n/λ̂ = 5/3, standard error sqrt(3/5).
    *_, table_row = (line for line in printed.splitlines() if line.startswith("lam "))
    assert table_row.split()[1:3] == ["3.0000", f"{np.sqrt(3 / 5):.4f}"]
    assert (
        (tmp_path / "out" / "observed_information.csv")
        .read_text()
        .splitlines()[1]
        .startswith("lam,1.6666")
    )


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    good = tmp_path / "counts.py"
    good.write_text(MODEL_FILE)
    broken = tmp_path / "broken.py"
    broken.write_text("import pymc as pm\nraise RuntimeError('no data today')\n")
    cases = {
        str(tmp_path / "missing.py"): "no model file at",
        f"{good}:other": "defines no model named 'other' (models found: counts)",
        str(broken): "failed to build: RuntimeError: no data today",
    }
    for spec, message in cases.items():
        assert main(["report", spec]) == 1
        error = capsys.readouterr().err
        assert message in error
        assert len(error.strip().splitlines()) == 1


def test_nuts_without_a_folder_is_refused_before_any_work(tmp_path, capsys):
    path = tmp_path / "counts.py"
    path.write_text(MODEL_FILE)
    assert main(["report", str(path), "--nuts"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the model is even loaded
    assert captured.err.startswith("pmfisher: --nuts compares Laplace with NUTS in the HTML")
    assert f"pmfisher report {path} --out report --nuts" in captured.err


def test_help_is_plain_text(capsys):
    for arguments in (["--help"], ["report", "--help"], ["case-studies", "--help"]):
        with pytest.raises(SystemExit):
            main(arguments)
        shown = capsys.readouterr().out
        assert "``" not in shown
        assert shown.startswith("usage: pmfisher")
