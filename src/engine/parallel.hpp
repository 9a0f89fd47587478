// SPDX-License-Identifier: MIT
// The library's one parallel loop: OpenMP team, items in increasing order, per-thread state,
// exception capture, caller interrupts, progress reports and stop requests.
//
// Every parallel region of src/ is the one below: no other `#pragma omp parallel` exists, so no
// exception can leave an OpenMP region (which would terminate the program) and every loop can
// be interrupted through exec_options::interrupt.
//
//   parallel_for(n, exec, body)                   body(i) or body(i, ctl)
//   parallel_for(n, exec, options, body)          same, with parallel_options
//   parallel_for(n, exec, options, init, body)    body(state, i, ctl) or body(state, i), where
//                                                 state = init() is made once per thread
//
// What a body may rely on:
// - Items are handed out one at a time in increasing order of i (a shared counter): once item i
//   has started, every item below i has started too (after a stop, each thread starts at most
//   one more item). Which thread runs an item is not fixed: a result must not depend on it
//   (write per-item outputs and merge them in a fixed order afterwards; never reduce across
//   items in completion order).
// - The first exception thrown by a body, by init(), or by a callback stops the loop (no new
//   items start; running bodies see ctl.poll() == true) and is rethrown once after the loop,
//   on the calling thread.
// - exec.interrupt is called on the calling thread only (OpenMP thread 0): before the loop,
//   then between items and from ctl.poll() at most every parallel_options::interrupt_interval.
//   Once thread 0 runs out of items it keeps polling (and reporting progress) until the other
//   threads finish, so a long item on another thread can still be interrupted as long as that
//   item calls ctl.poll() now and then. If the interrupt returns true, no new item starts and
//   the loop throws denseam::interrupted (or returns loop_status::interrupted, see
//   parallel_options::throw_on_interrupt).
// - ctl.request_stop() (from any thread) stops handing out items without an error, for example
//   at a candidate limit; the loop returns loop_status::stopped.
// - A team of one thread runs BLAS single-threaded too, so that results never depend on the
//   thread count (see blas_single_thread_scope).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include "denseam/error.hpp"
#include "denseam/exec.hpp"
#include "engine/gemm.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace denseam::detail {

/// How a parallel_for ended (when it did not throw).
enum class loop_status {
    complete,     ///< every item ran
    stopped,      ///< a body called loop_control::request_stop()
    interrupted,  ///< exec.interrupt returned true (only with throw_on_interrupt = false)
};

/// Options of parallel_for. The defaults give the plain loop: no progress, interrupts throw.
struct parallel_options {
    /// Cap on the team size (0: none). The team has min(resolved_threads(exec), n, max_threads)
    /// threads; use it to keep small or cheap loops on fewer threads. Never changes a result.
    std::int64_t max_threads = 0;
    /// Progress callback (done, total), called on the calling thread only: at most every
    /// progress_interval while the loop runs, and once after it, unless the loop ends with an
    /// exception. done is the sum of the units that bodies reported through
    /// loop_control::add_done(), capped at total. An exception from it stops the loop and is
    /// rethrown.
    std::function<void(std::int64_t done, std::int64_t total)> progress;
    std::int64_t progress_total = 0;  ///< `total` of the progress callback
    /// true: an interrupt throws denseam::interrupted after the loop. false: the loop returns
    /// loop_status::interrupted instead, for callers that return partial results.
    bool throw_on_interrupt = true;
    std::chrono::milliseconds interrupt_interval{20};  ///< least time between interrupt calls
    std::chrono::milliseconds progress_interval{100};  ///< least time between progress calls
};

/// The loop's shared state, handed to every body call. Thread-safe.
class loop_control {
  public:
    loop_control(const exec_options& exec, const parallel_options& opt)
        : interrupt_(exec.interrupt), opt_(opt) {
        const auto now = std::chrono::steady_clock::now();
        last_interrupt_ = now;
        last_progress_ = now;
    }
    loop_control(const loop_control&) = delete;
    loop_control& operator=(const loop_control&) = delete;

    /// True once the loop is being stopped (interrupt, stop request or exception): no new item
    /// starts, and a long body should return (after an interrupt or an exception the caller
    /// discards its results). On the calling thread it first runs the callbacks that are due
    /// (interrupt, progress), so a long body should call it regularly; it is cheap (a clock
    /// read on thread 0, an atomic load elsewhere).
    bool poll() {
        if (!stopped() && has_callbacks() && on_calling_thread()) run_callbacks(false);
        return stopped();
    }
    bool operator()() { return poll(); }  ///< same as poll(): a body(i, poll) may call poll()

    /// True once the loop is being stopped, without polling.
    bool stopped() const noexcept { return stop_.load(std::memory_order_relaxed); }
    /// True once exec.interrupt returned true.
    bool interrupted() const noexcept { return interrupted_.load(std::memory_order_relaxed); }
    /// Stop handing out items (no error): the loop returns loop_status::stopped.
    void request_stop() noexcept {
        stop_requested_.store(true, std::memory_order_relaxed);
        stop_.store(true, std::memory_order_relaxed);
    }
    /// Count `units` of done work toward the progress callback.
    void add_done(std::int64_t units) noexcept {
        done_.fetch_add(units, std::memory_order_relaxed);
    }
    /// Units reported so far.
    std::int64_t done() const noexcept { return done_.load(std::memory_order_relaxed); }

    // ---- used by parallel_for ----

    /// Records the current exception (the first one wins) and stops the loop.
    void capture_current_exception() noexcept {
        {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        stop_.store(true, std::memory_order_relaxed);
    }
    bool has_callbacks() const noexcept {
        return static_cast<bool>(interrupt_) || static_cast<bool>(opt_.progress);
    }
    /// How long thread 0 may sleep between polls while other threads finish.
    std::chrono::milliseconds wait_interval() const noexcept {
        auto w = std::chrono::milliseconds(1000);
        if (interrupt_) w = std::min(w, opt_.interrupt_interval);
        if (opt_.progress) w = std::min(w, opt_.progress_interval);
        return std::max(w, std::chrono::milliseconds(1));
    }
    /// Runs the due callbacks; `force_interrupt` asks the interrupt whatever the time.
    void run_callbacks(bool force_interrupt) noexcept {
        const auto now = std::chrono::steady_clock::now();
        try {
            if (opt_.progress && now - last_progress_ >= opt_.progress_interval) {
                last_progress_ = now;
                opt_.progress(std::min(done(), opt_.progress_total), opt_.progress_total);
            }
            if (interrupt_ &&
                (force_interrupt || now - last_interrupt_ >= opt_.interrupt_interval)) {
                last_interrupt_ = now;
                if (interrupt_()) {
                    interrupted_.store(true, std::memory_order_relaxed);
                    stop_.store(true, std::memory_order_relaxed);
                }
            }
        } catch (...) {
            capture_current_exception();
        }
    }
    /// After the loop, on the calling thread: the final progress report, then the exception or
    /// the interrupt, then the status.
    loop_status finish() {
        if (opt_.progress && !error_) {
            try {
                opt_.progress(std::min(done(), opt_.progress_total), opt_.progress_total);
            } catch (...) {
                capture_current_exception();
            }
        }
        if (error_) std::rethrow_exception(error_);
        if (interrupted()) {
            if (opt_.throw_on_interrupt) throw denseam::interrupted();
            return loop_status::interrupted;
        }
        return stop_requested_.load(std::memory_order_relaxed) ? loop_status::stopped
                                                               : loop_status::complete;
    }

  private:
    static bool on_calling_thread() noexcept {
#ifdef _OPENMP
        return omp_get_thread_num() == 0;
#else
        return true;
#endif
    }

    const std::function<bool()>& interrupt_;
    const parallel_options& opt_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> interrupted_{false};
    std::atomic<std::int64_t> done_{0};
    // Touched by the calling thread only.
    std::chrono::steady_clock::time_point last_interrupt_, last_progress_;
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

/// Runs body(state, i, ctl) (or body(state, i)) for every i in [0, n) on the threads of exec
/// (see the top of this file for the guarantees), where `state` is what init() returned on the
/// thread running the item: init() runs once on every thread of the team, before its first
/// item, so per-thread scratch lives there. Returns how the loop ended; throws the first
/// exception of a body, init() or callback, and denseam::interrupted on an interrupt when
/// options.throw_on_interrupt is set. Throws denseam::invalid_argument for bad exec.
template <class Init, class Body>
loop_status parallel_for(std::int64_t n,
                         const exec_options& exec,
                         const parallel_options& options,
                         Init&& init,
                         Body&& body) {
    validate(exec);
    loop_control ctl(exec, options);
    if (n > 0 && ctl.has_callbacks()) ctl.run_callbacks(true);  // an interrupt before any work
    if (n > 0 && !ctl.stopped()) {
        std::int64_t cap = n;
        if (options.max_threads > 0) cap = std::min(cap, options.max_threads);
        const int threads = static_cast<int>(
            std::max<std::int64_t>(1, std::min<std::int64_t>(resolved_threads(exec), cap)));
        std::optional<blas_single_thread_scope> blas_scope;
        if (threads == 1) blas_scope.emplace();
        std::atomic<std::int64_t> next{0};
        std::atomic<int> active{0};
        std::mutex wait_mutex;
        std::condition_variable all_done;
        // One thread's share: take items until none is left or the loop stops.
        auto work = [&] {
            try {
                auto state = init();
                while (!ctl.poll()) {
                    const std::int64_t i = next.fetch_add(1, std::memory_order_relaxed);
                    if (i >= n) break;
                    if constexpr (std::is_invocable_v<Body&,
                                                      decltype(state)&,
                                                      std::int64_t,
                                                      loop_control&>)
                        body(state, i, ctl);
                    else
                        body(state, i);
                }
            } catch (...) {
                ctl.capture_current_exception();
            }
        };
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        {
            active.fetch_add(1);
#pragma omp barrier
            work();
            if (active.fetch_sub(1) == 1) {
                try {
                    std::lock_guard<std::mutex> lock(wait_mutex);
                } catch (...) {
                    ctl.capture_current_exception();
                }
                all_done.notify_all();
            }
            // Thread 0 keeps the callbacks going while the others finish their items.
            if (omp_get_thread_num() == 0 && ctl.has_callbacks()) {
                try {
                    std::unique_lock<std::mutex> lock(wait_mutex);
                    while (!all_done.wait_for(
                        lock, ctl.wait_interval(), [&] { return active.load() == 0; })) {
                        lock.unlock();
                        ctl.poll();
                        lock.lock();
                    }
                } catch (...) {
                    ctl.capture_current_exception();
                }
            }
        }
#else
        (void)threads;
        work();
#endif
    }
    return ctl.finish();
}

/// parallel_for with options and no per-thread state: body(i, ctl) or body(i).
template <class Body>
loop_status parallel_for(std::int64_t n,
                         const exec_options& exec,
                         const parallel_options& options,
                         Body&& body) {
    struct no_state {};
    return parallel_for(
        n,
        exec,
        options,
        [] { return no_state{}; },
        [&body](no_state&, std::int64_t i, loop_control& ctl) {
            if constexpr (std::is_invocable_v<Body&, std::int64_t, loop_control&>)
                body(i, ctl);
            else
                body(i);
        });
}

/// The plain loop: body(i), or body(i, poll) for a body that runs long and calls poll() (a
/// loop_control) from inside; an interrupt throws denseam::interrupted.
template <class Body>
void parallel_for(std::int64_t n, const exec_options& exec, Body&& body) {
    static const parallel_options plain{};
    (void)parallel_for(n, exec, plain, std::forward<Body>(body));
}

}  // namespace denseam::detail
