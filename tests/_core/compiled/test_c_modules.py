"""A new process reads, of PyTensor's compile directory, only the C modules of the functions it
loads — never the whole directory — and the functions still compute what they did, on the
data they are given."""

import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytensor.tensor as pt
from pytensor.link.c import cmodule

from pmfisher._core.compiled import compilation
from pmfisher._core.compiled.c_modules import read_modules, recording_modules
from pmfisher._core.compiled.compilation import compile_function

# x ↦ Σ exp(c · x) + ‖x‖² for a constant data vector c, written into the graph (a data array:
# the compiled function takes it as an input).
FUNCTION = """
def build(data):
    x = pt.vector("x")
    return compile_function([x], pt.sum(pt.exp(pt.constant(data) * x)) + pt.sum(x**2))
"""

PROCESS = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np, pytensor.tensor as pt
    from pytensor.link.c import cmodule
    from pmfisher._core.compiled import compilation
    from pmfisher._core.compiled.compilation import compile_function
    {function}
    def read():
        read_files = cmodule._module_cache.loaded_key_pkl
        return sorted(os.path.basename(os.path.dirname(k)) for k in read_files)
    x = np.linspace(-1.0, 2.0, 20)
    stored = build(np.linspace(1.0, 3.0, 20))(x)
    after_load = read()
    new_data = build(np.linspace(3.0, 1.0, 20))(x)
    print(json.dumps({{
        "stored": float(stored), "new_data": float(new_data), "after_load": after_load,
        "after_new_data": read(), "statistics": dict(compilation.statistics),
        "compile_directory": len(os.listdir(cmodule._module_cache.dirname)),
    }}))
    """
).format(function=FUNCTION)


def expected(data, x):
    return float(np.sum(np.exp(data * x)) + np.sum(x**2))


def test_a_new_process_reads_only_the_modules_of_its_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", str(tmp_path))
    namespace = {"pt": pt, "compile_function": compile_function}
    exec(FUNCTION, namespace)
    monkeypatch.setattr(compilation, "_IN_MEMORY", type(compilation._IN_MEMORY)())
    namespace["build"](np.linspace(1.0, 3.0, 20))  # stored, with the names of its modules
    (stored_path,) = tmp_path.glob("*.pkl")
    with stored_path.open("rb") as file:
        names, _ = pickle.load(file)
    assert names

    completed = subprocess.run(
        [sys.executable, "-c", PROCESS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PMFISHER_FUNCTION_CACHE": str(tmp_path)},
    )
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    x = np.linspace(-1.0, 2.0, 20)
    np.testing.assert_allclose(seen["stored"], expected(np.linspace(1.0, 3.0, 20), x), rtol=1e-14)
    np.testing.assert_allclose(seen["new_data"], expected(np.linspace(3.0, 1.0, 20), x), rtol=1e-14)
    # New data of the same shapes: the loaded function again, fed the new data.
    assert seen["statistics"] == {"loaded": 1, "reused": 1}
    # The loaded function's modules and nothing else: no walk through the directory, which
    # holds more than these.
    assert seen["after_load"] == sorted(names)
    assert seen["after_new_data"] == sorted(names)
    assert seen["compile_directory"] > len(names)


# A process holding the compile directory's lock, as one compiling a large C module does for
# minutes, until its standard input closes.
LOCK_HOLDER = textwrap.dedent(
    """
    import sys
    from pytensor.compile.compilelock import lock_ctx
    with lock_ctx():
        print("locked", flush=True)
        sys.stdin.read()
    """
)


def test_a_new_process_loads_its_functions_while_another_holds_the_compile_lock(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PMFISHER_FUNCTION_CACHE", str(tmp_path))
    namespace = {"pt": pt, "compile_function": compile_function}
    exec(FUNCTION, namespace)
    monkeypatch.setattr(compilation, "_IN_MEMORY", type(compilation._IN_MEMORY)())
    namespace["build"](np.linspace(1.0, 3.0, 20))  # stored, with the names of its modules
    environment = {**os.environ, "PMFISHER_FUNCTION_CACHE": str(tmp_path)}
    with subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    ) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            # Waiting on the lock would outlast the timeout (the holder never lets go).
            completed = subprocess.run(
                [sys.executable, "-c", PROCESS],
                capture_output=True,
                text=True,
                check=True,
                env=environment,
                timeout=120,
            )
        finally:
            holder.stdin.close()
    seen = json.loads(completed.stdout.strip().splitlines()[-1])
    x = np.linspace(-1.0, 2.0, 20)
    np.testing.assert_allclose(seen["stored"], expected(np.linspace(1.0, 3.0, 20), x), rtol=1e-14)
    assert seen["statistics"] == {"loaded": 1, "reused": 1}


def test_a_targeted_read_leaves_the_rest_to_pytensors_own_walk():
    """The skipped folders are skipped only during the read: a later full refresh reads them."""
    cache = cmodule.get_module_cache(cmodule.config.compiledir)
    x = pt.vector("x")
    with recording_modules() as names:
        compile_function([x], pt.sum(pt.cosh(x) * 3.0))
    assert names
    before = set(cache.loaded_key_pkl)
    read_modules(names)
    assert cache.loaded_key_pkl >= before  # nothing forgotten that was read
    cache.refresh(cleanup=False)
    folders = {
        os.path.join(cache.dirname, name, "key.pkl")
        for name in os.listdir(cache.dirname)
        if os.path.isfile(os.path.join(cache.dirname, name, "key.pkl"))
    }
    # Every complete module is read by PyTensor's walk (a few may be too old to use).
    assert len(folders - cache.loaded_key_pkl) <= len(folders) // 10
