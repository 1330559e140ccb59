"""Loading a user's PyMC model from ``FILE.py[:NAME]``, with one-line errors."""

import runpy
from pathlib import Path

import pymc as pm

from pmfisher.errors import ArgumentError

__all__ = ["load_model"]


def load_model(spec: str) -> tuple[str, pm.Model]:
    """Run ``FILE.py`` and return ``(name, model)`` for the model bound to ``NAME`` (or the
    only ``pm.Model`` the file defines at top level)."""
    path_text, _, name = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise ArgumentError(f"no model file at {path}.")
    try:
        namespace = runpy.run_path(str(path), run_name="__pmfisher_model__")
    except Exception as error:  # the user's file: any failure is reported in one line
        raise ArgumentError(
            f"{path} failed to build: {type(error).__name__}: {error}".splitlines()[0]
        ) from error
    models = {key: value for key, value in namespace.items() if isinstance(value, pm.Model)}
    if name:
        if name not in models:
            found = ", ".join(sorted(models)) or "none"
            raise ArgumentError(f"{path} defines no model named {name!r} (models found: {found}).")
        return name, models[name]
    if not models:
        raise ArgumentError(
            f"{path} defines no PyMC model at top level: build one there, as in "
            "`with pm.Model() as model: ...` (a model built inside a function is not seen "
            "unless the file assigns it, e.g. `model = make_model()`)."
        )
    if len(models) > 1:
        raise ArgumentError(
            f"{path} defines {len(models)} models ({', '.join(sorted(models))}); name one as "
            f"{path}:{sorted(models)[0]}."
        )
    return next(iter(models.items()))
