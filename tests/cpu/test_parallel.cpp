// SPDX-License-Identifier: MIT
// The one parallel loop (src/engine/parallel.hpp): exceptions from any thread rethrown once,
// interrupts (also while thread 0 waits for a long item elsewhere), progress from the calling
// thread only, per-thread state, stop requests, items in increasing order, and results that
// do not depend on the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "denseam/error.hpp"
#include "engine/parallel.hpp"

using denseam::exec_options;
using denseam::detail::loop_control;
using denseam::detail::loop_status;
using denseam::detail::parallel_for;
using denseam::detail::parallel_options;

namespace {

using clock_type = std::chrono::steady_clock;

exec_options threads(int n) {
    exec_options e;
    e.n_threads = n;
    return e;
}

double seconds_since(clock_type::time_point t0) {
    return std::chrono::duration<double>(clock_type::now() - t0).count();
}

void sleep_us(int us) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
}

}  // namespace

TEST(Parallel, EveryItemOnceAndNothingForEmptyLoops) {
    for (int t : {1, 2, 4}) {
        std::vector<std::atomic<int>> hits(1000);
        parallel_for(1000, threads(t), [&](std::int64_t i) { ++hits[i]; });
        for (const auto& h : hits) ASSERT_EQ(h.load(), 1) << "threads " << t;
    }
    int calls = 0;
    parallel_for(0, threads(2), [&](std::int64_t) { ++calls; });
    parallel_for(-3, threads(2), [&](std::int64_t) { ++calls; });
    EXPECT_EQ(calls, 0);
    EXPECT_THROW(parallel_for(10, threads(-1), [](std::int64_t) {}), denseam::invalid_argument);
}

TEST(Parallel, ExceptionFromAnyThreadIsRethrownOnceAfterTheLoop) {
    const auto caller = std::this_thread::get_id();
    // From the calling thread: a single item throws; no item starts after it.
    std::atomic<int> after{0};
    try {
        parallel_for(100, threads(1), [&](std::int64_t i) {
            if (i == 10) throw std::runtime_error("item 10");
            if (i > 10) ++after;
        });
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "item 10");
    }
    EXPECT_EQ(after.load(), 0);
    // From the other threads: every one of them throws; exactly one exception comes out, on the
    // calling thread, and the program is not terminated.
    int reps_with_throws = 0;
    for (int rep = 0; rep < 20; ++rep) {
        std::atomic<int> thrown{0};
        bool caught = false;
        try {
            parallel_for(64, threads(4), [&](std::int64_t i) {
                sleep_us(500);
                if (std::this_thread::get_id() != caller) {
                    ++thrown;
                    throw std::runtime_error("item " + std::to_string(i));
                }
            });
        } catch (const std::runtime_error& e) {
            caught = true;
            EXPECT_EQ(std::string(e.what()).rfind("item ", 0), 0u);
        }
        EXPECT_EQ(caught, thrown.load() > 0);
        reps_with_throws += caught ? 1 : 0;
    }
    EXPECT_GT(reps_with_throws, 0);
    // From init(), from a progress callback and from the interrupt callback.
    parallel_options o;
    EXPECT_THROW(parallel_for(
                     10,
                     threads(2),
                     o,
                     []() -> int { throw std::logic_error("init"); },
                     [](int&, std::int64_t) {}),
                 std::logic_error);
    o.progress = [](std::int64_t, std::int64_t) { throw std::out_of_range("progress"); };
    o.progress_interval = std::chrono::milliseconds(1);
    EXPECT_THROW(parallel_for(200, threads(2), o, [](std::int64_t) { sleep_us(200); }),
                 std::out_of_range);
    exec_options e = threads(2);
    e.interrupt = []() -> bool { throw std::length_error("interrupt"); };
    EXPECT_THROW(parallel_for(10, e, [](std::int64_t) {}), std::length_error);
}

TEST(Parallel, InterruptStopsALongLoop) {
    for (int t : {1, 2, 4}) {
        // Hours of items: the loop stops within moments of the interrupt.
        exec_options e = threads(t);
        const auto t0 = clock_type::now();
        e.interrupt = [t0] { return clock_type::now() - t0 > std::chrono::milliseconds(100); };
        std::atomic<std::int64_t> ran{0};
        EXPECT_THROW(parallel_for(100'000'000,
                                  e,
                                  [&](std::int64_t) {
                                      sleep_us(100);
                                      ++ran;
                                  }),
                     denseam::interrupted);
        // A hang detector, not a speed test: uninterrupted, the loop would run for hours.
        EXPECT_LT(seconds_since(t0), 60.0) << "threads " << t;
        EXPECT_GT(ran.load(), 0);

        // Endless items that poll, on the other threads only: thread 0 runs out of (short)
        // items and keeps polling while it waits, so the interrupt still reaches them.
        if (t > 1) {
            const auto caller = std::this_thread::get_id();
            const auto t1 = clock_type::now();
            e.interrupt = [t1] { return clock_type::now() - t1 > std::chrono::milliseconds(100); };
            std::atomic<int> endless{0};
            EXPECT_THROW(parallel_for(16,
                                      e,
                                      [&](std::int64_t, auto& poll) {
                                          if (std::this_thread::get_id() == caller) {
                                              sleep_us(1000);
                                              return;
                                          }
                                          ++endless;
                                          while (!poll()) sleep_us(200);
                                      }),
                         denseam::interrupted);
            EXPECT_LT(seconds_since(t1), 60.0) << "threads " << t;  // endless otherwise
            EXPECT_GT(endless.load(), 0);
        }

        // Without throwing: the loop returns interrupted.
        const auto t2 = clock_type::now();
        e.interrupt = [t2] { return clock_type::now() - t2 > std::chrono::milliseconds(50); };
        parallel_options o;
        o.throw_on_interrupt = false;
        EXPECT_EQ(parallel_for(100'000'000, e, o, [](std::int64_t) { sleep_us(100); }),
                  loop_status::interrupted);
    }
    // An interrupt that is already set: no item runs.
    exec_options e = threads(2);
    e.interrupt = [] { return true; };
    int calls = 0;
    EXPECT_THROW(parallel_for(10, e, [&](std::int64_t) { ++calls; }), denseam::interrupted);
    EXPECT_EQ(calls, 0);
    // The interrupt is asked before the first item, even in a short loop.
    std::atomic<int> asked{0};
    e.interrupt = [&] {
        ++asked;
        return false;
    };
    parallel_for(10, e, [](std::int64_t) {});
    EXPECT_GE(asked.load(), 1);
}

TEST(Parallel, ProgressReachesTotalOnTheCallingThreadOnly) {
    const auto caller = std::this_thread::get_id();
    for (int t : {1, 2, 4}) {
        std::mutex mu;
        std::vector<std::pair<std::int64_t, std::int64_t>> calls;
        bool other_thread = false;
        parallel_options o;
        o.progress_total = 300;
        o.progress_interval = std::chrono::milliseconds(5);
        o.progress = [&](std::int64_t done, std::int64_t total) {
            std::lock_guard<std::mutex> lock(mu);
            if (std::this_thread::get_id() != caller) other_thread = true;
            calls.emplace_back(done, total);
        };
        // 2 units per item, total 300 for 200 items: done is capped at total.
        const auto st = parallel_for(200, threads(t), o, [](std::int64_t, loop_control& ctl) {
            sleep_us(300);
            ctl.add_done(2);
        });
        EXPECT_EQ(st, loop_status::complete);
        EXPECT_FALSE(other_thread);
        ASSERT_GE(calls.size(), 2u) << "threads " << t;  // during the loop, and at the end
        EXPECT_EQ(calls.back(), (std::pair<std::int64_t, std::int64_t>{300, 300}));
        for (std::size_t k = 1; k < calls.size(); ++k) {
            EXPECT_LE(calls[k - 1].first, calls[k].first);
            EXPECT_EQ(calls[k].second, 300);
        }
    }
}

TEST(Parallel, InitRunsOncePerThreadAndItsStateStaysOnThatThread) {
    for (int t : {1, 2, 4}) {
        struct state {
            std::thread::id owner;
            std::int64_t items = 0;
        };
        std::mutex mu;
        std::set<std::thread::id> init_threads;
        int inits = 0;
        std::atomic<int> foreign{0};
        std::atomic<std::int64_t> items{0};
        parallel_for(
            2000,
            threads(t),
            parallel_options{},
            [&] {
                std::lock_guard<std::mutex> lock(mu);
                ++inits;
                init_threads.insert(std::this_thread::get_id());
                return state{std::this_thread::get_id(), 0};
            },
            [&](state& s, std::int64_t, loop_control&) {
                if (s.owner != std::this_thread::get_id()) ++foreign;
                ++s.items;
                ++items;
                sleep_us(20);
            });
        EXPECT_EQ(inits, static_cast<int>(init_threads.size()));
        EXPECT_GE(inits, 1);
        EXPECT_LE(inits, t);
        EXPECT_EQ(foreign.load(), 0);
        EXPECT_EQ(items.load(), 2000);
    }
    // max_threads caps the team.
    std::mutex mu;
    std::set<std::thread::id> ids;
    parallel_options o;
    o.max_threads = 1;
    parallel_for(200, threads(4), o, [&](std::int64_t) {
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(Parallel, StopRequestSkipsLaterItemsAndKeepsTheEarlierOnes) {
    for (int t : {1, 2, 4}) {
        const std::int64_t n = 100000, cut = 100;
        std::vector<std::atomic<int>> ran(static_cast<std::size_t>(n));
        std::atomic<std::int64_t> count{0}, after{0};
        const auto st =
            parallel_for(n, threads(t), parallel_options{}, [&](std::int64_t i, loop_control& ctl) {
                if (ctl.stopped()) ++after;
                ++ran[i];
                ++count;
                if (i == cut) ctl.request_stop();
            });
        EXPECT_EQ(st, loop_status::stopped);
        // Items are handed out in increasing order: every item before the cut ran.
        for (std::int64_t i = 0; i <= cut; ++i) ASSERT_EQ(ran[i].load(), 1) << i;
        // Once the request is seen, no thread takes another item: at most one item per thread
        // (taken between its last check and the request) starts after it. Items after the cut
        // that started before the request (another thread may run many while the one with the
        // cut is descheduled) are not bounded.
        EXPECT_LE(after.load(), t) << "threads " << t;
        if (t == 1) {
            EXPECT_EQ(count.load(), cut + 1);
            EXPECT_EQ(after.load(), 0);
        }
    }
}

TEST(Parallel, ResultsDoNotDependOnTheThreadCount) {
    // Per-item outputs merged in a fixed order after the loop: the same bits on any team.
    const std::int64_t n = 5000;
    auto run = [&](int t) {
        std::vector<double> part(static_cast<std::size_t>(n));
        parallel_for(n, threads(t), [&](std::int64_t i) {
            double s = 0.0;
            for (int k = 1; k <= 200; ++k) s += std::sin(static_cast<double>(i * k)) / k;
            part[i] = s;
        });
        double total = 0.0;
        for (double v : part) total += v;
        return total;
    };
    const double one = run(1);
    for (int t : {2, 3, 4}) EXPECT_EQ(run(t), one) << "threads " << t;
}
