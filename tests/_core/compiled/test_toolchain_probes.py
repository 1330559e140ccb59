"""PyTensor's toolchain probes run once per machine: the first process probes and stores
what PyTensor found, later ones hand it over without probing, and what a user configured
wins."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

PROCESS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import pytensor
    from pytensor.link.c import cmodule
    probes = []
    for name in ("try_blas_flag", "try_march_flag"):
        original = getattr(cmodule, name)
        setattr(cmodule, name, lambda *a, _f=original, **k: probes.append(1) or _f(*a, **k))
    from pmfisher._core.compiled.toolchain_probes import use_stored_probes
    use_stored_probes(Path(sys.argv[1]))
    print(json.dumps({
        "probes": len(probes),
        "blas__ldflags": pytensor.config.blas__ldflags,
        "march_flags": cmodule.GCC_compiler.march_flags,
    }))
    """
)


def run(directory, **environment) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", PROCESS, str(directory)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | environment,
    )
    return json.loads(completed.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def first_and_second(tmp_path_factory):
    directory = tmp_path_factory.mktemp("probes")
    environment = {"PYTENSOR_FLAGS": ""}
    first = run(directory, **environment)
    [stored] = directory.glob("toolchain-*.json")
    second = run(directory, **environment)
    return first, json.loads(stored.read_text()), second, directory


def test_the_first_process_probes_and_stores_what_pytensor_found(first_and_second):
    first, stored, _, _ = first_and_second
    if not first["blas__ldflags"]:
        pytest.skip("no BLAS on this machine: nothing is stored")
    assert first["probes"] > 0
    assert stored == {key: first[key] for key in ("blas__ldflags", "march_flags")}


def test_a_later_process_gets_them_without_probing(first_and_second):
    first, _, second, _ = first_and_second
    if not first["blas__ldflags"]:
        pytest.skip("no BLAS on this machine: nothing is stored")
    assert second["probes"] == 0
    assert second == first | {"probes": 0}


def test_flags_the_user_configured_are_left_alone_and_never_stored(first_and_second, tmp_path):
    first, *_, directory = first_and_second
    user = run(directory, PYTENSOR_FLAGS="blas__ldflags=-lblas")
    assert user["blas__ldflags"] == "-lblas"
    assert user["march_flags"] == first["march_flags"]
    run(tmp_path, PYTENSOR_FLAGS="blas__ldflags=-lblas")
    assert not list(tmp_path.glob("toolchain-*.json"))
