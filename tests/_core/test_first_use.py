"""``import_on_first_use`` gives the module ``import`` gives, imports it once, raises what
``import`` raises, and leaves the garbage collector as it found it; a fresh process pays for
arviz-base's import what a shallow stack pays, however deep the caller."""

import gc
import importlib
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


def test_a_fresh_process_imports_it_in_another_thread_and_once():
    code = textwrap.dedent(
        """
        import json, sys, threading
        import pmfisher
        from pmfisher._core.first_use import import_on_first_use

        assert "arviz_base" not in sys.modules
        seen = []
        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name == "arviz_base":
                    seen.append(threading.current_thread() is threading.main_thread())
                return None
        sys.meta_path.insert(0, Watch())
        def deep(n):
            return deep(n - 1) if n else import_on_first_use("arviz_base")
        module = deep(40)
        again = import_on_first_use("arviz_base")
        import arviz_base
        print(json.dumps({"in_main_thread": seen, "same": module is again is arviz_base,
                          "has": hasattr(module, "dict_to_dataset")}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found == {"in_main_thread": [False], "same": True, "has": True}
