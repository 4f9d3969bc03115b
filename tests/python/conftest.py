"""Shared fixtures of the Python tests (tests/python/test_*.py; CTest python.<name>).

CTest (tests/CMakeLists.txt) runs each file with pytest from the venv of the build dir and
sets, in the environment:
    SSMKIT_CLI            the built ssmkit program
    SSMKIT_CHECK_EXPORT   ssmkit_check_export (tools/check_export.cpp)
    SSMKIT_TOOLS_DIR      tools/ (the exporters; put on sys.path here, so `import export_mamba`)
    SSMKIT_SOURCE_DIR, SSMKIT_BUILD_DIR, SSMKIT_CASES_DIR
Run by hand: `ctest -L python` in the build dir, or set those variables and call pytest.
"""
import os
import pathlib
import subprocess
import sys

import pytest

_TOOLS = os.environ.get("SSMKIT_TOOLS_DIR") or str(pathlib.Path(__file__).resolve().parents[2] / "tools")
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)


def _program(var):
    path = os.environ.get(var)
    if not path:
        pytest.fail(f"{var} is not set: run the Python tests through ctest (label python)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"{var}={path} is not an executable: build it first (cmake --build build)")
    return path


@pytest.fixture(autouse=True)
def _torch_seed():
    """Every test starts from the same random state, whatever ran before it."""
    try:
        import torch
    except ImportError:
        return  # the test modules that need torch skip themselves (pytest.importorskip)
    torch.manual_seed(0)
    torch.set_num_threads(1)


@pytest.fixture
def ssmkit():
    """ssmkit(*args) runs the ssmkit program; returns the CompletedProcess (text)."""
    exe = _program("SSMKIT_CLI")

    def run(*args, check=True):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            pytest.fail(f"ssmkit {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    return run


@pytest.fixture
def check_export():
    """check_export(*check_files, rtol=None, block=None, expect=0) runs ssmkit_check_export and
    returns the lines of its report (one a run: 'ok  FILE [arch] forward scan: rel err ...')."""
    exe = _program("SSMKIT_CHECK_EXPORT")

    def run(*files, rtol=None, block=None, expect=0):
        args = [exe, *map(str, files)]
        if rtol is not None:
            args += ["--rtol", repr(float(rtol))]
        if block is not None:
            args += ["--block", str(int(block))]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300)
        print(r.stdout, r.stderr)
        assert r.returncode == expect, f"ssmkit_check_export exited {r.returncode}, expected {expect}:\n{r.stdout}\n{r.stderr}"
        return [line for line in r.stdout.splitlines() if line.startswith(("ok", "FAIL"))]

    return run
