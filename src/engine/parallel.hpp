// SPDX-License-Identifier: MIT
// parallel_for over independent work items: OpenMP, exception capture, caller interrupts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>

#include "denseam/error.hpp"
#include "denseam/exec.hpp"
#include "engine/gemm.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace denseam::detail {

/// Runs body(i) for every i in [0, n) on exec's threads (dynamic schedule: which thread runs an
/// item never changes a result, since items write disjoint outputs). The first exception thrown
/// by a body is rethrown after the loop; no exception escapes the OpenMP region. The interrupt
/// callback is polled from the calling thread before the loop and (OpenMP thread 0) between items
/// at most every 20 ms; if it returns true the remaining items are skipped and
/// denseam::interrupted is thrown. A body that runs long may take a second argument, `poll`:
/// poll() does the same poll from inside an item and returns true when the loop is being stopped
/// (the body should then return; its results are discarded). A team of one thread runs BLAS
/// single-threaded too, so that results never depend on the thread count.
template <class Body>
void parallel_for(std::int64_t n, const exec_options& exec, Body&& body) {
    validate(exec);
    if (n <= 0) return;
    if (exec.interrupt && exec.interrupt()) throw interrupted();
    std::atomic<bool> stop{false};
    std::atomic<bool> interrupted_flag{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    const int threads = static_cast<int>(std::min<std::int64_t>(resolved_threads(exec), n));
    auto last_poll = std::chrono::steady_clock::now();
    std::optional<blas_single_thread_scope> blas_scope;
    if (threads == 1) blas_scope.emplace();
    // True when the loop is being stopped; the calling thread asks the callback (every 20 ms).
    auto poll = [&]() -> bool {
        if (stop.load(std::memory_order_relaxed)) return true;
        bool master = true;
#ifdef _OPENMP
        master = omp_get_thread_num() == 0;
#endif
        if (!master || !exec.interrupt) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now - last_poll <= std::chrono::milliseconds(20)) return false;
        last_poll = now;
        bool want_stop = false;
        try {
            want_stop = exec.interrupt();
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            want_stop = true;
        }
        if (want_stop) {
            interrupted_flag = true;
            stop = true;
        }
        return want_stop;
    };
    auto run_one = [&](std::int64_t i) {
        if (poll()) return;
        try {
            if constexpr (std::is_invocable_v<Body&, std::int64_t, decltype(poll)&>)
                body(i, poll);
            else
                body(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            stop = true;
        }
    };
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (std::int64_t i = 0; i < n; ++i) run_one(i);
#else
    (void)threads;
    for (std::int64_t i = 0; i < n; ++i) run_one(i);
#endif
    if (error) std::rethrow_exception(error);
    if (interrupted_flag) throw interrupted();
}

}  // namespace denseam::detail
