# SPDX-License-Identifier: MIT
"""Shared fixtures of the Python tests of `denseam`.

The module under test is found through PYTHONPATH, e.g.
    PYTHONPATH=build/release/python /usr/bin/python3 -m pytest tests/python
A missing or broken module fails the whole run with that hint (never a silent skip).
"""
import os
import pathlib
import sys

import numpy as np
import pytest

# tests/common/np_oracles.py: the NumPy oracles the test modules share.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "common"))

try:
    import denseam
except ImportError as exc:  # pragma: no cover - the message is the point
    raise pytest.UsageError(
        f"cannot import the denseam Python module ({exc}). Build it and put the build tree's "
        "python/ folder on PYTHONPATH, e.g.\n"
        "  cmake --preset release && cmake --build build/release --target _denseam\n"
        "  PYTHONPATH=build/release/python /usr/bin/python3 -m pytest tests/python"
    ) from exc

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def pytest_report_header(config):
    return f"denseam {denseam.__version__} from {pathlib.Path(denseam.__file__).parent}"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def cli_binary():
    """The denseam CLI built next to the module under test ($DENSEAM_BIN overrides it).

    Skips only when no binary exists there."""
    env = os.environ.get("DENSEAM_BIN")
    if env:
        path = pathlib.Path(env)
        if not path.is_absolute():
            path = (REPO_ROOT / path).resolve()
    else:
        # <build>/python/denseam/__init__.py -> <build>/bin/denseam
        path = pathlib.Path(denseam.__file__).resolve().parents[2] / "bin" / "denseam"
    if not path.is_file():
        pytest.skip(f"denseam CLI not found at {path} (build target denseam_cli or set DENSEAM_BIN)")
    return path
