# SPDX-License-Identifier: MIT
"""Runtime behaviour of the bindings: memory use over repeated calls, Ctrl-C during long calls,
the GIL released during computation.

No wall-clock thresholds: CI machines are shared and busy. Ctrl-C is judged by the CPU time the
process spends after the interrupt (other processes do not count), the GIL by whether Python code
runs at all while a long call is in flight. Speed is measured in bench/, not here."""
import _thread
import gc
import os
import signal
import threading
import time

import numpy as np
import pytest

import denseam


def rss_bytes():
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_memory_growth_over_repeated_calls(rng):
    # Small GEMMs (M * B * d below OpenBLAS's threading threshold) and one OpenMP thread keep each
    # call cheap on a busy machine; the outputs are large enough for a leak to show.
    memories = rng.uniform(size=(32, 8))
    queries = rng.uniform(size=(400, 8))
    mem = denseam.Memory(memories, kernel="lsr", beta=8.0)
    one = dict(n_threads=1)

    def one_round():
        denseam.energy_and_grad(memories, queries, kernel="lse", beta=2.0, **one)
        denseam.energy(memories.astype(np.float32), queries.astype(np.float32), beta=1.0, **one)
        mem.grad(queries.tolist(), **one)  # list input: converted each call
        r = mem.retrieve(queries, **one)
        r.support_sets(), r.status_names, r.converged, r.status_counts(), repr(r)
        denseam.retrieve(memories, queries[:20], kernel="lse", beta=1.0, method="gradient",
                         steps=3, **one)
        try:
            denseam.energy(memories, queries[:, :3], beta=1.0)
        except ValueError:
            pass

    for _ in range(50):  # warm up allocator pools and caches
        one_round()
    gc.collect()
    before = rss_bytes()
    for _ in range(1000):
        one_round()
    gc.collect()
    growth = rss_bytes() - before
    # One leaked gradient array per round alone would be 1000 * 25.6 kB = 25.6 MB.
    assert growth < 4 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 1000 rounds"


def _interrupt_during(call, how, delay=0.3, cpu_budget=2.0):
    """Run `call` in the main thread and interrupt it after `delay` s; return the CPU seconds the
    process used between the interrupt and the KeyboardInterrupt. Without the library's polling
    the call would run to its end (several CPU seconds); with it, a few polls' worth."""
    sent = []

    def fire():
        sent.append(time.process_time())
        if how == "interrupt_main":
            _thread.interrupt_main()
        else:
            os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(delay, fire)
    finished = False
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            call()
            finished = True
            time.sleep(30)  # let a late interrupt land here rather than elsewhere
    finally:
        timer.cancel()
    assert not finished, "the call ended before the interrupt: make the problem larger"
    cpu = time.process_time() - sent[0]
    assert cpu < cpu_budget, f"the call used {cpu:.2f} CPU s after Ctrl-C"
    return cpu


@pytest.mark.parametrize("how", ["interrupt_main", "sigint"])
def test_ctrl_c_stops_a_long_energy_call(how, rng):
    # Several seconds of work uninterrupted (2 * 32768^2 * 128 flops), stopped after 0.3 s.
    memories = rng.normal(size=(32768, 128))
    queries = rng.normal(size=(32768, 128))
    mem = denseam.Memory(memories[:50], kernel="lse", beta=0.01)
    before = mem.energy(queries[:7])
    _interrupt_during(lambda: denseam.energy(memories, queries, kernel="lse", beta=0.01), how)
    # Nothing is left broken: same results as before, the next calls work.
    np.testing.assert_array_equal(mem.energy(queries[:7]), before)
    e = denseam.energy([[0.0, 0.0], [1.0, 0.0]], [[0.0, 0.0]], kernel="lsr", beta=1.0)
    np.testing.assert_allclose(e, [-np.log(1.5)], rtol=1e-15)


def test_ctrl_c_stops_a_long_retrieval(rng):
    memories = rng.normal(size=(512, 32))
    queries = rng.normal(size=(256, 32))
    mem = denseam.Memory(memories, kernel="lse", beta=0.01)
    # One thread: the library polls once per descent step on the calling thread. (With more
    # threads a step's poll is skipped when the calling thread does not run the step's first
    # work item, so on an overloaded machine polls can be seconds apart.)
    _interrupt_during(lambda: mem.retrieve(queries, method="gradient", steps=50000, tol=0.0,
                                           lr=1e-3, n_threads=1), "interrupt_main")
    r = mem.retrieve(queries[:2], method="gradient", steps=3)
    assert r.states.shape == (2, 32)


def test_gil_is_released_during_computation(rng):
    memories = rng.normal(size=(8192, 128))
    queries = rng.normal(size=(16384, 128))
    worker = threading.Thread(target=denseam.energy, args=(memories, queries),
                              kwargs=dict(kernel="lse", beta=0.01))
    t0 = time.monotonic()
    worker.start()
    ticks, max_gap, last = 0, 0.0, time.monotonic()
    while worker.is_alive():
        time.sleep(0.005)
        now = time.monotonic()
        max_gap, last = max(max_gap, now - last), now
        ticks += 1
    duration = time.monotonic() - t0
    worker.join()
    if duration < 0.3:
        pytest.skip(f"the call took only {duration:.2f} s: too short to judge")
    # With the GIL held, this loop could not run at all until the call returned (1 tick).
    assert ticks >= 10, (ticks, max_gap, duration)
