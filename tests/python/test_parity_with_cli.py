# SPDX-License-Identifier: MIT
"""denseam.retrieve gives bit-for-bit the results of `denseam retrieve` on the same .npy files.

The CLI is the one built next to the module (<build>/bin/denseam) or $DENSEAM_BIN; the test is
skipped only when no such binary exists."""
import json
import os
import subprocess

import numpy as np
import pytest

import denseam

CASES = [
    # (name, dtype, python keywords)
    ("lsr-fixed-point", np.float64, dict(kernel="lsr", beta=20.0, method="fixed-point")),
    ("lsr-fixed-point-eps", np.float64, dict(kernel="lsr", beta=12.0, eps=0.5, steps=50)),
    ("lse-mean-shift", np.float64, dict(kernel="lse", beta=30.0, method="fixed-point", tol=1e-9)),
    ("cosine-mean-shift-f32", np.float32, dict(kernel="cosine", beta=15.0, tol=1e-5)),
    ("lsr-gradient-cosine-lr", np.float64,
     dict(kernel="lsr", beta=20.0, eps=0.1, method="gradient", steps=40, lr=0.02, lr_end=0.001)),
    ("lse-gradient-noise-clamp-f32", np.float32,
     dict(kernel="lse", beta=8.0, method="gradient", steps=25, lr=0.05, tol=0.0, noise=0.2,
          seed=11, clamp=[0, 2])),
    ("poly-gradient", np.float64,
     dict(kernel="poly", beta=0.5, degree=2, q="log", method="gradient", steps=10, lr=0.01)),
]


def cli_args(kw):
    args = []
    for key, value in kw.items():
        flag = "--" + key.replace("_", "-")
        if key == "clamp":
            value = ",".join(str(v) for v in value)
        args += [flag, str(value)]
    return args


@pytest.mark.parametrize("name,dtype,kw", CASES, ids=[c[0] for c in CASES])
def test_retrieve_matches_the_cli(name, dtype, kw, cli_binary, tmp_path, rng):
    memories = rng.uniform(0.0, 1.0, size=(60, 4)).astype(dtype)
    queries = np.concatenate([rng.uniform(0.0, 1.0, size=(30, 4)), [[9.0, 9.0, 9.0, 9.0]]])
    queries = queries.astype(dtype)
    np.save(tmp_path / "m.npy", memories)
    np.save(tmp_path / "q.npy", queries)
    paths = {k: tmp_path / f"{k}.npy" for k in ["out", "energy", "status"]}
    supports = tmp_path / "supports.json"
    # Support sets exist for the LSR fixed point only (elsewhere --supports is refused).
    lsr_fixed = kw.get("kernel", "lsr") == "lsr" and kw.get("method", "fixed-point") == "fixed-point"
    cmd = [str(cli_binary), "retrieve", "--memories", str(tmp_path / "m.npy"),
           "--queries", str(tmp_path / "q.npy"), "--out", str(paths["out"]),
           "--energy", str(paths["energy"]), "--status", str(paths["status"])]
    cmd += (["--supports", str(supports)] if lsr_fixed else []) + cli_args(kw)
    env = dict(os.environ)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stderr}"
    summary = json.loads(proc.stdout)

    res = denseam.retrieve(np.load(tmp_path / "m.npy"), np.load(tmp_path / "q.npy"), **kw)
    states = np.load(paths["out"])
    assert states.dtype == res.states.dtype == dtype
    np.testing.assert_array_equal(res.states, states)
    np.testing.assert_array_equal(res.energy, np.load(paths["energy"]))
    np.testing.assert_array_equal(res.status, np.load(paths["status"]))
    assert summary["status_counts"] == res.status_counts()
    assert summary["mean_steps"] == pytest.approx(res.steps.mean(), rel=1e-15)
    assert summary["method"] == res.method and summary["kernel"] == res.kernel
    assert summary["dtype"] == np.dtype(dtype).name
    if not lsr_fixed:
        assert res.support is None and not supports.exists()
        return
    with open(supports, encoding="utf-8") as f:
        csr = json.load(f)
    assert csr["offsets"] == res.support_offsets.tolist()
    assert csr["indices"] == res.support_indices.tolist()
