# SPDX-License-Identifier: MIT
"""`denseam dataset`, `denseam bstor` and `denseam pxle` against independent NumPy/SciPy oracles.

- IDX files (raw and gzip) crafted here and parsed by NumPy from the same bytes; the real
  Fashion-MNIST files when installed; every malformed file is refused in one line naming it,
  with nothing written.
- BSTOR: the preserved count, nearest-distinct distances, duplicates, the preserved-vs-beta
  curve and beta_for_share against a brute-force all-pairs oracle (with exact duplicates and a
  pair at exactly distance R); the seed, the sub-memory minima (a 2^16 brute force) and the
  full-memory minima checked by their strict supports over all N images.
- PXLE: the minima of 8 images against a brute force over all 255 subsets, at several betas,
  along the count-vs-beta curve and inside/outside the global-emergence intervals.
"""
import gzip
import json
import math
import pathlib
import struct
from fractions import Fraction

import numpy as np
import pytest
from scipy.spatial.distance import cdist

FASHION_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
REL = 1e-9  # decisions closer than this (relative) to a boundary are resolved exactly


# ---- helpers ---------------------------------------------------------------------------------

def one_line_error(p, code=2, *fragments):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("denseam: error: "), p.stderr
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def ok(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(arr, code):
    a = np.asarray(arr)
    head = bytes([0, 0, code, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape)
    return head + a.astype(IDX_DTYPES[code]).tobytes()


def numpy_parse_idx(raw):
    """The oracle's IDX parse: gunzip when the bytes say gzip, then header + np.frombuffer."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    assert raw[0] == 0 and raw[1] == 0
    dt = np.dtype(IDX_DTYPES[raw[2]])
    nd = raw[3]
    shape = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    data = np.frombuffer(raw, dtype=dt, offset=4 + 4 * nd)
    assert data.size == math.prod(shape)
    return data.reshape(shape).astype(np.float64)


def env_with(cli_env, **kv):
    env = dict(cli_env)
    for k, v in kv.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def load_json(path):
    return json.loads(pathlib.Path(path).read_text())


def exact_sq(a, b):
    """||a - b||^2 of two float64 vectors in exact rational arithmetic."""
    return sum((Fraction(float(x)) - Fraction(float(y))) ** 2 for x, y in zip(a, b))


def exact_mean(P):
    n = len(P)
    return [sum(Fraction(float(v)) for v in col) / n for col in np.asarray(P).T]


def exact_sq_frac(c, b):
    return sum((x - Fraction(float(y))) ** 2 for x, y in zip(c, b))


def finite(v):
    return float("inf") if v == "inf" else float(v)


# ---- the oracles -----------------------------------------------------------------------------

class NearestOracle:
    """All-pairs squared distances, nearest DISTINCT neighbour (exact duplicates skipped)."""

    def __init__(self, X):
        self.X = X
        self.n = len(X)
        self.D2 = cdist(X, X, "sqeuclidean")
        eq = self.D2 == 0.0
        self.dups = eq.sum(axis=1) - 1
        for i, j in zip(*np.nonzero(eq)):
            if i < j:
                assert np.array_equal(X[i], X[j])
        masked = np.where(eq, np.inf, self.D2)
        self.nn_j = masked.argmin(axis=1)
        self.nn_d2 = masked.min(axis=1)
        # Near-ties with exactly representable data are made exact.
        self.exact = {}

    def count(self, beta):
        """Preserved count at beta: nn_d2 >= 2/beta, with decisions near R^2 made exactly."""
        r2 = 2.0 / beta
        near = np.isfinite(self.nn_d2) & (np.abs(self.nn_d2 - r2) <= REL * r2)
        c = int(np.sum(self.nn_d2 >= r2) - np.sum(near & (self.nn_d2 >= r2)))
        for i in np.nonzero(near)[0]:
            e = self.exact_nn(i)
            c += e >= Fraction(r2)
        return c

    def exact_nn(self, i):
        """The exact squared distance to the nearest distinct image, when it can be decided.

        Only dyadic data (all terms and partial sums exact in double) can be decided: then the
        double value every implementation computes is the exact value."""
        if i not in self.exact:
            others = np.nonzero((self.D2[i] > 0) & (self.D2[i] <= self.nn_d2[i] * (1 + 1e-6)))[0]
            vals = [exact_sq(self.X[i], self.X[j]) for j in others]
            for v in vals:
                assert v.denominator & (v.denominator - 1) == 0 and v.denominator <= 2 ** 40 \
                    and v < 2 ** 12, "near-tie with non-dyadic data: pick other betas"
            self.exact[i] = min(vals)
        return self.exact[i]

    def thresholds(self):
        t = 2.0 / self.nn_d2[np.isfinite(self.nn_d2)]
        return np.sort(t)


def step(curve, beta):
    """preserved(beta) from the json curve: preserved[k] for beta[k] <= beta < beta[k+1]."""
    k = np.searchsorted(np.asarray(curve["beta"], dtype=float), beta, side="right")
    return curve["floor"] if k == 0 else curve["preserved"][k - 1]


def strict_support(pos, X, r2):
    """{j : ||pos - X_j||^2 < r2} over all rows, and whether some X_j is exactly on the boundary.

    Decisions within a relative 1e-9 of the boundary are made in exact rational arithmetic."""
    d2 = cdist(pos[None, :], X, "sqeuclidean")[0]
    inside = d2 < r2
    on = False
    rr = Fraction(r2)
    for j in np.nonzero(np.abs(d2 - r2) <= REL * r2)[0]:
        e = exact_sq(pos, X[j])
        inside[j] = e < rr
        on = on or e == rr
    return set(np.nonzero(inside)[0].tolist()), on, d2


def assert_lsr_energy(energy, pos, P, beta):
    """E = -(1/beta) log Z, Z = sum_mu max(1 - (beta/2) ||pos - P_mu||^2, 0), compared through Z:
    at a support on the edge of degeneracy Z is a difference of nearly equal terms, and E is then
    only defined up to the rounding of Z."""
    d2 = cdist(pos[None, :], P, "sqeuclidean")[0]
    z = np.maximum(1.0 - beta / 2.0 * d2, 0.0).sum()
    assert math.exp(-beta * energy) == pytest.approx(z, rel=1e-9, abs=1e-12), (energy, z)


def subset_minima(P, beta):
    """Every LSR minimum of the patterns P (all distinct) by brute force over all subsets:
    c_S = mean(P[S]) is a minimum iff max_{i in S} ||c-P_i||^2 < R^2 < min_{i not in S}.
    Returns {support tuple: centre}. Near-boundary decisions are made in exact arithmetic."""
    m = len(P)
    masks = ((np.arange(1, 2 ** m)[:, None] >> np.arange(m)[None, :]) & 1).astype(bool)
    C = (masks.astype(np.float64) @ P) / masks.sum(axis=1, keepdims=True)
    D2 = cdist(C, P, "sqeuclidean")
    r2 = 2.0 / beta
    max_in = np.where(masks, D2, -np.inf).max(axis=1)
    min_out = np.where(~masks, D2, np.inf).min(axis=1)
    accept = (max_in < r2) & (min_out > r2)
    near = np.any(np.abs(D2 - r2) <= REL * r2, axis=1) & (max_in < r2 * (1 + REL)) \
        & (min_out > r2 * (1 - REL))
    rr = Fraction(r2)
    for s in np.nonzero(near)[0]:
        members = np.nonzero(masks[s])[0]
        c = exact_mean(P[members])
        d = [exact_sq_frac(c, P[i]) for i in range(m)]
        accept[s] = all(d[i] < rr for i in members) and all(
            d[i] > rr for i in range(m) if not masks[s, i])
    return {tuple(np.nonzero(masks[s])[0].tolist()): C[s] for s in np.nonzero(accept)[0]}


# ---- data ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits(run_cli, tmp_path_factory, cli_env):
    d = tmp_path_factory.mktemp("digits")
    env = env_with(cli_env, DENSEAM_SKLEARN_DIGITS=None)
    ok(run_cli(["dataset", "sklearn-digits", "--out", d / "X.npy", "--labels", d / "y.npy"],
               env=env))
    return d / "X.npy", d / "y.npy"


@pytest.fixture(scope="module")
def fashion_test(run_cli, tmp_path_factory, cli_env):
    """The Debian Fashion-MNIST test split through the CLI (None when not installed)."""
    if not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        return None
    d = tmp_path_factory.mktemp("fashion")
    env = env_with(cli_env, DENSEAM_FASHION_MNIST=None)
    ok(run_cli(["dataset", "fashion-mnist", "--split", "test", "--out", d / "X.npy",
                "--labels", d / "y.npy"], env=env))
    return d / "X.npy", d / "y.npy"


# ---- 1. the IDX reader against a NumPy parse --------------------------------------------------

def write_fashion(folder, images, labels, split="train", gz=True):
    stem = "train" if split == "train" else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    img = folder / f"{stem}-images-idx3-ubyte.gz"
    lab = folder / f"{stem}-labels-idx1-ubyte.gz"
    img.write_bytes(gzip.compress(images) if gz else images)
    if labels is not None:
        lab.write_bytes(gzip.compress(labels) if gz else labels)
    return img, lab


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("shape", [(5, 28, 28), (3, 4, 6), (1, 1, 1)])
@pytest.mark.parametrize("label_code", [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E])
@pytest.mark.parametrize("split", ["train", "test"])
def test_idx_files_match_a_numpy_parse(run_cli, cli_env, tmp_path, gz, shape, label_code, split):
    rng = np.random.default_rng(sum(shape) + label_code)
    pix = rng.integers(0, 256, size=shape, dtype=np.uint8)
    pix.flat[0], pix.flat[-1] = 255, 0
    lab_values = rng.integers(-100 if label_code != 0x08 else 0, 120, size=shape[0])
    img, lab = write_fashion(tmp_path / "fm", idx_bytes(pix, 0x08),
                             idx_bytes(lab_values, label_code), split, gz)
    out, lout = tmp_path / "X.npy", tmp_path / "y.npy"
    p = run_cli(["dataset", "fashion-mnist", "--split", split, "--out", out, "--labels", lout],
                env=env_with(cli_env, DENSEAM_FASHION_MNIST=tmp_path / "fm"))
    ok(p)
    X, y = np.load(out), np.load(lout)
    ref = numpy_parse_idx(img.read_bytes())
    assert X.dtype == np.float64 and X.shape == (shape[0], shape[1] * shape[2])
    np.testing.assert_array_equal(X, ref.reshape(shape[0], -1) / 255.0)
    assert y.dtype == np.int64 and y.shape == (shape[0],)
    np.testing.assert_array_equal(y, numpy_parse_idx(lab.read_bytes()).astype(np.int64))
    np.testing.assert_array_equal(y, lab_values)


def test_idx_without_labels_file_writes_images(run_cli, cli_env, tmp_path):
    pix = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    write_fashion(tmp_path / "fm", idx_bytes(pix, 0x08), None)
    ok(run_cli(["dataset", "fashion-mnist", "--out", tmp_path / "X.npy"],
               env=env_with(cli_env, DENSEAM_FASHION_MNIST=tmp_path / "fm")))
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), pix.reshape(2, 9) / 255.0)


def test_labels_asked_for_but_missing_is_a_one_line_error(run_cli, cli_env, tmp_path):
    pix = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    write_fashion(tmp_path / "fm", idx_bytes(pix, 0x08), None)
    p = run_cli(["dataset", "fashion-mnist", "--out", tmp_path / "X.npy",
                 "--labels", tmp_path / "y.npy"],
                env=env_with(cli_env, DENSEAM_FASHION_MNIST=tmp_path / "fm"))
    one_line_error(p, 2, "train-labels-idx1-ubyte.gz")
    assert not (tmp_path / "X.npy").exists() and not (tmp_path / "y.npy").exists()


def test_real_fashion_mnist_test_split_matches_numpy(fashion_test):
    if fashion_test is None:
        pytest.skip(f"{FASHION_DIR} not installed")
    X, y = np.load(fashion_test[0]), np.load(fashion_test[1])
    raw = gzip.decompress((FASHION_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert struct.unpack(">IIII", raw[:16]) == (0x803, 10000, 28, 28)
    ref = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(10000, 784) / 255.0
    assert X.dtype == np.float64 and X.shape == (10000, 784)
    np.testing.assert_array_equal(X, ref)
    rawl = gzip.decompress((FASHION_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert struct.unpack(">II", rawl[:8]) == (0x801, 10000)
    np.testing.assert_array_equal(y, np.frombuffer(rawl, dtype=np.uint8, offset=8))
    assert y.dtype == np.int64


def test_sklearn_digits_match_sklearn(digits):
    from sklearn.datasets import load_digits
    d = load_digits()
    X, y = np.load(digits[0]), np.load(digits[1])
    assert X.shape == (1797, 64) and X.dtype == np.float64
    np.testing.assert_array_equal(X, d.data / 16.0)
    np.testing.assert_array_equal(y, d.target)
    assert y.dtype == np.int64


def test_mnist_digits_when_available(run_cli, tmp_path):
    p = run_cli(["dataset", "mnist-digits", "--out", tmp_path / "X.npy",
                 "--labels", tmp_path / "y.npy"])
    if p.returncode == 2 and "not found" in p.stderr:
        pytest.skip("the MNIST digits package is not in the data cache")
    ok(p)
    X, y = np.load(tmp_path / "X.npy"), np.load(tmp_path / "y.npy")
    assert X.shape == (10000, 784) and X.dtype == np.float64
    assert X.min() >= 0.0 and X.max() <= 1.0 and X.max() > 0.9
    np.testing.assert_allclose(X * 1000, np.round(X * 1000), atol=1e-6)  # 3 decimals
    assert y.dtype == np.int64 and y.shape == (10000,)
    assert np.all(np.diff(y) >= 0) and set(y.tolist()) == set(range(10))


# ---- 2. malformed IDX files ------------------------------------------------------------------

GOOD_PIX = np.random.default_rng(2).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
GOOD = idx_bytes(GOOD_PIX, 0x08)
GOOD_LAB = idx_bytes(np.arange(5), 0x08)


def _gz_garbage():
    z = gzip.compress(GOOD)
    return z[:10] + bytes(np.random.default_rng(3).integers(0, 256, 400, dtype=np.uint8))


def _gz_flip(pos):
    z = bytearray(gzip.compress(GOOD))
    z[pos] ^= 0x01
    return bytes(z)


# name -> (images bytes as written (None: gzip of GOOD), labels bytes, gzip?, fragments)
BAD_IDX = {
    "truncated": (GOOD[:-1], GOOD_LAB, True, ["truncated"]),
    "truncated-raw": (GOOD[:-1], GOOD_LAB, False, ["truncated"]),
    "truncated-header": (GOOD[:10], GOOD_LAB, True, ["header"]),
    "trailing": (GOOD + b"\x00", GOOD_LAB, True, ["trailing data"]),
    "trailing-raw": (GOOD + b"\x07\x07", GOOD_LAB, False, ["trailing data"]),
    "wrong-magic": (b"\x01" + GOOD[1:], GOOD_LAB, True, ["magic"]),
    "wrong-magic-2nd-byte": (b"\x00\x08" + GOOD[2:], GOOD_LAB, False, ["magic"]),
    "dtype-0x07": (GOOD[:2] + b"\x07" + GOOD[3:], GOOD_LAB, True, ["0x07"]),
    "dtype-0x0A": (GOOD[:2] + b"\x0a" + GOOD[3:], GOOD_LAB, False, ["0x0A"]),
    "shape-says-more": (idx_bytes(GOOD_PIX, 0x08)[:4] + struct.pack(">III", 6, 28, 28)
                        + GOOD[16:], GOOD_LAB, True, ["6 x 28 x 28", "truncated"]),
    "shape-says-less": (GOOD[:4] + struct.pack(">III", 4, 28, 28) + GOOD[16:], GOOD_LAB, True,
                        ["4 x 28 x 28", "trailing"]),
    "gzip-header-then-garbage": (_gz_garbage(), GOOD_LAB, False, ["gzip"]),
    "gzip-truncated": (gzip.compress(GOOD)[:-200], GOOD_LAB, False, ["gzip"]),
    "gzip-missing-trailer": (gzip.compress(GOOD)[:-8], GOOD_LAB, False, ["gzip"]),
    "gzip-bad-crc": (_gz_flip(-8), GOOD_LAB, False, ["gzip"]),
    "gzip-bad-length": (_gz_flip(-4), GOOD_LAB, False, ["gzip"]),
    "labels-truncated": (GOOD, GOOD_LAB[:-1], True, ["labels-idx1", "truncated"]),
    "labels-bad-magic": (GOOD, b"\x02" + GOOD_LAB[1:], True, ["labels-idx1", "magic"]),
    "labels-count": (GOOD, idx_bytes(np.arange(4), 0x08), True, ["labels-idx1"]),
    "images-not-uint8": (idx_bytes(GOOD_PIX, 0x0B), GOOD_LAB, True, ["uint8"]),
}


@pytest.mark.parametrize("preexisting", [False, True], ids=["absent", "kept"])
@pytest.mark.parametrize("case", sorted(BAD_IDX))
def test_malformed_idx_is_refused_in_one_line(run_cli, cli_env, tmp_path, case, preexisting):
    images, labels, gz, fragments = BAD_IDX[case]
    img, lab = write_fashion(tmp_path / "fm", images, labels, "train", gz)
    named = lab if case.startswith("labels") else img
    out, lout = tmp_path / "X.npy", tmp_path / "y.npy"
    if preexisting:
        out.write_bytes(b"the user's images")
        lout.write_bytes(b"the user's labels")
    p = run_cli(["dataset", "fashion-mnist", "--out", out, "--labels", lout],
                env=env_with(cli_env, DENSEAM_FASHION_MNIST=tmp_path / "fm"))
    one_line_error(p, 2, str(named), *fragments)
    assert p.stdout == ""
    if preexisting:
        assert out.read_bytes() == b"the user's images"
        assert lout.read_bytes() == b"the user's labels"
    else:
        assert not out.exists() and not lout.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == (
        ["X.npy", "fm", "y.npy"] if preexisting else ["fm"])


def test_missing_fashion_folder_says_how_to_get_it(run_cli, cli_env, tmp_path):
    p = run_cli(["dataset", "fashion-mnist", "--out", tmp_path / "X.npy"],
                env=env_with(cli_env, DENSEAM_FASHION_MNIST=tmp_path / "nowhere"))
    one_line_error(p, 2, "not found", str(tmp_path / "nowhere"), "DENSEAM_FASHION_MNIST")
    assert not (tmp_path / "X.npy").exists()


# ---- 3. BSTOR's preserved count, curve and beta_for_share -----------------------------------

@pytest.fixture(scope="module")
def bstor_set(fashion_test, digits, tmp_path_factory):
    """2,000 real images (Fashion-MNIST test, else sklearn digits) + exact duplicates + a pair
    (a, b) at squared distance exactly 4 (R^2 at beta = 0.5)."""
    if fashion_test is not None:
        X = np.load(fashion_test[0])[:2000]
    else:
        X = np.load(digits[0])
    base = NearestOracle(X)
    a_i = int(np.argmax(np.where(np.isfinite(base.nn_d2), base.nn_d2, -1)))
    a = X[a_i].copy()
    zeros = np.nonzero(a == 0.0)[0]
    assert len(zeros) >= 4
    b = a.copy()
    b[zeros[[0, len(zeros) // 3, 2 * len(zeros) // 3, -1]]] += 1.0
    assert float(np.sum((a - b) ** 2)) == 4.0
    rows = [X, X[[3, 10, 10, 17]], b[None, :], a[None, :]]
    Y = np.ascontiguousarray(np.concatenate(rows))
    d = tmp_path_factory.mktemp("bstor_set")
    np.save(d / "sub.npy", Y)
    o = NearestOracle(Y)
    ib, ia2 = len(Y) - 2, len(Y) - 1
    for i in (a_i, ib, ia2):  # the pair is each other's nearest distinct image, exactly
        assert o.nn_d2[i] == 4.0, (i, o.nn_d2[i])
    return d / "sub.npy", Y, o, (a_i, ib, ia2)


BSTOR_RUNS = [(0.05, 0.5), (0.11, 0.5), (0.2, 0.9), (0.5, 0.5),
              (float(np.nextafter(0.5, 0.0)), 1.0), (2.0, 0.0001)]


@pytest.fixture(scope="module")
def bstor_runs(run_cli, bstor_set, tmp_path_factory):
    path, Y, o, pair = bstor_set
    out = {}
    for beta, preserve in BSTOR_RUNS:
        d = tmp_path_factory.mktemp("bstor_run")
        ok(run_cli(["bstor", "--images", path, "--beta", repr(beta), "--preserve", repr(preserve),
                    "--no-plot", "--starts", "0", "--sub-size", "2", "--out", d]))
        out[beta] = load_json(d / "bstor.json")
    return out


@pytest.mark.parametrize("beta,preserve", BSTOR_RUNS)
def test_bstor_preserved_matches_brute_force(bstor_set, bstor_runs, beta, preserve):
    _, Y, o, pair = bstor_set
    j = bstor_runs[beta]
    n = len(Y)
    assert j["n"] == n and j["beta"] == beta and j["preserve"] == preserve
    assert j["radius"] == pytest.approx(math.sqrt(2.0 / beta), rel=1e-15)
    assert j["preserved"] == o.count(beta)
    assert j["preserved_fraction"] == pytest.approx(o.count(beta) / n, rel=1e-15)
    assert j["with_duplicates"] == int(np.sum(o.dups > 0))
    assert j["with_duplicates"] >= 9  # rows 3, 10 (twice), 17 and a were copied
    nn = np.array([finite(v) for v in j["nn_distance"]])
    assert nn.shape == (n,)
    np.testing.assert_allclose(nn ** 2, o.nn_d2, rtol=1e-12)
    for i in pair:
        assert nn[i] == 2.0
    # seed 38
    assert j["seed_index"] == 38
    assert j["seed_preserved"] == bool(o.nn_d2[38] >= 2.0 / beta)
    d2s = np.delete(o.D2[38], 38)
    assert not np.any(np.abs(d2s - 8.0 / beta) <= REL * 8.0 / beta)
    assert j["seed_interacting"] == int(np.sum(d2s < 8.0 / beta))


def test_bstor_pair_at_exactly_r_is_preserved(bstor_set, bstor_runs):
    _, Y, o, pair = bstor_set
    at, below = bstor_runs[0.5], bstor_runs[float(np.nextafter(0.5, 0.0))]
    # At beta = 0.5, R^2 = 4 = ||a - b||^2: neither is strictly inside the other's R.
    assert at["preserved"] - below["preserved"] == 3, (at["preserved"], below["preserved"])
    assert at["preserved"] == o.count(0.5) and below["preserved"] == o.count(below["beta"])


def test_bstor_curve_matches_brute_force(bstor_set, bstor_runs):
    _, Y, o, pair = bstor_set
    n = len(Y)
    thr = o.thresholds()
    c = bstor_runs[0.11]["curve"]
    for j in bstor_runs.values():  # the curve does not depend on beta
        assert j["curve"] == c
        assert step(c, j["beta"]) == j["preserved"] == o.count(j["beta"])
    cb = np.asarray(c["beta"], dtype=float)
    cp = np.asarray(c["preserved"])
    assert c["floor"] == int(np.sum(~np.isfinite(o.nn_d2)))
    assert np.all(np.diff(cb) > 0) and np.all(np.diff(cp) > 0) and cp[-1] == n
    # breakpoints = the distinct thresholds 2 / nn_d2, counts = how many are <= each
    uniq, counts = np.unique(thr, return_counts=True)
    assert len(cb) == len(uniq)
    np.testing.assert_allclose(cb, uniq, rtol=1e-12)
    np.testing.assert_array_equal(cp, c["floor"] + np.cumsum(counts))
    # the step function between all breakpoints
    mids = np.concatenate([[cb[0] / 2], (cb[1:] + cb[:-1]) / 2, [cb[-1] * 2]])
    checked = 0
    for m in mids:
        if np.all(np.abs(thr - m) > REL * m):
            assert step(c, m) == o.count(m), m
            checked += 1
    assert checked >= len(mids) - 5


@pytest.mark.parametrize("beta,preserve", BSTOR_RUNS)
def test_bstor_beta_for_share(bstor_set, bstor_runs, beta, preserve):
    _, Y, o, pair = bstor_set
    j = bstor_runs[beta]
    n = len(Y)
    need = math.ceil(preserve * n)
    b = j["beta_for_share"]
    thr = o.thresholds()
    assert b == pytest.approx(thr[need - 1], rel=1e-12)
    assert step(j["curve"], b) >= need
    assert step(j["curve"], float(np.nextafter(b, 0.0))) < need
    assert o.count(b * (1 + 1e-7)) >= need and o.count(b * (1 - 1e-7)) < need
    assert j["radius_for_share"] == pytest.approx(math.sqrt(2.0 / b), rel=1e-15)


def test_bstor_all_duplicates_have_no_nearest_neighbour(run_cli, digits, tmp_path):
    X = np.load(digits[0])
    np.save(tmp_path / "same.npy", np.stack([X[5]] * 3))
    ok(run_cli(["bstor", "--images", tmp_path / "same.npy", "--seed-index", "1", "--no-plot",
                "--starts", "0", "--out", tmp_path / "o"]))
    j = load_json(tmp_path / "o" / "bstor.json")
    assert j["nn_distance"] == ["inf"] * 3
    assert j["preserved"] == 3 and j["with_duplicates"] == 3
    assert j["curve"]["floor"] == 3 and j["curve"]["beta"] == []
    assert j["seed_interacting"] == 2


# ---- 4. seed, sub-memory and full memory ------------------------------------------------------

@pytest.fixture(scope="module")
def bstor_digits(run_cli, digits, tmp_path_factory):
    d = tmp_path_factory.mktemp("bstor_digits")
    beta = 1.0
    ok(run_cli(["bstor", "--images", digits[0], "--beta", repr(beta), "--no-plot",
                "--starts", "16", "--out", d]))
    X = np.load(digits[0])
    return X, beta, d, load_json(d / "bstor.json")


def test_bstor_seed_and_sub_memory(bstor_digits):
    X, beta, d, j = bstor_digits
    r2 = 2.0 / beta
    assert j["with_duplicates"] == 0
    seed = j["seed_index"]
    d2 = cdist(X[seed][None, :], X, "sqeuclidean")[0]
    others = np.delete(np.arange(len(X)), seed)
    interacting = set(others[d2[others] < 4 * r2].tolist())
    assert j["seed_interacting"] == len(interacting) > 15
    sub = j["sub_indices"]
    assert sub[0] == seed and len(sub) == 16 and len(set(sub)) == 16
    assert set(sub[1:]) <= interacting
    np.testing.assert_array_equal(np.load(d / "bstor_sub_memory.npy"), X[sub])
    assert j["sub_minima"]["status"] == "complete"

    # the sub-memory's minima against a brute force over its 2^16 - 1 subsets
    P = X[sub]
    oracle = subset_minima(P, beta)
    got = {tuple(sorted(sub.index(i) for i in e["support"])): k for k, e in enumerate(j["sub"])}
    assert set(got) == set(oracle)
    pos = np.load(d / "bstor_sub_minima.npy")
    assert pos.shape == (len(j["sub"]), X.shape[1])
    assert j["sub_minima"]["total"] == len(j["sub"])
    assert j["sub_minima"]["stored"] == sum(len(s) == 1 for s in oracle)
    assert j["sub_minima"]["emergent"] == sum(len(s) > 1 for s in oracle)
    for s, k in got.items():
        e = j["sub"][k]
        np.testing.assert_allclose(pos[k], oracle[s], rtol=0, atol=1e-12)
        np.testing.assert_allclose(pos[k], X[e["support"]].mean(axis=0), rtol=0, atol=1e-12)
        assert e["stored"] == (len(s) == 1)
        assert_lsr_energy(e["energy"], pos[k], P, beta)


def test_bstor_sub_minima_against_the_full_memory(bstor_digits):
    X, beta, d, j = bstor_digits
    r2 = 2.0 / beta
    pos = np.load(d / "bstor_sub_minima.npy")
    full_minima = 0
    emergent_supports = {tuple(e["support"]) for e in j["full_emergent"]}
    for k, e in enumerate(j["sub"]):
        support, on, _ = strict_support(pos[k], X, r2)
        assert e["full_support"] == sorted(support), k
        assert e["full_support_size"] == len(support)
        assert e["on_boundary"] == on, k
        is_min = (not on) and support == set(e["support"]) and np.allclose(
            pos[k], X[sorted(support)].mean(axis=0), rtol=0, atol=1e-12)
        assert e["full_minimum"] == is_min, k
        full_minima += is_min
        if is_min and len(support) >= 2:  # its own start converges to it at once
            assert tuple(sorted(support)) in emergent_supports, k
    assert j["sub_minima"]["full_minima"] == full_minima
    assert full_minima >= 1 and full_minima < len(j["sub"])


def test_bstor_full_memory_emergent_minima(bstor_digits):
    X, beta, d, j = bstor_digits
    r2 = 2.0 / beta
    pos = np.load(d / "bstor_full_emergent.npy")
    assert pos.shape == (len(j["full_emergent"]), X.shape[1]) and len(pos) >= 5
    keys = []
    for k, e in enumerate(j["full_emergent"]):
        support, on, d2 = strict_support(pos[k], X, r2)
        assert e["support"] == sorted(support), k
        assert len(support) >= 2 and not on
        assert not np.any(np.abs(d2 - r2) <= REL * r2), k
        np.testing.assert_allclose(pos[k], X[e["support"]].mean(axis=0), rtol=0, atol=1e-12)
        # The nearest image of the support; a centroid is often equidistant from several
        # members, and the last bit of the distances (summation order) decides between them.
        near = min(e["support"], key=lambda i: (d2[i], i))
        assert e["nearest"] in e["support"]
        assert d2[e["nearest"]] <= d2[near] * (1 + 1e-12)
        assert e["nearest_distance"] == pytest.approx(math.sqrt(d2[near]), rel=1e-12)
        assert_lsr_energy(e["energy"], pos[k], X, beta)
        keys.append((len(e["support"]), e["support"]))
    assert keys == sorted(keys) and len(set(map(str, keys))) == len(keys)


# ---- 5. PXLE against a brute force over the 255 subsets --------------------------------------

def pxle_checks(P, j, mins, beta):
    oracle = subset_minima(P, beta)
    got = {tuple(e["support"]): k for k, e in enumerate(j["minima"])}
    assert len(got) == len(j["minima"]) == j["total"]
    assert set(got) == set(oracle), (beta, set(got) ^ set(oracle))
    assert mins.shape == (j["total"], P.shape[1])
    assert j["stored"] == sum(len(s) == 1 for s in oracle)
    assert j["emergent"] == j["total"] - j["stored"]
    for s, k in got.items():
        e = j["minima"][k]
        np.testing.assert_allclose(mins[k], oracle[s], rtol=0, atol=1e-12)
        assert e["letters"] == "".join(chr(ord("A") + i) for i in s)
        assert e["stored"] == (len(s) == 1)
        d2 = cdist(mins[k][None, :], P, "sqeuclidean")[0]
        near = min(s, key=lambda i: (d2[i], i))  # ties: see the BSTOR check above
        assert d2[e["nearest"]] <= d2[near] * (1 + 1e-12) + 1e-24
        assert e["nearest_distance"] == pytest.approx(math.sqrt(d2[near]), rel=1e-9, abs=1e-12)
        assert_lsr_energy(e["energy"], mins[k], P, beta)
    return oracle


def oracle_counts(P, beta):
    o = subset_minima(P, beta)
    stored = sum(len(s) == 1 for s in o)
    return stored, len(o) - stored


def global_emergence(P, beta):
    stored, emergent = oracle_counts(P, beta)
    return stored == len(P) and emergent >= 1


@pytest.fixture(scope="module", params=["digits", "fashion"])
def pxle_data(request, digits, fashion_test, tmp_path_factory):
    if request.param == "fashion":
        if fashion_test is None:
            pytest.skip(f"{FASHION_DIR} not installed")
        d = tmp_path_factory.mktemp("pxle_fm")
        np.save(d / "X.npy", np.load(fashion_test[0])[:2000])
        return d / "X.npy", ["--seed", "5"]
    return digits[0], []


# Not exactly 1.0: at beta_max the closest pair's midpoint is exactly on both boundaries, a
# tangency that double arithmetic decides by rounding (paper.md 7: implementation-defined).
@pytest.mark.parametrize("fraction", [None, 0.2, 0.6, 0.999])
def test_pxle_minima_match_brute_force(run_cli, pxle_data, tmp_path, fraction):
    path, extra = pxle_data
    X = np.load(path)
    args = ["pxle", "--images", path, "--no-plot", *extra]
    ok(run_cli(args + ["--out", tmp_path / "o"]))
    j0 = load_json(tmp_path / "o" / "pxle.json")
    P = np.load(tmp_path / "o" / "pxle_patterns.npy")
    idx = j0["indices"]
    assert len(idx) == 8 and len(set(idx)) == 8
    np.testing.assert_array_equal(P, X[idx])
    D2 = cdist(P, P, "sqeuclidean")
    r2min = D2[D2 > 0].min()
    assert len({tuple(p) for p in P}) == 8
    assert j0["beta_max"] == pytest.approx(8.0 / r2min, rel=1e-12)
    assert j0["r_min"] == pytest.approx(math.sqrt(r2min), rel=1e-12)
    if fraction is None:
        j, beta = j0, j0["beta"]
        assert beta == pytest.approx(0.4 * j0["beta_max"], rel=1e-15)
        mins = np.load(tmp_path / "o" / "pxle_minima.npy")
    else:
        beta = fraction * j0["beta_max"]
        ok(run_cli(args + ["--out", tmp_path / "b", "--beta", repr(beta)]))
        j = load_json(tmp_path / "b" / "pxle.json")
        assert j["beta"] == beta and j["indices"] == idx
        mins = np.load(tmp_path / "b" / "pxle_minima.npy")
    pxle_checks(P, j, mins, beta)
    assert j["global_emergence_at_beta"] == global_emergence(P, beta)


def test_pxle_curve_and_global_emergence(run_cli, pxle_data, tmp_path):
    path, extra = pxle_data
    ok(run_cli(["pxle", "--images", path, "--no-plot", "--out", tmp_path, *extra]))
    j = load_json(tmp_path / "pxle.json")
    P = np.load(tmp_path / "pxle_patterns.npy")
    bp = np.asarray(j["curve"]["breakpoints"], dtype=float)
    stored, emergent = j["curve"]["stored"], j["curve"]["emergent"]
    assert len(stored) == len(emergent) == len(bp) + 1 and np.all(np.diff(bp) > 0)
    # the count at one beta inside every interval of the curve
    edges = np.concatenate([[bp[0] / 2], bp, [bp[-1] * 2]])
    for i in range(len(bp) + 1):
        lo, hi = edges[i], edges[i + 1]
        if i > 0 and i < len(bp) and (hi - lo) <= 1e-8 * hi:
            continue
        assert oracle_counts(P, (lo + hi) / 2) == (stored[i], emergent[i]), (i, lo, hi)
    ge = [(float(lo), finite(hi)) for lo, hi in j["global_emergence"]]
    assert ge, "no global emergence found for these 8 images"
    for lo, hi in ge:
        mid = (lo + hi) / 2 if math.isfinite(hi) else 2 * lo
        assert global_emergence(P, mid), (lo, hi)
    lo, hi = ge[-1]
    if math.isfinite(hi):
        nxt = bp[bp > hi]
        above = (hi + nxt[0]) / 2 if len(nxt) else 2 * hi
        assert not global_emergence(P, above), above
    lo = ge[0][0]
    if lo > 0:
        prev = bp[bp < lo]
        below = (lo + prev[-1]) / 2 if len(prev) else lo / 2
        assert not global_emergence(P, below), below


# ---- 6. bad options ---------------------------------------------------------------------------

@pytest.fixture
def small(digits, tmp_path):
    X = np.load(digits[0])
    np.save(tmp_path / "X100.npy", X[:100])
    np.save(tmp_path / "row.npy", X[0])
    np.save(tmp_path / "rect.npy", np.zeros((10, 12)))
    return tmp_path


BAD_BSTOR = [
    (["--images", "X100.npy", "--seed-index", "100"], ["--seed-index", "100"]),
    (["--images", "X100.npy", "--seed-index", "-1"], ["--seed-index", "-1"]),
    (["--images", "X100.npy", "--beta", "0"], ["--beta"]),
    (["--images", "X100.npy", "--beta", "-1"], ["--beta", "-1"]),
    (["--images", "X100.npy", "--beta", "inf"], ["--beta"]),
    (["--images", "X100.npy", "--beta", "nan"], ["--beta"]),
    (["--images", "X100.npy", "--preserve", "1.5"], ["--preserve", "1.5"]),
    (["--images", "X100.npy", "--preserve", "0"], ["--preserve"]),
    (["--images", "row.npy"], ["--images", "row.npy", "2-D"]),
    (["--images", "rect.npy"], ["--images", "rect.npy", "--shape"]),
    (["--images", "X100.npy", "--shape", "4,4"], ["--images", "4,4", "64"]),
    (["--images", "X100.npy", "--shape", "8"], ["--shape"]),
    (["--images", "X100.npy", "--shape", "8,8,1"], ["--shape"]),
    (["--images", "missing.npy"], ["missing.npy"]),
    (["--dataset", "cifar"], ["cifar"]),
    (["--dataset", "mnist-digits", "--split", "test"], ["mnist-digits", "split"]),
    (["--dataset", "sklearn-digits", "--split", "valid"], ["valid"]),
    (["--dataset", "sklearn-digits", "--shape", "8,8"], ["--shape"]),
    (["--images", "X100.npy", "--sub-size", "0"], ["--sub-size"]),
    (["--images", "X100.npy", "--starts", "-1"], ["--starts"]),
]


@pytest.mark.parametrize("preexisting", [False, True], ids=["absent", "kept"])
@pytest.mark.parametrize("args,fragments", BAD_BSTOR, ids=[" ".join(a) for a, _ in BAD_BSTOR])
def test_bstor_bad_options(run_cli, small, args, fragments, preexisting):
    out = small / "out"
    if preexisting:
        out.mkdir()
        (out / "bstor.json").write_text("{\"mine\": 1}")
    p = run_cli(["bstor", *args, "--no-plot", "--out", out], cwd=small)
    one_line_error(p, 2, *fragments)
    if preexisting:
        assert sorted(x.name for x in out.iterdir()) == ["bstor.json"]
        assert (out / "bstor.json").read_text() == "{\"mine\": 1}"
    else:
        assert not out.exists()


BAD_PXLE = [
    (["--images", "X100.npy", "--n-images", "1"], ["--n-images", "1"]),
    (["--images", "X100.npy", "--n-images", "101"], ["--n-images", "101"]),
    (["--images", "X100.npy", "--beta", "-1"], ["--beta", "-1"]),
    (["--images", "X100.npy", "--beta-fraction", "0"], ["--beta-fraction"]),
    (["--images", "row.npy"], ["--images", "row.npy", "2-D"]),
    (["--images", "X100.npy", "--shape", "4,4"], ["--images", "4,4", "64"]),
    (["--dataset", "cifar"], ["cifar"]),
]


@pytest.mark.parametrize("args,fragments", BAD_PXLE)
def test_pxle_bad_options(run_cli, small, args, fragments):
    p = run_cli(["pxle", *args, "--no-plot", "--out", small / "out"], cwd=small)
    one_line_error(p, 2, *fragments)
    assert not (small / "out").exists()


@pytest.mark.parametrize("args,fragments", [
    (["mnist-digits", "--split", "test"], ["mnist-digits", "split"]),
    (["sklearn-digits", "--split", "test"], ["sklearn-digits", "split"]),
    (["fashion-mnist", "--split", "valid"], ["valid"]),
    (["cifar"], ["cifar"]),
])
def test_dataset_bad_names_and_splits(run_cli, tmp_path, args, fragments):
    (tmp_path / "kept.npy").write_bytes(b"mine")
    for out in ("X.npy", "kept.npy"):
        p = run_cli(["dataset", *args, "--out", tmp_path / out, "--labels", tmp_path / "y.npy"])
        one_line_error(p, 2, *fragments)
        assert not (tmp_path / "X.npy").exists() and not (tmp_path / "y.npy").exists()
        assert (tmp_path / "kept.npy").read_bytes() == b"mine"
