// SPDX-License-Identifier: MIT
// The live memory store (issue 15, include/denseam/store.hpp) against memories rebuilt from
// scratch: random add/remove sequences for both dtypes, several kernels and every index kind
// give the energies, gradients and retrievals of denseam::energy_and_grad / retrieve on the
// live rows in id order (bit for bit through the same index kind) and of the naive oracle; ids
// are stable and never reused; failed updates change nothing; the file round-trips bit for bit,
// is checked against an independent writer of the documented format, and every corrupt,
// truncated or foreign file is refused naming the file; a save killed midway leaves the old
// file; concurrent queries see the store before or after an update; only regular files are
// replaced.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "denseam/npy.hpp"
#include "denseam/retrieval.hpp"
#include "denseam/store.hpp"
#include "expect.hpp"
#include "oracle.hpp"
#include "temp_dir.hpp"

using namespace denseam;
namespace fs = std::filesystem;

namespace {

// ---- helpers ---------------------------------------------------------------------------------

using test_support::temp_dir;

std::vector<char> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Index of the first entry whose bits differ, or -1.
long first_bit_difference(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<std::uint64_t>(a[i]) != std::bit_cast<std::uint64_t>(b[i]))
            return static_cast<long>(i);
    return -1;
}

// The live rows, by id (values already rounded to the store's dtype): the "from scratch" model.
struct model {
    std::int64_t dim;
    store_dtype dtype;
    std::int64_t next_id = 0;
    std::map<std::int64_t, std::vector<double>> live;

    std::vector<std::int64_t> ids() const {
        std::vector<std::int64_t> out;
        for (const auto& [id, r] : live) out.push_back(id);
        return out;
    }
    std::vector<double> rows() const {
        std::vector<double> out;
        for (const auto& [id, r] : live) out.insert(out.end(), r.begin(), r.end());
        return out;
    }
    void add(const std::vector<double>& rows) {
        for (std::size_t i = 0; i < rows.size(); i += static_cast<std::size_t>(dim)) {
            std::vector<double> r(rows.begin() + static_cast<long>(i),
                                  rows.begin() + static_cast<long>(i) + dim);
            if (dtype == store_dtype::float32)
                for (auto& v : r) v = static_cast<float>(v);
            live[next_id++] = std::move(r);
        }
    }
};

struct outputs {
    std::vector<double> e, g;
    std::vector<energy_status> st;
};

outputs store_energy(const memory_store& s, const std::vector<double>& q, int threads = 0) {
    const std::int64_t d = s.dim(), n = static_cast<std::int64_t>(q.size()) / d;
    outputs o{std::vector<double>(n), std::vector<double>(n * d), std::vector<energy_status>(n)};
    exec_options ex;
    ex.n_threads = threads;
    s.energy_and_grad(
        make_matrix_view(q.data(), n, d), o.e, make_matrix_view(o.g.data(), n, d), o.st, ex);
    return o;
}

// denseam::energy_and_grad on the rebuilt rows, in the store's dtype, through `kind`.
outputs rebuilt_energy(const model& m,
                       const energy_params& p,
                       const std::vector<double>& q,
                       index_kind kind) {
    const std::int64_t d = m.dim, n = static_cast<std::int64_t>(q.size()) / d;
    const std::vector<double> rows = m.rows();
    const std::int64_t M = static_cast<std::int64_t>(rows.size()) / d;
    exec_options ex;
    ex.index = kind;
    ex.n_threads = 1;
    outputs o{std::vector<double>(n), std::vector<double>(n * d), std::vector<energy_status>(n)};
    if (m.dtype == store_dtype::float64) {
        energy_and_grad(make_matrix_view(rows.data(), M, d),
                        make_matrix_view(q.data(), n, d),
                        p,
                        std::span<double>(o.e),
                        make_matrix_view(o.g.data(), n, d),
                        o.st,
                        ex);
    } else {
        const std::vector<float> rf(rows.begin(), rows.end()), qf(q.begin(), q.end());
        std::vector<float> e(n), g(n * d);
        energy_and_grad(make_matrix_view(rf.data(), M, d),
                        make_matrix_view(qf.data(), n, d),
                        p,
                        std::span<float>(e),
                        make_matrix_view(g.data(), n, d),
                        o.st,
                        ex);
        o.e.assign(e.begin(), e.end());
        o.g.assign(g.begin(), g.end());
    }
    return o;
}

// Queries near live patterns (mostly inside their supports) and a few anywhere in the cube.
std::vector<double> near_queries(const model& m, double radius, int n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, radius / (3.0 * std::sqrt(double(m.dim))));
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const std::vector<std::int64_t> ids = m.ids();
    std::vector<double> q;
    for (int i = 0; i < n; ++i) {
        if (i % 8 == 7 || ids.empty()) {
            for (std::int64_t k = 0; k < m.dim; ++k) q.push_back(u(rng));
            continue;
        }
        const auto& r = m.live.at(ids[rng() % ids.size()]);
        for (std::int64_t k = 0; k < m.dim; ++k)
            q.push_back(r[static_cast<std::size_t>(k)] + noise(rng));
    }
    return q;
}

// The store equals the model: ids, patterns, energies and gradients (bits, against the rebuilt
// memory through the index the store uses; values, against the naive oracle).
void expect_matches_model(const memory_store& s,
                          const model& m,
                          const energy_params& p,
                          std::uint64_t seed) {
    ASSERT_EQ(s.ids(), m.ids());
    ASSERT_EQ(s.size(), static_cast<std::int64_t>(m.live.size()));
    ASSERT_EQ(s.info().next_id, m.next_id);
    ASSERT_EQ(first_bit_difference(s.patterns(), m.rows()), -1);
    if (m.live.empty()) return;
    const double radius = std::sqrt(2.0 / p.beta);
    std::vector<double> q = near_queries(m, radius, 40, seed);
    if (m.dtype == store_dtype::float32)
        for (auto& v : q) v = static_cast<float>(v);  // what the store does with its queries
    const index_kind used = s.info().index_used;
    const outputs got = store_energy(s, q, 1);  // one thread: results do not depend on it
    const outputs want = rebuilt_energy(m, p, q, used);
    EXPECT_EQ(first_bit_difference(got.e, want.e), -1) << "energies, index " << to_string(used);
    EXPECT_EQ(first_bit_difference(got.g, want.g), -1) << "gradients, index " << to_string(used);
    EXPECT_EQ(got.st, want.st);

    const std::vector<double> rows = m.rows();
    const std::int64_t M = static_cast<std::int64_t>(m.live.size()), d = m.dim;
    // The oracle (naive loops, the slow part under sanitizers) checks the first queries; the
    // bits of all of them were compared with the rebuilt memory above.
    const std::int64_t B = m.dtype == store_dtype::float64 ? 16 : 8;
    const auto ref = oracle::evaluate(rows, M, q, B, d, p);
    // float32: the bits are those of the rebuilt float memory (above); against the oracle only
    // a sanity bound, as float GEMM distances lose about eps_f (beta/2) |x|^2 in every q.
    const double tol = m.dtype == store_dtype::float64 ? 1e-12 : 5e-3;
    int finite = 0;
    for (std::int64_t b = 0; b < B; ++b) {
        if (std::isinf(ref.energy[b])) {
            EXPECT_TRUE(std::isinf(got.e[b]) && got.e[b] > 0) << "query " << b;
            EXPECT_EQ(got.st[b], energy_status::unsupported);
            continue;
        }
        ++finite;
        const double escale = std::max(std::abs(ref.energy[b]), 1.0 / p.beta);
        EXPECT_LE(std::abs(got.e[b] - ref.energy[b]), tol * escale)
            << "query " << b << ": " << got.e[b] << " vs oracle " << ref.energy[b];
        const double gscale = std::max(ref.gscale[b], 1e-300);
        for (std::int64_t k = 0; k < d; ++k)
            ASSERT_LE(std::abs(got.g[b * d + k] - ref.grad[b * d + k]), tol * gscale)
                << "query " << b << " component " << k;
    }
    EXPECT_GT(finite, B / 2);
}

struct sequence_case {
    kernel_kind kernel;
    index_kind kind;
    std::int64_t dim, n0;
    double beta;
};

std::string describe(const sequence_case& c, store_dtype t) {
    return std::string(to_string(c.kernel)) + " index " + std::string(to_string(c.kind)) + " dim " +
           std::to_string(c.dim) + " " + std::string(to_string(t));
}

// Random adds and removes (in shuffled id order), including one add and one remove large enough
// to make the index rebuild (more than 1024 appended rows / a quarter of the rows removed).
void run_sequence(const sequence_case& c, store_dtype t, std::uint64_t seed) {
    SCOPED_TRACE(describe(c, t));
    const energy_params p = oracle::make(c.kernel, c.beta);
    memory_store s(c.dim, p, t, c.kind);
    model m{c.dim, t, 0, {}};
    std::mt19937_64 rng(seed);
    auto add = [&](std::int64_t n) {
        const auto rows = oracle::uniform(n * c.dim, rng());
        const auto got = s.add(make_matrix_view(rows.data(), n, c.dim));
        std::vector<std::int64_t> want(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = m.next_id + i;
        EXPECT_EQ(got, want);
        m.add(rows);
    };
    auto remove = [&](std::int64_t n) {
        std::vector<std::int64_t> ids = m.ids();
        std::shuffle(ids.begin(), ids.end(), rng);
        ids.resize(static_cast<std::size_t>(std::min<std::int64_t>(n, ids.size())));
        s.remove(ids);
        for (auto id : ids) m.live.erase(id);
    };
    expect_matches_model(s, m, p, rng());
    add(c.n0);
    expect_matches_model(s, m, p, rng());
    const std::int64_t steps[][2] = {{1100, 0}, {0, c.n0 / 2}, {37, 250}, {1, 0}, {300, 31}};
    for (const auto& st : steps) {
        add(st[0]);
        remove(st[1]);
        expect_matches_model(s, m, p, rng());
        if (::testing::Test::HasFatalFailure()) return;
    }
    // The index the store ended with (the sequence passed 1024 rows; dim <= 16 for auto).
    const index_kind want = !has_compact_support(c.kernel)    ? index_kind::brute
                            : c.kind == index_kind::automatic ? index_kind::kdtree
                                                              : c.kind;
    EXPECT_EQ(s.info().index_used, want);
}

}  // namespace

// ---- 1. add/remove sequences against the rebuilt memory and the oracle -------------------------

// Each case for both dtypes (seeds distinct per case and dtype).
void run_cases(std::initializer_list<sequence_case> cases, std::uint64_t seed) {
    for (const auto& c : cases)
        for (store_dtype t : {store_dtype::float64, store_dtype::float32}) {
            run_sequence(c, t, seed++);
            if (::testing::Test::HasFatalFailure()) return;
        }
}

TEST(Store, LsrSequencesMatchRebuiltMemory) {
    run_cases({{kernel_kind::lsr, index_kind::automatic, 4, 300, 400.0},  // a scan, then k-d tree
               {kernel_kind::lsr, index_kind::brute, 6, 500, 40.0},
               {kernel_kind::lsr, index_kind::kdtree, 3, 1500, 800.0}},
              1);
}

TEST(Store, LsrBallSequencesMatchRebuiltMemory) {
    run_cases({{kernel_kind::lsr, index_kind::ball, 32, 3000, 1.0}}, 11);
}

TEST(Store, CosineSequencesMatchRebuiltMemory) {
    run_cases({{kernel_kind::cosine, index_kind::kdtree, 5, 1200, 100.0},
               {kernel_kind::cosine, index_kind::ball, 32, 3000, 1.0}},
              21);
}

TEST(Store, LseSequencesMatchRebuiltMemory) {
    run_cases({{kernel_kind::lse, index_kind::automatic, 8, 400, 10.0},
               {kernel_kind::lse, index_kind::brute, 8, 400, 10.0}},
              31);
}

TEST(Store, AutomaticIndexFollowsTheSize) {
    // Below 1024 rows a scan; past it (dim <= 16) a k-d tree, kept when rows are removed.
    const energy_params p = oracle::make(kernel_kind::lsr, 100.0);
    memory_store s(4, p, store_dtype::float64, index_kind::automatic);
    EXPECT_EQ(s.info().index_used, index_kind::brute);
    const auto a = oracle::uniform(1000 * 4, 3);
    s.add(make_matrix_view(a.data(), 1000, 4));
    EXPECT_EQ(s.info().index_used, index_kind::brute);
    s.add(make_matrix_view(a.data(), 100, 4));
    EXPECT_EQ(s.info().index_used, index_kind::kdtree);
    std::vector<std::int64_t> ids(500);
    for (int i = 0; i < 500; ++i) ids[i] = 2 * i;
    s.remove(ids);
    EXPECT_EQ(s.info().index_used, index_kind::kdtree);
    EXPECT_EQ(s.info().index, index_kind::automatic);
    // A kernel without compact support always scans.
    memory_store g(4, oracle::make(kernel_kind::lse, 1.0), store_dtype::float64);
    g.add(make_matrix_view(a.data(), 1000, 4));
    g.add(make_matrix_view(a.data(), 1000, 4));
    EXPECT_EQ(g.info().index_used, index_kind::brute);
}

// ---- 2. retrieval ------------------------------------------------------------------------------

TEST(Store, RetrievalMatchesRebuiltMemory) {
    for (auto [kind, dim, beta] : {std::tuple{index_kind::kdtree, std::int64_t(3), 300.0},
                                   std::tuple{index_kind::brute, std::int64_t(3), 300.0},
                                   std::tuple{index_kind::ball, std::int64_t(32), 1.0}})
        for (store_dtype t : {store_dtype::float64, store_dtype::float32}) {
            SCOPED_TRACE(std::string(to_string(kind)) + " " + std::string(to_string(t)));
            const energy_params p = oracle::make(kernel_kind::lsr, beta);
            memory_store s(dim, p, t, kind);
            model m{dim, t, 0, {}};
            const auto a = oracle::uniform(2600 * dim, 11);
            s.add(make_matrix_view(a.data(), 2600, dim));
            m.add(a);
            std::vector<std::int64_t> gone;
            for (std::int64_t id = 0; id < 2600; id += 3) gone.push_back(id);
            s.remove(gone);
            for (auto id : gone) m.live.erase(id);
            const auto b = oracle::uniform(400 * dim, 12);
            s.add(make_matrix_view(b.data(), 400, dim));
            m.add(b);

            std::vector<double> q = near_queries(m, std::sqrt(2.0 / beta), 48, 13);
            const index_kind used = s.info().index_used;
            EXPECT_EQ(used, kind);
            const auto got = s.retrieve(make_matrix_view(q.data(), 48, dim));
            const std::vector<std::int64_t> ids = m.ids();
            const std::vector<double> rows = m.rows();
            const std::int64_t M = static_cast<std::int64_t>(ids.size());
            exec_options ex;
            ex.index = used;
            retrieve_result<double> want;
            if (t == store_dtype::float64) {
                want = denseam::retrieve(make_matrix_view(rows.data(), M, dim),
                                         make_matrix_view<const double>(q.data(), 48, dim),
                                         p,
                                         {},
                                         ex);
            } else {
                const std::vector<float> rf(rows.begin(), rows.end()), qf(q.begin(), q.end());
                auto w = denseam::retrieve(make_matrix_view(rf.data(), M, dim),
                                           make_matrix_view(qf.data(), 48, dim),
                                           p,
                                           {},
                                           ex);
                want.states.assign(w.states.begin(), w.states.end());
                want.energy.assign(w.energy.begin(), w.energy.end());
                want.status = w.status;
                want.steps = w.steps;
                want.support = w.support;
            }
            EXPECT_EQ(first_bit_difference(got.states, want.states), -1);
            EXPECT_EQ(first_bit_difference(got.energy, want.energy), -1);
            EXPECT_EQ(got.status, want.status);
            EXPECT_EQ(got.steps, want.steps);
            ASSERT_EQ(got.support.offsets, want.support.offsets);
            std::vector<std::int64_t> as_ids;
            for (auto pos : want.support.indices)
                as_ids.push_back(ids[static_cast<std::size_t>(pos)]);
            EXPECT_EQ(got.support.indices, as_ids);
            int converged = 0;
            for (auto st : got.status) converged += st == retrieval_status::converged;
            EXPECT_GT(converged, 24);
        }
}

// ---- 3. ids, errors, all or nothing ------------------------------------------------------------

TEST(Store, IdsAreStableAndNeverReused) {
    memory_store s(2, oracle::make(kernel_kind::lsr, 1.0));
    const std::vector<double> a = {0, 0, 1, 0, 2, 0, 3, 0, 4, 0};
    EXPECT_EQ(s.add(make_matrix_view(a.data(), 5, 2)), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
    s.remove(std::vector<std::int64_t>{3, 1});
    EXPECT_EQ(s.ids(), (std::vector<std::int64_t>{0, 2, 4}));
    EXPECT_EQ(s.patterns(), (std::vector<double>{0, 0, 2, 0, 4, 0}));
    const std::vector<float> b = {5, 1, 6, 1};
    EXPECT_EQ(s.add(make_matrix_view(b.data(), 2, 2)), (std::vector<std::int64_t>{5, 6}));
    s.remove(std::vector<std::int64_t>{6});
    EXPECT_EQ(s.add(make_matrix_view(a.data(), 1, 2)), (std::vector<std::int64_t>{7}));
    EXPECT_EQ(s.ids(), (std::vector<std::int64_t>{0, 2, 4, 5, 7}));
    EXPECT_EQ(s.patterns(), (std::vector<double>{0, 0, 2, 0, 4, 0, 5, 1, 0, 0}));
    EXPECT_EQ(s.info().next_id, 8);
    EXPECT_EQ(s.size(), 5);
    EXPECT_TRUE(s.add(make_matrix_view(a.data(), 0, 2)).empty());
    s.remove(std::vector<std::int64_t>{});
    EXPECT_EQ(s.info().next_id, 8);
}

TEST(Store, FailedUpdatesChangeNothing) {
    const energy_params p = oracle::make(kernel_kind::lsr, 2.0);
    for (store_dtype t : {store_dtype::float64, store_dtype::float32}) {
        memory_store s(3, p, t, index_kind::kdtree);
        const auto a = oracle::uniform(2000 * 3, 5);
        s.add(make_matrix_view(a.data(), 2000, 3));
        s.remove(std::vector<std::int64_t>{4, 9});
        const auto ids = s.ids();
        const auto rows = s.patterns();
        const std::vector<double> q = {0.5, 0.5, 0.5, 0.1, 0.2, 0.3};
        const outputs before = store_energy(s, q);
        auto unchanged = [&] {
            EXPECT_EQ(s.ids(), ids);
            EXPECT_EQ(first_bit_difference(s.patterns(), rows), -1);
            EXPECT_EQ(s.info().next_id, 2000);
            EXPECT_EQ(first_bit_difference(store_energy(s, q).e, before.e), -1);
        };
        expect_invalid([&] { s.remove(std::vector<std::int64_t>{0, 2000}); }, "unknown id 2000");
        unchanged();
        expect_invalid([&] { s.remove(std::vector<std::int64_t>{-1}); }, "unknown id -1");
        expect_invalid([&] { s.remove(std::vector<std::int64_t>{1, 9}); }, "id 9 was removed");
        unchanged();
        expect_invalid(
            [&] {
                s.remove(std::vector<std::int64_t>{7, 8, 7});
            },
            "id 7 is given more than once");
        unchanged();
        std::vector<double> bad = {0.1, 0.2, 0.3, 0.4, NAN, 0.6};
        expect_invalid([&] { s.add(make_matrix_view(bad.data(), 2, 3)); }, "row 1, column 1");
        unchanged();
        bad[4] = INFINITY;
        expect_invalid([&] { s.add(make_matrix_view(bad.data(), 2, 3)); }, "non-finite");
        expect_invalid([&] { s.add(make_matrix_view(bad.data(), 3, 2)); }, "dimension 3");
        expect_invalid([&] { s.add(make_matrix_view(bad.data(), -1, 3)); }, "shape");
        unchanged();
        const std::vector<double> huge = {1e300, 0, 0};
        if (t == store_dtype::float32) {
            expect_invalid([&] { s.add(make_matrix_view(huge.data(), 1, 3)); }, "float32");
            unchanged();
        }
        exec_options neg;
        neg.n_threads = -1;
        EXPECT_THROW(s.add(make_matrix_view(a.data(), 1, 3), neg), invalid_argument);
        unchanged();
    }
}

TEST(Store, BadArgumentsAndEmptyStore) {
    const energy_params p = oracle::make(kernel_kind::lsr, 1.0);
    expect_invalid([&] { memory_store(0, p); }, "dimension must be >= 1");
    energy_params bad = p;
    bad.beta = -1;
    EXPECT_THROW(memory_store(2, bad), invalid_argument);
    expect_invalid(
        [&] {
            memory_store(
                2, oracle::make(kernel_kind::lse, 1.0), store_dtype::float64, index_kind::kdtree);
        },
        "needs a compact kernel");
    memory_store s(2, p);
    std::vector<double> q = {0, 0}, e(1), g(2);
    expect_invalid([&] { s.energy_and_grad(make_matrix_view(q.data(), 1, 2), e, {}); },
                   "the store is empty");
    expect_invalid([&] { s.retrieve(make_matrix_view(q.data(), 1, 2)); }, "the store is empty");
    s.add(make_matrix_view(q.data(), 1, 2));
    std::vector<double> e2(2);
    expect_invalid([&] { s.energy_and_grad(make_matrix_view(q.data(), 1, 2), e2, {}); },
                   "energy output has 2 entries");
    expect_invalid([&] { s.energy_and_grad(make_matrix_view(q.data(), 2, 1), e2, {}); },
                   "dimension 1");
    q[1] = NAN;
    expect_invalid([&] { s.energy_and_grad(make_matrix_view(q.data(), 1, 2), e, {}); },
                   "queries contains a non-finite value");
    EXPECT_EQ(to_string(store_dtype::float32), "float32");
    EXPECT_EQ(to_string(store_dtype::float64), "float64");
    EXPECT_EQ(parse_store_dtype("f4"), store_dtype::float32);
    EXPECT_EQ(parse_store_dtype("float64"), store_dtype::float64);
    expect_invalid([] { parse_store_dtype("float16"); }, "float32");
}

// ---- 4. the file -------------------------------------------------------------------------------

namespace {

// An independent writer of the documented format (docs/store.md), to check the library's.
std::uint64_t fnv1a64(const char* p, std::size_t n) {
    std::uint64_t h = 14695981039346656037ULL;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(p[i]);
        h *= 1099511628211ULL;
    }
    return h;
}

template <class T>
void append_le(std::vector<char>& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
}

void pad64(std::vector<char>& out) {
    while (out.size() % 64 != 0) out.push_back(0);
}

std::vector<char> format_file(const std::string& header,
                              const std::vector<std::int64_t>& ids,
                              const std::vector<char>& data,
                              std::uint32_t version = 1) {
    std::vector<char> out(std::begin("DENSEAMSTORE\r\n\x1a\n"),
                          std::begin("DENSEAMSTORE\r\n\x1a\n") + 16);
    append_le(out, version);
    append_le(out, static_cast<std::uint32_t>(header.size()));
    out.insert(out.end(), header.begin(), header.end());
    pad64(out);
    for (auto id : ids) append_le(out, id);
    pad64(out);
    out.insert(out.end(), data.begin(), data.end());
    append_le(out, fnv1a64(out.data(), out.size()));
    return out;
}

// Recomputes the trailing checksum after a deliberate edit.
void reseal(std::vector<char>& f) {
    const std::uint64_t h = fnv1a64(f.data(), f.size() - 8);
    std::memcpy(f.data() + f.size() - 8, &h, 8);
}

void expect_same_store(const memory_store& a, const memory_store& b) {
    EXPECT_EQ(a.ids(), b.ids());
    EXPECT_EQ(first_bit_difference(a.patterns(), b.patterns()), -1);
    const store_info x = a.info(), y = b.info();
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.dim, y.dim);
    EXPECT_EQ(x.next_id, y.next_id);
    EXPECT_EQ(x.dtype, y.dtype);
    EXPECT_EQ(x.index, y.index);
    EXPECT_EQ(x.params.kernel, y.params.kernel);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(x.params.beta),
              std::bit_cast<std::uint64_t>(y.params.beta));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(x.params.eps),
              std::bit_cast<std::uint64_t>(y.params.eps));
    EXPECT_EQ(x.params.q, y.params.q);
    EXPECT_EQ(x.params.degree, y.params.degree);
}

memory_store sample_store(store_dtype t, std::int64_t n = 50, std::int64_t dim = 3) {
    energy_params p = oracle::make(kernel_kind::cosine, 1.0 / 3.0);
    p.eps = 0.1;
    p.q = q_kind::identity;
    memory_store s(dim, p, t, index_kind::kdtree);
    const auto a = oracle::uniform(n * dim, 21, -1, 1);
    s.add(make_matrix_view(a.data(), n, dim));
    std::vector<std::int64_t> gone;
    for (std::int64_t id = 1; id < n; id += 4) gone.push_back(id);
    s.remove(gone);
    return s;
}

}  // namespace

TEST(StoreFile, RoundTripIsBitIdenticalAndFollowsTheFormat) {
    temp_dir dir;
    for (store_dtype t : {store_dtype::float64, store_dtype::float32}) {
        SCOPED_TRACE(std::string(to_string(t)));
        const memory_store s = sample_store(t);
        const std::string path = dir.file("s.dstore");
        std::vector<std::pair<std::int64_t, std::int64_t>> calls;
        s.save(path,
               [&](std::int64_t done, std::int64_t total) { calls.emplace_back(done, total); });
        const auto bytes = read_all(path);
        ASSERT_FALSE(calls.empty());
        EXPECT_EQ(calls.back(),
                  std::make_pair(std::int64_t(bytes.size()), std::int64_t(bytes.size())));
        for (std::size_t i = 1; i < calls.size(); ++i)
            EXPECT_LE(calls[i - 1].first, calls[i].first);

        // The same bytes as the independent writer, from the header the file holds.
        std::uint32_t hlen = 0;
        std::memcpy(&hlen, bytes.data() + 20, 4);
        const std::string header(bytes.data() + 24, hlen);
        const auto j = nlohmann::json::parse(header);
        EXPECT_EQ(j.at("dtype"), std::string(to_string(t)));
        EXPECT_EQ(j.at("size"), s.size());
        EXPECT_EQ(j.at("dim"), 3);
        EXPECT_EQ(j.at("next_id"), 50);
        EXPECT_EQ(j.at("kernel"), "cosine");
        EXPECT_EQ(j.at("beta").get<double>(), 1.0 / 3.0);
        EXPECT_EQ(j.at("eps").get<double>(), 0.1);
        EXPECT_EQ(j.at("q"), "identity");
        EXPECT_EQ(j.at("degree"), 3);
        EXPECT_EQ(j.at("index"), "kdtree");
        std::vector<char> data;
        for (double v : s.patterns()) {
            if (t == store_dtype::float32)
                append_le(data, static_cast<float>(v));
            else
                append_le(data, v);
        }
        EXPECT_EQ(bytes, format_file(header, s.ids(), data));

        std::vector<std::pair<std::int64_t, std::int64_t>> lcalls;
        const memory_store r = memory_store::load(
            path, [&](std::int64_t d, std::int64_t tot) { lcalls.emplace_back(d, tot); });
        expect_same_store(s, r);
        ASSERT_FALSE(lcalls.empty());
        EXPECT_EQ(lcalls.back().first, std::int64_t(bytes.size()));
        // The loaded store computes what the saved one does.
        const std::vector<double> q = {0.1, -0.2, 0.3, 0.5, 0.5, -0.5};
        EXPECT_EQ(first_bit_difference(store_energy(s, q).e, store_energy(r, q).e), -1);

        // A file from the independent writer loads too (the format as documented).
        nlohmann::ordered_json h2 = {{"dtype", "float64"},
                                     {"size", 2},
                                     {"dim", 2},
                                     {"next_id", 9},
                                     {"kernel", "lsr"},
                                     {"beta", 0.5},
                                     {"eps", 0.0},
                                     {"q", "auto"},
                                     {"degree", 3},
                                     {"index", "brute"}};
        std::vector<char> d2;
        for (double v : {1.0, 2.0, -3.0, 0.25}) append_le(d2, v);
        write_all(dir.file("own.dstore"), format_file(h2.dump(), {3, 8}, d2));
        const memory_store o = memory_store::load(dir.file("own.dstore"));
        EXPECT_EQ(o.ids(), (std::vector<std::int64_t>{3, 8}));
        EXPECT_EQ(o.patterns(), (std::vector<double>{1.0, 2.0, -3.0, 0.25}));
        EXPECT_EQ(o.info().next_id, 9);
        EXPECT_EQ(o.params().beta, 0.5);

        // An empty store (with a history) round-trips too.
        memory_store e(4, oracle::make(kernel_kind::lse, 2.5), t);
        const auto a = oracle::uniform(8, 1);
        e.add(make_matrix_view(a.data(), 2, 4));
        e.remove(std::vector<std::int64_t>{0, 1});
        e.save(dir.file("empty.dstore"));
        const memory_store er = memory_store::load(dir.file("empty.dstore"));
        expect_same_store(e, er);
        EXPECT_EQ(er.size(), 0);
        EXPECT_EQ(er.info().next_id, 2);
        const std::vector<double> four = {1, 2, 3, 4};
        memory_store er2 = memory_store::load(dir.file("empty.dstore"));
        EXPECT_EQ(er2.add(make_matrix_view(four.data(), 1, 4)), (std::vector<std::int64_t>{2}));
    }
}

TEST(StoreFile, CorruptTruncatedAndForeignFilesAreRefused) {
    temp_dir dir;
    const memory_store s = sample_store(store_dtype::float64, 300, 5);
    const std::string good = dir.file("good.dstore");
    s.save(good);
    const std::vector<char> bytes = read_all(good);
    const std::string bad = dir.file("bad.dstore");
    auto refuse = [&](const std::vector<char>& f, const std::string& fragment) {
        write_all(bad, f);
        expect_throw_msg<invalid_argument>([&] { memory_store::load(bad); }, {bad, fragment});
    };
    std::uint32_t hlen = 0;
    std::memcpy(&hlen, bytes.data() + 20, 4);
    const std::size_t n = bytes.size();
    for (std::size_t cut : {std::size_t(10),
                            std::size_t(20),
                            std::size_t(24 + hlen / 2),
                            std::size_t(24 + hlen),
                            std::size_t(200),
                            n / 2,
                            n - 9,
                            n - 1}) {
        SCOPED_TRACE("cut at " + std::to_string(cut));
        std::vector<char> f(bytes.begin(), bytes.begin() + static_cast<long>(cut));
        if (cut <= 24 + hlen / 2 && cut > 24)
            refuse(f, "truncated");  // the header cannot even be read
        else
            refuse(f,
                   "truncated: expected " + std::to_string(cut < 24 ? 24 : n) + " bytes, found " +
                       std::to_string(cut));
    }
    std::vector<char> f = bytes;
    f[n - 100] ^= 0x01;  // in the patterns
    refuse(f, "checksum mismatch (corrupt file)");
    f = bytes;
    f[n - 3] ^= 0x40;  // in the checksum
    refuse(f, "checksum mismatch");
    f = bytes;
    const std::size_t ids_at = (24 + hlen + 63) / 64 * 64;
    f[ids_at + 8] ^= 0x02;  // in the ids
    refuse(f, "checksum mismatch");
    f = bytes;
    f[24 + 3] ^= 0x20;  // in the header: "dtype" -> "dType"
    refuse(f, "no 'dtype' field");
    f = bytes;
    f[24] = '[';  // no longer JSON
    refuse(f, "not JSON");
    f = bytes;
    f.push_back(0);
    refuse(f, "unexpected size");
    f = bytes;
    f[16] = 2;  // a future version
    refuse(f, "unsupported store version 2");
    f = bytes;
    f[0] = 'X';
    refuse(f, "not a denseam store file");
    // Header values that are wrong although the checksum is right.
    f = bytes;
    std::swap_ranges(f.begin() + static_cast<long>(ids_at),
                     f.begin() + static_cast<long>(ids_at) + 8,
                     f.begin() + static_cast<long>(ids_at) + 8);
    reseal(f);
    refuse(f, "not in ascending order");
    auto with_header =
        [&](nlohmann::ordered_json h, const std::vector<std::int64_t>& ids, std::size_t values) {
            return format_file(h.dump(), ids, std::vector<char>(values * 8, 0));
        };
    nlohmann::ordered_json h = {{"dtype", "float64"},
                                {"size", 2},
                                {"dim", 2},
                                {"next_id", 2},
                                {"kernel", "lsr"},
                                {"beta", 1.0},
                                {"eps", 0.0},
                                {"q", "auto"},
                                {"degree", 3},
                                {"index", "auto"}};
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["dim"] = 0;
                   return x;
               }(),
               {0, 1},
               0),
           "'dim' = 0");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["next_id"] = 1;
                   return x;
               }(),
               {0, 1},
               4),
           "next_id");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["beta"] = -1.0;
                   return x;
               }(),
               {0, 1},
               4),
           "beta");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["kernel"] = "nope";
                   return x;
               }(),
               {0, 1},
               4),
           "nope");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["dtype"] = "int8";
                   return x;
               }(),
               {0, 1},
               4),
           "int8");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["size"] = "2";
                   return x;
               }(),
               {0, 1},
               4),
           "'size' is not an integer");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["size"] = x["next_id"] = std::int64_t(1) << 40;
                   return x;
               }(),
               {0, 1},
               4),
           "truncated: expected");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["size"] = x["next_id"] = std::int64_t(1) << 60;
                   return x;
               }(),
               {0, 1},
               4),
           "too many");
    refuse(with_header(
               [&] {
                   auto x = h;
                   x["kernel"] = "lse";
                   x["index"] = "kdtree";
                   return x;
               }(),
               {0, 1},
               4),
           "needs a compact kernel");
    refuse(with_header(h, {0, 2}, 4), "not in ascending order");
    std::vector<char> nan_data(32, 0);
    const double nan = NAN;
    std::memcpy(nan_data.data() + 8, &nan, 8);
    refuse(format_file(h.dump(), {0, 1}, nan_data), "non-finite");
    refuse(format_file(h.dump(), {0, 1}, std::vector<char>(32, 0), 7),
           "unsupported store version 7");

    // Foreign files.
    const std::vector<double> arr = {1, 2, 3, 4};
    const std::vector<std::int64_t> shape = {2, 2};
    write_npy(dir.file("a.npy"), arr, shape);
    expect_throw_msg<invalid_argument>([&] { memory_store::load(dir.file("a.npy")); },
                                       {dir.file("a.npy"), "not a denseam store file"});
    refuse(std::vector<char>{'h', 'e', 'l', 'l', 'o', '\n'}, "not a denseam store file");
    std::vector<char> noise(4096);
    std::mt19937 rng(3);
    for (auto& c : noise) c = static_cast<char>(rng());
    refuse(noise, "not a denseam store file");
    refuse({}, "empty");
    expect_throw_msg<invalid_argument>([&] { memory_store::load(dir.path.string()); },
                                       {dir.path.string(), "directory"});
    expect_throw_msg<invalid_argument>([&] { memory_store::load(dir.file("missing")); },
                                       {dir.file("missing"), "No such file"});
    const std::string fifo = dir.file("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    expect_throw_msg<invalid_argument>([&] { memory_store::load(fifo); },
                                       {fifo, "not a regular file"});
}

// ---- 5. a save killed midway --------------------------------------------------------------------

TEST(StoreFile, KilledSaveLeavesThePreviousFile) {
    temp_dir dir;
    const std::string path = dir.file("store.dstore");
    const memory_store a = sample_store(store_dtype::float64);
    a.save(path);
    const std::vector<char> before = read_all(path);

    const std::int64_t n = 200000, dim = 16;
    memory_store b(
        dim, oracle::make(kernel_kind::lsr, 1.0), store_dtype::float64, index_kind::brute);
    const auto rows = oracle::uniform(n * dim, 31);
    b.add(make_matrix_view(rows.data(), n, dim));

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        try {
            b.save(path, [&](std::int64_t, std::int64_t) {
                const char one = 1;
                if (::write(fds[1], &one, 1) != 1) ::_exit(3);
                for (;;) ::pause();
            });
        } catch (...) {
            ::_exit(2);
        }
        ::_exit(1);
    }
    ::close(fds[1]);
    char got = 0;
    const ssize_t r = ::read(fds[0], &got, 1);
    ::close(fds[0]);
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_EQ(r, 1) << "the child never reached its first progress report";
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    // The target is untouched (bit for bit) and loads as store A.
    EXPECT_EQ(read_all(path), before);
    expect_same_store(a, memory_store::load(path));
    // The partial file is a hidden sibling; a later save replaces the target normally.
    for (const auto& e : dir.entries()) EXPECT_TRUE(e == "store.dstore" || e[0] == '.') << e;
    b.save(path);
    expect_same_store(b, memory_store::load(path));
}

// ---- 6. concurrency
// ------------------------------------------------------------------------------

TEST(Store, ConcurrentQueriesSeeWholeUpdates) {
    const energy_params p = oracle::make(kernel_kind::lsr, 50.0);
    const std::int64_t dim = 4;
    memory_store s(dim, p, store_dtype::float64, index_kind::automatic);
    memory_store replica(dim, p, store_dtype::float64, index_kind::automatic);
    const auto init = oracle::uniform(1500 * dim, 41);
    s.add(make_matrix_view(init.data(), 1500, dim));
    replica.add(make_matrix_view(init.data(), 1500, dim));

    // The updates, and the energies of every state they pass through (from the replica).
    const int n_updates = 8;
    std::vector<std::vector<double>> adds(n_updates);
    std::vector<std::vector<std::int64_t>> removes(n_updates);
    const auto q = oracle::uniform(64 * dim, 42);
    std::vector<std::vector<double>> states{store_energy(replica, q, 1).e};
    std::int64_t next = 1500;
    for (int u = 0; u < n_updates; ++u) {
        if (u % 2 == 0) {
            adds[u] = oracle::uniform(300 * dim, 100 + u);
            replica.add(make_matrix_view(adds[u].data(), 300, dim));
            next += 300;
        } else {
            for (std::int64_t id = u; id < next; id += 5) removes[u].push_back(id);
            std::erase_if(removes[u], [&](std::int64_t id) {
                const auto ids = replica.ids();
                return !std::binary_search(ids.begin(), ids.end(), id);
            });
            replica.remove(removes[u]);
        }
        states.push_back(store_energy(replica, q, 1).e);
    }

    std::atomic<bool> done{false};
    std::atomic<int> bad{0}, queries{0};
    auto reader = [&] {
        std::size_t last = 0;
        while (!done.load()) {
            const auto e = store_energy(s, q, 1).e;
            std::size_t k = last;
            while (k < states.size() && first_bit_difference(e, states[k]) != -1) ++k;
            if (k == states.size()) bad.fetch_add(1);  // a state never reached, or gone back
            last = std::min(k, states.size() - 1);
            queries.fetch_add(1);
        }
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i) readers.emplace_back(reader);
    for (int u = 0; u < n_updates; ++u) {
        if (u % 2 == 0)
            s.add(make_matrix_view(adds[u].data(), 300, dim));
        else
            s.remove(removes[u]);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    done.store(true);
    for (auto& t : readers) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_GT(queries.load(), 0);
    EXPECT_EQ(s.ids(), replica.ids());
    EXPECT_EQ(first_bit_difference(store_energy(s, q, 1).e, states.back()), -1);
    // The states differ from each other (else the check above could not fail).
    for (std::size_t k = 1; k < states.size(); ++k)
        EXPECT_NE(first_bit_difference(states[k - 1], states[k]), -1);
}

TEST(Store, ResultsDoNotDependOnTheThreadCount) {
    for (index_kind kind : {index_kind::brute, index_kind::kdtree}) {
        const energy_params p = oracle::make(kernel_kind::lsr, 300.0);
        memory_store s(3, p, store_dtype::float64, kind);
        const auto a = oracle::uniform(3000 * 3, 51);
        s.add(make_matrix_view(a.data(), 3000, 3));
        const auto q = oracle::uniform(200 * 3, 52);
        const outputs one = store_energy(s, q, 1), two = store_energy(s, q, 2);
        EXPECT_EQ(first_bit_difference(one.e, two.e), -1);
        EXPECT_EQ(first_bit_difference(one.g, two.g), -1);
        exec_options e1, e2;
        e1.n_threads = 1;
        e2.n_threads = 2;
        const auto r1 = s.retrieve(make_matrix_view(q.data(), 200, 3), {}, e1);
        const auto r2 = s.retrieve(make_matrix_view(q.data(), 200, 3), {}, e2);
        EXPECT_EQ(first_bit_difference(r1.states, r2.states), -1);
        EXPECT_EQ(r1.support.indices, r2.support.indices);
    }
}

// ---- 7. only a regular file is replaced
// -----------------------------------------------------------

TEST(StoreFile, OnlyRegularFilesAreReplaced) {
    temp_dir dir;
    const memory_store s = sample_store(store_dtype::float32);
    fs::create_directory(dir.path / "sub");
    const std::string fifo = dir.file("fifo");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const auto listing = dir.entries();
    expect_throw_msg<invalid_argument>([&] { s.save(dir.file("sub")); },
                                       {dir.file("sub"), "directory"});
    expect_throw_msg<invalid_argument>([&] { s.save(fifo); }, {fifo, "FIFO"});
    expect_throw_msg<invalid_argument>([&] { s.save(dir.file("nowhere/x.dstore")); },
                                       {"does not exist"});
    EXPECT_EQ(dir.entries(), listing);
    EXPECT_TRUE(fs::is_empty(dir.path / "sub"));
    EXPECT_TRUE(fs::is_fifo(fifo));
    // A symbolic link is followed: its target is replaced, the link stays.
    const std::string target = dir.file("real.dstore"), link = dir.file("link.dstore");
    write_all(target, {'x'});
    fs::create_symlink(target, link);
    s.save(link);
    EXPECT_TRUE(fs::is_symlink(link));
    expect_same_store(s, memory_store::load(target));
}
