"""reporting/model_file.py: ``FILE.py[:NAME]`` gives the model it names, or the only one the
file defines; everything else is one ``ArgumentError`` line that says what to do."""

import pymc as pm
import pytest

from pmfisher.errors import ArgumentError
from pmfisher.reporting.model_file import load_model

COUNTS = """
import numpy as np, pymc as pm
with pm.Model() as counts:
    lam = pm.Gamma("lam", 2.0, 1.0)
    pm.Poisson("y", lam, observed=np.array([2, 4, 3]))
"""
TWO_MODELS = COUNTS + COUNTS.replace("as counts", "as other")
BUILT_IN_A_FUNCTION = """
import pymc as pm
def make_model():
    with pm.Model() as inner:
        pm.Normal("x")
    return inner
model = make_model()
"""


@pytest.mark.parametrize(
    ("source", "suffix", "name", "variables"),
    [
        (COUNTS, "", "counts", ["lam"]),
        (COUNTS, ":counts", "counts", ["lam"]),
        (TWO_MODELS, ":other", "other", ["lam"]),
        (BUILT_IN_A_FUNCTION, "", "model", ["x"]),
    ],
    ids=["the-only-one", "named", "one-of-two", "assigned-from-a-function"],
)
def test_the_model_a_spec_names(tmp_path, source, suffix, name, variables):
    path = tmp_path / "models.py"
    path.write_text(source)
    found_name, model = load_model(f"{path}{suffix}")
    assert found_name == name
    assert isinstance(model, pm.Model)
    assert [rv.name for rv in model.free_RVs] == variables


@pytest.mark.parametrize(
    ("source", "suffix", "message"),
    [
        (None, "", "no model file at {path}."),
        (COUNTS, ":other", "{path} defines no model named 'other' (models found: counts)."),
        (
            "import pymc as pm\nraise RuntimeError('no data today')\n",
            "",
            "{path} failed to build: RuntimeError: no data today",
        ),
        (
            "import pymc as pm\nwith pm.Model() as m:\n    pm.Normal('x', sigma=-)\n",
            "",
            "{path} failed to build: SyntaxError",
        ),
        (
            "import pymc as pm\nx = 1\n",
            "",
            "{path} defines no PyMC model at top level: build one there",
        ),
        (TWO_MODELS, "", "{path} defines 2 models (counts, other); name one as {path}:counts."),
    ],
    ids=["missing", "unknown-name", "raises", "syntax-error", "no-model", "two-models"],
)
def test_what_cannot_be_loaded_is_one_line_saying_why(tmp_path, source, suffix, message):
    path = tmp_path / "models.py"
    if source is not None:
        path.write_text(source)
    with pytest.raises(ArgumentError) as raised:
        load_model(f"{path}{suffix}")
    text = str(raised.value)
    assert text.startswith(message.format(path=path))
    assert len(text.splitlines()) == 1
    assert ":NAME" not in text  # the advice names the file's own models, never a placeholder
