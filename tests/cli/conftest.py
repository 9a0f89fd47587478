# SPDX-License-Identifier: MIT
"""Shared fixtures for the tests of the `denseam` command-line tool.

The binary is taken from $DENSEAM_BIN, else build/release/bin/denseam under the repository root.
A missing binary is a failure (with the command that builds it), never a silent skip.
"""
import os
import pathlib
import sys
import subprocess

import pytest

# tests/common/np_oracles.py: the NumPy oracles the test modules share.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "common"))

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "release" / "bin" / "denseam"


def _has_avx512f() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx512f" in line
    except OSError:
        pass
    return False


@pytest.fixture(scope="session")
def denseam_bin() -> pathlib.Path:
    """Path of the denseam executable under test."""
    path = pathlib.Path(os.environ.get("DENSEAM_BIN", str(DEFAULT_BIN)))
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"denseam binary not found at {path}: build it first "
            "(cmake --preset release && cmake --build build/release --target denseam_cli) "
            "or point DENSEAM_BIN at it",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def cli_env() -> dict:
    """Environment for the tool: the caller's, plus OPENBLAS_CORETYPE on AVX-512 machines."""
    env = dict(os.environ)
    if "OPENBLAS_CORETYPE" not in env and _has_avx512f():
        env["OPENBLAS_CORETYPE"] = "SKYLAKEX"
    return env


@pytest.fixture(scope="session")
def run_cli(denseam_bin, cli_env):
    """run_cli(args, **kwargs) -> subprocess.CompletedProcess (text stdout/stderr, no check).

    `args` is a list of arguments after the program name (str or os.PathLike); keyword
    arguments go to subprocess.run (e.g. cwd=, input=, timeout=, env= to override).
    """

    def run(args, **kwargs):
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("env", cli_env)
        kwargs.setdefault("timeout", 600)
        kwargs.setdefault("check", False)
        return subprocess.run([str(denseam_bin), *map(str, args)], **kwargs)

    return run
