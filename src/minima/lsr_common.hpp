// SPDX-License-Identifier: MIT
// Internals shared by the LSR minima enumerators (gray.cpp, clique.cpp, lsr_minima.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/minima.hpp"

namespace denseam::minima_detail {

/// The distinct patterns with their multiplicities. Identical patterns always enter and leave
/// a support together, so every enumerator works on distinct points with weights w (the copy
/// count): c_S = sum w xi / sum w.
struct pattern_set {
    std::int64_t n = 0;  ///< distinct patterns
    std::int64_t dim = 0;
    std::int64_t n_original = 0;              ///< rows of the input
    std::vector<double> x;                    ///< (n x dim), in order of first occurrence
    std::vector<double> w;                    ///< (n) copy counts
    std::vector<std::int64_t> group_offsets;  ///< (n + 1) CSR into group_members
    std::vector<std::int64_t> group_members;  ///< original row indices, sorted per group
    const double* row(std::int64_t i) const { return x.data() + i * dim; }
    bool weighted() const { return n != n_original; }
};

/// Validates (non-empty, finite) and deduplicates.
pattern_set make_pattern_set(matrix_view<const double> patterns);

/// Relative width of the band around R^2 inside which a decision made on the Gram matrix is
/// re-verified from the patterns.
inline constexpr double recheck_rel = 1e-9;

/// Absolute recheck tolerance at squared radius r2, given the largest squared norm `gmax` of
/// the centred patterns the Gram values were formed from.
inline double recheck_tol(double r2, double gmax) {
    return recheck_rel * r2 + 1e-12 * gmax;
}

/// The exact test from the patterns: c_S = sum w xi / sum w over `subset` (distinct indices,
/// increasing), then ||c_S - xi||^2 < r2 for members and > r2 for every other pattern.
bool direct_is_minimum(const pattern_set& ps, std::span<const std::int64_t> subset, double r2);

/// Exact (a_S, b_S) from the patterns (b_S = +inf when S holds every pattern).
void direct_interval(const pattern_set& ps,
                     std::span<const std::int64_t> subset,
                     double& a,
                     double& b);

/// Shared stop / progress / interrupt plumbing for the parallel enumerators. Workers call
/// `poll()` regularly; only OpenMP thread 0 (the calling thread) runs the user's callbacks.
class run_control {
  public:
    run_control(const exec_options& exec, const minima_progress& progress, std::int64_t total)
        : exec_(exec), progress_(progress), total_(total) {}

    bool stopped() const { return stop_.load(std::memory_order_relaxed); }
    bool interrupted() const { return interrupted_.load(std::memory_order_relaxed); }
    void request_stop() { stop_.store(true, std::memory_order_relaxed); }
    void add_done(std::int64_t units) { done_.fetch_add(units, std::memory_order_relaxed); }

    /// Call from any worker; does something only on thread 0, at most every 0.1 s.
    void poll(bool is_master);
    /// Final progress report from the calling thread (outside the parallel region).
    void finish();
    /// Rethrow an exception thrown by a callback or a worker, if any.
    void rethrow() const {
        if (error_) std::rethrow_exception(error_);
    }
    /// Record the current exception (first one wins) and stop the run.
    void capture_current_exception() {
        {
            std::lock_guard<std::mutex> lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
        request_stop();
    }

  private:
    const exec_options& exec_;
    const minima_progress& progress_;
    std::int64_t total_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> interrupted_{false};
    std::atomic<std::int64_t> done_{0};
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

bool is_master_thread();
int thread_count(const exec_options& exec, std::int64_t work_items);

/// Runs body(state, i) for i = 0 .. n-1 on `threads` threads, items handed out in increasing
/// order; `init()` makes one state per thread. Workers stop taking items once ctl is stopped.
/// The calling thread keeps polling the user's callbacks (progress, interrupt) until every
/// worker is done, so a long item on another thread can still be interrupted. Exceptions are
/// captured into ctl (call ctl.rethrow() afterwards).
template <class Init, class Body>
void run_items(std::int64_t n, int threads, run_control& ctl, Init&& init, Body&& body) {
    std::atomic<std::int64_t> next{0};
    std::atomic<int> active{0};
#pragma omp parallel num_threads(threads)
    {
        const bool master = is_master_thread();
        active.fetch_add(1);
#pragma omp barrier
        try {
            auto state = init();
            for (;;) {
                if (ctl.stopped()) break;
                const std::int64_t i = next.fetch_add(1);
                if (i >= n) break;
                body(state, i);
                ctl.poll(master);
            }
        } catch (...) {
            ctl.capture_current_exception();
        }
        active.fetch_sub(1);
        if (master) {
            while (active.load() > 0) {
                ctl.poll(true);
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        }
    }
}

// ---- Gray-code pass ---------------------------------------------------------------------

/// A subset that is a minimum for R^2 in (a, b) (up to the recheck tolerance).
struct gray_record {
    std::uint64_t mask;  ///< bit i = distinct pattern i
    double a, b;
};

struct gray_pass_result {
    std::vector<gray_record> records;  ///< in Gray-code order (deterministic)
    std::int64_t processed = 0;        ///< subsets examined
    minima_status status = minima_status::complete;
    double gmax = 0.0;  ///< for recheck_tol
};

/// Every subset whose interval (a_S, b_S) meets the window (lo_r2, hi_r2) of squared radii,
/// widened by the recheck tolerance. Requires ps.n <= 62.
gray_pass_result gray_pass(const pattern_set& ps,
                           double lo_r2,
                           double hi_r2,
                           std::int64_t max_candidates,
                           const minima_progress& progress,
                           const exec_options& exec);

// ---- clique enumeration -----------------------------------------------------------------

struct clique_pass_result {
    std::vector<std::int64_t> offsets{0};  ///< CSR of the supports found (distinct indices)
    std::vector<std::int64_t> indices;
    std::int64_t candidates = 0;
    minima_status status = minima_status::complete;
};

/// Neighbour lists of the interaction graph: j in adj[i] iff ||xi_i - xi_j||^2 < 4 r2 (1+1e-9)
/// (slightly generous, so that a rounding error can never drop an edge of a true minimum).
std::vector<std::vector<std::int32_t>> interaction_graph(const pattern_set& ps,
                                                         double r2,
                                                         const exec_options& exec);

/// Number of cliques of the graph, stopping once `cap` is exceeded (returns cap + 1 then).
std::int64_t count_cliques_capped(const std::vector<std::vector<std::int32_t>>& adj,
                                  std::int64_t cap);

/// Every clique (each anchored at its smallest member), verified exactly. Anchors whose
/// neighbourhood has at most `row_cache_limit` vertices cache their local Gram and adjacency
/// rows (O(L^2) memory); larger ones recompute rows per DFS level.
clique_pass_result clique_pass(const pattern_set& ps,
                               double r2,
                               const std::vector<std::vector<std::int32_t>>& adj,
                               std::int64_t max_candidates,
                               const minima_progress& progress,
                               const exec_options& exec,
                               int row_cache_limit = 1024);

}  // namespace denseam::minima_detail
