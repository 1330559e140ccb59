"""``import_on_first_use`` gives the module ``import`` gives, imports it once, raises what
``import`` raises, runs no garbage collection while it imports, and leaves the collector as
it found it."""

import gc
import importlib
import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest

from pmfisher._core.first_use import collector_paused, import_on_first_use


def test_a_module_already_imported_is_that_module():
    assert import_on_first_use("json") is importlib.import_module("json")


def test_an_import_error_reaches_the_caller():
    with pytest.raises(ModuleNotFoundError, match="no_such_module_for_pmfisher"):
        import_on_first_use("no_such_module_for_pmfisher")
    assert "no_such_module_for_pmfisher" not in sys.modules


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(enabled):
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def collections_during_import(module: str, *, ours: bool) -> dict:
    """In a fresh process after ``import pmfisher``: the collections of the garbage
    collector's older generations while ``module`` is imported, by ``import_on_first_use`` or
    by ``import``."""
    importing = "import_on_first_use(name)" if ours else "importlib.import_module(name)"
    code = textwrap.dedent(
        f"""
        import gc, importlib, json, sys
        import pmfisher
        from pmfisher._core.first_use import import_on_first_use

        name = {module!r}
        assert name not in sys.modules
        collections = []
        # Counts from zero, so that the allocation that enters the pause cannot be the one
        # that sets off a collection (a clean run's subprocess collected there, before the
        # import began).
        gc.collect()
        # Collections of the older generations: the ones that walk PyMC's objects.
        gc.callbacks.append(
            lambda phase, info: collections.append(phase == "start" and info["generation"] > 0)
        )
        module = {importing}
        gc.callbacks.clear()
        print(json.dumps({{"collections": sum(collections), "enabled": gc.isenabled(),
                          "same": module is sys.modules[name] is importlib.import_module(name),
                          "again": import_on_first_use(name) is module}}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_a_fresh_process_imports_it_once_without_collections():
    found = collections_during_import("arviz_stats", ours=True)
    assert found == {"collections": 0, "enabled": True, "same": True, "again": True}
    # What it saves: the plain import of the same module collects.
    assert collections_during_import("arviz_stats", ours=False)["collections"] > 0


def stacks_recorded_for_absent_libraries(*, ours: bool) -> dict:
    """In a fresh process after ``import pmfisher``, importing ``arviz_stats.base`` by
    ``import_on_first_use`` or by ``import``: the depth of each stack ``lazy_loader`` records
    (arviz-base asks it for JAX and NumPyro), and whether arviz-stats' import had begun then."""
    importing = "import_on_first_use(name)" if ours else "importlib.import_module(name)"
    code = textwrap.dedent(
        f"""
        import importlib, inspect, json, sys
        import pmfisher
        from pmfisher._core.first_use import import_on_first_use

        name = "arviz_stats.base"
        assert "arviz_base" not in sys.modules and "arviz_stats" not in sys.modules
        depths, nested, stack = [], [], inspect.stack

        def recording(*args, **kwargs):
            frames = stack(*args, **kwargs)
            depths.append(len(frames))
            nested.append("arviz_stats" in sys.modules)
            return frames

        inspect.stack = recording
        {importing}
        print(json.dumps({{"depths": depths, "nested": nested}}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_arviz_base_is_imported_before_arviz_stats_on_a_shorter_stack():
    ours, plain = (stacks_recorded_for_absent_libraries(ours=mine) for mine in (True, False))
    absent = [name for name in ("jax", "numpyro") if importlib.util.find_spec(name) is None]
    # One stack per absent library, recorded before arviz-stats' import begins (by a plain
    # import: inside it), each shorter by arviz-stats' nested imports.
    assert ours["nested"] == [False] * len(absent)
    assert plain["nested"] == [True] * len(absent)
    for mine, theirs in zip(ours["depths"], plain["depths"], strict=True):
        assert mine < theirs
