"""xarray's checks for dask and pydata sparse arrays import neither library's arrays until
someone else imports them, and then recognise its arrays as before (each case runs in a fresh
process: the question is what a process has imported)."""

import json
import subprocess
import sys
import textwrap

import pytest


def in_fresh_process(code: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_wrapping_numpy_arrays_imports_no_other_array_library():
    imported = in_fresh_process(
        """
        import json, sys
        import numpy as np
        import xarray as xr
        import pmfisher

        tree = xr.DataTree.from_dict(
            {"posterior": xr.Dataset({"mu": (("chain", "draw"), np.zeros((1, 5)))})}
        )
        print(repr(tree), file=sys.stderr)
        deferred = ("dask", "sparse", "numba")
        print(json.dumps([name for name in deferred if name in sys.modules]))
        """
    )
    assert imported == []


@pytest.mark.parametrize("pmfisher_first", [True, False])
def test_dask_arrays_are_recognised_once_dask_is_imported(pmfisher_first):
    found = in_fresh_process(
        f"""
        import json
        import numpy as np
        import xarray as xr
        from packaging.version import Version
        from xarray.namedarray.pycompat import array_type, mod_version
        if {pmfisher_first}:
            import pmfisher
            xr.DataArray(np.zeros(3))  # the entry is asked before dask exists
        import dask
        import dask.array as da

        wrapped = xr.DataArray(da.zeros(4, chunks=2))
        print(json.dumps({{
            "chunks": [list(chunk) for chunk in wrapped.chunks],
            "type": [cls.__module__ + "." + cls.__name__ for cls in array_type("dask")],
            "version": mod_version("dask") == Version(dask.__version__),
            "lazy": type(wrapped.data).__name__,
            "values": wrapped.to_numpy().tolist(),
        }}))
        """
    )
    assert found == {
        "chunks": [[2, 2]],
        "type": ["dask.array.core.Array"],
        "version": True,
        "lazy": "Array",
        "values": [0.0, 0.0, 0.0, 0.0],
    }


def test_sparse_arrays_are_recognised_once_sparse_is_imported():
    found = in_fresh_process(
        """
        import json
        import numpy as np
        import xarray as xr
        import pmfisher

        xr.DataArray(np.zeros(3)).to_numpy()  # the entry is asked before sparse exists
        import sparse

        wrapped = xr.DataArray(sparse.COO.from_numpy(np.diag([1.0, 2.0])))
        print(json.dumps({
            "backed": type(wrapped.data).__name__,
            "dense": wrapped.to_numpy().tolist(),
        }))
        """
    )
    assert found == {"backed": "COO", "dense": [[1.0, 0.0], [0.0, 2.0]]}
