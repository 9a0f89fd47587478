# SPDX-License-Identifier: MIT
"""denseam.Memory as a live store: add/remove with stable ids, save/load, pickling, and the
`index` keyword of denseam.energy/retrieve.

Oracles: the LSR energy in NumPy, E = -(1/beta) log sum relu(1 - beta/2 |x - xi|^2), and its
support sets {mu : |x - xi_mu|^2 < 2/beta}; a Memory rebuilt from scratch from the live patterns
(NumPy concatenate/delete), which must give the same bits; the free functions on the same arrays.
"""
import copy
import json
import pickle
import subprocess
import threading

import numpy as np
import pytest

import denseam

from np_oracles import lsr_energy, lsr_supports

BETA = 20.0
KINDS = ("auto", "brute", "kdtree", "ball")


@pytest.fixture
def arrays(rng):
    x1 = rng.uniform(0.0, 1.0, size=(40, 3))
    x2 = rng.uniform(0.0, 1.0, size=(12, 3))
    q = np.concatenate([x1[:8], x2[:8]]) + rng.normal(scale=0.05, size=(16, 3))
    return x1, x2, q


def updated(x1, x2, **kw):
    """A Memory of x1, plus x2, minus ids 3, 5, 41; and its live ids and patterns."""
    mem = denseam.Memory(x1, kernel="lsr", beta=BETA, **kw)
    ids = mem.add(x2)
    assert ids.dtype == np.int64 and ids.tolist() == list(range(40, 52))
    mem.remove([41, 3])
    mem.remove(np.array([5], dtype=np.uint8))
    live_ids = np.array([i for i in range(52) if i not in (3, 5, 41)])
    return mem, live_ids, np.concatenate([x1, x2])[live_ids]


def test_add_remove_equals_a_memory_built_from_scratch(arrays):
    x1, x2, q = arrays
    mem, live_ids, live = updated(x1, x2)
    assert len(mem) == mem.n_memories == 49 and mem.ids.tolist() == live_ids.tolist()
    assert mem.patterns.tobytes() == live.tobytes() and not mem.patterns.flags.writeable
    fresh = denseam.Memory(live, kernel="lsr", beta=BETA)
    for name in ("energy", "grad"):
        assert getattr(mem, name)(q).tobytes() == getattr(fresh, name)(q).tobytes()
    np.testing.assert_allclose(mem.energy(q), lsr_energy(live, q, BETA), rtol=1e-12, atol=0)
    r, r2 = mem.retrieve(q), fresh.retrieve(q)
    assert r.states.tobytes() == r2.states.tobytes()
    assert r.energy.tobytes() == r2.energy.tobytes()
    assert r.status.tolist() == r2.status.tolist()
    # Support sets hold ids: the fresh memory's row indices mapped through the live ids.
    assert [s.tolist() for s in r.support_sets()] == \
        [live_ids[s].tolist() for s in r2.support_sets()] == \
        [live_ids[s].tolist() for s in lsr_supports(live, r.states, BETA)]
    g = mem.retrieve(q, method="gradient", steps=20, lr=0.001)
    g2 = fresh.retrieve(q, method="gradient", steps=20, lr=0.001)
    assert g.states.tobytes() == g2.states.tobytes()
    info = mem.info()
    assert (info["size"], info["dim"], info["next_id"], info["dtype"]) == (49, 3, 52, "float64")
    assert (info["kernel"], info["beta"], info["index"]) == ("lsr", BETA, "auto")
    assert info["index_used"] in KINDS[1:] and info["bytes"] >= 49 * 3 * 8


def test_empty_memory_grows(arrays):
    x1, x2, q = arrays
    mem = denseam.Memory.empty(3, kernel="lsr", beta=BETA)
    assert len(mem) == 0 and mem.patterns.shape == (0, 3) and mem.ids.tolist() == []
    with pytest.raises(ValueError, match="empty"):
        mem.energy(q)
    assert mem.add(x1[:5]).tolist() == [0, 1, 2, 3, 4]
    assert mem.patterns.shape == (5, 3)  # the cached array follows the update
    assert mem.add(x1[5:]).tolist() == list(range(5, 40))
    np.testing.assert_allclose(mem.energy(q), lsr_energy(x1, q, BETA), rtol=1e-12, atol=0)
    assert mem.energy(q).tobytes() == denseam.energy(x1, q, beta=BETA).tobytes()
    assert repr(mem) == ("Memory(n_memories=40, dim=3, dtype=float64, kernel='lsr', beta=20.0, "
                         "eps=0.0)")


def test_float32_memory(arrays):
    x1, x2, q = arrays
    x32, q32 = x1.astype(np.float32), q.astype(np.float32)
    mem = denseam.Memory.empty(3, kernel="lsr", beta=BETA, dtype="float32")
    mem.add(x32)
    assert mem.dtype == np.float32 and mem.patterns.dtype == np.float32
    e = mem.energy(q32)
    assert e.dtype == np.float32
    assert e.tobytes() == denseam.energy(x32, q32, beta=BETA).tobytes()
    r = mem.retrieve(q32)
    assert r.states.tobytes() == denseam.retrieve(x32, q32, beta=BETA).states.tobytes()
    # float64 queries: float64 results of the same float32 arithmetic.
    assert np.array_equal(mem.energy(q32.astype(np.float64)), e.astype(np.float64))


@pytest.mark.parametrize("index", ["brute", "kdtree", "ball"])
def test_index_of_a_memory(arrays, index):
    x1, x2, q = arrays
    mem, live_ids, live = updated(x1, x2, index=index)
    assert mem.index == index and mem.info()["index_used"] == index
    assert repr(mem).endswith(f", index='{index}')")
    np.testing.assert_allclose(mem.energy(q), lsr_energy(live, q, BETA), rtol=1e-12, atol=0)
    r = mem.retrieve(q)
    ref = denseam.retrieve(live, q, beta=BETA, index="brute")
    assert r.states.tobytes() == ref.states.tobytes()
    assert [s.tolist() for s in r.support_sets()] == \
        [live_ids[s].tolist() for s in ref.support_sets()]


def test_save_load_and_pickle_keep_ids(arrays, tmp_path):
    x1, x2, q = arrays
    mem, live_ids, live = updated(x1, x2, index="kdtree")
    path = tmp_path / "m.dstore"
    mem.save(path)
    copies = [denseam.Memory.load(path), denseam.Memory.load(str(path)),
              pickle.loads(pickle.dumps(mem)), copy.deepcopy(mem)]
    for back in copies:
        assert repr(back) == repr(mem)
        assert back.ids.tolist() == live_ids.tolist() and back.info()["next_id"] == 52
        assert back.patterns.tobytes() == live.tobytes()
        assert back.energy(q).tobytes() == mem.energy(q).tobytes()
        assert back.add(x1[:1]).tolist() == [52]  # ids are never reused
    assert len(mem) == 49  # the copies are independent
    # Pickles of the Memory before it held ids (patterns + parameters) still load.
    old = denseam.Memory.__new__(denseam.Memory)
    old.__setstate__((live, "lsr", BETA, 0.0, "auto", 3))
    assert old.ids.tolist() == list(range(49)) and old.patterns.tobytes() == live.tobytes()


def test_a_saved_memory_is_a_cli_store(arrays, tmp_path, cli_binary):
    x1, x2, q = arrays
    mem, live_ids, live = updated(x1, x2)
    mem.save(tmp_path / "m.dstore")
    p = subprocess.run([str(cli_binary), "store", "info", str(tmp_path / "m.dstore")],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert (info["size"], info["next_id"], info["kernel"], info["beta"]) == (49, 52, "lsr", BETA)


@pytest.mark.parametrize("kind", KINDS)
def test_index_keyword_of_the_free_functions(rng, kind):
    mem = rng.uniform(0.0, 1.0, size=(300, 3))
    q = np.concatenate([mem[:20] + rng.normal(scale=0.03, size=(20, 3)),
                        rng.uniform(0.0, 1.0, size=(5, 3))])
    beta = 60.0
    e = denseam.energy(mem, q, kernel="lsr", beta=beta, index=kind)
    np.testing.assert_allclose(e, lsr_energy(mem, q, beta), rtol=1e-12, atol=0)
    r = denseam.retrieve(mem, q, kernel="lsr", beta=beta, index=kind)
    assert [s.tolist() for s in r.support_sets()] == \
        [s.tolist() for s in lsr_supports(mem, r.states, beta)]
    ref = denseam.retrieve(mem, q, kernel="lsr", beta=beta, index="brute")
    assert r.states.tobytes() == ref.states.tobytes()
    np.testing.assert_allclose(r.energy, lsr_energy(mem, r.states, beta), rtol=1e-12, atol=0)


def test_calls_during_updates_see_the_memory_before_or_after(arrays):
    x1, x2, q = arrays
    mem = denseam.Memory(x1, kernel="lsr", beta=BETA)
    # The memory alternates between x1 and x1 + x2 (adding x2, then removing its new ids).
    expected = {denseam.Memory(s, kernel="lsr", beta=BETA).energy(q).tobytes()
                for s in (x1, np.concatenate([x1, x2]))}
    seen, errors, stop = set(), [], threading.Event()

    def reader():
        try:
            while not stop.is_set():
                seen.add(mem.energy(q, n_threads=1).tobytes())
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(20):
        mem.remove(mem.add(x2))
    stop.set()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert not errors and seen and seen <= expected
    assert mem.ids.tolist() == list(range(40)) and mem.info()["next_id"] == 40 + 20 * len(x2)


# ---- errors: ValueError naming the value, nothing changed --------------------------------------

def test_errors_name_the_value(arrays, tmp_path):
    x1, x2, q = arrays
    mem, live_ids, live = updated(x1, x2)
    cases = [
        (lambda: mem.remove([7, 99]), "unknown id 99"),
        (lambda: mem.remove([7, 7]), "id 7 is given more than once"),
        (lambda: mem.remove([3]), "id 3 was removed"),
        (lambda: mem.remove([1.5]), "dtype float64"),
        (lambda: mem.remove([[1], [2]]), "shape (2, 1)"),
        (lambda: mem.add(np.zeros((2, 4))), "dimension 4"),
        (lambda: mem.add([[0.0, np.inf, 0.0]]), "non-finite"),
        (lambda: mem.add(np.zeros(3)), "(3,)"),
        (lambda: mem.energy(np.zeros((2, 5))), "dimension 5"),
        (lambda: denseam.Memory.empty(0, beta=1.0), "0"),
        (lambda: denseam.Memory.empty(3, beta=1.0, dtype="float16"), "'float16'"),
        (lambda: denseam.Memory.empty(3, beta=1.0, index="oak"), "'oak'"),
        (lambda: denseam.Memory(x1, beta=1.0, index="oak"), "'oak'"),
        (lambda: denseam.Memory(x1, beta=1.0, kernel="lse", index="ball"), "'ball'"),
        (lambda: denseam.Memory(np.zeros((0, 3)), beta=1.0), "(0, 3)"),
        (lambda: denseam.energy(x1, q, beta=1.0, index="oak"), "'oak'"),
        (lambda: denseam.grad(x1, q, beta=1.0, kernel="lse", index="ball"), "'ball'"),
        (lambda: denseam.retrieve(x1, q, beta=1.0, index="oak"), "'oak'"),
        (lambda: denseam.Memory.load(tmp_path / "nope.dstore"), "nope.dstore"),
    ]
    for call, fragment in cases:
        with pytest.raises(ValueError) as info:
            call()
        assert fragment in str(info.value), (fragment, str(info.value))
    assert mem.ids.tolist() == live_ids.tolist() and mem.patterns.tobytes() == live.tobytes()


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "foreign"])
def test_bad_files(arrays, tmp_path, damage):
    x1, *_ = arrays
    path = tmp_path / "m.dstore"
    denseam.Memory(x1, beta=BETA).save(path)
    raw = bytearray(path.read_bytes())
    if damage == "corrupt":
        raw[len(raw) // 2] ^= 1
        path.write_bytes(bytes(raw))
    elif damage == "truncated":
        path.write_bytes(bytes(raw[:-8]))
    else:
        np.save(tmp_path / "x.npy", x1)
        path.write_bytes((tmp_path / "x.npy").read_bytes())
    fragment = {"corrupt": "checksum", "truncated": "truncated",
                "foreign": "not a denseam store"}[damage]
    with pytest.raises(ValueError, match=fragment) as info:
        denseam.Memory.load(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError, match="directory"):
        denseam.Memory(x1, beta=BETA).save(tmp_path)
